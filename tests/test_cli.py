"""The `commkg` command line through click's CliRunner: exit codes, and every line it prints."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

import commkg.build as build_module
from commkg import __version__
from commkg.cli import main
from commkg.corpus import read_record
from commkg.errors import RecordError


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def reason_for(path) -> str:
    """What the reader says about a bad file (its wording belongs to corpus.py)."""
    with pytest.raises(RecordError) as raised:
        read_record(path)
    return raised.value.reason


def summary(built: int, failed: int, triples: int, out, inferred: int) -> str:
    return f"built {built} records ({failed} with errors), {triples} triples, {inferred} inferred -> {out}/graph.ttl\n"


def triples_in(path) -> int:
    from rdflib import Graph

    return len(Graph().parse(path, format="turtle"))


# --------------------------------------------------------------------------- help and version

@pytest.mark.parametrize("command", [[]] + [[name] for name in sorted(main.commands)])
def test_every_command_has_help_with_an_example(runner, command):
    result = runner.invoke(main, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example:\n" in result.stdout
    # \b kept the example lines as written (click would otherwise rewrap them into one).
    example = result.stdout.split("Example:\n", 1)[1]
    assert example.lstrip(" ").startswith("commkg ")
    assert len([line for line in example.splitlines() if line.strip().startswith("commkg ")]) >= 2


def test_build_help_documents_the_exit_codes(runner):
    result = runner.invoke(main, ["build", "--help"])
    text = " ".join(result.stdout.split())  # click wraps the help to the terminal's width
    assert "Exit code 0" in text and "1 when any was skipped" in text
    assert "2 for bad arguments" in text


def test_version(runner):
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"commkg, version {__version__}\n"


def test_no_command_shows_the_commands(runner):
    result = runner.invoke(main, [])
    assert "build" in result.output


# --------------------------------------------------------------------------- build

def test_build_the_sample(runner, tmp_path, sample_build, sample_asserted):
    out = tmp_path / "out"
    result = runner.invoke(main, ["build", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout == summary(5, 0, sample_build.triples, out, sample_build.inferred)
    assert result.stderr == ""  # no progress bar for five records when stderr is not a terminal
    assert (out / "asserted.ttl").read_bytes() == sample_asserted


def test_build_without_reasoning_writes_the_asserted_graph_and_the_page(runner, tmp_path, sample_build, sample_asserted):
    out = tmp_path / "out"
    result = runner.invoke(main, ["build", "--out", str(out), "--no-reason"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"built 5 records (0 with errors), {sample_build.triples} triples -> {out}/asserted.ttl\n"
    assert sorted(p.name for p in out.iterdir()) == ["asserted.ttl", "graph.html", "provenance.trig"]
    assert (out / "asserted.ttl").read_bytes() == sample_asserted


def test_build_writes_to_output_by_default(runner, tmp_path, monkeypatch, sample_build, sample_asserted):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 0, result.output
    assert result.stdout == summary(5, 0, sample_build.triples, "output", sample_build.inferred)
    assert (tmp_path / "output" / "asserted.ttl").read_bytes() == sample_asserted


def test_build_a_corpus_with_a_bad_record(runner, tmp_path, small_corpus, bad_record):
    out = tmp_path / "out"
    result = runner.invoke(main, ["build", str(small_corpus), "--out", str(out)])
    assert result.exit_code == 1
    reason = reason_for(bad_record)
    assert "not UTF-8" in reason
    assert result.stderr == f"commkg: skipped {bad_record}: {reason}\n"
    assert result.stdout == summary(2, 1, triples_in(out / "asserted.ttl"), out, triples_in(out / "inferred.ttl"))


def test_strict_stops_and_leaves_the_previous_output(runner, tmp_path, small_corpus):
    out = tmp_path / "out"
    assert runner.invoke(main, ["build", str(small_corpus), "--out", str(out)]).exit_code == 0
    before = (out / "asserted.ttl").read_bytes()
    modified = (out / "asserted.ttl").stat().st_mtime_ns
    bad = small_corpus / "bad.txt"
    bad.write_bytes(b"\xff\xfeA\x00")  # UTF-16

    result = runner.invoke(main, ["build", str(small_corpus), "--out", str(out), "--strict"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (f"Error: {bad}: {reason_for(bad)} "
                             "(stopped by --strict; previous outputs left as they were)\n")
    assert (out / "asserted.ttl").read_bytes() == before
    assert (out / "asserted.ttl").stat().st_mtime_ns == modified
    assert sorted(p.name for p in out.iterdir()) == ["asserted.ttl", "graph.html", "graph.trig", "graph.ttl", "inferred.ttl",
                                                    "provenance.trig"]


def test_a_missing_corpus_is_a_one_line_error_with_exit_code_2(runner, tmp_path):
    missing = tmp_path / "no-such-folder"
    result = runner.invoke(main, ["build", str(missing), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (f"Error: corpus folder {missing} does not exist; give a folder of .txt "
                             "records (or no folder, for the bundled sample)\n")
    assert not (tmp_path / "out").exists()


def test_an_empty_corpus_is_exit_code_2(runner, tmp_path):
    (tmp_path / "empty").mkdir()
    result = runner.invoke(main, ["build", str(tmp_path / "empty"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.stderr == (f"Error: corpus folder {tmp_path / 'empty'} holds no .txt records; "
                             "put one record per .txt file in it\n")


@pytest.mark.parametrize("arguments", [["--workers", "0"], ["--no-such-option"], ["a", "b"]])
def test_usage_errors_are_exit_code_2(runner, tmp_path, arguments):
    result = runner.invoke(main, ["build", *arguments, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "Usage: " in result.stderr
    assert result.stdout == ""


def test_an_output_that_is_a_file_is_a_usage_error(runner, tmp_path, small_corpus):
    (tmp_path / "out").write_text("I am a file")
    result = runner.invoke(main, ["build", str(small_corpus), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "is a file" in result.stderr
    assert (tmp_path / "out").read_text() == "I am a file"


def test_an_output_that_cannot_be_written_is_exit_code_1(runner, tmp_path, small_corpus, monkeypatch):
    target = tmp_path / "out" / "asserted.ttl"

    def no_space(writers, **_):
        raise OSError(28, "No space left on device", str(target))

    monkeypatch.setattr(build_module, "stage_files", no_space)
    result = runner.invoke(main, ["build", str(small_corpus), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.stderr == (f"Error: cannot write {target}: No space left on device; check the folder's "
                             "permissions and free space, or give another --out\n")


def test_a_long_corpus_shows_progress_on_stderr_only(runner, tmp_path, sample_records, sample_build):
    corpus = tmp_path / "long"
    corpus.mkdir()
    text = sample_records[0].read_text(encoding="utf-8")
    for number in range(50):  # one record 50 times over, each copy with its own DOI (one DOI, one record)
        copy = re.sub(r"(doi: 10\.\S+?)(\.?\s)", rf"\g<1>-{number:03d}\g<2>", text, count=1)
        assert copy != text
        (corpus / f"{number:03d}.txt").write_text(copy, encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(main, ["build", str(corpus), "--out", str(out), "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert "extracting 50 records" in result.stderr
    assert result.stdout == summary(50, 0, triples_in(out / "asserted.ttl"), out, triples_in(out / "inferred.ttl"))
