"""The few exceptions commkg raises; only the CLI turns them into messages for people."""

from __future__ import annotations

from pathlib import Path


class CommkgError(Exception):
    """Base class of every error commkg raises on purpose."""


class RecordError(CommkgError):
    """A record file that cannot be read as a record (not UTF-8, empty, binary, too big …)."""

    def __init__(self, path: Path | str, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path.name}: {reason}")


class LexiconError(CommkgError):
    """The lexicon or ontology file is missing or malformed."""


class QueryError(CommkgError):
    """A query that cannot be found, parsed, bound or run, or a graph file that cannot be read."""
