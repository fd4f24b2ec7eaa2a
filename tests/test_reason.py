"""The reasoner, one OWL 2 RL rule per test: a few Turtle lines in, the inferred triples out.

Each docstring quotes the rule from the OWL 2 RL rule tables (OWL 2 Profiles, section 4.3).
Unless a test brings its own ontology, the axioms are those of ontology/commissioning.ttl.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import rdflib
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, XSD

from commkg.reason import (
    COMM,
    CONCEPT,
    OA,
    UnsupportedAxiom,
    STUDY_LINKS,
    compile_ontology,
    inconsistencies,
    knowledge,
    reason,
    reason_triples,
    reason_with_owlrl,
)

ROOT = Path(__file__).resolve().parents[1]
ONTOLOGY = ROOT / "ontology" / "commissioning.ttl"
RECORDS = Path(__file__).parent / "data" / "reason" / "records.ttl"

EX = rdflib.Namespace("https://w3id.org/commkg/id/record/test/")
DOI = "https://doi.org/10.1136/bmjopen-2013-003341"
FOAF_AGENT = URIRef("http://xmlns.com/foaf/0.1/Agent")

PREFIXES = """
@prefix :        <https://w3id.org/commkg/id/record/test/> .
@prefix comm:    <https://w3id.org/commkg/ontology#> .
@prefix concept: <https://w3id.org/commkg/concept/> .
@prefix journal: <https://w3id.org/commkg/journal/> .
@prefix owl:     <http://www.w3.org/2002/07/owl#> .
@prefix rdfs:    <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd:     <http://www.w3.org/2001/XMLSchema#> .
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix bibo:    <http://purl.org/ontology/bibo/> .
@prefix oa:      <http://www.w3.org/ns/oa#> .
"""


@pytest.fixture(scope="module")
def ontology() -> rdflib.Graph:
    return rdflib.Graph().parse(ONTOLOGY)


def graph(turtle: str) -> rdflib.Graph:
    return rdflib.Graph().parse(data=PREFIXES + turtle, format="turtle")


def triples(turtle: str) -> set:
    return set(graph(turtle))


def infer(turtle: str, ontology: rdflib.Graph) -> set:
    return set(reason(graph(turtle), ontology))


# --- class hierarchy -------------------------------------------------------------------------


def test_cax_sco_subclass(ontology):
    """cax-sco: T(?c1, rdfs:subClassOf, ?c2), T(?x, rdf:type, ?c1) ⇒ T(?x, rdf:type, ?c2)"""
    inferred = infer(":ccg a comm:CCG . :ft a comm:FoundationTrust .", ontology)
    assert triples("""
        :ccg a comm:Commissioner, comm:Actor .
        :ft a comm:NHSTrust, comm:Provider, comm:Actor .
    """) <= inferred
    assert (EX.ccg, RDF.type, FOAF_AGENT) in inferred  # aligned: comm:Actor ⊑ foaf:Agent
    assert (EX.ccg, RDF.type, COMM.Provider) not in inferred
    assert (EX.ft, RDF.type, COMM.Commissioner) not in inferred


# --- domain, range, inverse, symmetry ----------------------------------------------------------


def test_prp_dom_rng_inv_gps_the_commissioners(ontology):
    """Record 001, "GPs (the commissioners)" buying from a private firm.

    prp-dom:  T(?p, rdfs:domain, ?c), T(?x, ?p, ?y) ⇒ T(?x, rdf:type, ?c)
    prp-rng:  T(?p, rdfs:range, ?c),  T(?x, ?p, ?y) ⇒ T(?y, rdf:type, ?c)
    prp-inv1: T(?p1, owl:inverseOf, ?p2), T(?x, ?p1, ?y) ⇒ T(?y, ?p2, ?x)
    """
    inferred = infer(":gp a comm:GeneralPractitioner ; comm:commissionsFrom :firm .", ontology)
    assert triples("""
        :gp a comm:Commissioner .
        :firm a comm:Provider .
        :firm comm:providesFor :gp .
    """) <= inferred


def test_prp_inv2(ontology):
    """prp-inv2: T(?p1, owl:inverseOf, ?p2), T(?x, ?p2, ?y) ⇒ T(?y, ?p1, ?x)"""
    inferred = infer(":trust comm:providesFor :ccg .", ontology)
    assert triples(":ccg comm:commissionsFrom :trust . :ccg a comm:Commissioner .") <= inferred


def test_prp_symp(ontology):
    """prp-symp: T(?p, rdf:type, owl:SymmetricProperty), T(?x, ?p, ?y) ⇒ T(?y, ?p, ?x)"""
    inferred = infer(":ccg comm:partnersWith :firm . :ccg comm:negotiatesWith :trust .", ontology)
    assert triples(":firm comm:partnersWith :ccg . :trust comm:negotiatesWith :ccg .") <= inferred


def test_prp_spo1_subproperty(ontology):
    """prp-spo1: T(?p1, rdfs:subPropertyOf, ?p2), T(?x, ?p1, ?y) ⇒ T(?x, ?p2, ?y)"""
    inferred = infer(":s comm:usesTheory concept:StewardshipTheory .", ontology)
    assert triples("""
        :s comm:mentionsConcept concept:StewardshipTheory ; a comm:Study .
        concept:StewardshipTheory a comm:Theory .
    """) <= inferred


# --- places ------------------------------------------------------------------------------------


def test_prp_trp_manchester_in_england_in_the_uk(ontology):
    """prp-trp: T(?p, rdf:type, owl:TransitiveProperty), T(?x, ?p, ?y), T(?y, ?p, ?z) ⇒ T(?x, ?p, ?z)

    The part-of facts are in the ontology file; nothing needs asserting.
    """
    inferred = infer("", ontology)
    assert (CONCEPT.Manchester, COMM.partOf, CONCEPT.UnitedKingdom) in inferred
    assert (CONCEPT.London, COMM.partOf, CONCEPT.UnitedKingdom) in inferred
    # What the ontology already says is not inferred again.
    assert (CONCEPT.Manchester, COMM.partOf, CONCEPT.England) not in inferred


def test_prp_spo2_set_in_chain(ontology):
    """prp-spo2: T(?p, owl:propertyChainAxiom, (?p1 … ?pn)), T(?u1, ?p1, ?u2) … T(?un, ?pn, ?un+1)
    ⇒ T(?u1, ?p, ?un+1)

    setIn ∘ partOf ⊑ setIn, authoredIn ∘ partOf ⊑ authoredIn.
    """
    inferred = infer(":s comm:setIn concept:Manchester ; comm:authoredIn concept:London .", ontology)
    assert triples("""
        :s comm:setIn concept:England, concept:UnitedKingdom .
        :s comm:authoredIn concept:England, concept:UnitedKingdom .
    """) <= inferred
    assert (EX.s, COMM.setIn, CONCEPT.Scotland) not in inferred


def test_names_concept_is_never_inferred(ontology):
    """comm:namesConcept stays what the record's words name (document-concepts.rq relies on it
    in graph.ttl): set in England by the chain, but not naming England."""
    inferred = infer("""
        :s comm:setIn concept:Manchester ; comm:namesConcept concept:Manchester ;
           comm:usesTheory concept:StewardshipTheory ; comm:namesConcept concept:StewardshipTheory .
    """, ontology)
    assert (EX.s, COMM.setIn, CONCEPT.England) in inferred
    assert [t for t in inferred if t[1] == COMM.namesConcept] == []


# --- study-to-study links ----------------------------------------------------------------------


@pytest.mark.parametrize("uses, shares, concept", [
    ("usesTheory", "sharesTheoryWith", "ResourceDependencyTheory"),
    ("usesMethod", "sharesMethodWith", "Interview"),
    ("concernsCondition", "sharesConditionWith", "Dementia"),
    ("involvesOrganisationType", "sharesOrganisationTypeWith", "CCG"),
])
def test_prp_spo2_studies_sharing_a_concept(ontology, uses, shares, concept):
    """prp-spo2 with an inverse step: uses ∘ uses⁻ ⊑ shares (and prp-spo1: shares ⊑ relatedStudy).

    The chain also links each study to itself: those self-links are not output.
    """
    inferred = infer(f"""
        :a comm:{uses} concept:{concept} .
        :b comm:{uses} concept:{concept} .
        :c comm:{uses} concept:Other .
    """, ontology)
    assert triples(f"""
        :a comm:{shares} :b ; comm:relatedStudy :b .
        :b comm:{shares} :a ; comm:relatedStudy :a .
    """) <= inferred
    for s, p, o in inferred:
        if p in (COMM[shares], COMM.relatedStudy):
            assert s != o, f"self-link {s} {p}"
            assert EX.c not in (s, o)


# --- keys --------------------------------------------------------------------------------------

COMMENTARY = """
<https://doi.org/10.1136/bmjopen-2013-003341> a comm:Study, comm:Article ;
    bibo:doi "10.1136/bmjopen-2013-003341" ;
    dcterms:isPartOf journal:bmj-open ; bibo:volume "3" ;
    comm:eLocator "e003341" .
