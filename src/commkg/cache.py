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
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from rdflib import BNode, Literal, URIRef

from commkg import __version__
from commkg.corpus import MAX_RECORD_BYTES
from commkg.evidence import Annotation
from commkg.extract import Extraction, ExtractedRecord
from commkg.resources import ontology_file

Result = tuple  # (ExtractedRecord, None) or (None, reason): build.extract_file's result

CACHE_DIR = ".cache"
FORMAT = "commkg-record-cache-3"  # bump when the entry layout changes
# The modules whose code decides what a record's entry holds.
# build and writing too: the evidence is kept as the Turtle text they write (with build's prefixes).
_EXTRACTING_MODULES = ("corpus", "citation", "extract", "lexicon", "evidence", "writing", "build")


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

class _TermTable:
    """Distinct terms in order of first use, each written once (a record repeats its IRIs)."""

    def __init__(self) -> None:
        self.index: dict = {}
        self.rows: list = []

    def __call__(self, term) -> int:
        number = self.index.get(term)
        if number is None:
            number = self.index[term] = len(self.rows)
            self.rows.append(_term_row(term))
        return number


def encode(record: ExtractedRecord) -> str:
    """A record's extraction as JSON: a table of distinct terms, and the facts and annotations
    with their terms as indices into it; the Turtle text of its blocks as it is."""
    extraction = record.extraction
    term = _TermTable()
    entry = {
        "format": FORMAT,
        "study": term(extraction.study),
        "facts": [term(t) for triple in extraction.facts for t in triple],
        "concepts": list(extraction.concepts),
        "annotations": [[a.iri, a.start, a.end, a.exact, [term(body) for body in a.bodies]]
                        for a in extraction.annotations],
        "base": extraction.base,
        "local": record.local_blocks,
        "evidence": record.evidence,
        "prefixes": list(record.prefixes),
    }
    entry["terms"] = term.rows
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":"))


def _term_row(term) -> list:
    if isinstance(term, URIRef):
        return ["u", str(term)]
    if isinstance(term, BNode):
        return ["b", str(term)]
    if isinstance(term, Literal):
        return ["l", str(term), term.language, str(term.datatype) if term.datatype is not None else None]
    raise TypeError(f"cannot cache {term!r}")


class TermDecoder:
    """Turns term rows back into rdflib terms, each distinct row once per build: making an rdflib
    Literal costs tens of microseconds, and the shared concepts, predicates and small numbers
    recur in every record."""

    def __init__(self) -> None:
        self._terms: dict[tuple, object] = {}

    def term(self, row: list):
        key = tuple(row)
        term = self._terms.get(key)
        if term is None:
            kind = row[0]
            if kind == "u":
                term = URIRef(row[1])
            elif kind == "b":
                term = BNode(row[1])
            else:
                term = Literal(row[1], lang=row[2], datatype=URIRef(row[3]) if row[3] else None)
            self._terms[key] = term
        return term

    def decode(self, text: str) -> ExtractedRecord:
        entry = json.loads(text)
        if entry.get("format") != FORMAT:
            raise ValueError("not a cache entry of this format")
        terms = [self.term(row) for row in entry["terms"]]
        flat = entry["facts"]
        study = terms[entry["study"]]
        extraction = Extraction(
            study=study, base=entry["base"],
            facts=tuple((terms[flat[i]], terms[flat[i + 1]], terms[flat[i + 2]]) for i in range(0, len(flat), 3)),
            concepts=tuple(entry["concepts"]),
            annotations=tuple(Annotation(iri, study, start, end, exact, tuple(terms[b] for b in bodies))
                              for iri, start, end, exact, bodies in entry["annotations"]))
        return ExtractedRecord(extraction, local_blocks=[(tuple(key), text) for key, text in entry["local"]],
                               evidence=[(tuple(key), text) for key, text in entry["evidence"]],
                               prefixes=tuple(entry["prefixes"]))


# ------------------------------------------------------------------------------ the cache

class RecordCache:
    """The per-record cache of one output folder. `hits` and `misses` count the last run."""

    def __init__(self, out_dir: Path, *, salt: str | None = None):
        self.folder = Path(out_dir) / CACHE_DIR / "records"
        self.salt = salt or build_salt()
        self.hits = 0
        self.misses = 0
        self._decoder = TermDecoder()

    def key(self, path: Path, content: bytes) -> str:
        digest = hashlib.sha256(self.salt.encode())
        digest.update(b"\0" + Path(path).name.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(content)
        return digest.hexdigest()

    def _entry(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> ExtractedRecord | None:
        try:
            return self._decoder.decode(self._entry(key).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            return None  # a damaged entry is only a miss: the record is extracted again

    def put(self, key: str, record: ExtractedRecord) -> None:
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
        cached: dict[int, ExtractedRecord] = {}
        for position, path in enumerate(paths):
            try:
                # Only what the reader would read: a named pipe would block this read forever,
                # and a huge file would be read whole into memory just to be refused.
                info = os.stat(path)
                if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_RECORD_BYTES:
                    raise OSError("not a record the reader reads")
                key = self.key(path, Path(path).read_bytes())
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
