"""The build pipeline and the file writer: what `build_corpus` writes, that it is the same bytes
every time, that it parses as Turtle, and that a failure never leaves half a file."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import rdflib
from rdflib import OWL, RDF, BNode, Graph, Literal, URIRef
from rdflib.compare import isomorphic

import commkg
import commkg.build as build_module
import commkg.documents as documents
import commkg.writing as writing
from commkg.build import OUTPUT_PREFIXES, BuildReport, CorpusError, OutputError, build_corpus
from commkg.corpus import read_record
from commkg.errors import RecordError
from commkg.extract import extract
from commkg.lexicon import load_lexicon
from commkg.resources import data_path
from commkg.writing import turtle_lines, write_file_atomically, write_files_atomically

from conftest import run_commkg

RAPPER = shutil.which("rapper")
needs_rapper = pytest.mark.skipif(
    RAPPER is None, reason="`rapper` is not installed (Debian: apt-get install raptor2-utils; CI installs it)")


def turtle_text(graph) -> str:
    return "".join(turtle_lines(graph, OUTPUT_PREFIXES))


def leftovers(folder: Path) -> list[str]:
    """Temporary files a writer left behind."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# --------------------------------------------------------------------------- the sample build

def test_sample_build_report(sample_build: BuildReport, sample_records):
    assert sample_build.records_built == len(sample_records) == 5
    assert sample_build.errors == ()
    assert sample_build.records_failed == 0
    assert sample_build.files == tuple(sample_build.out_dir / name for name in
                                       ("asserted.ttl", "inferred.ttl", "graph.ttl", "graph.trig", "graph.html",
                                        "provenance.trig"))
    assert sample_build.inferred > 0 and sample_build.study_links
    assert sample_build.corpus == data_path("corpus")


def test_asserted_ttl_is_the_merge_of_every_record(sample_build, sample_records):
    lexicon = load_lexicon()
    expected = Graph()
    for path in sample_records:
        for triple in extract(read_record(path), lexicon):
            expected.add(triple)
    written = Graph().parse(sample_build.asserted_file, format="turtle")
    assert len(written) == sample_build.triples == len(expected)
    assert isomorphic(written, expected)


def test_asserted_ttl_uses_readable_prefixes(sample_asserted):
    text = sample_asserted.decode("utf-8")
    header = [line for line in text.splitlines() if line.startswith("@prefix")]
    declared = {line.split()[1].rstrip(":"): line.split()[2].strip("<>") for line in header}
    for prefix in ("comm", "concept", "unit", "oa", "skos", "dcterms", "bibo", "foaf", "xsd"):
        assert declared.get(prefix) == OUTPUT_PREFIXES[prefix], prefix
    assert header == sorted(header)
    assert "\ncomm:" in text or " comm:" in text
    assert " a comm:" in text  # rdf:type written as `a`


def test_two_builds_are_byte_identical(tmp_path, sample_asserted):
    again = build_corpus(None, tmp_path / "again")
    assert again.asserted_file.read_bytes() == sample_asserted


def test_parallel_build_is_byte_identical(tmp_path, sample_build):
    # The worker pool, and the forked processes that write asserted.ttl and the page beside the
    # reasoning (background.py), must not change the order or the content of anything.
    assert sample_build.records_built < build_module.PARALLEL_FROM_RECORDS  # so it was built in one process
    pooled = build_corpus(None, tmp_path / "pooled", workers=2)
    assert [path.name for path in pooled.files] == [path.name for path in sample_build.files]
    for ours, theirs in zip(pooled.files, sample_build.files):
        if ours.name != "provenance.trig":  # it records when
            assert ours.read_bytes() == theirs.read_bytes(), ours.name


def test_a_failure_in_a_forked_job_is_reported_and_leaves_the_previous_outputs(tmp_path, small_corpus, monkeypatch):
    out = tmp_path / "out"
    build_corpus(small_corpus, out)
    before = {path.name: path.read_bytes() for path in out.iterdir()}

    def no_space(stream, page):
        stream.write(page[:15])
        raise OSError(28, "No space left on device", str(out / "graph.html"))

    monkeypatch.setattr(build_module, "_write_page", no_space)  # the forked copy has it too
    with pytest.raises(OutputError) as raised:
        build_corpus(None, out, workers=2)
    assert str(raised.value) == (f"cannot write {out / 'graph.html'}: No space left on device; "
                                 "check the folder's permissions and free space, or give another --out")
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before  # no temporary left either


