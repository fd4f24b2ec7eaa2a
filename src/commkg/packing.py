"""A record's extraction as plain data: what a build worker sends to the main process, and what
the incremental cache keeps (as JSON).

rdflib terms are dear to move between processes: unpickling remakes every URIRef (and checks it
again) and every Literal (and parses its value again), once per occurrence. A `PackedRecord`
holds each distinct term of the record once, as a row of plain strings, and its facts and
evidence as numbers into those rows. The main process turns rows into terms through one
`TermTable` for the whole build, so a term that every record uses (a predicate, a concept, a
year) is made once per build, and every term comes out as the one object that stands for it
(interned: see bulk.py).

A row is an IRI's text (most terms), `["l", text, language, datatype]` for a literal, or
`["b", id]` for a blank node.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from rdflib import BNode, Literal, URIRef

from commkg.evidence import Annotation
from commkg.extract import Extraction

Triple = tuple


class PackedRecord(NamedTuple):
    """One record's extraction, in plain lists, strings and numbers."""

    terms: list  # the record's distinct terms, as rows (module docstring)
    study: int  # the study's row
    base: str  # the record base (Extraction.base)
    local_facts: list[int]  # (subject, predicate, object) rows, flattened: facts about the record's own subjects
    shared_facts: list[int]  # the same, about subjects that records share (concepts, journals …)
    knowledge: list[int]  # the same, of the facts the reasoner's rules use (reason.knowledge_test)
    concepts: list[str]  # Extraction.concepts
    annotations: list  # [iri, start, end, exact, [body rows]] per Annotation
    local_blocks: list  # writing.Blocks entries of the local facts, rendered as Turtle
    evidence: list  # the same of its annotations (evidence.turtle_entries)
    prefixes: list[str]  # the prefixes those blocks use
    # What the record infers alone (grouped.py), when the build reasons; None when not worked out:
    own_inferred: list[int] | None = None  # flattened rows, as the facts: about the record's own nodes
    shared_inferred: list[int] | None = None  # about shared nodes
    exposures: list[str] | None = None  # where its inference can meet other records' (grouped.py)
    inferred_blocks: list | None = None  # writing.Blocks entries of own_inferred
    inferred_prefixes: list[str] | None = None  # the prefixes those use


class Inference(NamedTuple):
    """A record's own inference, for `pack`."""

    own: Sequence[Triple]
    shared: Sequence[Triple]
    exposures: Iterable[str]
    blocks: list
    prefixes: Iterable[str]


def pack(extraction: Extraction, *, local_facts: Sequence[Triple], shared_facts: Sequence[Triple],
         knowledge: Sequence[Triple], local_blocks: list, evidence: list, prefixes: Iterable[str],
         inference: Inference | None = None) -> PackedRecord:
    """`extraction` packed; its facts as given, split into the record's own and the shared ones,
    and those of them that are `knowledge`; and what it infers alone, when given."""
    table = Rows()
    flat, number = table.flat, table.number
    return PackedRecord(
        terms=table.rows, study=number(extraction.study), base=extraction.base,
        local_facts=flat(local_facts), shared_facts=flat(shared_facts), knowledge=flat(knowledge),
        concepts=list(extraction.concepts),
        annotations=[[a.iri, a.start, a.end, a.exact, [number(body) for body in a.bodies]]
                     for a in extraction.annotations],
        local_blocks=local_blocks, evidence=evidence, prefixes=sorted(prefixes),
        **({} if inference is None else dict(
            own_inferred=flat(inference.own), shared_inferred=flat(inference.shared),
            exposures=sorted(inference.exposures), inferred_blocks=inference.blocks,
            inferred_prefixes=sorted(inference.prefixes))))


def with_inference(record: PackedRecord, inference: Inference) -> PackedRecord:
    """`record` with its inference (worked out after the record was packed without it)."""
    table = Rows(record.terms)
    flat = table.flat
    return record._replace(terms=table.rows, own_inferred=flat(inference.own), shared_inferred=flat(inference.shared),
                           exposures=sorted(inference.exposures), inferred_blocks=inference.blocks,
                           inferred_prefixes=sorted(inference.prefixes))


class Rows:
    """Terms as rows (module docstring), each distinct term once, numbered as it first comes."""

    def __init__(self, rows: Iterable = ()):
        self.rows: list = list(rows)
        # IRI text, or a row as a tuple → its number. IRIs by their plain text: a dict compares
        # it in C, where rdflib's __eq__ is Python.
        self._numbers = {(row if type(row) is str else tuple(row)): n for n, row in enumerate(self.rows)}

    def number(self, term) -> int:
        key = str.__str__(term) if isinstance(term, URIRef) else _row(term)
        found = self._numbers.get(key)
        if found is None:
            found = self._numbers[key] = len(self.rows)
            self.rows.append(key if type(key) is str else list(key))
        return found

    def flat(self, triples: Iterable[Triple]) -> list[int]:
        number = self.number
        return [number(term) for triple in triples for term in triple]