:commentary a comm:Study, comm:Commentary ; comm:discusses :cited .
:cited a bibo:AcademicArticle ; dcterms:isPartOf journal:bmj-open ; bibo:volume "3" ; comm:eLocator "e003341" ;
    comm:citedYear "2013"^^xsd:gYear .
:note a oa:Annotation ; oa:hasBody :cited .
"""


def test_prp_key_commentary_discusses_the_article(ontology):
    """prp-key: T(?c, owl:hasKey, (?p1 … ?pn)), T(?x, rdf:type, ?c), T(?x, ?p1, ?z1) … T(?x, ?pn, ?zn),
    T(?y, rdf:type, ?c), T(?y, ?p1, ?z1) … T(?y, ?pn, ?zn) ⇒ T(?x, owl:sameAs, ?y)

    Commentary 002 cites "BMJ Open, 2013, 3:e003341": same journal, volume and e-locator as article 000,
    so the commentary discusses 000, and the cited node's facts move onto the DOI.
    """
    inferred = infer(COMMENTARY, ontology)
    article = URIRef(DOI)
    assert (EX.commentary, COMM.discusses, article) in inferred
    assert (article, COMM.isDiscussedBy, EX.commentary) in inferred
    assert (EX.cited, OWL.sameAs, article) in inferred
    assert (article, COMM.citedYear, Literal("2013", datatype=XSD.gYear)) in inferred
    # The alias is rewritten away, not repeated: no facts about :cited except its owl:sameAs.
    assert {(p, o) for s, p, o in inferred if s == EX.cited} == {(OWL.sameAs, article)}
    assert not [t for t in inferred if EX.cited in t[1:]]
    # The evidence pointing at the cited node is not rewritten into the output.
    assert not [t for t in inferred if str(t[1]).startswith(str(OA))]


def test_prp_key_a_commentary_on_a_review_discusses_the_review(ontology):
    """prp-key on bibo:AcademicArticle, the superclass of comm:Article and comm:Review: a review's
    record and a commentary's citation of it are one individual (cax-sco gives both the type)."""
    asserted = graph(COMMENTARY.replace("comm:Study, comm:Article ;", "comm:Study, comm:Review ;"))
    inferred = reason(asserted, ontology)
    assert (EX.commentary, COMM.discusses, URIRef(DOI)) in inferred
    # The citation says only "an academic article": merged with a review, it is no clash.
    assert inconsistencies(asserted, inferred, ontology) == []


