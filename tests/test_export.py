"""`commkg export`: every format reads back to the graph it came from, rapper parses the RDF
ones, and the bytes do not depend on PYTHONHASHSEED."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
from pathlib import Path

import networkx
import pytest
import rdflib
from rdflib import BNode, Literal, URIRef
from rdflib.compare import isomorphic

from commkg.export import (DATA_GRAPHS, JSONLD_CONTEXT, ExportError, export, graph_iri, load_build,
                           nquads_lines, write_split_nquads, write_trig)
from commkg.resources import ontology_file
from conftest import run_commkg

RDF_FORMATS = {"ttl": "turtle", "nt": "ntriples", "trig": "trig", "nq": "nquads"}


@pytest.fixture(scope="module")
def build_dir(sample_build) -> Path:
    return sample_build.out_dir


@pytest.fixture(scope="module")
def graphs(build_dir):
    return load_build(build_dir)


@pytest.fixture(scope="module")
def trig_build(tmp_path_factory, graphs) -> Path:
    """A build folder with a graph.trig whose graphs hold blank nodes (the ontology's RDF
    lists) and an inferred graph, as the full build writes it."""
    folder = tmp_path_factory.mktemp("trig-build")
    named = dict(graphs)
    named["inferred"] = {(URIRef("https://doi.org/10.1136/bmjopen-2013-003341"),
                          URIRef("https://w3id.org/commkg/ontology#relatedStudy"),
                          URIRef("https://doi.org/10.1071/PY15067"))}
    with open(folder / "graph.trig", "w", encoding="utf-8") as stream:
        write_trig(stream, {name: named[name] for name in DATA_GRAPHS})
    return folder


def _text(graphs, **options) -> str:
    stream = io.StringIO()
    export(stream, graphs, **options)
    return stream.getvalue()


def _graph(triples) -> rdflib.Graph:
    graph = rdflib.Graph()
    for triple in triples:
        graph.add(triple)
    return graph


def _union(graphs, names=DATA_GRAPHS) -> rdflib.Graph:
    return _graph(t for name in names for t in graphs[name])


def test_asserted_ttl_is_split_into_asserted_and_evidence(graphs):
    assert graphs["asserted"] and graphs["evidence"]
    assert not graphs["asserted"] & graphs["evidence"]
    assert all("/evidence/" in str(s) for s, _, _ in graphs["evidence"])
    assert any(isinstance(t, BNode) for triple in graphs["ontology"] for t in triple)  # owl:hasKey lists


@pytest.mark.parametrize("which", ["build", "trig"])
def test_every_format_reads_back_isomorphic(which, graphs, trig_build):
    graphs = load_build(trig_build) if which == "trig" else graphs
    assert isomorphic(rdflib.Graph().parse(data=_text(graphs, format="ttl"), format="turtle"), _union(graphs))
    assert isomorphic(rdflib.Graph().parse(data=_text(graphs, format="nt"), format="nt"), _union(graphs))
    for format_, parser in (("trig", "trig"), ("nq", "nquads"), ("jsonld", "json-ld")):
        dataset = rdflib.Dataset()
        dataset.parse(data=_text(graphs, format=format_), format=parser)
        for name in DATA_GRAPHS:
            back = dataset.graph(graph_iri(name))
            assert isomorphic(_graph(back), _graph(graphs[name])), (format_, name)


def test_one_graph_only(graphs):
    back = rdflib.Graph().parse(data=_text(graphs, format="nt", graph="evidence"), format="nt")
    assert isomorphic(back, _graph(graphs["evidence"]))
    inferred = rdflib.Graph().parse(data=_text(graphs, format="nt", graph="inferred"), format="nt")
    assert isomorphic(inferred, _graph(graphs["inferred"]))
    # a build writes provenance.trig beside the data; a folder without one cannot export it
    assert "http://www.w3.org/ns/prov#Activity" in _text(graphs, format="nt", graph="provenance")
    without = {name: triples for name, triples in graphs.items() if name != "provenance"}
    with pytest.raises(ExportError, match="provenance"):
        _text(without, format="nt", graph="provenance")


def test_rapper_parses_every_turtle_ntriples_trig_and_nquads_export(trig_build, tmp_path):
    rapper = shutil.which("rapper")
    if rapper is None:
        pytest.skip("rapper (Debian raptor2-utils) is not installed")
    graphs = load_build(trig_build)
    expected = len(_union(graphs))
    for format_, parser in RDF_FORMATS.items():
        path = tmp_path / f"export.{format_}"
        path.write_text(_text(graphs, format=format_), encoding="utf-8")
        result = subprocess.run([rapper, "-c", "-i", parser, str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert f"returned {expected} triples" in result.stderr or format_ in ("trig", "nq"), result.stderr


def test_jsonld_has_a_stable_context(graphs):
    document = json.loads(_text(graphs, format="jsonld", graph="asserted"))
    assert document["@context"] == JSONLD_CONTEXT
    assert JSONLD_CONTEXT["comm"] == "https://w3id.org/commkg/ontology#"
    ids = [node["@id"] for node in document["@graph"]]
    assert "concept:CCG" in ids and ids == sorted(ids, key=lambda i: ids.index(i))


def test_graphml_for_gephi(graphs, tmp_path):
    path = tmp_path / "graph.graphml"
    path.write_text(_text(graphs, format="graphml"), encoding="utf-8")
    graph = networkx.read_graphml(path)
    study = "https://doi.org/10.1136/bmjopen-2013-003341"
    assert graph.nodes["https://w3id.org/commkg/concept/CCG"]["label"] == "clinical commissioning group" \
        or graph.nodes["https://w3id.org/commkg/concept/CCG"]["label"]
    assert "comm:Article" in graph.nodes[study]["type"]
    properties = {data["property"] for _, _, data in graph.out_edges(study, data=True)}
    assert {"comm:usesMethod", "comm:involvesActor"} <= properties
    assert not any("/evidence/" in node for node in graph.nodes)  # the picture is the knowledge


def test_split_nquads(graphs, tmp_path):
    out = tmp_path / "bulk"
    out.mkdir()
    (out / "commkg-00099.nq").write_text("stale\n")
    paths = write_split_nquads({name: graphs[name] for name in DATA_GRAPHS}, out, max_quads=1000)
    lines = list(nquads_lines({name: graphs[name] for name in DATA_GRAPHS}))
    assert [p.name for p in paths] == [f"commkg-{n:05d}.nq" for n in range(1, len(paths) + 1)]
    assert len(paths) == -(-len(lines) // 1000)
    assert "".join(p.read_text(encoding="utf-8") for p in paths) == "".join(lines)
    assert sorted(p.name for p in out.iterdir()) == [p.name for p in paths]


def test_nt_escapes_and_sorting():
    subject = URIRef("https://example.org/a")
    graphs = {"asserted": {(subject, URIRef("https://example.org/p"), Literal('say "hi"\n\\ 会议', lang="zh")),
                           (subject, URIRef("https://example.org/n"), Literal(3))},
              "inferred": set(), "evidence": set(), "ontology": set()}
    text = _text(graphs, format="nt")
    assert text == ('<https://example.org/a> <https://example.org/n> "3"^^<http://www.w3.org/2001/XMLSchema#integer> .\n'
                    '<https://example.org/a> <https://example.org/p> "say \\"hi\\"\\n\\\\ 会议"@zh .\n')
    assert isomorphic(rdflib.Graph().parse(data=text, format="nt"), _graph(graphs["asserted"]))


# ------------------------------------------------------------------ the command

def _digest(result) -> str:
    assert result.returncode == 0, result.stderr
    return hashlib.sha256(result.stdout.encode("utf-8")).hexdigest()


@pytest.mark.parametrize("format_", ["ttl", "nt", "nq", "trig", "jsonld", "graphml"])
def test_export_bytes_do_not_depend_on_the_hash_seed(format_, trig_build, tmp_path):
    runs = {_digest(run_commkg("export", "--format", format_, "--build", str(trig_build),
                               cwd=tmp_path, hash_seed=seed)) for seed in ("1", "2")}
    assert len(runs) == 1


def test_export_to_a_file_and_errors(build_dir, tmp_path):
    out = tmp_path / "graph.nt"
    result = run_commkg("export", "--format", "nt", "--build", str(build_dir), "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert out.read_text(encoding="utf-8") == run_commkg(
        "export", "--format", "nt", "--build", str(build_dir), cwd=tmp_path).stdout

    missing = run_commkg("export", "--format", "nt", "--build", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert missing.returncode == 1 and "commkg build" in missing.stderr
    wrong = run_commkg("export", "--format", "ttl", "--split-size", "10", "--out", "x", cwd=tmp_path)
    assert wrong.returncode == 2 and "--format nq" in wrong.stderr


def test_help_has_examples():
    for command in ("export", "validate", "push"):
        result = run_commkg(command, "--help", cwd=Path.cwd())
        assert result.returncode == 0 and "Example:" in result.stdout, command


def test_bundled_ontology_is_the_fallback_ontology_graph(graphs):
    assert isomorphic(_graph(graphs["ontology"]), rdflib.Graph().parse(ontology_file("commissioning.ttl")))
