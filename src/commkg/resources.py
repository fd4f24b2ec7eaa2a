"""Where the bundled data lives: inside the installed wheel, or beside src/ in a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DATA = Path(__file__).parent / "data"
_SOURCE_TREE = Path(__file__).resolve().parents[2]


def data_path(name: str) -> Path:
    """The bundled directory `name` (`ontology`, `queries` or `corpus`)."""
    for root in (_PACKAGE_DATA, _SOURCE_TREE):
        candidate = root / name
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"commkg's bundled '{name}' directory is missing from this install")


def ontology_file(name: str) -> Path:
    return data_path("ontology") / name
