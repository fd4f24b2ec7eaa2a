"""Shared fixtures: the bundled sample built once per test session, small corpora made from its
records, and a way to run the installed `commkg` command in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from commkg.build import BuildReport, build_corpus
from commkg.corpus import find_records
from commkg.resources import data_path

# Bytes that are not UTF-8 (a Latin-1 'é'): the reader must refuse this file and only this file.
NOT_UTF8 = "Caf\u00e9 commissioning in Latin-1.\n".encode("latin-1")


@pytest.fixture(scope="session")
def sample_records() -> list[Path]:
    return find_records(data_path("corpus"))


@pytest.fixture(scope="session")
def sample_build(tmp_path_factory) -> BuildReport:
    """The bundled sample, built once with the library's defaults. Read it, don't write to it."""
    return build_corpus(None, tmp_path_factory.mktemp("sample-build"))


@pytest.fixture(scope="session")
def sample_asserted(sample_build) -> bytes:
    return sample_build.asserted_file.read_bytes()


def copy_records(paths: list[Path], folder: Path) -> Path:
    """A new corpus folder holding copies of `paths` (tests may add files to it)."""
    folder.mkdir()
    for path in paths:
        shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture
def small_corpus(tmp_path, sample_records) -> Path:
    """A corpus folder with the first two sample records (copies: tests may add files to it)."""
    return copy_records(sample_records[:2], tmp_path / "records")


@pytest.fixture
def sample_corpus(tmp_path, sample_records) -> Path:
    """A corpus folder with copies of all five sample records."""
    return copy_records(sample_records, tmp_path / "sample")


@pytest.fixture
def bad_record(small_corpus) -> Path:
    """A non-UTF-8 file added to `small_corpus`, sorted after the good records."""
    bad = small_corpus / "zz_latin1.txt"
    bad.write_bytes(NOT_UTF8)
    return bad


def commkg_executable() -> str:
    """The console script of the commkg installed beside this Python (not whatever is on PATH)."""
    beside = Path(sys.executable).parent / "commkg"
    if beside.exists():
        return str(beside)
    found = shutil.which("commkg")
    if found is None:
        pytest.fail("the `commkg` command is not installed; run: pip install '.[test]'")
    return found


def run_commkg(*args: str, cwd: Path, hash_seed: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if hash_seed is not None:
        env["PYTHONHASHSEED"] = hash_seed
    return subprocess.run([commkg_executable(), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
