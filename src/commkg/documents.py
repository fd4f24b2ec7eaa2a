"""The big output files as documents of *owned* blocks: written whole with an index of where
each record's blocks lie, or patched from the previous file by copying its byte ranges.

A document (asserted.ttl, graph.trig …) is a sequence of pieces: plain text (the @prefix
header, a TriG graph's opening line), a *fixed* piece that is kept whole (TriG's ontology
graph), and *sections*: the subject blocks of several parts merged in subject order, as
writing.write_blocks_lines writes them ("\\n" + block each, indented in a TriG graph). Every entry of
a section is (subject key, block text, owner): the owner is the number of the record whose
blocks these are, or SHARED for the blocks about nodes that records share (concepts, journals
…), which are few and rendered again at every build.

Writing a section notes its *runs*: each stretch of consecutive entries of one record, with
its first and last subject key and its byte offset and length. An incremental build that
changed a few records then writes the new file from the old one: it copies every run of the
unchanged records by byte range (os.copy_file_range: in the kernel, without reading it into
Python), and writes only the new entries (the changed records' and the shared ones) where
their keys put them. The result is byte for byte what writing the whole document gives
(tests/test_documents.py), at the cost of copying the bytes: at 10,000 records the files are
a gigabyte, and rendering them takes tens of seconds where copying takes a fraction of one.
A new entry whose key falls inside a run of another record cannot be placed by byte ranges:
`plan_patch` raises CannotPatch and the build writes the whole document instead.
"""

from __future__ import annotations

import bisect
import heapq
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import BinaryIO, NamedTuple

import numpy as np

from commkg.errors import CommkgError
from commkg.writing import indented

SHARED = -1  # the owner of a block about a node that records share

Entry = tuple  # (subject key, block text, owner)
_FLUSH_BYTES = 4 << 20


class CannotPatch(CommkgError):
    """The new document cannot be made from the old one by byte ranges (the caller writes it whole)."""


class Run(NamedTuple):
    """Consecutive entries of one record in a written section."""

    owner: int
    first: tuple  # subject key of its first entry
    last: tuple  # and of its last
    offset: int  # in the file, in bytes
    length: int


@dataclass
class Runs:
    """A section's runs as columns: a patch works out where tens of thousands of them go with
    array arithmetic, not one Python step each."""

    owner: np.ndarray  # int64, like offset and length
    first: list[tuple]
    last: list[tuple]
    offset: np.ndarray
    length: np.ndarray

    @classmethod
    def of(cls, runs: Sequence[Run]) -> Runs:
        return cls(np.array([r.owner for r in runs], dtype=np.int64), [r.first for r in runs],
                   [r.last for r in runs], np.array([r.offset for r in runs], dtype=np.int64),
                   np.array([r.length for r in runs], dtype=np.int64))

    @classmethod
    def joined(cls, pieces: Sequence[Runs]) -> Runs:
        """`pieces` one after the other, adjacent runs of one owner made one (as a whole
        document's writing makes them)."""
        owner = np.concatenate([p.owner for p in pieces]) if pieces else np.zeros(0, np.int64)
        offset = np.concatenate([p.offset for p in pieces]) if pieces else np.zeros(0, np.int64)
        length = np.concatenate([p.length for p in pieces]) if pieces else np.zeros(0, np.int64)
        first = [key for p in pieces for key in p.first]
        last = [key for p in pieces for key in p.last]
        if len(owner) < 2:
            return cls(owner, first, last, offset, length)
        # A run continues the one before it: same owner, and its bytes right after.
        continues = np.r_[False, (owner[1:] == owner[:-1]) & (offset[1:] == offset[:-1] + length[:-1])]
        starts = np.flatnonzero(~continues)
        ends = np.r_[starts[1:], len(owner)] - 1
        return cls(owner[starts], [first[i] for i in starts.tolist()], [last[i] for i in ends.tolist()],
                   offset[starts], np.add.reduceat(length, starts))

    def __len__(self) -> int:
        return len(self.owner)

    def __iter__(self) -> Iterator[Run]:
        return (Run(*fields) for fields in zip(self.owner.tolist(), self.first, self.last,
                                                self.offset.tolist(), self.length.tolist()))

    def __eq__(self, other) -> bool:
        return isinstance(other, Runs) and list(self) == list(other)


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Fixed:
    """A piece kept whole: `text`, or (text None, when patching) the old document's bytes of it."""

    name: str
    text: str | None


