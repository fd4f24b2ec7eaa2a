"""commkg.visual without a browser: the projections, the escaping, determinism, focus pages and
the `view` command. tests/test_page_browser.py opens the same pages in Chromium."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import networkx as nx
import pytest
import rdflib
from click.testing import CliRunner
from rdflib import Namespace

from commkg import visual
from commkg.cli import main
from commkg.corpus import find_records, parse_record, read_record
from commkg.extract import extract, extract_record
from commkg.lexicon import load_lexicon
from commkg.resources import data_path, ontology_file

COMM = Namespace("https://w3id.org/commkg/ontology#")
CONCEPT = Namespace("https://w3id.org/commkg/concept/")
RDT = str(CONCEPT.ResourceDependencyTheory)
BMC_STUDY = "https://doi.org/10.1186/1472-6963-13-S1-S4"  # the sample study that uses RDT
CHECKLAND_DOI = "10.1136/bmjopen-2013-003341"  # the study the sample commentary discusses

# A commentary whose text is an attack: the payloads reach the page through the cited title
# (the commentary's label and its "Discusses" list) and the record's file name.
EVIL_NAME = "evil <img src=x onerror=window.__pwned=1>.txt"
EVIL_TEXT = (
    "The aim of this commentary on <script>window.__pwned=1</script> is to look at how clinical "
    "commissioning groups use resource dependency theory with people with diabetes "
    "<img src=x onerror=\"window.__pwned=1\">.\n"
    "Links\n"
    "<img src=x onerror=alert(1)> SE Shaw. The work of <script>window.__pwned=1</script> commissioning "
    "& \"care\" \u2028 </script><!-- {{graph}} {{app}} (PDF). BMJ Open, 2013, 3:e003341.\n"
)
EVIL_PAYLOADS = ("<img src=x onerror=alert(1)>", "<script>window.__pwned=1</script>")


@cache
def _sample_triples() -> frozenset:
    lexicon = load_lexicon()
    graph = rdflib.Graph()
    for path in find_records(data_path("corpus")):
        graph += extract(read_record(path), lexicon)
    return frozenset(graph)


def sample_graph() -> rdflib.Graph:
    """The five seed records, extracted (a fresh Graph each call: tests may add to it)."""
    graph = rdflib.Graph()
    for triple in _sample_triples():
        graph.add(triple)
    return graph


def evil_graph() -> rdflib.Graph:
    """The seed records plus the attacking commentary."""
    graph = sample_graph()
    graph += extract(parse_record(EVIL_TEXT, Path(EVIL_NAME)), load_lexicon())
    return graph


def inferred_graph() -> rdflib.Graph:
    """The seed records with what the reasoner adds (comm:discusses resolved, setIn chains …)."""
    from commkg.reason import reason

    asserted = sample_graph()
    ontology = rdflib.Graph().parse(ontology_file("commissioning.ttl"))
    return asserted + reason(asserted, ontology)


def page_json(page: str) -> dict:
    block = re.search(r'<script type="application/json" id="commkg-data">(.*?)</script>', page, re.S)
    return json.loads(block.group(1))


def _grouped(flat: list[int], width: int):
    """(group, row) for each row of a grouped flat list (visual._grouped)."""
    group, k = 0, 0
    while k < len(flat):
        group += flat[k]
        rows, k = flat[k + 1], k + 2
        for _ in range(rows):
            yield group, flat[k:k + width]
            k += width


def decoded_edges(data: dict) -> dict[tuple[str, str], frozenset[str]]:
    """The page's flat edge list read back: (from IRI, to IRI) → relation labels."""
    iri = data["nodes"]["iri"]
    return {(iri[a], iri[b]): frozenset(data["relations"][r] for r in data["relationSets"][labels])
            for a, (b, labels) in _grouped(data["edges"], 2)}


def decoded_evidence(data: dict) -> dict[tuple[str, str], tuple[str, ...]]:
    """The page's flat evidence list read back: (node IRI, study IRI) → quotes."""
    iri, evidence = data["nodes"]["iri"], {}
    for study, (node, quote) in _grouped(data["evidence"], 2):
        key = (iri[node], iri[study])
        evidence[key] = evidence.get(key, ()) + (data["quotes"][quote],)
    return evidence


