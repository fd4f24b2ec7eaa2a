"""Nothing half-written (issue 6): a build that fails or is killed part-way leaves the previous
outputs byte-identical, and no temporary file behind.

Three ways to interrupt a build:
- an exception raised while an output file is half written (a full disk, Ctrl-C, a bug), for
  each output file the build writes in turn;
- a rename that fails after every file was written;
- SIGKILL to a `commkg build` subprocess: while it extracts, and while it writes. A killed
  process cannot clean up, so its temporary file may stay until the next build, which removes
  it; it is hidden (a leading dot) and never has an output's name.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

import commkg.writing as writing
from commkg.build import OutputError, build_corpus

from conftest import commkg_executable


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file in `folder` (hidden ones too), name → bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def data_files(files: dict[str, bytes]) -> dict[str, bytes]:
    return {name: data for name, data in files.items() if name != "provenance.trig"}


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or p.name.endswith(".tmp"))


@pytest.fixture
def previous(tmp_path, small_corpus) -> tuple[Path, dict[str, bytes]]:
    """An output folder holding a finished build of two records, and its bytes."""
    out = tmp_path / "out"
    build_corpus(small_corpus, out)
    return out, snapshot(out)


@pytest.fixture
def next_corpus(sample_corpus) -> Path:
    """A different corpus (all five sample records): a build of it would change every output."""
    return sample_corpus


class _FailingStream:
    """A stream (text or bytes) that passes `limit` characters on to the real one, then raises."""

    def __init__(self, stream, limit: int, error: BaseException):
        self._stream, self._left, self._error, self.written = stream, limit, error, 0

    def write(self, text: str) -> int:
        if len(text) > self._left:
            self._stream.write(text[:self._left])
            self.written += self._left
            raise self._error
        self._left -= len(text)
        self.written += len(text)
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _fail_in_file(monkeypatch, name: str, error: BaseException, limit: int = 2000) -> list:
    """Make the output file `name` fail after `limit` characters (or at its end, when it is
    shorter). Returns a list that receives (file name, characters written)."""
    real_stage = writing._stage

    def stage(path, write, **options):
        if path.name != name:
            return real_stage(path, write, **options)

        def half_then_fail(stream):
            failing = _FailingStream(stream, limit, error)
            try:
                write(failing)
            finally:
                failures.append((path.name, failing.written))
            raise error  # the file was shorter than `limit`: fail at its very end

        return real_stage(path, half_then_fail, **options)

    failures: list = []
    monkeypatch.setattr(writing, "_stage", stage)
    return failures


def _files_the_build_writes(tmp_path, corpus) -> list[str]:
    return [p.name for p in build_corpus(corpus, tmp_path / "probe").files]


ERRORS = [
    pytest.param(OSError(errno.ENOSPC, "No space left on device"), OutputError, id="disk-full"),
    pytest.param(KeyboardInterrupt(), KeyboardInterrupt, id="ctrl-c"),
    pytest.param(RuntimeError("a bug in a writer"), RuntimeError, id="bug"),
]


@pytest.mark.parametrize("error, raised", ERRORS)
def test_a_failure_half_way_through_any_output_file_leaves_the_previous_outputs_intact(
        tmp_path, previous, next_corpus, monkeypatch, error, raised):
    out, before = previous
    files = _files_the_build_writes(tmp_path, next_corpus)
    assert files, "the build wrote nothing"
    for name in files:
        with monkeypatch.context() as patch:
            failures = _fail_in_file(patch, name, error)
            with pytest.raises(raised):
                build_corpus(next_corpus, out)
        assert [f for f, _ in failures] == [name]
        assert failures[0][1] > 0, "the writer had not started: this is not a mid-way failure"
        assert snapshot(out) == before, f"failing in {name} changed the previous outputs"
        assert temporaries(out) == []


def test_a_failed_rename_leaves_no_temporary_file(tmp_path, previous, next_corpus, monkeypatch):
    out, before = previous
    real_replace = os.replace
    calls = []

    def replace(source, target):
        calls.append(Path(target).name)
        if len(calls) == 1:
            raise OSError(errno.EACCES, "Permission denied", str(target))
        return real_replace(source, target)

    monkeypatch.setattr(writing.os, "replace", replace)
    with pytest.raises(OutputError, match="Permission denied"):
        build_corpus(next_corpus, out)
    assert snapshot(out) == before  # the first rename failed: nothing was replaced
    assert temporaries(out) == []


# ------------------------------------------------------------------------------ SIGKILL

def _long_corpus(folder: Path, sample_records, copies: int) -> Path:
    """`copies` × the sample records, each copy with its own DOI and file name: a build long
    enough to be killed part-way."""
    folder.mkdir()
    for copy in range(copies):
        for path in sample_records:
            text = path.read_text(encoding="utf-8")
            text = re.sub(r"(doi: 10\.\S+?)(\.?\s)", rf"\g<1>-copy{copy}\g<2>", text, count=1)
            (folder / f"{copy:04d}_{path.name}").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def long_corpus(tmp_path_factory, sample_records) -> Path:
    # 60 records: long enough for the CLI's progress line (from 50 on), which says extraction began.
    return _long_corpus(tmp_path_factory.mktemp("long") / "corpus", sample_records, copies=12)


def _start_build(corpus: Path, out: Path) -> subprocess.Popen:
    # Its own session: the kill reaches the build and its worker processes, and only them.
    return subprocess.Popen([commkg_executable(), "build", str(corpus), "--out", str(out), "--workers", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)
    process.stderr.close()


def _kill_when(process: subprocess.Popen, ready, timeout: float = 300) -> bool:
    """SIGKILL `process` as soon as `ready()` is true; False when it finished first."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if ready():
            _kill(process)
            return True
        time.sleep(0.0005)
    _kill(process)
    return False