def _row(term) -> tuple:
    if type(term) is Literal:
        datatype = term.datatype
        return ("l", str.__str__(term), term.language, None if datatype is None else str.__str__(datatype))
    if type(term) is BNode:
        return ("b", str.__str__(term))
    raise TypeError(f"cannot pack {term!r}")


def checked(record: PackedRecord) -> PackedRecord:
    """`record` if every part has the shape `pack` gives (so that unpacking and merging it cannot
    fail), else ValueError: for records read back from a file, which may be damaged."""
    rows = len(record.terms)

    def numbers(flat, *, triples: bool) -> bool:
        return (type(flat) is list and not (triples and len(flat) % 3)
                and all(type(n) is int and 0 <= n < rows for n in flat))

    def blocks(entries) -> bool:
        return type(entries) is list and all(
            type(key) is tuple and len(key) == 4 and type(key[0]) is int
            and all(type(part) is str for part in key[1:]) and type(text) is str
            for key, text in entries)

    def strings(items) -> bool:
        return type(items) is list and all(type(item) is str for item in items)

    fine = (
        type(record.terms) is list and all(type(row) is str or _is_row(row) for row in record.terms)
        and type(record.study) is int and 0 <= record.study < rows and type(record.terms[record.study]) is str
        and type(record.base) is str
        and numbers(record.local_facts, triples=True) and numbers(record.shared_facts, triples=True)
        and numbers(record.knowledge, triples=True)
        and strings(record.concepts) and strings(record.prefixes)
        and type(record.annotations) is list and all(
            type(a) is list and len(a) == 5 and type(a[0]) is str and type(a[1]) is int
            and type(a[2]) is int and type(a[3]) is str and numbers(a[4], triples=False)
            for a in record.annotations)
        and blocks(record.local_blocks) and blocks(record.evidence)
        and _all_or_none(record, numbers, blocks, strings))
    if not fine:
        raise ValueError("not a packed record")
    return record


def _all_or_none(record: PackedRecord, numbers, blocks, strings) -> bool:
    inference = (record.own_inferred, record.shared_inferred, record.exposures, record.inferred_blocks,
                 record.inferred_prefixes)
    if all(part is None for part in inference):
        return True
    return (numbers(record.own_inferred, triples=True) and numbers(record.shared_inferred, triples=True)
            and strings(record.exposures) and blocks(record.inferred_blocks) and strings(record.inferred_prefixes))


def _is_row(row) -> bool:
    if type(row) is not list or not row:
        return False
    if row[0] == "l":
        return (len(row) == 4 and type(row[1]) is str and type(row[2]) in (str, type(None))
                and type(row[3]) in (str, type(None)))
    return row[0] == "b" and len(row) == 2 and type(row[1]) is str


class TermTable:
    """Rows → rdflib terms for a whole build, one object per distinct term (see bulk.py): the
    object of `seed` (a dict term → term) where it holds one, e.g. a compiled ontology's names."""

    def __init__(self, seed: dict | None = None) -> None:
        self._iris: dict[str, URIRef] = {}
        self._others: dict[tuple, object] = {}
        for term in (seed or {}).values():
            self.intern(term)

    def term(self, row):
        if type(row) is str:
            found = self._iris.get(row)
            if found is None:
                # What URIRef(row) makes, without checking the text again: it was a URIRef when
                # packed, and the check only ever logs a warning.
                found = self._iris[row] = str.__new__(URIRef, row)
            return found
        key = tuple(row)
        found = self._others.get(key)
        if found is None:
            if key[0] == "l":
                _, text, language, datatype = key
                found = Literal(text, lang=language, datatype=None if datatype is None else self.term(datatype))
            elif key[0] == "b" and len(key) == 2:
                found = BNode(key[1])
            else:
                raise ValueError(f"not a term row: {row!r}")
            self._others[key] = found
        return found

    def intern(self, term):
        """The one object that stands for `term` (a term made elsewhere, e.g. by the lexicon)."""
        if isinstance(term, URIRef):
            return self._iris.setdefault(str.__str__(term), term)
        return self._others.setdefault(_row(term), term)

    def unpack(self, record: PackedRecord) -> UnpackedRecord:
        terms = [self.term(row) for row in record.terms]
        study = terms[record.study]
        return UnpackedRecord(
            study=study,
            local_facts=_triples(terms, record.local_facts),
            shared_facts=_triples(terms, record.shared_facts),
            knowledge=_triples(terms, record.knowledge),
            own_inferred=None if record.own_inferred is None else _triples(terms, record.own_inferred),
            shared_inferred=None if record.shared_inferred is None else _triples(terms, record.shared_inferred),
            annotations=[Annotation(iri, study, start, end, exact, tuple(terms[body] for body in bodies))
                         for iri, start, end, exact, bodies in record.annotations])


class UnpackedRecord(NamedTuple):
    """The terms of a `PackedRecord`, as the build merges them."""

    study: URIRef
    local_facts: list[Triple]
    shared_facts: list[Triple]
    knowledge: list[Triple]
    own_inferred: list[Triple] | None
    shared_inferred: list[Triple] | None
    annotations: list[Annotation]


def _triples(terms: list, flat: list[int]) -> list[Triple]:
    each = iter([terms[number] for number in flat])
    return list(zip(each, each, each))