@pytest.mark.parametrize("hash_seed", ["0", "4242"])
def test_build_is_byte_identical_across_hash_seeds(tmp_path, sample_asserted, hash_seed):
    result = run_commkg("build", "--out", str(tmp_path / "out"), cwd=tmp_path, hash_seed=hash_seed)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "asserted.ttl").read_bytes() == sample_asserted


@needs_rapper
def test_rapper_parses_asserted_ttl(sample_build):
    result = subprocess.run([RAPPER, "-i", "turtle", "-c", str(sample_build.asserted_file)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert f"returned {sample_build.triples} triples" in result.stderr


def test_installed_commkg_builds_the_bundled_sample_from_any_folder(tmp_path, sample_build):
    # cwd is not the checkout, so the corpus, ontology and lexicon must come from the package.
    result = run_commkg("build", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (f"built 5 records (0 with errors), {sample_build.triples} triples, "
                             f"{sample_build.inferred} inferred -> output/graph.ttl\n")
    assert (tmp_path / "output" / "asserted.ttl").stat().st_size > 0


def test_installed_wheel_carries_its_data():
    package = Path(commkg.__file__).parent
    if (package.parent.name == "src" and (package.parent.parent / "pyproject.toml").exists()):
        pytest.skip("commkg is installed editable from a checkout; the data comes from the source tree")
    for name in ("ontology", "queries", "corpus"):
        assert data_path(name) == package / "data" / name
    assert sorted(p.name for p in data_path("corpus").glob("*.txt")) == [
        "000_2fa6104f5f396216.txt", "001_1980af955ea8e01a.txt", "002_2719e0a05c64aa80.txt",
        "003_9ccf18071d943299.txt", "004_2d04737228db5739.txt"]
    assert (data_path("ontology") / "lexicon.ttl").is_file()


# --------------------------------------------------------------------------- bad input

def test_a_bad_record_is_skipped_and_the_rest_built(tmp_path, small_corpus, bad_record):
    report = build_corpus(small_corpus, tmp_path / "out")
    assert report.records_built == 2
    assert [error.path for error in report.errors] == [bad_record]
    assert "not UTF-8" in report.errors[0].reason
    assert report.asserted_file.exists()


def test_strict_raises_and_writes_nothing(tmp_path, small_corpus, bad_record):
    with pytest.raises(RecordError) as raised:
        build_corpus(small_corpus, tmp_path / "out", strict=True)
    assert raised.value.path == bad_record
    assert not (tmp_path / "out").exists()


def test_strict_in_the_worker_pool_raises_the_first_error_in_corpus_order(tmp_path, small_corpus, bad_record):
    first_bad = small_corpus / "aa_empty.txt"
    first_bad.write_bytes(b"")
    with pytest.raises(RecordError) as raised:
        build_corpus(small_corpus, tmp_path / "out", strict=True, workers=2)
    assert raised.value.path == first_bad


def test_a_crash_inside_extraction_skips_only_that_record(tmp_path, small_corpus, monkeypatch):
    real_extract = build_module.extract_record
    victim = sorted(small_corpus.iterdir())[0]

    def crashing_extract(record, lexicon):
        if record.path == victim:
            raise ZeroDivisionError("boom")
        return real_extract(record, lexicon)

    monkeypatch.setattr(build_module, "extract_record", crashing_extract)
    report = build_corpus(small_corpus, tmp_path / "out", workers=1)
    assert report.records_built == 1
    assert [(e.path, e.reason) for e in report.errors] == [
        (victim, "extraction failed (ZeroDivisionError: boom); please report this bug")]


@pytest.mark.parametrize("make, message", [
    (lambda root: root / "missing",
     "corpus folder {corpus} does not exist; give a folder of .txt records (or no folder, for the bundled sample)"),
    (lambda root: (root / "a-file.txt").write_text("x") and root / "a-file.txt",
     "corpus {corpus} is not a folder; give the folder that holds the .txt records"),
    (lambda root: (root / "empty").mkdir() or root / "empty",
     "corpus folder {corpus} holds no .txt records; put one record per .txt file in it"),
])
def test_a_corpus_that_is_not_a_folder_of_records(tmp_path, make, message):
    corpus = make(tmp_path)
    with pytest.raises(CorpusError) as raised:
        build_corpus(corpus, tmp_path / "out")
    assert str(raised.value) == message.format(corpus=corpus)
    assert not (tmp_path / "out").exists()


def test_an_output_path_that_is_a_file(tmp_path, small_corpus):
    (tmp_path / "out").write_text("not a folder")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        build_corpus(small_corpus, tmp_path / "out")


def test_worker_count():
    assert build_module._worker_count(5, None) == 1
    assert build_module._worker_count(1000, None) >= 1
    assert build_module._worker_count(3, 8) == 3  # no idle processes
    assert build_module._worker_count(100, 2) == 2


# --------------------------------------------------------------------------- atomic writing

def test_a_failure_mid_serialisation_leaves_the_previous_output_intact(tmp_path, small_corpus, monkeypatch):
    out = tmp_path / "out"
    build_corpus(small_corpus, out)
    before = (out / "asserted.ttl").read_bytes()

    written = documents._Output.write

    def failing_write(output, data):
        written(output, data)
        output.flush()  # half a file is on disk …
        raise RuntimeError("serialiser died")  # … when the writer fails

    monkeypatch.setattr(documents._Output, "write", failing_write)
    (small_corpus / "extra.txt").write_bytes((small_corpus / sorted(p.name for p in small_corpus.iterdir())[0]).read_bytes())
    with pytest.raises(RuntimeError, match="serialiser died"):
        build_corpus(small_corpus, out)
    assert (out / "asserted.ttl").read_bytes() == before
    assert leftovers(out) == []


def test_several_files_are_replaced_together_or_not_at_all(tmp_path):
    first, second = tmp_path / "a.ttl", tmp_path / "b.ttl"
    first.write_text("old a\n")
    second.write_text("old b\n")

    def fails(stream):
        stream.write("new b, half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        write_files_atomically({first: lambda stream: stream.write("new a\n"), second: fails})
    assert (first.read_text(), second.read_text()) == ("old a\n", "old b\n")
    assert leftovers(tmp_path) == []

    assert write_files_atomically({first: lambda s: s.write("new a\n"), second: lambda s: s.write("new b\n")}) \
        == [first, second]
    assert (first.read_text(), second.read_text()) == ("new a\n", "new b\n")
    assert leftovers(tmp_path) == []


def test_written_files_are_readable_by_others_and_use_unix_line_ends(tmp_path):
    path = write_file_atomically(tmp_path / "f.ttl", lambda stream: stream.write("a\nb\n"))
    assert path.read_bytes() == b"a\nb\n"
    assert path.stat().st_mode & 0o044  # not mkstemp's 0600 (with the usual umask)


def test_output_that_cannot_be_written_is_an_output_error(tmp_path, small_corpus, monkeypatch):
    def no_space(writers, **_):
        raise OSError(28, "No space left on device", str(tmp_path / "out" / "asserted.ttl"))

    monkeypatch.setattr(build_module, "stage_files", no_space)
    with pytest.raises(OutputError) as raised:
        build_corpus(small_corpus, tmp_path / "out")
    assert str(raised.value) == (
        f"cannot write {tmp_path / 'out' / 'asserted.ttl'}: No space left on device; "
        "check the folder's permissions and free space, or give another --out")


# --------------------------------------------------------------------------- the Turtle writer

EX = "https://example.org/"


def hostile_graph() -> Graph:
    """Terms that break careless Turtle writers."""
    s = URIRef(EX + "record")
    graph = Graph()
    for triple in [
        (s, RDF.type, URIRef("https://w3id.org/commkg/ontology#Study")),
        (s, URIRef(EX + "quote"), Literal('she said "no" \\ then\nleft\r\tand > < & }', lang="en")),
        (s, URIRef(EX + "control"), Literal("bell\x07 unit-separator\x1f del\x7f")),
        (s, URIRef(EX + "chinese"), Literal("临床委托小组", lang="zh")),
        (s, URIRef(EX + "count"), Literal(10)),
        (s, URIRef(EX + "date"), Literal("2013-09-06", datatype=rdflib.XSD.date)),
        (s, URIRef(EX + "decimal"), Literal("1.50", datatype=rdflib.XSD.decimal)),
        (s, URIRef(EX + "typed"), Literal("x", datatype=URIRef(EX + "dt with space"))),
        (s, URIRef(EX + "odd"), URIRef("https://doi.org/10.1000/a<b>c{d}|e^f`g\\h\"i j")),
        (s, URIRef("https://w3id.org/commkg/concept/has.dot"), URIRef("https://w3id.org/commkg/concept/1digit")),
    ]:
        graph.add(triple)
    return graph


def blank_node_graph(order: int = 1) -> Graph:
    """A small graph with blank nodes, its triples added in a given order."""
    s = URIRef(EX + "record")
    first, second, third = BNode(), BNode(), BNode()
    triples = [
        (s, URIRef(EX + "evidence"), first),
        (s, URIRef(EX + "evidence"), third),
        (first, URIRef(EX + "next"), second),
        (second, URIRef(EX + "label"), Literal("end")),
        (third, URIRef(EX + "label"), Literal("other")),
    ]
    graph = Graph()
    for triple in triples[::order]:
        graph.add(triple)
    return graph


def test_the_writer_round_trips_hostile_terms():
    graph = hostile_graph()
    parsed = Graph().parse(data=turtle_text(graph), format="turtle")
    # Characters no IRI may hold come back percent-encoded; everything else is unchanged.
    odd = URIRef("https://doi.org/10.1000/a<b>c{d}|e^f`g\\h\"i j")
    encoded = URIRef("https://doi.org/10.1000/a%3Cb%3Ec%7Bd%7D%7Ce%5Ef%60g%5Ch%22i%20j")
    typed = Literal("x", datatype=URIRef(EX + "dt with space"))
    expected = {(s, p, encoded if o == odd else Literal("x", datatype=URIRef(EX + "dt%20with%20space")) if o == typed else o)
                for s, p, o in graph}
    assert set(parsed) == expected


def test_the_writer_round_trips_blank_nodes():
    graph = blank_node_graph()
    parsed = Graph().parse(data=turtle_text(graph), format="turtle")
    assert isomorphic(parsed, graph)


def test_the_writer_does_not_depend_on_insertion_order_or_blank_node_ids():
    text = turtle_text(blank_node_graph(1))
    assert text == turtle_text(blank_node_graph(-1))
    assert "_:b1" in text


def test_the_writer_format():
    graph = Graph()
    study = URIRef("https://doi.org/10.1/x")
    comm = "https://w3id.org/commkg/ontology#"
    graph.add((study, RDF.type, URIRef(comm + "Study")))
    graph.add((study, RDF.type, URIRef(comm + "Article")))
    graph.add((study, URIRef(comm + "count"), Literal(3)))
    assert turtle_text(graph) == (
        "@prefix comm: <https://w3id.org/commkg/ontology#> .\n"
        "\n"
        "<https://doi.org/10.1/x> a comm:Article, comm:Study ;\n"
        "    comm:count 3 .\n")


@needs_rapper
def test_rapper_parses_the_hostile_terms(tmp_path):
    for graph in (hostile_graph(), blank_node_graph()):
        path = tmp_path / "hostile.ttl"
        path.write_text(turtle_text(graph), encoding="utf-8")
        result = subprocess.run([RAPPER, "-i", "turtle", "-c", str(path)],
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        assert f"returned {len(graph)} triples" in result.stderr


@pytest.mark.parametrize("reasoned", ["as one whole", "record by record"])
def test_the_inferred_graph_appended_to_graph_trig_uses_only_the_prefixes_its_header_declares(tmp_path, reasoned):
    # graph.trig is written up to its inferred graph before reasoning; a prefix the inferred
    # triples would use but the header lacks must give way to a full IRI.
    comm = "https://w3id.org/commkg/ontology#"
    trig = tmp_path / "graph.trig"
    asserted = build_module.AssertedGraph(build_module._compiled_ontology())
    asserted.add_shared([(URIRef(comm + "x"), RDF.type, URIRef(comm + "Thing"))])
    ontology = rdflib.Graph()
    ontology.add((URIRef(comm + "Study"), RDF.type, URIRef(comm + "Class")))  # uses comm: only
    study, alias = URIRef("https://doi.org/10.1/a"), URIRef("https://w3id.org/commkg/id/doi/10.1/b/cited")
    inferred = {(study, RDF.type, URIRef(comm + "Study")), (alias, OWL.sameAs, study)}
    blocks = (build_module.InferredBlocks({}, [], whole=list(inferred)) if reasoned == "as one whole" else
              build_module.InferredBlocks({}, list(inferred)))  # no records: every inferred triple is shared
    turtle = build_module._write_turtle(asserted, tmp_path, ontology, receive=lambda: blocks)
    writing.commit_files(turtle.staged)
    text = trig.read_text(encoding="utf-8")
    assert "comm:Study" in text and f"<{OWL.sameAs}>" in text and "owl:" not in text
    dataset = rdflib.Dataset().parse(trig, format="trig")
    assert set(dataset.graph(URIRef(build_module.GRAPH_BASE + "inferred"))) == inferred
