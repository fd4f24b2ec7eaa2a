"""The extractor, category by category, on small records written for the purpose, and on the seeds."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import RDF, Literal, URIRef
from rdflib.namespace import DCTERMS, SKOS

from commkg.corpus import parse_record, read_record
from commkg.evidence import OA
from commkg.extract import BIBO, extract, institutions, sentence_spans
from commkg.lexicon import COMM, CONCEPT, UNIT, load_lexicon
from commkg.resources import data_path

CITATION = "BMJ Open. 2013 Sep 6;3(9):e003341. doi: 10.1136/bmjopen-2013-003341."


@pytest.fixture(scope="module")
def lexicon():
    return load_lexicon()


def build(lexicon, *paragraphs: str, head: str = CITATION, name: str = "fixture.txt"):
    text = "\n".join([head, *paragraphs]) + "\n" if head else "\n".join(paragraphs) + "\n"
    record = parse_record(text, Path(name))
    return record, extract(record, lexicon)


def keys(graph) -> set[str]:
    """The concept keys that have evidence, as the contract query document-concepts.rq sees them."""
    found = set()
    for annotation in graph.subjects(RDF.type, OA.Annotation):
        for body in graph.objects(annotation, OA.hasBody):
            notation = graph.value(body, SKOS.notation)
            if notation is not None and graph.value(body, SKOS.inScheme) is not None:
                found.add(str(notation))
    return found


def sample_sizes(graph) -> set[tuple[int, str]]:
    return {(int(graph.value(node, COMM["count"])), str(graph.value(node, COMM.unit)).rsplit("/", 1)[-1])
            for node in graph.subjects(RDF.type, COMM.SampleSize)}


# -- concepts, one category at a time ------------------------------------------------------------

@pytest.mark.parametrize("sentence, expected", [
    ("Clinical Commissioning Groups (CCGs) replaced primary care trusts (PCTs).", {"CCG", "PCT"}),
    ("Purchasers had little power over large acute providers.", {"Commissioner", "AcuteProvider", "Provider"}),
    ("The GP practices and the private sector organisation worked with the third sector.",
     {"GeneralPractice", "PrivateProvider", "VoluntarySector"}),
    ("Sustainability and transformation partnerships (STPs) and integrated care systems.",
     {"STP", "ICS", "IntegratedCare"}),
])
def test_organisation_types_by_name_abbreviation_and_plural(lexicon, sentence, expected):
    _, graph = build(lexicon, sentence)
    assert {k for k in keys(graph) if k not in {"England", "UnitedKingdom"}} == expected


def test_roles(lexicon):
    _, graph = build(lexicon, "We interviewed 6 senior policymakers, GPs, managers, carers and patient representatives.")
    assert {"Policymaker", "GeneralPractitioner", "Manager", "Carer", "Patient", "Interview"} <= keys(graph)


def test_theories_including_a_cued_label(lexicon):
    _, graph = build(lexicon, "The case lends support for stewardship and resource dependency governance theories.")
    assert {"StewardshipTheory", "ResourceDependencyTheory"} <= keys(graph)


def test_stewardship_without_a_theory_is_not_stewardship_theory(lexicon):
    _, graph = build(lexicon, "Careful stewardship of taxpayers' money demands that decisions are fair.")
    assert "StewardshipTheory" not in keys(graph)


def test_methods(lexicon):
    _, graph = build(lexicon, "A multisite mixed-methods case study with semi-structured interviews, "
                              "documentary analysis, non-participant observation and a telephone survey; "
                              "data were analysed using thematic content analysis.")
    assert {"MixedMethods", "CaseStudy", "Interview", "DocumentAnalysis", "Observation", "Survey",
            "ThematicAnalysis"} <= keys(graph)


def test_conditions_activities_policies(lexicon):
    _, graph = build(lexicon, "Commissioning for people with long-term conditions such as dementia, diabetes and "
                              "stroke involved needs assessment, decommissioning, competitive tendering and "
                              "co-commissioning in a quasi-market.")
    assert {"LongTermCondition", "Dementia", "Diabetes", "Stroke", "NeedsAssessment", "Decommissioning",
            "Procurement", "CoCommissioning", "Marketisation"} <= keys(graph)


def test_places_in_text_and_in_affiliation(lexicon):
    record, graph = build(lexicon, "Three areas in the North and South of England.",
                          head="Centre for Primary Care, University of Manchester, Manchester, UK.\n" + CITATION)
    assert {"NorthOfEngland", "SouthOfEngland", "Manchester", "UnitedKingdom"} <= keys(graph)
    study = URIRef("https://doi.org/10.1136/bmjopen-2013-003341")
    assert (study, COMM.authoredIn, CONCEPT.Manchester) in graph
    assert (study, COMM.setIn, CONCEPT.NorthOfEngland) in graph


def test_a_word_inside_a_longer_organisation_name_does_not_count(lexicon):
    _, graph = build(lexicon, "We studied commissioning.",
                     head="1 Department of Health Services Research and Policy, London School of Hygiene "
                          "and Tropical Medicine, London, UK.\n" + CITATION)
    assert "DepartmentOfHealth" not in keys(graph)
    assert "London" in keys(graph)


def test_nested_term_is_not_counted_twice(lexicon):
    _, graph = build(lexicon, "General practice-based commissioners took part.")
    assert "PracticeBasedCommissioning" in keys(graph)
    assert "GeneralPractice" not in keys(graph)


def test_chinese_only_record_is_matched_with_chinese_labels(lexicon):
    _, graph = build(lexicon, "本文考察了临床委托小组(CCGs)的委托工作以及对长期病患者的服务。", head="")
    assert {"CCG", "LongTermCondition"} <= keys(graph)


# -- sample sizes --------------------------------------------------------------------------------

@pytest.mark.parametrize("sentence, expected", [
    ("10 single depth interviews were carried out with key informants.", {(10, "Interview")}),
    ("We reviewed 147 CCG application documents and surveyed CCGs (n=49 and n=21).",
     {(147, "Document"), (49, "Participant"), (21, "Participant")}),
    ("We observed 74 primary care commissioning committee meetings (approx. 111 hours).",
     {(74, "Meeting"), (111, "Hour")}),
    ("Three 'commissioning communities' in England, 2010-2012.", {(3, "Area")}),
    ("Eleven primary care trusts (PCTs) in England.", {(11, "Organisation")}),
    ("We interviewed 42 CCG staff.", {(42, "Participant")}),
])
def test_sample_sizes(lexicon, sentence, expected):
    _, graph = build(lexicon, sentence)
    assert sample_sizes(graph) == expected


@pytest.mark.parametrize("sentence", [
    "Three principal components underlay coproduction.",
    "Rates among women aged 25-64 years fell by 1.4%.",
    "Since 2012, a £350 million fund and 78% of budgets.",
    "All of the sites looked after people with diabetes, with two of the sites also looked after dementia.",
    "A single case study method was adopted.",
    "Five years of efforts in 2010 reform.",
])
def test_numbers_that_are_not_sample_sizes(lexicon, sentence):
    _, graph = build(lexicon, sentence)
    assert sample_sizes(graph) == set()


def test_study_period(lexicon):
    _, graph = build(lexicon, "A multiple case study of eight CCGs carried out between September 2011 and June 2012.")
    period = graph.value(URIRef("https://doi.org/10.1136/bmjopen-2013-003341"), COMM.studyPeriod)
    assert str(graph.value(period, COMM.startYear)) == "2011"
    assert str(graph.value(period, COMM.endYear)) == "2012"


# -- actors and their relations -----------------------------------------------------------------

def test_gps_named_as_commissioners_commission_from_the_firm(lexicon):
    _, graph = build(lexicon, "The findings identified a close relationship between GPs (the commissioners) and "
                              "the private commissioning support and provider firm.")
    base = "https://w3id.org/commkg/id/doi/10.1136/bmjopen-2013-003341/actor/"
    gps = URIRef(base + "GeneralPractitioner")
    assert (gps, COMM.commissionsFrom, URIRef(base + "PrivateProvider")) in graph
    assert (gps, RDF.type, COMM.GeneralPractitioner) in graph


def test_buying_from(lexicon):
    _, graph = build(lexicon, "CCGs are buying these functions from commissioning support units (CSUs).")
    base = "https://w3id.org/commkg/id/doi/10.1136/bmjopen-2013-003341/actor/"
    assert (URIRef(base + "CCG"), COMM.commissionsFrom, URIRef(base + "CommissioningSupport")) in graph


def test_named_organisations_are_shared(lexicon):
    _, first = build(lexicon, "NHS England began in 2015 to pass responsibility to CCGs.", name="a.txt")
    _, second = build(lexicon, "NHS England (NHSE) launched a programme.", head="", name="b.txt")
    nhse = URIRef("https://w3id.org/commkg/org/nhs-england")
    assert (nhse, RDF.type, COMM.NHSEngland) in first and (nhse, RDF.type, COMM.NHSEngland) in second


# -- metadata, kinds, evidence on the sample corpus ------------------------------------------------

@pytest.fixture(scope="module")
def seeds(lexicon):
    corpus = data_path("corpus")
    return {p.name[:3]: (read_record(p), extract(read_record(p), lexicon)) for p in sorted(corpus.glob("*.txt"))}


def test_metadata_of_an_article(seeds):
    _, graph = seeds["000"]
    study = URIRef("https://doi.org/10.1136/bmjopen-2013-003341")
    assert (study, RDF.type, COMM.Article) in graph
    assert graph.value(study, BIBO.doi) == Literal("10.1136/bmjopen-2013-003341")
    assert str(graph.value(graph.value(study, DCTERMS.isPartOf), DCTERMS.title)) == "BMJ Open"
    assert str(graph.value(study, DCTERMS.issued)) == "2013-09-06"
    assert str(graph.value(study, COMM.eLocator)) == "e003341"
    assert graph.value(study, COMM.translatedAbstract).language == "zh"


def test_commentary_names_the_article_it_discusses(seeds):
    _, graph = seeds["002"]
    commentary = next(graph.subjects(RDF.type, COMM.Commentary))
    assert str(commentary).startswith("https://w3id.org/commkg/id/record/002_")
    cited = graph.value(commentary, COMM.discusses)
    assert str(graph.value(cited, COMM.eLocator)) == "e003341"
    assert str(graph.value(graph.value(cited, DCTERMS.isPartOf), DCTERMS.title)) == "BMJ Open"


def test_every_evidence_quote_is_the_text_at_its_offsets(seeds):
    for record, graph in seeds.values():
        annotations = list(graph.subjects(RDF.type, OA.Annotation))
        assert annotations
        for annotation in annotations:
            target = graph.value(annotation, OA.hasTarget)
            selectors = list(graph.objects(target, OA.hasSelector))
            quote = next(graph.value(s, OA.exact) for s in selectors if graph.value(s, OA.exact) is not None)
            position = next(s for s in selectors if graph.value(s, OA.start) is not None)
            start, end = int(graph.value(position, OA.start)), int(graph.value(position, OA.end))
            assert record.text[start:end] == str(quote)


def test_every_concept_fact_has_evidence(seeds):
    for _, graph in seeds.values():
        bodies = set(graph.objects(None, OA.hasBody))
        for study, _, concept in graph.triples((None, COMM.usesTheory, None)):
            assert concept in bodies


DEV = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "dev"


@pytest.mark.parametrize("corpus", [data_path("corpus"), DEV], ids=["sample", "dev"])
def test_names_concept_is_exactly_the_concepts_with_evidence(lexicon, corpus):
    """document-concepts.rq reads comm:namesConcept for "the keys the record names (a fact with
    evidence)": it must agree with the annotations, record by record."""
    if not corpus.is_dir():
        pytest.skip(f"no corpus at {corpus}")
    for path in sorted(corpus.glob("*.txt")):
        graph = extract(read_record(path), lexicon)
        study = graph.value(None, COMM.sourceFile, Literal(path.name), any=False)
        named = {str(graph.value(concept, SKOS.notation)) for concept in graph.objects(study, COMM.namesConcept)}
        assert named, path.name
        assert named == keys(graph), path.name


