"""`commkg build --incremental`: only changed records are extracted, and the output is
byte-identical to a full build's; deleted records leave the output (and the cache)."""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
import rdflib

import commkg.cache
from commkg import __version__
from commkg.build import build_corpus
from commkg.export import load_build
from commkg.provenance import PROV, VOID, describe_build, write_provenance
from conftest import run_commkg

OUTPUTS = ("asserted.ttl", "inferred.ttl", "graph.ttl", "graph.trig")


@pytest.fixture
def corpus(sample_corpus) -> Path:
    return sample_corpus


def _outputs(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in OUTPUTS if (folder / name).exists()}


def _same_as_full_build(corpus: Path, incremental_out: Path, tmp_path: Path) -> None:
    full = tmp_path / "full"
    shutil.rmtree(full, ignore_errors=True)
    build_corpus(corpus, full)
    assert _outputs(incremental_out) == _outputs(full)
    assert "asserted.ttl" in _outputs(full)


def test_unchanged_corpus_extracts_nothing_and_matches_a_full_build(corpus, tmp_path):
    out = tmp_path / "out"
    first = build_corpus(corpus, out, incremental=True)
    second = build_corpus(corpus, out, incremental=True)
    assert (first.records_extracted, second.records_extracted) == (5, 0)
    _same_as_full_build(corpus, out, tmp_path)


def test_a_changed_record_is_the_only_one_extracted(corpus, tmp_path):
    out = tmp_path / "out"
    build_corpus(corpus, out, incremental=True)
    victim = sorted(corpus.iterdir())[1]
    victim.write_text(victim.read_text(encoding="utf-8") + "\nWe interviewed 12 commissioners.\n",
                      encoding="utf-8")
    report = build_corpus(corpus, out, incremental=True)
    assert report.records_extracted == 1
    _same_as_full_build(corpus, out, tmp_path)


def test_a_deleted_record_disappears_from_output_and_cache(corpus, tmp_path):
    out = tmp_path / "out"
    build_corpus(corpus, out, incremental=True)
    victim = sorted(corpus.iterdir())[0]
    source_file = victim.name
    victim.unlink()
    report = build_corpus(corpus, out, incremental=True)
    assert report.records_extracted == 0 and report.records_built == 4
    assert source_file not in (out / "asserted.ttl").read_text(encoding="utf-8")
    assert len(list((out / ".cache" / "records").glob("*.json"))) == 4
    _same_as_full_build(corpus, out, tmp_path)


def test_a_renamed_record_is_extracted_again(corpus, tmp_path):
    out = tmp_path / "out"
    build_corpus(corpus, out, incremental=True)
    path = sorted(corpus.iterdir())[2]
    path.rename(path.with_name("renamed.txt"))  # the file name is in the graph (comm:sourceFile)
    assert build_corpus(corpus, out, incremental=True).records_extracted == 1
    _same_as_full_build(corpus, out, tmp_path)


def test_new_version_or_lexicon_invalidates_the_cache(corpus, tmp_path, monkeypatch):
    out = tmp_path / "out"
    build_corpus(corpus, out, incremental=True)
    monkeypatch.setattr(commkg.cache, "__version__", __version__ + "-next")
    assert build_corpus(corpus, out, incremental=True).records_extracted == 5


def test_a_damaged_entry_is_only_a_miss(corpus, tmp_path):
    out = tmp_path / "out"
    build_corpus(corpus, out, incremental=True)
    entry = sorted((out / ".cache" / "records").glob("*.json"))[0]
    entry.write_text('{"format": "commkg-record-cache-1", "terms": [["u"', encoding="utf-8")
    assert build_corpus(corpus, out, incremental=True).records_extracted == 1
    _same_as_full_build(corpus, out, tmp_path)


def test_cli_incremental_says_how_many_records_it_extracted(corpus, tmp_path):
    out = tmp_path / "out"
    run_commkg("build", str(corpus), "--out", str(out), "--incremental", cwd=tmp_path)
    result = run_commkg("build", str(corpus), "--out", str(out), "--incremental", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "0 of 5 records extracted" in result.stderr


# ------------------------------------------------------------------ provenance

def test_provenance_graph_describes_the_build(tmp_path, corpus):
    started = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
    triples = describe_build(corpus=corpus, records=5, started=started, ended=started,
                             graph_sizes={"asserted": 10}, build_id="urn:uuid:00000000-0000-0000-0000-000000000001")
    build = rdflib.URIRef("urn:uuid:00000000-0000-0000-0000-000000000001")
    graph = rdflib.Graph()
    for triple in triples:
        graph.add(triple)
    assert (build, rdflib.RDF.type, PROV.Activity) in graph
    software = graph.value(build, PROV.wasAssociatedWith)
    assert str(graph.value(software, rdflib.OWL.versionInfo)) == __version__
    assert str(graph.value(rdflib.URIRef("https://w3id.org/commkg/ontology"), rdflib.OWL.versionInfo)) == "0.1.0"
    assert graph.value(rdflib.URIRef(corpus.resolve().as_uri()), VOID.documents).toPython() == 5
    assert graph.value(build, PROV.startedAtTime).toPython() == started

    out = tmp_path / "build"
    build_corpus(corpus, out)
    before = _outputs(out)
    write_provenance(out, triples)
    assert _outputs(out) == before  # the data files are untouched
    loaded = load_build(out)
    assert loaded["provenance"] == triples
    assert "provenance" not in {name for name in ("ontology", "asserted", "inferred", "evidence")}
    result = run_commkg("export", "--format", "trig", "--graph", "provenance", "--build", str(out), cwd=tmp_path)
    assert result.returncode == 0 and "<https://w3id.org/commkg/graph/provenance>" in result.stdout


def test_provenance_names_the_version_of_the_ontology_it_is_given(tmp_path, corpus):
    """The bundled ontology's version comes from the build's own parse of it; another
    ontology's from its file, and an ontology without owl:versionInfo gives none."""
    started = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
    ontology = rdflib.URIRef("https://w3id.org/commkg/ontology")
    versioned, unversioned = tmp_path / "versioned.ttl", tmp_path / "unversioned.ttl"
    versioned.write_text(f"<{ontology}> a <http://www.w3.org/2002/07/owl#Ontology> ;\n"
                         '    <http://www.w3.org/2002/07/owl#versionInfo> "9.9" .\n', encoding="utf-8")
    unversioned.write_text(f"<{ontology}> a <http://www.w3.org/2002/07/owl#Ontology> .\n", encoding="utf-8")

    def version(path):
        triples = describe_build(corpus=corpus, records=5, started=started, ended=started, ontology=path)
        return {str(o) for s, p, o in triples if s == ontology and p == rdflib.OWL.versionInfo}

    assert version(None) == {"0.1.0"}
    assert version(versioned) == {"9.9"}
    assert version(unversioned) == set()


def test_the_state_names_a_record_by_its_path_in_the_corpus_however_the_corpus_is_spelled(tmp_path):
    """A record unchanged since the last build is found by its path relative to the corpus: the
    same whether the corpus was given as a Path, a string, with a trailing slash or with '..'."""
    from commkg.incremental import _relative

    corpus = tmp_path / "corpus"
    spellings = (corpus, str(corpus), str(corpus) + os.sep, tmp_path / "x" / ".." / "corpus")
    for spelling in spellings:
        assert _relative(Path(spelling, "sub", "a.txt"), spelling) == "sub/a.txt"
        assert _relative(corpus / "sub" / "a.txt", spelling) == "sub/a.txt"
