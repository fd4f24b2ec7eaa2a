"""incremental.py: an incremental build that patches the last build's output gives the output
of a full build, byte for byte, whatever the change; and it builds in full where it cannot."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

from commkg.build import OUTPUT_FILES, PROVENANCE_FILE, RecordError, build_corpus
from commkg import incremental
from commkg.buildstate import STATE_FILE
from commkg.cache import CACHE_DIR
from commkg.lexicon import load_lexicon
from conftest import NOT_UTF8, run_commkg

ROOT = Path(__file__).resolve().parents[1]
RECORDS = 130  # over the 100 records the build checks against the SHACL shapes in full


def _generator():
    spec = importlib.util.spec_from_file_location("generate_corpus", ROOT / "bench" / "generate_corpus.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("generated") / "corpus"
    _generator().generate(RECORDS, folder, seed=3, sources=[ROOT / "corpus"])
    return folder


@pytest.fixture
def corpus(generated, tmp_path) -> Path:
    return Path(shutil.copytree(generated, tmp_path / "corpus"))


def build(corpus: Path, out: Path, **options):
    # Study-to-study links are materialised up to 500 records; without them the build
    # reasons record by record, which is what can be patched.
    return build_corpus(corpus, out, study_links=False, **options)


def outputs(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in OUTPUT_FILES if name != PROVENANCE_FILE}


def patched(report) -> bool:
    return report.patched and report.not_patched is None


def assert_as_full_build(corpus: Path, out: Path, report, tmp_path: Path) -> None:
    full_out = tmp_path / "full"
    shutil.rmtree(full_out, ignore_errors=True)
    full = build(corpus, full_out)
    assert outputs(out) == outputs(full_out)
    assert (report.records_built, report.triples, report.inferred, report.warnings) == \
           (full.records_built, full.triples, full.inferred, full.warnings)
    assert [(e.path, e.reason) for e in report.errors] == [(e.path, e.reason) for e in full.errors]


@pytest.fixture
def built(corpus, tmp_path) -> Path:
    out = tmp_path / "out"
    first = build(corpus, out, incremental=True)
    assert not patched(first) and first.not_patched == "no state of the last incremental build"
    assert (out / CACHE_DIR / STATE_FILE).is_file()
    return out


def records(corpus: Path, kind: str) -> list[Path]:
    return sorted(p for p in corpus.iterdir() if kind in p.name)


def add_sentence(path: Path, sentence: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + f"\n{sentence}\n", encoding="utf-8")


def unused_concept_label(corpus: Path) -> str:
    """The English label of a concept no record of `corpus` names."""
    text = " ".join(p.read_text(encoding="utf-8") for p in corpus.iterdir()).lower()
    for key, description in sorted(load_lexicon().descriptions.items()):
        labels = [str(o) for _, p, o in description if str(p).endswith("prefLabel") and getattr(o, "language", "") == "en"]
        if labels and labels[0].lower() not in text and len(labels[0]) > 6:
            return labels[0]
    raise AssertionError("every concept is named")


CHANGES = {
    "nothing": lambda corpus: None,
    "an article edited": lambda corpus: add_sentence(records(corpus, "article")[40], "We interviewed 12 commissioners."),
    "a commentary edited": lambda corpus: add_sentence(records(corpus, "commentary")[2], "Clinical commissioning groups were studied."),
    "an article deleted": lambda corpus: records(corpus, "article")[7].unlink(),
    "a commentary deleted": lambda corpus: records(corpus, "commentary")[0].unlink(),
    "a record added": lambda corpus: shutil.copy(records(corpus, "article")[5], corpus / "zz_added.txt") and
        (corpus / "zz_added.txt").write_text((corpus / "zz_added.txt").read_text(encoding="utf-8").replace(
            "10.5555/commkg-bench", "10.5555/commkg-added"), encoding="utf-8"),
    "a record renamed": lambda corpus: records(corpus, "article")[3].rename(corpus / "aaa_renamed.txt"),
    "a duplicate DOI sorting first": lambda corpus: shutil.copy(records(corpus, "article")[9], corpus / "aaa_same_doi.txt"),
    "a bad file": lambda corpus: (corpus / "zz_latin1.txt").write_bytes(NOT_UTF8),
    "a concept no record named": lambda corpus: add_sentence(
        records(corpus, "article")[11], f"It was about {unused_concept_label(corpus)}."),
}


@pytest.mark.parametrize("change", CHANGES)
def test_a_patched_build_is_a_full_build(change, corpus, built, tmp_path):
    CHANGES[change](corpus)
    report = build(corpus, built, incremental=True)
    assert patched(report), report.not_patched
    assert_as_full_build(corpus, built, report, tmp_path)
    again = build(corpus, built, incremental=True)  # the state it left is right too
    assert patched(again)
    assert again.records_extracted == (1 if change == "a bad file" else 0)  # a file that fails is read each time
    assert_as_full_build(corpus, built, again, tmp_path)


def test_a_commentary_and_the_article_it_discusses_form_and_leave_a_group(corpus, built, tmp_path):
    commentary = records(corpus, "commentary")[1]
    text = commentary.read_text(encoding="utf-8")
    commentary.unlink()
    report = build(corpus, built, incremental=True)
    assert patched(report)
    assert_as_full_build(corpus, built, report, tmp_path)
    (corpus / "zz_commentary.txt").write_text(text, encoding="utf-8")  # back, under another name
    report = build(corpus, built, incremental=True)
    assert patched(report)
    assert "comm:discusses" in (built / "inferred.ttl").read_text(encoding="utf-8")
    assert_as_full_build(corpus, built, report, tmp_path)


def test_a_sequence_of_changes_stays_a_full_build(corpus, built, tmp_path):
    for change in ("an article edited", "a record added", "a commentary deleted", "a concept no record named",
                   "a record renamed"):
        CHANGES[change](corpus)
        report = build(corpus, built, incremental=True)
        assert patched(report), (change, report.not_patched)
    assert_as_full_build(corpus, built, report, tmp_path)


def test_output_another_build_replaced_is_built_in_full(corpus, built, tmp_path):
    CHANGES["an article edited"](corpus)
    build(corpus, built)  # not incremental: the state no longer describes the files
    CHANGES["a commentary edited"](corpus)
    report = build(corpus, built, incremental=True)
    assert not patched(report)
    assert report.not_patched == "no state of the last incremental build"
    assert_as_full_build(corpus, built, report, tmp_path)


def test_an_output_file_edited_by_hand_is_built_in_full(corpus, built, tmp_path):
    (built / "graph.ttl").write_text("edited\n", encoding="utf-8")
    report = build(corpus, built, incremental=True)
    assert report.not_patched == "the output files are not those the state describes"
    assert_as_full_build(corpus, built, report, tmp_path)
    assert patched(build(corpus, built, incremental=True))


def test_a_damaged_state_is_a_full_build(corpus, built, tmp_path):
    (built / CACHE_DIR / STATE_FILE).write_text('{"format": "commkg-build-state-1", "records": [[', encoding="utf-8")
    CHANGES["an article edited"](corpus)
    report = build(corpus, built, incremental=True)
    assert report.not_patched == "no state of the last incremental build"
    assert_as_full_build(corpus, built, report, tmp_path)


def test_many_changes_are_built_in_full(corpus, built, tmp_path, monkeypatch):
    monkeypatch.setattr(incremental, "MAX_CHANGED", 20)
    for path in records(corpus, "article")[:60]:
        add_sentence(path, "We interviewed 12 commissioners.")
    report = build(corpus, built, incremental=True)
    assert report.not_patched == "60 records changed"
    assert_as_full_build(corpus, built, report, tmp_path)


def test_strict_stops_at_a_bad_record_before_writing(corpus, built):
    before = outputs(built)
    CHANGES["an article edited"](corpus)
    CHANGES["a bad file"](corpus)
    with pytest.raises(RecordError, match="zz_latin1.txt"):
        build(corpus, built, incremental=True, strict=True)
    assert outputs(built) == before


def test_the_cli_says_whether_it_patched(corpus, tmp_path):
    out = tmp_path / "cli"
    args = ("build", str(corpus), "--out", str(out), "--incremental", "--no-study-links")
    first = run_commkg(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert (f"commkg: {RECORDS} of {RECORDS} records extracted, the others taken from the cache; "
            "the output written anew (no state of the last incremental build)\n") in first.stderr
    before = stamps(out)
    CHANGES["an article edited"](corpus)
    second = run_commkg(*args, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    kept = [name for name, stamp in stamps(out).items() if stamp == before[name]]
    assert "asserted.ttl" not in kept
    listed = f" ({', '.join(kept)} unchanged)" if kept else ""
    assert (f"commkg: 1 of {RECORDS} records extracted, the others taken from the cache; "
            f"the previous output patched{listed}\n") in second.stderr
    third = run_commkg(*args, cwd=tmp_path)
    assert third.returncode == 0, third.stderr
    assert (f"commkg: 0 of {RECORDS} records extracted, the others taken from the cache; "
            "the previous output kept as it was (provenance.trig written anew)\n") in third.stderr


def stamps(out: Path) -> dict[str, tuple[int, int]]:
    """Each output file's inode and modification time, but provenance.trig's (new at every build)."""
    return {name: ((out / name).stat().st_ino, (out / name).stat().st_mtime_ns)
            for name in OUTPUT_FILES if name != PROVENANCE_FILE}


def test_a_file_the_patch_would_not_change_is_left_as_it_was(corpus, built, tmp_path):
    """A patched build does not write a file whose bytes would stay the same: it keeps its
    inode and modification time (rsync or make see only what changed), the report names it,
    and the next patch starts from it."""
    before = stamps(built)
    add_sentence(records(corpus, "article")[20], "The authors thank the participants.")  # no new fact to infer from
    report = build(corpus, built, incremental=True)
    after = stamps(built)
    kept = {name for name in after if after[name] == before[name]}
    assert patched(report) and set(report.unchanged) == kept
    assert "inferred.ttl" in kept and "asserted.ttl" not in kept
    assert set(report.files) == {built / name for name in OUTPUT_FILES if name not in kept}
    assert_as_full_build(corpus, built, report, tmp_path)

    nothing = build(corpus, built, incremental=True)
    assert patched(nothing) and stamps(built) == after
    assert set(nothing.unchanged) == set(after) and nothing.files == (built / PROVENANCE_FILE,)

    CHANGES["an article deleted"](corpus)
    last = build(corpus, built, incremental=True)
    assert patched(last)
    assert_as_full_build(corpus, built, last, tmp_path)


def test_the_cache_keeps_one_entry_per_record(corpus, built, tmp_path):
    CHANGES["an article edited"](corpus)
    CHANGES["an article deleted"](corpus)
    report = build(corpus, built, incremental=True)
    assert patched(report)
    entries = list((built / CACHE_DIR / "records").glob("*.json"))
    assert len(entries) == report.records_built == RECORDS - 1