@dataclass(frozen=True)
class Section:
    """Entries of `parts` (each sorted by key) merged in key order; for one key, in part order."""

    name: str
    parts: Sequence[Sequence[Entry]]
    indent: bool = False  # a TriG graph's body: each line that is not empty indented by four spaces


Piece = Text | Fixed | Section


@dataclass
class DocumentIndex:
    """Where a document's fixed pieces and sections' runs lie (JSON-able through `to_json`)."""

    fixed: dict[str, tuple[int, int]] = field(default_factory=dict)  # name → (offset, length)
    runs: dict[str, Runs] = field(default_factory=dict)  # section name → its runs, in order
    size: int = 0

    def to_json(self) -> dict:
        return {"fixed": self.fixed, "size": self.size,
                "runs": {name: [[r.owner, list(r.first), list(r.last), r.offset, r.length] for r in runs]
                         for name, runs in self.runs.items()}}

    @classmethod
    def from_json(cls, data: dict) -> DocumentIndex:
        return cls(fixed={name: (int(o), int(n)) for name, (o, n) in data["fixed"].items()},
                   runs={name: Runs.of([Run(int(owner), tuple(first), tuple(last), int(offset), int(length))
                                        for owner, first, last, offset, length in runs])
                         for name, runs in data["runs"].items()},
                   size=int(data["size"]))


class _Output:
    """Bytes to an unbuffered binary file: buffered writes, kernel copies from another file
    (one call for runs that lie next to each other there), and the offset reached (the
    index's byte positions)."""

    def __init__(self, stream: BinaryIO, offset: int = 0, *, source: int | None = None):
        self.stream, self.fd, self.offset, self.source = stream, stream.fileno(), offset, source
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._copying: list[int] | None = None  # [offset, length] in `source`, not copied yet

    def write(self, data: bytes) -> None:
        self._copy_pending()
        self._buffer.append(data)
        self._buffered += len(data)
        self.offset += len(data)
        if self._buffered >= _FLUSH_BYTES:
            self._write_buffer()

    def copy(self, offset: int, length: int) -> None:
        self._write_buffer()
        self.offset += length
        pending = self._copying
        if pending is not None and pending[0] + pending[1] == offset:
            pending[1] += length
            return
        self._copy_pending()
        self._copying = [offset, length]

    def flush(self) -> None:
        self._copy_pending()
        self._write_buffer()

    def _write_buffer(self) -> None:
        if self._buffer:
            data = b"".join(self._buffer)
            self._buffer, self._buffered = [], 0
            view = memoryview(data)
            while view:
                view = view[self.stream.write(view):]

    def _copy_pending(self) -> None:
        if self._copying is None:
            return
        (offset, length), source = self._copying, self.source
        self._copying = None
        while length > 0:
            try:
                copied = os.copy_file_range(source, self.fd, length, offset)
            except (AttributeError, OSError):  # not Linux, or a file system that refuses it
                copied = _copy_by_reading(source, self.fd, length, offset)
            if copied <= 0:
                raise CannotPatch("the previous file is shorter than its index says")
            offset += copied
            length -= copied


def _copy_by_reading(source: int, target: int, length: int, offset: int) -> int:
    data = os.pread(source, min(length, _FLUSH_BYTES), offset)
    view = memoryview(data)
    while view:
        view = view[os.write(target, view):]
    return len(data)


def _merged(parts: Sequence[Sequence[Entry]]) -> Iterator[Entry]:
    return heapq.merge(*parts, key=itemgetter(0)) if len(parts) > 1 else iter(parts[0] if parts else ())


