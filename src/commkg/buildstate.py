"""What an incremental build keeps of the last build, beside the record cache (cache.py), to
patch its output instead of writing it again (incremental.py).

The record cache keeps each record's extraction; this state keeps what ties the records into
the output: each record's key and file stamp (to know it unchanged without reading it), its
study, base and reasoning group, where each record's blocks are in each output file
(documents.py) and the stamp of each file as written, and the corpus-wide tallies that a change
adds to or takes from: how many records assert each shared fact, use each concept and class
and prefix, and how many groups infer each triple about a shared node.

One JSON file, OUT/.cache/state.json, replaced atomically after the output files it describes:
JSON and not pickle, because a state from someone else's output folder must never be able to
run code. A state that does not describe the files beside it (another build wrote them, or one
was edited) is not used: the build is done in full, and a new state written.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from commkg.cache import CACHE_DIR
from commkg.documents import DocumentIndex, Runs
from commkg.packing import Rows, TermTable

FORMAT = "commkg-build-state-1"
STATE_FILE = "state.json"
# A file changed this recently may change again within the file system's clock step without
# its stamp changing: its stamp is not trusted next time (the file is read and hashed instead).
_RECENT_NS = 2_000_000_000

Triple = tuple


@dataclass
class RecordState:
    path: str  # relative to the corpus, with "/"
    key: str  # its cache key (cache.py)
    size: int  # and its file's size and modification time when read; size -1: not to be trusted
    mtime: int
    study: str
    base: str
    group: int  # the first record of its reasoning group (grouped.py), by position
    exposures: list[str]  # its own, or its group's
    prefixes: list[str]  # that its blocks and evidence use
    inferred_prefixes: list[str]  # that the blocks of its own inferred triples use
    classes: list[str]  # that its knowledge (and its concepts' descriptions) types nodes with
    local_facts: int
    evidence_triples: int
    own_inferred: int
    # Its four lists above as numbers into the loaded state's strings (BuildState.strings), kept
    # so that saving again need not number them anew: most records are as they were.
    numbers: tuple | None = field(default=None, compare=False, repr=False)


@dataclass
class FileState:
    size: int
    mtime: int
    inode: int
    index: DocumentIndex | None  # None: not a document (graph.html, provenance.trig)

    @classmethod
    def of(cls, path: Path | str, index: DocumentIndex | None) -> FileState:
        """The stamp of `path` (a file as written, or its staged temporary: renaming keeps it)."""
        info = os.stat(path)
        return cls(info.st_size, info.st_mtime_ns, info.st_ino, index)

    def describes(self, path: Path) -> bool:
        try:
            info = os.stat(path)
        except OSError:
            return False
        return (info.st_size, info.st_mtime_ns, info.st_ino) == (self.size, self.mtime, self.inode)


@dataclass
class BuildState:
    salt: str
    records: list[RecordState]
    shared_facts: Counter  # triple → how many records assert it (not the concepts' descriptions)
    concepts: Counter  # key → how many records use the concept
    shared_inferred: Counter  # triple → how many groups infer it (before grouped.combine)
    classes: Counter  # class IRI → how many records type with it
    files: dict[str, FileState]
    ontology: dict  # {"vocabulary": digest, "prefixes": [...], "size": n}: graph.trig's ontology graph
    declared: list[str]  # the prefixes graph.trig's header declares
    warnings: list[tuple[int, str, str]]  # (record by position, or -1 for a shared node; node; line)
    page: str | None = None  # the page's own state (pagestate.py), as its text
    strings: list[str] = field(default_factory=list)  # what RecordState.numbers point at

    # ------------------------------------------------------------------ file
    def encode(self, *, scanned_ns: int) -> str:
        """The state as JSON but for the files' stamps and the page's state (`save` adds them):
        the costly part, which an incremental build works out while the files are still being
        written. Records whose files changed since `scanned_ns` - 2 s get untrusted stamps
        (see _RECENT_NS)."""
        terms = Rows()
        number = terms.number

        def triples(counter: Counter) -> list:
            return [[number(s), number(p), number(o), n] for (s, p, o), n in sorted(
                counter.items(), key=lambda item: tuple(map(str, item[0])))]

        keys: dict[tuple, int] = {}  # each key once, numbered as it first comes

        def key_numbers(found: list[tuple]) -> list[int]:
            number = keys.setdefault  # a C call per key: a patch saves 200,000 of them
            return [number(key, len(keys)) for key in found]

        # Exposures, classes, prefixes: each said once, records point at them. The loaded table
        # is kept while most of it is in use, so that the records loaded keep their numbers.
        string_rows = list(self.strings)
        used = set().union(*(numbers for r in self.records if r.numbers is not None for numbers in r.numbers))
        renumber = len(string_rows) > 2 * len(used) + 1000
        if renumber:
            string_rows = []
        strings: dict[str, int] | None = None

        def numbered(items: list[str]) -> list[int]:
            nonlocal strings
            if strings is None:
                strings = {text: n for n, text in enumerate(string_rows)}
            out = []
            for item in items:
                found = strings.get(item)
                if found is None:
                    found = strings[item] = len(string_rows)
                    string_rows.append(item)
                out.append(found)
            return out

        def index(document: DocumentIndex | None):
            if document is None:
                return None
            return {"size": document.size, "fixed": document.fixed,
                    "runs": {name: [runs.owner.tolist(), key_numbers(runs.first), key_numbers(runs.last),
                                    runs.offset.tolist(), runs.length.tolist()]
                             for name, runs in document.runs.items()}}

        def lists(r: RecordState):
            if r.numbers is not None and not renumber:
                return r.numbers
            return (numbered(r.exposures), numbered(r.prefixes), numbered(r.inferred_prefixes), numbered(r.classes))

        indexes = {name: index(f.index) for name, f in self.files.items()}
        # An IRI's key as its text alone: most of the keys (writing.subject_key)
        key_rows = [key[1] if key[0] == 0 and key[2:] == ("", "") else list(key) for key in keys]
        records = [[r.path, r.key, -1 if r.mtime >= scanned_ns - _RECENT_NS else r.size, r.mtime, r.study, r.base,
                    r.group, *lists(r), r.local_facts, r.evidence_triples, r.own_inferred] for r in self.records]
        data = {
            "format": FORMAT, "salt": self.salt, "records": records,
            "shared_facts": triples(self.shared_facts), "shared_inferred": triples(self.shared_inferred),
            "concepts": dict(sorted(self.concepts.items())), "classes": dict(sorted(self.classes.items())),
            "indexes": indexes,
            "ontology": self.ontology, "declared": sorted(self.declared),
            "warnings": [list(w) for w in self.warnings],
            "terms": terms.rows, "keys": key_rows, "strings": string_rows,
        }
        # ASCII: a file name may not be UTF-8. dumps, not dump, whose encoder is Python's own.
        return json.dumps(data, separators=(",", ":"))

    def save(self, out_dir: Path, *, scanned_ns: int | None = None, encoded: str | None = None) -> None:
        """Write the state atomically: `encoded` (what `encode` gave), or encoded now, with the
        files' stamps and the page's state, which come last."""
        text = encoded if encoded is not None else self.encode(scanned_ns=scanned_ns)
        stamps = {name: [f.size, f.mtime, f.inode] for name, f in self.files.items()}
        # The object `encode` closed, reopened for them:
        text = text[:-1] + ',"stamps":' + json.dumps(stamps) + ',"page":' + json.dumps(self.page) + "}"
        folder = Path(out_dir) / CACHE_DIR
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f".{STATE_FILE}.{os.getpid()}.tmp"
        try:
            with open(temporary, "w", encoding="ascii") as stream:
                stream.write(text)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, folder / STATE_FILE)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, out_dir: Path, *, salt: str, terms: TermTable) -> BuildState | None:
        """The state of the last incremental build into `out_dir`, or None (none, another
        version's, or damaged). Terms come out of `terms` (the build's one object per term)."""
        try:
            with open(Path(out_dir) / CACHE_DIR / STATE_FILE, encoding="utf-8") as stream:
                data = json.load(stream)
            if data.get("format") != FORMAT or data.get("salt") != salt:
                return None
            return cls._from(data, salt, terms)
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            return None  # a damaged state is only a full build

    @classmethod
    def _from(cls, data: dict, salt: str, terms: TermTable) -> BuildState:
        term = [terms.term(row) for row in data["terms"]]
        keys = [(0, key, "", "") if type(key) is str else tuple(key) for key in data["keys"]]
        strings = data["strings"]

        def triples(rows: list) -> Counter:
            return Counter({(term[s], term[p], term[o]): int(n) for s, p, o, n in rows})

        def index(value) -> DocumentIndex | None:
            if value is None:
                return None
            runs = {name: Runs(np.array(owner, dtype=np.int64), [keys[k] for k in first], [keys[k] for k in last],
                               np.array(offset, dtype=np.int64), np.array(length, dtype=np.int64))
                    for name, (owner, first, last, offset, length) in value["runs"].items()}
            return DocumentIndex(fixed={name: tuple(where) for name, where in value["fixed"].items()},
                                 runs=runs, size=int(value["size"]))

        records = []
        for path, key, size, mtime, study, base, group, exposures, prefixes, inferred_prefixes, classes, *counts in data["records"]:
            if type(path) is not str or type(key) is not str or type(group) is not int or len(counts) != 3:
                raise ValueError("not a record state")
            records.append(RecordState(path, key, size, mtime, study, base, group, [strings[n] for n in exposures],
                                       [strings[n] for n in prefixes], [strings[n] for n in inferred_prefixes],
                                       [strings[n] for n in classes], *counts,
                                       numbers=(exposures, prefixes, inferred_prefixes, classes)))
        return cls(
            salt=salt, records=records,
            shared_facts=triples(data["shared_facts"]), shared_inferred=triples(data["shared_inferred"]),
            concepts=Counter(data["concepts"]), classes=Counter(data["classes"]),
            files={name: FileState(*data["stamps"][name], index(value)) for name, value in data["indexes"].items()},
            ontology=data["ontology"], declared=list(data["declared"]),
            warnings=[(int(owner), node, line) for owner, node, line in data["warnings"]],
            page=data.get("page"), strings=strings)


def remove(out_dir: Path) -> None:
    """Forget the state (a build that does not keep one is about to replace the files)."""
    (Path(out_dir) / CACHE_DIR / STATE_FILE).unlink(missing_ok=True)