def test_prp_key_same_journal_different_e_locator_is_not_merged(ontology):
    """prp-key needs *every* key value equal (owlrl 7.6.2 never compares the last one)."""
    inferred = infer("""
        :a a comm:Article ; dcterms:isPartOf journal:bmj-open ; comm:eLocator "e003341" .
        :b a comm:Article ; dcterms:isPartOf journal:bmj-open ; comm:eLocator "e004000" .
        :c a comm:Article ; dcterms:isPartOf journal:bmj-open .
        :d a comm:Article ; dcterms:isPartOf journal:bmj-open .
        :e a comm:Commentary ; dcterms:isPartOf journal:bmj-open ; comm:eLocator "e003341" .
    """, ontology)
    assert not [t for t in inferred if t[1] == OWL.sameAs]


ONE_KEY = """
@prefix :    <https://w3id.org/commkg/id/record/test/> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
:Thing a owl:Class ; owl:hasKey ( :id ) .
:Kind a owl:Class ; rdfs:subClassOf :Thing .
:id a owl:DatatypeProperty .
:tag a owl:ObjectProperty .
"""


@pytest.mark.parametrize("reasoner", [reason, reason_with_owlrl], ids=["reason", "owlrl-fixed"])
def test_prp_key_one_property_does_not_merge_everything(reasoner):
    """With a one-property key owlrl 7.6.2 makes every instance owl:sameAs every other."""
    ontology = rdflib.Graph().parse(data=ONE_KEY, format="turtle")
    inferred = set(reasoner(graph("""
        :a a :Thing ; :id "1" . :b a :Thing ; :id "2" . :c a :Thing ; :id "3" .
    """), ontology))
    assert not [t for t in inferred if t[1] == OWL.sameAs]