@cache
def _sample_extractions() -> tuple:
    lexicon = load_lexicon()
    return tuple(extract_record(read_record(path), lexicon) for path in find_records(data_path("corpus"))), lexicon


def sample_facts_and_annotations() -> tuple[set, list]:
    """The seed records as the build hands them to the page: the triples without the evidence
    (facts and concept descriptions), and the evidence as Annotation tuples."""
    extractions, lexicon = _sample_extractions()
    facts = {t for e in extractions for t in e.facts}
    facts |= {t for e in extractions for key in e.concepts for t in lexicon.descriptions[key]}
    return facts, [a for e in extractions for a in e.annotations]


# ---------------------------------------------------------------------------- projections

def _concepts_named(graph: rdflib.Graph) -> set[str]:
    """What the full graph's non-study nodes must be, by SPARQL rather than by visual.py's code:
    the concepts the studies name, and the organisation types / roles of their actors."""
    rows = graph.query("""
        PREFIX comm: <https://w3id.org/commkg/ontology#>
        SELECT DISTINCT ?c WHERE {
          ?s comm:sourceFile ?file .
          { ?s comm:involvesOrganisationType|comm:involvesRole|comm:usesTheory|comm:usesMethod|
               comm:concernsCondition|comm:describesActivity|comm:concernsPolicy|comm:setIn|
               comm:authoredIn ?c }
          UNION { ?s comm:involvesActor ?a . ?a comm:hasOrganisationType|comm:hasRole ?c }
        }""")
    return {str(row.c) for row in rows}


def test_full_graph_nodes_are_the_studies_and_the_concepts_they_name():
    graph = sample_graph()
    projection = visual.project(graph)
    studies = {str(s) for s in graph.subjects(COMM.sourceFile, None)}
    assert len(studies) == 5
    assert set(projection.full.nodes) == studies | _concepts_named(graph)
    assert set(projection.studies_info) == studies
    kinds = {n.kind for n in projection.nodes.values()}
    assert kinds <= set(visual.KIND_KEYS)
    assert projection.nodes[RDT].kind == "theory"
    assert projection.nodes[RDT].en == "resource dependency theory"
    assert projection.nodes[RDT].zh  # the lexicon's Chinese label
    assert projection.nodes[str(CONCEPT.CCG)].kind == "actor"
    commentary = "https://w3id.org/commkg/id/record/002_2719e0a05c64aa80"
    assert projection.nodes[commentary].kind == "commentary"


def test_study_to_concept_edges_follow_the_graph():
    graph = sample_graph()
    projection = visual.project(graph)
    assert projection.full.has_edge(BMC_STUDY, RDT)
    assert projection.full.edges[BMC_STUDY, RDT]["relations"] == {"uses theory"}
    for study, _, concept in graph.triples((None, COMM.usesMethod, None)):
        assert projection.full.has_edge(str(study), str(concept))


def test_per_record_actors_are_folded_into_their_organisation_type():
    graph = sample_graph()
    projection = visual.project(graph)
    actors = {str(a) for a in graph.objects(None, COMM.involvesActor)}
    assert actors and not actors & set(projection.full.nodes) - set(map(str, graph.objects(None, COMM.hasOrganisationType)))
    # commissionsFrom between two actors becomes an edge between what they are.
    assert any("commissions from" in d["relations"] for _, _, d in projection.full.edges(data=True))


def test_study_network_links_studies_that_share_concepts():
    graph = sample_graph()
    projection = visual.project(graph)
    shared_links = set(visual.CONCEPT_LINKS) - {COMM.authoredIn}
    named = {str(s): {str(c) for p in shared_links for c in graph.objects(s, p)}
             | {str(t) for a in graph.objects(s, COMM.involvesActor)
                for p in (COMM.hasOrganisationType, COMM.hasRole) for t in graph.objects(a, p)}
             for s in graph.subjects(COMM.sourceFile, None)}
    expected = {frozenset((a, b)) for a in named for b in named if a < b and named[a] & named[b]}
    assert {frozenset(e) for e in projection.studies.edges} == expected
    for a, b, data in projection.studies.edges(data=True):
        assert set(data["shared"]) == named[a] & named[b]