class _RunWriter:
    """Writes entries of one section, noting the runs of each record."""

    def __init__(self, output: _Output, indent: bool):
        self.output, self.indent = output, indent
        self.runs: list[Run] = []
        self._texts: list[str] = []
        self._owner = SHARED
        self._first = self._last = None

    def entry(self, key: tuple, text: str, owner: int) -> None:
        if owner != self._owner or owner == SHARED:
            self.end()
            self._owner, self._first = owner, key
        self._last = key
        self._texts.append("\n" + text)

    def end(self) -> None:
        if not self._texts:
            return
        text = "".join(self._texts)
        data = (indented(text) if self.indent else text).encode("utf-8")
        if self._owner != SHARED:
            self.runs.append(Run(self._owner, self._first, self._last, self.output.offset, len(data)))
        self.output.write(data)
        self._texts = []

    def taken(self) -> Runs:
        """The runs written since the last call, ended."""
        self.end()
        self._owner = SHARED
        runs, self.runs = Runs.of(self.runs), []
        return runs


def write_pieces(stream: BinaryIO, pieces: Iterable[Piece], *, offset: int = 0,
                 index: DocumentIndex | None = None) -> DocumentIndex:
    """Write `pieces` to the unbuffered binary `stream` (already at `offset`), noting them in
    `index` (a new one by default), which is returned."""
    index = index or DocumentIndex()
    output = _Output(stream, offset)
    for piece in pieces:
        if isinstance(piece, Text):
            output.write(piece.text.encode("utf-8"))
        elif isinstance(piece, Fixed):
            data = piece.text.encode("utf-8")
            index.fixed[piece.name] = (output.offset, len(data))
            output.write(data)
        else:
            writer = _RunWriter(output, piece.indent)
            for key, text, owner in _merged(piece.parts):
                writer.entry(key, text, owner)
            writer.end()
            index.runs[piece.name] = Runs.of(writer.runs)
    output.flush()
    index.size = output.offset
    return index


class _Plan:
    """What _Output would do, noted instead of done: a patch is worked out first (in Python,
    quickly), then carried out (in the kernel, while the interpreter does other work)."""

    def __init__(self, offset: int = 0):
        self.offset = offset
        self.steps: list[bytes | tuple[int, int]] = []  # bytes to write, or (offset, length) to copy

    def write(self, data: bytes) -> None:
        self.offset += len(data)
        steps = self.steps
        if steps and type(steps[-1]) is bytes:
            steps[-1] += data
        else:
            steps.append(data)

    def copy(self, offset: int, length: int) -> None:
        self.offset += length
        steps = self.steps
        if steps and type(steps[-1]) is tuple and sum(steps[-1]) == offset:
            steps[-1] = (steps[-1][0], steps[-1][1] + length)
        else:
            steps.append((offset, length))

    def flush(self) -> None:
        pass


@dataclass
class Patch:
    """A document to write from its previous version (`plan_patch`)."""

    steps: list[bytes | tuple[int, int]]
    index: DocumentIndex

    def write(self, stream: BinaryIO, old: int) -> DocumentIndex:
        """Write the document to the unbuffered binary `stream`, copying from `old` (the
        previous version's file descriptor)."""
        output = _Output(stream, source=old)
        for step in self.steps:
            if type(step) is bytes:
                output.write(step)
            else:
                output.copy(*step)
        output.flush()
        if output.offset != self.index.size:
            raise CannotPatch("the patch did not write what it planned")
        return self.index

    def reproduces(self, old: int) -> bool:
        """Whether writing the document would give `old` (the previous version's file
        descriptor) back byte for byte: every copy from where it lands, every text written
        already there. Then the file need not be written at all."""
        if os.fstat(old).st_size != self.index.size:
            return False
        offset = 0
        for step in self.steps:
            if type(step) is bytes:
                if os.pread(old, len(step), offset) != step:
                    return False
                offset += len(step)
            else:
                source, length = step
                if source != offset:
                    return False
                offset += length
        return offset == self.index.size