def test_prp_key_with_an_inferred_type():
    """cax-sco then prp-key: an instance of a subclass is keyed too; the merge is one link."""
    ontology = rdflib.Graph().parse(data=ONE_KEY, format="turtle")
    inferred = set(reason(graph("""
        :a a :Kind ; :id "1" ; :tag :x .
        :b a :Thing ; :id "1" ; bibo:doi "10.1/b" .
        :c a :Thing ; :id "2" .
    """), ontology))
    assert triples(":a owl:sameAs :b . :b :tag :x . :b a :Kind .") == inferred - triples(":a a :Thing .")


def test_eq_rep_asserted_same_as(ontology):
    """eq-rep-s / eq-rep-o: T(?s, owl:sameAs, ?s2), T(?s, ?p, ?o) ⇒ T(?s2, ?p, ?o) (and for objects).

    Output rewrites the alias onto the node with a DOI.
    """
    inferred = infer("""
        :x owl:sameAs <https://doi.org/10.1/x> .
        <https://doi.org/10.1/x> bibo:doi "10.1/x" .
        :x comm:usesTheory concept:StewardshipTheory .
        :y comm:discusses :x .
    """, ontology)
    x = URIRef("https://doi.org/10.1/x")
    assert (x, COMM.usesTheory, CONCEPT.StewardshipTheory) in inferred
    assert (EX.y, COMM.discusses, x) in inferred
    assert (x, COMM.isDiscussedBy, EX.y) in inferred
    assert (EX.x, OWL.sameAs, x) not in inferred  # asserted already
    assert not [t for t in inferred if EX.x in (t[0], t[2])]


# --- clean output ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def records() -> rdflib.Graph:
    return rdflib.Graph().parse(RECORDS)


@pytest.fixture(scope="module")
def inferred_records(records, ontology) -> rdflib.Graph:
    return reason(records, ontology)