def test_study_network_keeps_each_studys_strongest_links():
    # 30 studies over 10 concepts; study i names concepts 0..(i % 10).
    shared = {f"s{i:02d}": [f"c{j}" for j in range(i % 10 + 1)] for i in range(30)}
    network = visual.study_network(shared, max_links=3)
    assert set(network.nodes) == set(shared)
    # Each study's 3 strongest partners are linked to it (an edge stays if either end keeps it).
    for study, concepts in shared.items():
        strength = sorted(((len(set(concepts) & set(other)), name) for name, other in shared.items() if name != study),
                          key=lambda x: (-x[0], x[1]))
        for _, partner in strength[:3]:
            assert network.has_edge(study, partner)
    assert network.number_of_edges() <= 30 * 3
    assert nx.utils.graphs_equal(network, visual.study_network(dict(reversed(shared.items())), max_links=3))


def test_evidence_quotes_come_from_the_annotations():
    projection = visual.project(sample_graph())
    assert projection.evidence[RDT, BMC_STUDY] == ("resource dependency theory",)
    # An actor's words count for its organisation type.
    assert any(node == str(CONCEPT.CCG) for node, _ in projection.evidence)


def test_annotations_given_apart_make_the_same_page_as_evidence_in_the_triples():
    extractions, lexicon = _sample_extractions()
    everything = {t for e in extractions for t in e.triples(lexicon)}
    facts, annotations = sample_facts_and_annotations()
    assert facts < everything and not any(str(p).startswith(str(visual.OA)) for _, p, _ in facts)
    apart = visual.project(facts, annotations=annotations)
    together = visual.project(everything)
    assert apart.evidence == together.evidence and len(apart.evidence) > 50
    assert apart.evidence[RDT, BMC_STUDY] == ("resource dependency theory",)
    assert visual.render_page(facts, annotations=annotations) == visual.render_page(everything)
    # Given annotations are the only source of quotes: evidence triples are not read as well.
    assert visual.project(everything, annotations=[]).evidence == {}


def test_an_annotation_counts_for_what_its_bodies_stand_for():
    facts, annotations = sample_facts_and_annotations()
    (ccg_words,) = [a for a in annotations if a.study == rdflib.URIRef(BMC_STUDY)
                    and any("/actor/" in body for body in a.bodies)][:1]
    actor = next(body for body in ccg_words.bodies if "/actor/" in body)
    folded = {str(o) for o in (o for s, p, o in facts if s == actor and p in (COMM.hasOrganisationType, COMM.hasRole))}
    projection = visual.project(facts, annotations=[ccg_words])
    assert folded and {node for node, _ in projection.evidence} >= folded
    assert all(quotes == (ccg_words.exact,) for quotes in projection.evidence.values())
    # … and an annotation of a record that is not in the graph counts for nothing.
    stray = ccg_words._replace(study=rdflib.URIRef("https://doi.org/10.9999/not-here"))
    assert visual.project(facts, annotations=[stray]).evidence == {}


def test_quotes_of_one_node_in_one_study_come_in_text_order():
    facts, annotations = sample_facts_and_annotations()
    first = next(a for a in annotations if a.start > 0 and any("/concept/" in b for b in a.bodies))
    concept = str(next(b for b in first.bodies if "/concept/" in b))
    later = first._replace(start=first.start + 500, end=first.end + 500, exact="later words")
    earlier = first._replace(start=first.start - 1, exact="earlier words")
    projection = visual.project(facts, annotations=[later, first, earlier, first])
    assert projection.evidence[concept, str(first.study)] == ("earlier words", first.exact, "later words")


