"""Incremental builds: remember each record's extraction, re-extract only what changed.

Extraction is a pure function of a record's file name and bytes, the lexicon and the code that
extracts (DESIGN.md), so its result can be kept under a key made of exactly those:

    key = sha256(salt, file name, file bytes)
    salt = sha256(commkg version, lexicon.ttl, commissioning.ttl, the extracting modules' source)

The source of the extracting modules is in the salt so that an edited extractor never serves
stale triples, even before its version number moves. One JSON file per record lives in
`OUT/.cache/records/`; JSON and not pickle, because a cache file from someone else's output
folder must never be able to run code. At each incremental build the entries of records that are
no longer in the corpus are removed, so deleted records leave no trace and the cache does not grow.

`RecordCache.results` has the shape of build.py's extraction results, so the build asks the
cache for each record and extracts only the misses (in its worker processes, as before).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from commkg import __version__
from commkg.corpus import MAX_RECORD_BYTES
from commkg.packing import PackedRecord, checked
from commkg.resources import ontology_file

Result = tuple  # (PackedRecord, None) or (None, reason): build.extract_file's result

CACHE_DIR = ".cache"
FORMAT = "commkg-record-cache-5"  # bump when the entry layout changes
# The modules whose code decides what a record's entry holds.
# build and writing too: the evidence is kept as the Turtle text they write (with build's prefixes);
# reason and grouped: what the record infers alone is kept with it.
_EXTRACTING_MODULES = ("corpus", "citation", "extract", "lexicon", "evidence", "writing", "build", "packing",
                       "reason", "grouped")


def build_salt() -> str:
    """What, besides the record itself, decides its triples (see the module docstring)."""
    import importlib

    digest = hashlib.sha256(f"{FORMAT}\0{__version__}\0".encode())
    for path in (ontology_file("lexicon.ttl"), ontology_file("commissioning.ttl")):
        digest.update(path.read_bytes())
    for name in _EXTRACTING_MODULES:
        digest.update(Path(importlib.import_module(f"commkg.{name}").__file__).read_bytes())
    return digest.hexdigest()


# ------------------------------------------------------------------------------ entry format

def encode(record: PackedRecord) -> str:
    """A record's packed extraction (packing.py) as JSON."""
    return json.dumps({"format": FORMAT, **record._asdict()}, ensure_ascii=False, separators=(",", ":"))


def decode(text: str) -> PackedRecord:
    entry = json.loads(text)
    if entry.pop("format", None) != FORMAT:
        raise ValueError("not a cache entry of this format")
    record = PackedRecord(**entry)
    # JSON has no tuples: the blocks' sort keys come back as lists, which do not compare with tuples.
    def keyed(entries):
        return None if entries is None else [(tuple(key), text) for key, text in entries]

    return checked(record._replace(local_blocks=keyed(record.local_blocks), evidence=keyed(record.evidence),
                                   inferred_blocks=keyed(record.inferred_blocks)))


# ------------------------------------------------------------------------------ the cache

class RecordCache:
    """The per-record cache of one output folder. `hits` and `misses` count the last run."""

    def __init__(self, out_dir: Path, *, salt: str | None = None):
        self.folder = Path(out_dir) / CACHE_DIR / "records"
        self.salt = salt or build_salt()
        self.hits = 0
        self.misses = 0
        # Of the last run's records: path → (key, size, modification time in ns), read by an
        # incremental build's state (buildstate.py) to know a file unchanged without reading it
        self.seen: dict[Path, tuple[str, int, int]] = {}
        self.scanned_ns = time.time_ns()  # when the last run began reading the records

    def key(self, path: Path, content: bytes) -> str:
        digest = hashlib.sha256(self.salt.encode())
        digest.update(b"\0" + Path(path).name.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(content)
        return digest.hexdigest()

    def file_key(self, path: Path) -> tuple[str, int, int]:
        """The key of a record file, with the size and modification time it had when read.
        Raises OSError for a file the reader would not read (so that it reports it as usual)."""
        # Only what the reader would read: a named pipe would block this read forever,
        # and a huge file would be read whole into memory just to be refused.
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_RECORD_BYTES:
            raise OSError("not a record the reader reads")
        return self.key(path, Path(path).read_bytes()), info.st_size, info.st_mtime_ns

    def _entry(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> PackedRecord | None:
        try:
            return decode(self._entry(key).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            return None  # a damaged entry is only a miss: the record is extracted again

    def put(self, key: str, record: PackedRecord) -> None:
        """Store an entry atomically (a crash leaves the old entry or none, never half of one)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".entry.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(encode(record))
            os.replace(temporary, self._entry(key))
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def remove(self, keys: set[str]) -> None:
        for key in keys:
            self._entry(key).unlink(missing_ok=True)

    def prune(self, keep: set[str]) -> int:
        """Remove every entry not in `keep` (records deleted or changed since); returns how many."""
        removed = 0
        if self.folder.is_dir():
            for entry in self.folder.glob("*.json"):
                if entry.stem not in keep:
                    entry.unlink(missing_ok=True)
                    removed += 1
        return removed

    def results(self, paths: Sequence[Path],
                extract: Callable[[Sequence[Path]], Iterator[Result]]) -> Iterator[Result]:
        """build.py's (record, reason) for each of `paths`, in order: from the cache where the
        record is unchanged, else from `extract(missing paths)`, whose successes are stored.
        The entries of records not in `paths` (deleted or changed since) are removed."""
        keys: list[str | None] = []
        cached: dict[int, PackedRecord] = {}
        self.scanned_ns = time.time_ns()
        for position, path in enumerate(paths):
            try:
                key, size, mtime = self.file_key(path)
                self.seen[Path(path)] = (key, size, mtime)
            except OSError:
                key = None  # unreadable: let the extractor report it as usual
            keys.append(key)
            record = self.get(key) if key else None
            if record is not None:
                cached[position] = record
        missing = [path for position, path in enumerate(paths) if position not in cached]
        self.hits, self.misses = len(cached), len(missing)
        # Entries of records no longer in the corpus are of no use to it: drop them now (after
        # the last result the build stops asking this generator, so "at the end" never comes).
        self.prune({key for key in keys if key is not None})

        extracted = extract(missing) if missing else iter(())
        try:
            for position in range(len(paths)):
                if position in cached:
                    yield cached.pop(position), None
                    continue
                record, reason = next(extracted)
                if reason is None and keys[position] is not None:
                    self.put(keys[position], record)
                yield record, reason
        finally:
            close = getattr(extracted, "close", None)
            if close is not None:  # stop the build's worker processes now, not at collection
                close()