def ours(records: rdflib.Graph, ontology: rdflib.Graph) -> set:
    """Records, actors, concepts, samples … of the fixture (not evidence, not vocabulary)."""
    evidence = {s for s, o in records.subject_objects(RDF.type) if str(o).startswith(str(OA))}
    evidence |= set(records.objects(None, OA.hasTarget))
    evidence |= set(records.objects(None, OA.hasSelector))
    nodes = {s for s in records.subjects() if s not in evidence}
    nodes |= {o for s, p, o in records if p != RDF.type and not isinstance(o, Literal)
              and not str(p).startswith(str(OA))}
    nodes |= {s for s, p, o in ontology if str(s).startswith(str(CONCEPT))}
    nodes |= {o for s, p, o in ontology if str(o).startswith(str(CONCEPT))}
    return nodes


def test_noise_rule(records, ontology, inferred_records):
    """Every inferred triple's subject is ours, and none of owlrl's noise kinds appear."""
    assert len(inferred_records) > 50
    allowed = ours(records, ontology)
    vocabulary = (str(RDF), str(RDFS), str(OWL), str(XSD))
    for s, p, o in inferred_records:
        assert not isinstance(s, Literal), (s, p, o)
        assert s in allowed, f"subject not ours: {s}"
        assert not str(s).startswith(vocabulary) and not str(s).startswith(str(COMM))
        assert not (p == OWL.sameAs and s == o), f"reflexive sameAs {s}"
        assert o not in (OWL.Thing, RDFS.Resource, OWL.Class, OWL.NamedIndividual)
        assert not str(o).startswith(vocabulary), (s, p, o)
        assert p == RDF.type or p == OWL.sameAs or not str(p).startswith(vocabulary), (s, p, o)
        assert not isinstance(p, BNode)
        assert not str(p).startswith(str(OA)), (s, p, o)
        if p in (COMM.relatedStudy, COMM.sharesTheoryWith, COMM.sharesMethodWith,
                 COMM.sharesConditionWith, COMM.sharesOrganisationTypeWith):
            assert s != o, f"self-link {s} {p}"
    assert not (set(inferred_records) & set(records)), "asserted triples came out as inferred"
    assert not (set(inferred_records) & set(ontology)), "ontology triples came out as inferred"
    assert inconsistencies(records, inferred_records, ontology) == []


def test_sample_inferences(inferred_records):
    """What issue 7 lists for the sample corpus, on the fixture's versions of those records."""
    commentary = URIRef("https://w3id.org/commkg/id/record/002_2719e0a05c64aa80")
    gps = URIRef("https://w3id.org/commkg/id/doi/10.1016/j.socscimed.2015.01.001/actor/GeneralPractitioner")
    firm = URIRef("https://w3id.org/commkg/id/doi/10.1016/j.socscimed.2015.01.001/actor/PrivateProvider")
    study_001 = URIRef("https://doi.org/10.1016/j.socscimed.2015.01.001")
    other_bmj_open = URIRef("https://doi.org/10.1136/bmjopen-2014-004000")
    g = set(inferred_records)
    assert (commentary, COMM.discusses, URIRef(DOI)) in g
    assert (URIRef(DOI), COMM.isDiscussedBy, commentary) in g
    assert (gps, RDF.type, COMM.Commissioner) in g
    assert (firm, COMM.providesFor, gps) in g
    assert (study_001, COMM.setIn, CONCEPT.England) in g
    assert (study_001, COMM.setIn, CONCEPT.UnitedKingdom) in g
    assert (study_001, COMM.sharesTheoryWith, URIRef(DOI)) in g
    # Same journal, different e-locator: not the same article.
    assert not [t for t in g if t[1] == OWL.sameAs and other_bmj_open in (t[0], t[2])]
    assert [t for t in g if t[1] == OWL.sameAs] == [
        (URIRef("https://w3id.org/commkg/id/record/002_2719e0a05c64aa80/cited/1"), OWL.sameAs, URIRef(DOI))]


def test_same_as_a_plain_owlrl_closure(records, ontology, inferred_records):
    """owlrl is the reference: over ontology + the whole asserted graph (evidence and all),
    a plain closure (prp-key fixed), cleaned the same way, gives exactly our triples."""
    reference = reason_with_owlrl(records, ontology)
    ours_only = set(inferred_records) - set(reference)
    owlrl_only = set(reference) - set(inferred_records)
    assert not ours_only and not owlrl_only, (sorted(ours_only)[:10], sorted(owlrl_only)[:10])


