"""What `commkg build` writes on the sample corpus once it has reasoned (issue 7, "Done when"):
the inferences the ontology promises are in graph.ttl, the noise is not, and graph.trig splits
the same triples into its four named graphs."""

from __future__ import annotations

import pytest
from rdflib import OWL, RDF, RDFS, Dataset, Graph, Literal, URIRef

from commkg.lexicon import COMM, CONCEPT

ARTICLE_000 = URIRef("https://doi.org/10.1136/bmjopen-2013-003341")
ARTICLE_001 = URIRef("https://doi.org/10.1186/1472-6963-13-S1-S4")
ARTICLE_004 = URIRef("https://doi.org/10.1136/bmjopen-2018-027622")
GRAPHS = "https://w3id.org/commkg/graph/"


@pytest.fixture(scope="module")
def graph(sample_build) -> Graph:
    return Graph().parse(sample_build.out_dir / "graph.ttl", format="turtle")


@pytest.fixture(scope="module")
def inferred(sample_build) -> Graph:
    return Graph().parse(sample_build.out_dir / "inferred.ttl", format="turtle")


def commentary(graph: Graph) -> URIRef:
    return next(s for s in graph.subjects(RDF.type, COMM.Commentary))


def actor(study: URIRef, key: str) -> URIRef:
    return URIRef(f"https://w3id.org/commkg/id/doi/{str(study)[len('https://doi.org/'):]}/actor/{key}")


def test_class_hierarchy_makes_ccgs_commissioners(graph, inferred):
    ccgs = actor(ARTICLE_004, "CCG")
    assert (ccgs, RDF.type, COMM.CCG) in graph
    assert (ccgs, RDF.type, COMM.Commissioner) in inferred


def test_the_gps_of_001_are_commissioners_by_the_domain_of_commissions_from(graph, inferred):
    gps = actor(ARTICLE_001, "GeneralPractitioner")
    firm = actor(ARTICLE_001, "PrivateProvider")
    assert (gps, COMM.commissionsFrom, firm) in graph
    assert (gps, RDF.type, COMM.Commissioner) in inferred
    assert (firm, COMM.providesFor, gps) in inferred


def test_a_study_set_in_manchester_is_set_in_england_and_the_uk(graph, inferred):
    assert (ARTICLE_004, COMM.authoredIn, CONCEPT.Manchester) in graph
    assert (ARTICLE_004, COMM.authoredIn, CONCEPT.England) in inferred
    assert (CONCEPT.Manchester, COMM.partOf, CONCEPT.UnitedKingdom) in graph


def test_studies_sharing_a_theory_are_linked_and_none_to_itself(graph):
    the_commentary = commentary(graph)
    # 000 and the commentary 002 both name the commissioning cycle
    assert (ARTICLE_000, COMM.sharesTheoryWith, the_commentary) in graph
    assert (the_commentary, COMM.sharesTheoryWith, ARTICLE_000) in graph
    for prop in (COMM.sharesTheoryWith, COMM.sharesMethodWith, COMM.sharesConditionWith,
                 COMM.sharesOrganisationTypeWith, COMM.relatedStudy):
        assert not [s for s, o in graph.subject_objects(prop) if s == o]


def test_the_commentary_discusses_the_article_it_cites(graph):
    the_commentary = commentary(graph)
    assert (the_commentary, COMM.discusses, ARTICLE_000) in graph
    assert (ARTICLE_000, COMM.isDiscussedBy, the_commentary) in graph
    # and no other record: 004 is in the same journal, so a key on the journal alone would merge them
    records = set(graph.subjects(COMM.sourceFile, None))
    assert set(graph.objects(the_commentary, COMM.discusses)) & records == {ARTICLE_000}


def test_no_noise_in_the_inferred_graph(inferred):
    vocabulary = (str(RDF), str(RDFS), str(OWL), "http://www.w3.org/2001/XMLSchema#")
    for s, p, o in inferred:
        assert not isinstance(s, Literal)
        assert not (p == OWL.sameAs and s == o), s
        assert not (p == RDF.type and o in (RDFS.Resource, OWL.Thing, RDFS.Class, OWL.Class)), (s, o)
        assert not str(s).startswith(vocabulary), s
        assert str(s).startswith(("https://w3id.org/commkg/", "https://doi.org/")), s


def test_graph_ttl_is_asserted_plus_inferred(sample_build, graph, inferred):
    asserted = Graph().parse(sample_build.out_dir / "asserted.ttl", format="turtle")
    assert len(graph) == len(asserted) + len(inferred)
    assert len(inferred) == sample_build.inferred


def test_graph_trig_has_the_four_named_graphs(sample_build, graph):
    dataset = Dataset()
    dataset.parse(sample_build.out_dir / "graph.trig", format="trig")
    names = {str(g.identifier) for g in dataset.graphs() if len(g)}
    assert {GRAPHS + name for name in ("ontology", "asserted", "inferred", "evidence")} <= names
    data = set()
    for name in ("asserted", "inferred", "evidence"):
        data |= set(dataset.graph(URIRef(GRAPHS + name)))
    ontology = set(dataset.graph(URIRef(GRAPHS + "ontology")))
    # every triple of graph.ttl is in one of them, and the evidence graph holds only annotations
    assert set(graph) <= data | ontology
    assert all("/evidence/" in str(s) for s, _, _ in dataset.graph(URIRef(GRAPHS + "evidence")))


def test_graph_trig_indents_the_body_of_each_graph_and_leaves_blank_lines_empty(sample_build):
    lines = (sample_build.out_dir / "graph.trig").read_text(encoding="utf-8").split("\n")
    body, inside = [], False
    for line in lines:
        if line.endswith("{") and line.startswith(("<", "graph:", GRAPHS)):
            inside = True
        elif line == "}":
            inside = False
        elif inside:
            body.append(line)
    assert len(body) > 100 and "" in body  # blocks are separated by blank lines
    assert all(line.startswith("    ") and line.strip() for line in body if line), \
        [line for line in body if line and not line.startswith("    ")][:3]
    assert all(line == "" or line.strip() for line in body)  # no line of spaces only