def test_names_concept_leaves_out_what_the_text_does_not_name(lexicon):
    """London is named in the text and Manchester in an affiliation line; England, which holds
    both, is not named (the reasoner adds it to comm:setIn, never to comm:namesConcept)."""
    _, graph = build(lexicon, "We interviewed managers of CCGs in London.",
                     head="University of Manchester, Manchester.\n" + CITATION)
    named = set(graph.objects(None, COMM.namesConcept))
    assert {CONCEPT.CCG, CONCEPT.London, CONCEPT.Interview, CONCEPT.Manchester} <= named
    assert CONCEPT.England not in named


def test_extraction_is_deterministic(lexicon):
    path = data_path("corpus") / "004_2d04737228db5739.txt"
    first = extract(read_record(path), lexicon).serialize(format="nt")
    second = extract(read_record(path), lexicon).serialize(format="nt")
    assert sorted(first.splitlines()) == sorted(second.splitlines())


# -- small helpers ---------------------------------------------------------------------------------

def test_sentences_do_not_end_at_abbreviations():
    text = "We observed 74 meetings (approx. 111 hours). Then we stopped."
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "We observed 74 meetings (approx. 111 hours).", "Then we stopped."]


@pytest.mark.parametrize("line, expected", [
    ("Manchester Business School, University of Manchester, Booth Street West, Manchester, M15 6PB, UK.",
     ["University of Manchester"]),
    ("Luxembourg Institute of Health and Luxembourg Institute of Socio-Economic Research, Luxembourg, Luxembourg.",
     ["Luxembourg Institute of Health", "Luxembourg Institute of Socio-Economic Research"]),
    ("The King's Fund, 11-13 Cavendish Square, London, W1G 0AN, UK. Email.", ["The King's Fund"]),
    ("Department of Health Services Research and Policy, London School of Hygiene and Tropical Medicine, London, UK.",
     ["London School of Hygiene and Tropical Medicine"]),
])
def test_institutions_of_an_affiliation_line(line, expected):
    found = institutions(line)
    assert [name for name, _ in found] == expected
    for name, (start, end) in found:
        assert line[start:end] == name


def test_lexicon_covers_the_vocabulary(lexicon):
    import csv
    vocabulary = Path(__file__).resolve().parents[2] / "shared" / "vocabulary.csv"
    if not vocabulary.exists():
        pytest.skip("shared/vocabulary.csv is not beside this checkout")
    wanted = {row["key"]: row["category"] for row in csv.DictReader(vocabulary.open())}
    assert {k: c.category for k, c in lexicon.concepts.items()} == wanted
    for concept in lexicon.concepts.values():
        languages = {label.language for label in lexicon.graph.objects(concept.iri, SKOS.prefLabel)}
        assert languages == {"en", "zh"}, concept.key


def test_units_are_described(lexicon):
    assert UNIT.Interview in lexicon.units


def test_every_ontology_term_the_extractor_writes_is_declared(seeds):
    """A property or class of comm: that the ontology does not declare has no label, no
    definition and no axioms: the extractor must not invent one."""
    from rdflib import Graph
    from commkg.resources import ontology_file
    ontology = Graph().parse(ontology_file("commissioning.ttl"))
    declared = set(ontology.subjects())
    used = {term for _, graph in seeds.values() for triple in graph for term in triple
            if isinstance(term, URIRef) and str(term).startswith(str(COMM))}
    assert used - declared == set()