def _extracted(corpus: Path) -> rdflib.Graph:
    """The asserted graph of a corpus, as the extractor makes it."""
    from commkg.corpus import find_records, read_record
    from commkg.extract import extract
    from commkg.lexicon import load_lexicon

    lexicon = load_lexicon()
    asserted = rdflib.Graph()
    for record in find_records(corpus):
        asserted += extract(read_record(record), lexicon)
    return asserted


@pytest.mark.parametrize("corpus", [ROOT / "corpus", ROOT.parent / "shared" / "corpus" / "dev"],
                         ids=["sample", "dev"])
def test_same_as_owlrl_on_the_sample_and_dev_corpora(ontology, corpus):
    """Issue 7: the same instance-level inferences as a plain owlrl closure, on real records."""
    if not corpus.is_dir():
        pytest.skip(f"no corpus at {corpus}")
    asserted = _extracted(corpus)
    inferred = set(reason(asserted, ontology))
    assert [t for t in inferred if t[1] == COMM.discusses], "no commentary linked"
    assert inferred == set(reason_with_owlrl(asserted, ontology))


@pytest.mark.parametrize("corpus", [ROOT / "corpus", ROOT.parent / "shared" / "corpus" / "dev"],
                         ids=["sample", "dev"])
def test_the_build_infers_what_reason_infers_from_its_asserted_graph(ontology, corpus, tmp_path):
    """The build reasons over the knowledge its worker processes sort out record by record
    (reason.knowledge_test, packing.py), not over its asserted graph: the inferences must be
    those of `reason` on that graph, the function held to owlrl above."""
    if not corpus.is_dir():
        pytest.skip(f"no corpus at {corpus}")
    from commkg.build import build_corpus

    report = build_corpus(corpus, tmp_path, workers=2)
    asserted = rdflib.Graph().parse(tmp_path / "asserted.ttl")
    built = set(rdflib.Graph().parse(tmp_path / "inferred.ttl"))
    assert report.inferred == len(built) > 0
    assert built == set(reason(asserted, ontology, exclude=() if report.study_links else STUDY_LINKS))


@pytest.mark.parametrize("turtle", [
    COMMENTARY,
    ":gp comm:commissionsFrom :firm . :firm a comm:FoundationTrust ; comm:partnersWith :la .",
    ":a comm:usesTheory concept:T ; comm:setIn concept:Manchester . :b comm:usesTheory concept:T .",
], ids=["commentary", "actors", "chains"])
def test_same_as_owlrl_on_rule_fixtures(ontology, turtle):
    assert set(reason(graph(turtle), ontology)) == set(reason_with_owlrl(graph(turtle), ontology))


def test_exclude_leaves_the_study_links_to_queries(ontology):
    """At corpus scale the quadratic study-to-study links are not materialised; the rest is."""
    inferred = set(reason(graph("""
        :a comm:usesTheory concept:T ; comm:setIn concept:Manchester .
        :b comm:usesTheory concept:T .
    """), ontology, exclude=STUDY_LINKS))
    assert not [t for t in inferred if t[1] in STUDY_LINKS]
    assert (EX.a, COMM.setIn, CONCEPT.England) in inferred