def test_inferred_triples_do_not_change_the_nodes_and_resolve_the_commentary():
    asserted = visual.project(sample_graph())
    both = visual.project(inferred_graph())
    assert set(both.full.nodes) == set(asserted.full.nodes)
    assert set(both.studies.nodes) == set(asserted.studies.nodes)
    commentary = "https://w3id.org/commkg/id/record/002_2719e0a05c64aa80"
    study = "https://doi.org/" + CHECKLAND_DOI
    assert not asserted.full.has_edge(commentary, study)
    assert both.full.edges[commentary, study]["relations"] == {"discusses"}
    assert both.studies_info[commentary].discusses == ((study, ""),)


def test_focus_on_a_study_or_a_concept():
    projection = visual.project(sample_graph())
    study = visual.find_study(projection, CHECKLAND_DOI)
    assert study == visual.find_study(projection, "https://doi.org/" + CHECKLAND_DOI.upper())
    assert visual.find_study(projection, "002_2719e0a05c64aa80.txt").endswith("002_2719e0a05c64aa80")
    around = visual.focus_on_study(projection, study)
    assert study in around.full and set(projection.full.successors(study)) <= set(around.full.nodes)
    assert visual.find_concept(projection, "ResourceDependencyTheory") == RDT
    assert visual.find_concept(projection, "Resource dependency theory") == RDT
    assert visual.find_concept(projection, projection.nodes[RDT].zh) == RDT
    concept = visual.focus_on_concept(projection, RDT)
    assert set(concept.full.nodes) == {RDT, BMC_STUDY}
    with pytest.raises(visual.NotInGraphError):
        visual.find_study(projection, "10.9999/none")
    with pytest.raises(visual.NotInGraphError):
        visual.find_concept(projection, "NoSuchTheory")


# ------------------------------------------------------------------------------- the page

def test_page_data_holds_the_projection():
    projection = visual.project(inferred_graph())
    data = page_json(visual.render_page(inferred_graph()))
    nodes, first = data["nodes"], data["firstStudy"]
    assert sorted(nodes["iri"]) == sorted(projection.nodes)
    assert set(nodes["iri"][first:]) == set(projection.studies_info)  # the studies come last …
    assert nodes["iri"][:first] == sorted(nodes["iri"][:first])  # … each part sorted
    assert nodes["iri"][first:] == sorted(nodes["iri"][first:])
    assert all(len(nodes[column]) == len(nodes["iri"]) for column in ("kind", "en", "x", "y"))
    assert all(len(nodes[column]) == first for column in ("zh", "degree", "search"))
    assert decoded_edges(data) == projection.edges
    assert decoded_evidence(data) == projection.evidence
    study_edges = {(nodes["iri"][a], nodes["iri"][b]): count for a, b, count in zip(*[iter(data["studyEdges"])] * 3)}
    assert study_edges == {pair: len(shared) for pair, shared in projection.links.items()}
    for i in range(first):  # how many studies name each concept
        concept = nodes["iri"][i]
        assert nodes["degree"][i] == sum(1 for a, b in projection.edges if b == concept and a in projection.studies_info)
    rows = {iri: k for k, iri in enumerate(nodes["iri"][first:])}
    commentary = "https://w3id.org/commkg/id/record/002_2719e0a05c64aa80"
    assert data["documentTypes"][data["studies"]["type"][rows[commentary]]] == "Commentary"
    assert data["studies"]["discusses"][rows[commentary]] == [[nodes["iri"].index("https://doi.org/" + CHECKLAND_DOI), ""]]
    assert data["view"] == "full"


def test_large_corpora_open_in_the_study_network(monkeypatch):
    monkeypatch.setattr(visual, "STUDY_VIEW_FROM", 5)
    assert page_json(visual.render_page(sample_graph()))["view"] == "studies"


def test_record_text_is_escaped_data():
    page = visual.render_page(evil_graph(), title="<b>title</b>")
    block = re.search(r'<script type="application/json" id="commkg-data">(.*?)</script>', page, re.S).group(1)
    for character in "<>&\u2028\u2029":
        assert character not in block
    # Only the page's own three script elements; the payloads are nowhere as markup.
    assert len(re.findall(r"<script\b", page, re.IGNORECASE)) == 3
    outside_scripts = re.sub(r"<script\b.*?</script>", "", page, flags=re.S | re.IGNORECASE)
    assert "<img" not in outside_scripts and "onerror" not in outside_scripts
    assert "<title>&lt;b&gt;title&lt;/b&gt;</title>" in page
    # … and the JSON gives the text back exactly.
    strings = json.dumps(json.loads(block), ensure_ascii=False)
    for payload in EVIL_PAYLOADS:
        assert payload in strings