def test_sigkill_during_extraction_leaves_the_previous_outputs_intact(previous, long_corpus):
    out, before = previous
    process = _start_build(long_corpus, out)
    # The progress line ("extracting 60 records") is printed when extraction starts: wait for it.
    line = process.stderr.readline()
    assert b"extracting" in line, line
    killed = _kill_when(process, lambda: True)
    assert killed, "the build finished before it could be killed"
    assert snapshot(out) == before
    assert temporaries(out) == []  # nothing is written before extraction ends


def test_sigkill_while_writing_leaves_the_previous_outputs_intact_and_the_next_build_cleans_up(
        previous, long_corpus, small_corpus):
    out, before = previous
    process = _start_build(long_corpus, out)
    # Kill the moment a temporary output file exists: the writer is half-way through it.
    killed = _kill_when(process, lambda: any(name.endswith(".tmp") for name in os.listdir(out)))
    assert killed, "the build finished before a temporary file was seen"
    left = temporaries(out)
    assert left, "killed while writing, yet no temporary file: was it killed at all?"
    # What SIGKILL left is hidden and can never be taken for an output (*.ttl, *.html …) …
    assert all(name.startswith(".") and name.endswith(".tmp") for name in left), left
    # … and every previous output is as it was.
    assert {name: data for name, data in snapshot(out).items() if name not in left} == before

    # The next build into the folder removes the dead build's leftovers.
    build_corpus(small_corpus, out)
    assert temporaries(out) == []
    # The same corpus as `previous`: the same bytes, but for provenance.trig, which records when.
    assert data_files(snapshot(out)) == data_files(before)


def test_a_live_writers_temporary_file_is_not_removed(tmp_path):
    # Only a dead process's leftovers are removed: two builds into one folder must not delete
    # each other's half-written files. Our own pid is certainly alive.
    out = tmp_path / "out"
    out.mkdir()
    live = out / f".asserted.ttl.{os.getpid()}.abcd1234.tmp"
    live.write_text("half", encoding="utf-8")
    writing.write_file_atomically(out / "asserted.ttl", lambda stream: stream.write("whole"))
    assert live.exists()
    assert (out / "asserted.ttl").read_text(encoding="utf-8") == "whole"