def test_cleaning_our_closure_from_its_notes_keeps_what_cleaning_it_whole_keeps(records, ontology):
    """reason_knowledge cleans the closure from what it noted as it went (the triples the rules
    added, the input's individuals and DOIs) instead of walking all of it: `clean`, which owlrl's
    closures go through, must keep exactly the same from the whole closure."""
    from commkg.reason import _clean_closure, _saturate, clean

    compiled = compile_ontology(ontology)
    facts = knowledge(records, compiled)
    closure, same = _saturate(facts, compiled)
    whole = set(closure)
    for group in same.groups():
        root = next(iter(group))
        whole.update((root, OWL.sameAs, node) for node in group)
    kept = _clean_closure(closure, same, knowledge=facts, ontology=compiled)
    assert [t for t in kept if t[1] == OWL.sameAs], "no owl:sameAs group to rewrite in the fixture"
    assert kept == clean(whole, knowledge=facts, ontology=compiled)


def test_reason_triples_on_knowledge_alone(records, ontology, inferred_records):
    """A build may keep only each record's knowledge triples: the inferences are the same."""
    compiled = compile_ontology(ontology)
    assert reason_triples(knowledge(records, compiled), compiled) == set(inferred_records)
    assert len(knowledge(records, compiled)) < len(records)


def test_output_is_new_only(ontology):
    """What is asserted already is not inferred again."""
    inferred = infer(":ccg a comm:CCG, comm:Commissioner .", ontology)
    assert (EX.ccg, RDF.type, COMM.Commissioner) not in inferred
    assert (EX.ccg, RDF.type, COMM.Actor) in inferred


def test_unsupported_axiom_is_refused():
    """An axiom the reasoner does not implement is an error, never silently ignored."""
    ontology = rdflib.Graph().parse(data=PREFIXES + """
        comm:Commissioner rdfs:subClassOf [ a owl:Restriction ;
            owl:onProperty comm:commissionsFrom ; owl:someValuesFrom comm:Provider ] .
    """, format="turtle")
    with pytest.raises(UnsupportedAxiom):
        compile_ontology(ontology)
    functional = rdflib.Graph().parse(data=PREFIXES + "comm:eLocator a owl:FunctionalProperty .",
                                      format="turtle")
    with pytest.raises(UnsupportedAxiom):
        compile_ontology(functional)


# --- consistency -------------------------------------------------------------------------------


def test_cax_adc_disjoint_classes_are_reported(ontology):
    """cax-adc: T(?x, rdf:type, owl:AllDisjointClasses), T(?x, owl:members, ?list), ?list has ?ci, ?cj,
    T(?z, rdf:type, ?ci), T(?z, rdf:type, ?cj) ⇒ false

    A concept used as an actor (range of involvesActor) is both a Theory and an Actor: reported
    with the record and the quoted words, never raised.
    """
    asserted = graph("""
        :s comm:usesTheory concept:NegotiatedOrder ; comm:involvesActor concept:NegotiatedOrder .
        :note a oa:Annotation ; oa:hasBody concept:NegotiatedOrder ; oa:hasTarget :note_target .
        :note_target oa:hasSource :s ; oa:hasSelector :note_quote .
        :note_quote oa:exact "negotiated order" .
    """)
    inferred = reason(asserted, ontology)
    found = inconsistencies(asserted, inferred, ontology)
    assert [(f.node, set(f.classes)) for f in found] == [
        (CONCEPT.NegotiatedOrder, {COMM.Actor, COMM.Theory})]
    assert found[0].evidence == ((EX.s, "negotiated order"),)
    assert "negotiated order" in str(found[0])


def test_commissioner_and_provider_together_are_consistent(ontology):
    """GPs who commission and also provide: both roles, no inconsistency."""
    asserted = graph(":gp comm:commissionsFrom :trust ; comm:providesFor :la .")
    assert inconsistencies(asserted, reason(asserted, ontology), ontology) == []


def test_an_alias_brings_its_types(ontology):
    """The cited node's asserted types count for the article it is the same as."""
    asserted = graph(COMMENTARY.replace(":cited a bibo:AcademicArticle", ":cited a comm:Article, comm:Review"))
    found = inconsistencies(asserted, reason(asserted, ontology), ontology)
    assert [(f.node, set(f.classes)) for f in found] == [(URIRef(DOI), {COMM.Article, COMM.Review})]
