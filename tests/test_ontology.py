"""The ontology file: it parses, every term is documented, and it stays inside OWL 2 RL."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import rdflib
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS, XSD, Namespace

from commkg.reason import BIBO, compile_ontology

ROOT = Path(__file__).resolve().parents[1]
ONTOLOGY = ROOT / "ontology" / "commissioning.ttl"
VOCABULARY = ROOT.parent / "shared" / "vocabulary.csv"
COMM = Namespace("https://w3id.org/commkg/ontology#")
CONCEPT = Namespace("https://w3id.org/commkg/concept/")

# The two organisation-type keys that are the roles themselves, not classes under them.
ROLE_KEYS = {"Commissioner", "Provider"}


@pytest.fixture(scope="module")
def onto() -> rdflib.Graph:
    return rdflib.Graph().parse(ONTOLOGY)


def comm_terms(graph: rdflib.Graph) -> set[URIRef]:
    """Every comm: name the file uses anywhere."""
    return {
        node for triple in graph for node in triple
        if isinstance(node, URIRef) and node.startswith(str(COMM))
    }


def declared(graph: rdflib.Graph, kind: URIRef) -> set[URIRef]:
    return set(graph.subjects(RDF.type, kind))


def test_parses_with_header(onto):
    header = URIRef("https://w3id.org/commkg/ontology")
    assert (header, RDF.type, OWL.Ontology) in onto
    assert onto.value(header, OWL.versionInfo) == Literal("0.1.0")
    assert onto.value(header, RDFS.label) is not None
    assert onto.value(header, RDFS.comment) is not None
    assert onto.value(header, DCTERMS.license) is not None


def test_every_term_is_declared_labelled_and_defined(onto):
    kinds = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty)
    missing = []
    for term in comm_terms(onto):
        if not any((term, RDF.type, kind) in onto for kind in kinds):
            missing.append(f"{term}: not declared")
        for prop in (RDFS.label, SKOS.definition):
            values = [v for v in onto.objects(term, prop) if isinstance(v, Literal) and v.language == "en"]
            if len(values) != 1:
                missing.append(f"{term}: needs exactly one {prop.n3(onto.namespace_manager)}@en")
    assert not missing, "\n".join(sorted(missing))


def test_definitions_are_one_line(onto):
    for term, definition in onto.subject_objects(SKOS.definition):
        assert "\n" not in definition, term


def test_names_of_the_modelling_contract_exist(onto):
    """Every comm: name docs/model.md uses is defined here (the contract between modules)."""
    used = set(re.findall(r"comm:([A-Za-z]+)", (ROOT / "docs" / "model.md").read_text()))
    assert used, "docs/model.md names no comm: terms?"
    defined = {str(t)[len(str(COMM)):] for t in comm_terms(onto)}
    assert used - defined == set()


REQUIRED_CLASSES = """Study Article Review Commentary SampleSize Actor Commissioner Provider Partnership
    CCG PCT PracticeBasedCommissioning ICB NHSEngland DepartmentOfHealth STP ICS NHSTrust
    FoundationTrust AcuteProvider GeneralPractice PrivateProvider VoluntarySector LocalAuthority
    CommissioningSupport HealthEconomy PrimaryHealthNetwork Manager Clinician GeneralPractitioner
    Policymaker Patient Carer OrganisationType Role Theory Method Condition Activity Policy Place""".split()
REQUIRED_PROPERTIES = """mentionsConcept involvesOrganisationType involvesRole usesTheory usesMethod
    concernsCondition describesActivity concernsPolicy setIn authoredIn involvesActor
    hasOrganisationType commissionsFrom providesFor partnersWith negotiatesWith memberOf partOf
    discusses isDiscussedBy hasSampleSize count unit sourceFile eLocator citedYear translatedAbstract
    affiliation studyPeriod startYear endYear relatedStudy sharesTheoryWith sharesMethodWith
    sharesConditionWith sharesOrganisationTypeWith""".split()


def test_required_names(onto):
    classes = declared(onto, OWL.Class)
    properties = declared(onto, OWL.ObjectProperty) | declared(onto, OWL.DatatypeProperty)
    assert {COMM[n] for n in REQUIRED_CLASSES} - classes == set()
    assert {COMM[n] for n in REQUIRED_PROPERTIES} - properties == set()


def test_every_vocabulary_organisation_type_and_role_has_a_class(onto):
    if not VOCABULARY.is_file():
        pytest.skip(f"the shared vocabulary is not beside this checkout ({VOCABULARY})")
    with VOCABULARY.open(encoding="utf-8") as f:
        keys = [row["key"] for row in csv.DictReader(f) if row["category"] in ("org", "role")]
    assert "CCG" in keys and "Manager" in keys
    classes = declared(onto, OWL.Class)
    assert {COMM[k] for k in keys} - classes == set()
    # The role keys are the roles themselves, directly under Actor.
    for key in ROLE_KEYS:
        assert (COMM[key], RDFS.subClassOf, COMM.Actor) in onto


def superclasses(onto, cls) -> set:
    return set(onto.transitive_objects(cls, RDFS.subClassOf))


@pytest.mark.parametrize("cls, expected, not_expected", [
    ("CCG", "Commissioner", "Provider"),
    ("FoundationTrust", "Provider", "Commissioner"),
    ("GeneralPractitioner", "Clinician", "Commissioner"),
    ("LocalAuthority", "Commissioner", "Provider"),
    ("STP", "Partnership", "Commissioner"),
    ("ICS", "Partnership", "Provider"),
])
def test_hierarchy(onto, cls, expected, not_expected):
    sup = superclasses(onto, COMM[cls])
    assert COMM[expected] in sup and COMM.Actor in sup
    assert COMM[not_expected] not in sup


def test_commissioner_and_provider_are_not_disjoint(onto):
    roles = {COMM.Commissioner, COMM.Provider}
    related = roles | superclasses(onto, COMM.Commissioner) | superclasses(onto, COMM.Provider)
    for a, b in onto.subject_objects(OWL.disjointWith):
        assert not ({a, b} <= related), (a, b)
    for group in onto.subjects(RDF.type, OWL.AllDisjointClasses):
        members = set(onto.items(onto.value(group, OWL.members)))
        assert len(members & related) < 2, members
    assert not list(onto.triples((None, OWL.complementOf, None)))


# OWL 2 RL (OWL 2 Profiles, section 4.2): what a superclass expression may not be, and
# constructs the profile has no place for at all.
_NOT_AS_SUPERCLASS = {OWL.unionOf, OWL.someValuesFrom, OWL.oneOf, OWL.minCardinality,
                      OWL.minQualifiedCardinality, OWL.cardinality, OWL.qualifiedCardinality,
                      OWL.hasSelf}
_NOT_IN_RL = {OWL.disjointUnionOf, OWL.ReflexiveProperty, OWL.minCardinality,
              OWL.minQualifiedCardinality, OWL.cardinality, OWL.qualifiedCardinality}
# The OWL 2 RL datatypes usable in ranges (no xsd:gYear, xsd:date …).
_RL_DATATYPES = {RDFS.Literal, RDF.PlainLiteral, RDF.XMLLiteral, XSD.decimal, XSD.integer,
                 XSD.nonNegativeInteger, XSD.nonPositiveInteger, XSD.positiveInteger,
                 XSD.negativeInteger, XSD.long, XSD.int, XSD.short, XSD.byte,
                 XSD.unsignedLong, XSD.unsignedInt, XSD.unsignedShort, XSD.unsignedByte,
                 XSD.float, XSD.double, XSD.string, XSD.normalizedString, XSD.token,
                 XSD.language, XSD.Name, XSD.NCName, XSD.NMTOKEN, XSD.boolean, XSD.hexBinary,
                 XSD.base64Binary, XSD.anyURI, XSD.dateTime, XSD.dateTimeStamp}


def test_only_owl2_rl_constructs(onto):
    for sup in list(onto.objects(None, RDFS.subClassOf)) + list(onto.objects(None, OWL.equivalentClass)):
        if isinstance(sup, BNode):
            used = {p for p, _ in onto.predicate_objects(sup)}
            assert not (used & _NOT_AS_SUPERCLASS), f"superclass expression uses {used & _NOT_AS_SUPERCLASS}"
    for s, p, o in onto:
        assert p not in _NOT_IN_RL and o not in _NOT_IN_RL, (s, p, o)
    for prop in declared(onto, OWL.DatatypeProperty):
        for rng in onto.objects(prop, RDFS.range):
            assert rng in _RL_DATATYPES, f"{prop} has range {rng}, outside the OWL 2 RL datatype map"


def test_reasoner_supports_every_axiom(onto):
    """commkg.reason implements every construct used (it raises UnsupportedAxiom otherwise)."""
    compiled = compile_ontology(onto)
    assert compiled.keys == ((BIBO.AcademicArticle, (DCTERMS.isPartOf, BIBO.volume, COMM.eLocator)),)
    assert COMM.partOf in compiled.transitive
    assert {c.result for c in compiled.chains} == {
        COMM.setIn, COMM.authoredIn, COMM.sharesTheoryWith, COMM.sharesMethodWith,
        COMM.sharesConditionWith, COMM.sharesOrganisationTypeWith}


def test_no_axiom_concludes_names_concept(onto):
    """comm:namesConcept means "has evidence in the record" in graph.ttl too (document-concepts.rq),
    so no rule may add it: no sub-property, inverse, chain, symmetry or transitivity leads to it."""
    compiled = compile_ontology(onto)
    names = COMM.namesConcept
    assert COMM.mentionsConcept in compiled.superproperties[names]
    assert [p for p, sup in compiled.superproperties.items() if names in sup] == []
    assert [p for p, inverse in compiled.inverses.items() if names in inverse or p == names] == []
    assert names not in compiled.symmetric | compiled.transitive
    assert names not in {chain.result for chain in compiled.chains}


def test_place_facts(onto):
    part_of = set(onto.subject_objects(COMM.partOf))
    for place, whole in [("Manchester", "England"), ("London", "England"),
                         ("NorthOfEngland", "England"), ("SouthOfEngland", "England"),
                         ("England", "UnitedKingdom"), ("Scotland", "UnitedKingdom"),
                         ("Wales", "UnitedKingdom")]:
        assert (CONCEPT[place], CONCEPT[whole]) in part_of