def test_json_for_script_escapes_everything_that_could_end_the_block():
    text = visual.json_for_script({"a": "</script><!--&\u2028\u2029"})
    assert not re.search("[<>&\u2028\u2029]", text)
    assert json.loads(text) == {"a": "</script><!--&\u2028\u2029"}


def test_the_page_loads_nothing_from_anywhere():
    page = visual.render_page(sample_graph())
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page).group(1)
    assert "default-src &#x27;none&#x27;" in csp
    markup = re.sub(r"<script\b.*?</script>", "", page, flags=re.S | re.IGNORECASE)
    assert not re.search(r"\b(src|href)\s*=", markup, re.IGNORECASE)  # no linked file at all
    assert not re.search(r"url\(\s*[\"']?(https?:|//)", page, re.IGNORECASE)
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp  # scripts and style by hash only
    for script in visual.page_scripts():
        assert page.count(script) == 1  # inlined, not linked


def test_the_same_graph_gives_the_same_bytes():
    first = visual.render_page(sample_graph())
    triples = sorted(sample_graph(), reverse=True)  # another insertion order
    other = rdflib.Graph()
    for triple in triples:
        other.add(triple)
    assert visual.render_page(other) == first


def test_the_same_bytes_under_another_hash_seed(tmp_path):
    script = ("import sys; sys.path.insert(0, %r); import test_visual as t; from commkg import visual;"
              "sys.stdout.write(visual.render_page(t.sample_graph()))" % str(Path(__file__).parent))
    outputs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")]
    assert outputs[0] == outputs[1] == visual.render_page(sample_graph())


def test_write_page_is_atomic(tmp_path):
    target = tmp_path / "graph.html"
    visual.write_page(sample_graph(), target)
    before = target.read_bytes()
    assert before.startswith(b"<!DOCTYPE html>")
    with pytest.raises(visual.NotInGraphError):
        visual.write_page(sample_graph(), target, focus_study="10.9999/none")
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["graph.html"]


# ----------------------------------------------------------------------------- commkg view

@pytest.fixture
def graph_file(tmp_path) -> Path:
    path = tmp_path / "graph.ttl"
    sample_graph().serialize(path, format="turtle")
    return path


def test_view_a_study(tmp_path, graph_file):
    out = tmp_path / "study.html"
    result = CliRunner().invoke(main, ["view", "--study", CHECKLAND_DOI, "--out", str(out), "--graph", str(graph_file)])
    assert result.exit_code == 0, result.output
    data = page_json(out.read_text(encoding="utf-8"))
    assert data["nodes"]["iri"][data["focus"]] == "https://doi.org/" + CHECKLAND_DOI


def test_view_a_concept_from_the_default_output(tmp_path, graph_file, monkeypatch):
    (tmp_path / "output").mkdir()
    graph_file.rename(tmp_path / "output" / "asserted.ttl")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["view", "--concept", "ResourceDependencyTheory", "--out", "rdt.html"])
    assert result.exit_code == 0, result.output
    data = page_json((tmp_path / "rdt.html").read_text(encoding="utf-8"))
    assert data["nodes"]["iri"][data["focus"]] == RDT


@pytest.mark.parametrize("option, value", [("--study", "10.9999/none"), ("--concept", "NoSuchTheory")])
def test_view_of_something_unknown_is_a_one_line_error(tmp_path, graph_file, option, value):
    result = CliRunner().invoke(main, ["view", option, value, "--out", str(tmp_path / "x.html"), "--graph", str(graph_file)])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and value in result.output
    assert not (tmp_path / "x.html").exists()


def test_view_help_has_an_example():
    result = CliRunner().invoke(main, ["view", "--help"])
    assert result.exit_code == 0 and "Example:" in result.output