def plan_patch(pieces: Iterable[Piece], *, old_index: DocumentIndex, owners: Mapping[int, int],
               offset: int = 0, index: DocumentIndex | None = None) -> Patch:
    """The document `write_pieces` would write of `pieces`, made from its previous version:
    each section's parts hold only the new entries (of the records that changed, and the shared
    ones), and every run of the previous version (`old_index`) whose owner is in `owners` (old
    record number → new) is copied in between, where its keys put it. A Fixed piece with no
    text is copied from the previous version. Raises CannotPatch when that cannot give the
    document `write_pieces` would write."""
    index = index or DocumentIndex()
    output = _Plan(offset)
    renumber = _renumbering(owners)
    for piece in pieces:
        if isinstance(piece, Text):
            output.write(piece.text.encode("utf-8"))
        elif isinstance(piece, Fixed):
            if piece.text is None:
                where = old_index.fixed.get(piece.name)
                if where is None:
                    raise CannotPatch(f"the previous document has no {piece.name}")
                index.fixed[piece.name] = (output.offset, where[1])
                output.copy(*where)
            else:
                data = piece.text.encode("utf-8")
                index.fixed[piece.name] = (output.offset, len(data))
                output.write(data)
        else:
            if piece.name not in old_index.runs:
                raise CannotPatch(f"the previous document has no section {piece.name}")
            index.runs[piece.name] = _patch_section(output, piece, old_index.runs[piece.name], renumber)
    index.size = output.offset
    return Patch(output.steps, index)


def patch_pieces(stream: BinaryIO, pieces: Iterable[Piece], *, old: int, old_index: DocumentIndex,
                 owners: Mapping[int, int]) -> DocumentIndex:
    """plan_patch, carried out: the document written to `stream`, copying from `old` (the
    previous version's file descriptor)."""
    return plan_patch(pieces, old_index=old_index, owners=owners).write(stream, old)


def _renumbering(owners: Mapping[int, int]) -> np.ndarray:
    """`owners` as an array: old number → new, -1 for an owner not kept."""
    table = np.full(max(owners, default=-1) + 2, -1, dtype=np.int64)
    if owners:
        table[np.fromiter(owners.keys(), np.int64, len(owners))] = np.fromiter(owners.values(), np.int64, len(owners))
    return table


def _patch_section(output: _Plan, piece: Section, old: Runs, renumber: np.ndarray) -> Runs:
    """The section's new entries placed among the kept runs of the old one by key (a binary
    search each), the kept runs between two new entries copied as one."""
    owner = renumber[np.minimum(old.owner, len(renumber) - 1)] if len(old) else old.owner
    keep = np.flatnonzero(owner >= 0)
    kept_first = [old.first[i] for i in keep.tolist()]
    writer = _RunWriter(output, piece.indent)
    pieces: list[Runs] = []
    done = 0  # kept runs copied so far

    def copy_kept(upto: int) -> None:
        nonlocal done
        if upto <= done:
            return
        pieces.append(writer.taken())
        chosen = keep[done:upto]
        offset, length = old.offset[chosen], old.length[chosen]
        starts = np.r_[0, np.cumsum(length)[:-1]] + output.offset
        pieces.append(Runs(owner[chosen], [old.first[i] for i in chosen.tolist()],
                           [old.last[i] for i in chosen.tolist()], starts, length))
        # Runs that lie one after the other in the old file are copied together.
        breaks = np.flatnonzero(offset[1:] != offset[:-1] + length[:-1]) + 1
        for begin, end in zip(np.r_[0, breaks].tolist(), np.r_[breaks, len(chosen)].tolist()):
            output.copy(int(offset[begin]), int(length[begin:end].sum()))
        done = upto

    for key, text, entry_owner in _merged(piece.parts):
        at = bisect.bisect_left(kept_first, key)
        if at > 0 and old.last[keep[at - 1]] > key:
            raise CannotPatch(f"a new block ({key[1]}) sorts inside the blocks of another record")
        copy_kept(at)
        writer.entry(key, text, entry_owner)
    copy_kept(len(keep))
    pieces.append(writer.taken())
    return Runs.joined(pieces)
