"""A corpus cut into the parts the build hands to the page (commkg.pagestate.PagePart), for the
page-state tests and bench/bench_page_update.py. Not in the library: the build makes its own.

Each record is extracted as the build does it; the facts (with the lexicon's descriptions of the
concepts used) are reasoned over as one graph; then every triple goes to the record whose local
node (its study IRI, or an IRI under its record base) it mentions. Records that one triple
mentions together (a commentary and the article it discusses, through owl:sameAs or a resolved
comm:discusses) are one part. A triple that mentions no record's node is shared.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from rdflib import URIRef

from commkg.corpus import read_record
from commkg.errors import CommkgError
from commkg.extract import Extraction, extract_record
from commkg.lexicon import load_lexicon
from commkg.pagestate import PagePart


@cache
def _compiled():
    from commkg.build import _ontology
    from commkg.reason import compile_ontology

    return compile_ontology(_ontology())


def extract_corpus(paths: Iterable[Path]) -> list[Extraction]:
    """The extraction of each record the build would build (a record that cannot be read, or
    whose study IRI an earlier record already has, is left out as the build leaves it out)."""
    lexicon = load_lexicon()
    seen: set[str] = set()
    extractions = []
    for path in paths:
        try:
            extraction = extract_record(read_record(path), lexicon)
        except CommkgError:
            continue
        study = str(extraction.study)
        key = study.casefold() if study.startswith("https://doi.org/") else study
        if key in seen:
            continue
        seen.add(key)
        extractions.append(extraction)
    return extractions


@dataclass
class Corpus:
    """A corpus as the page sees it: the reference input (`triples`, `annotations`) and the same
    cut into parts."""

    triples: list[tuple]  # asserted facts and concept descriptions, then the inferred triples
    annotations: list
    parts: list[PagePart]
    shared: list[tuple]

    def by_study(self) -> dict[str, PagePart]:
        return {study: part for part in self.parts for study, _ in part.studies}


def corpus_of(extractions: Sequence[Extraction], *, reason: bool = True) -> Corpus:
    from commkg.reason import STUDY_LINKS, reason_triples

    lexicon = load_lexicon()
    facts = {t for e in extractions for t in e.facts}
    facts |= {t for e in extractions for key in e.concepts for t in lexicon.descriptions[key]}
    inferred = reason_triples(facts, _compiled(), exclude=STUDY_LINKS) if reason else set()
    # sorted: the same order under any hash seed (the page must not depend on it, and the tests
    # should not either)
    triples = sorted(facts, key=_order) + sorted(inferred, key=_order)
    annotations = [a for e in extractions for a in e.annotations]
    parts, shared = cut(triples, annotations, [(str(e.study), e.base) for e in extractions])
    return Corpus(triples, annotations, parts, shared)


def _order(triple):
    return tuple((type(term).__name__, str(term)) for term in triple)


def cut(triples: Iterable[tuple], annotations: Iterable, records: Sequence[tuple[str, str]]) -> tuple[list[PagePart], list[tuple]]:
    """(the parts, the shared triples): the decomposition the build guarantees (see the module
    docstring), each part's studies sorted, the parts in the order of their first study."""
    by_study = {study: k for k, (study, _) in enumerate(records)}
    by_base = {base: k for k, (_, base) in enumerate(records)}

    def owner(term) -> int | None:
        if type(term) is not URIRef:
            return None
        text = str(term)
        found = by_study.get(text)
        if found is not None:
            return found
        at = text.rfind("/")
        while at > 0:  # the longest base that holds it
            found = by_base.get(text[:at + 1])
            if found is not None:
                return found
            at = text.rfind("/", 0, at)
        return None

    parent = list(range(len(records)))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    owned, shared = [], []
    for triple in triples:
        s, o = owner(triple[0]), owner(triple[2])
        if s is None and o is None:
            shared.append(triple)
            continue
        if s is not None and o is not None and root(s) != root(o):
            parent[max(root(s), root(o))] = min(root(s), root(o))
        owned.append((s if s is not None else o, triple))
    groups: dict[int, tuple[list, list]] = {}
    for k in range(len(records)):
        groups.setdefault(root(k), ([], []))
    for k, triple in owned:
        groups[root(k)][0].append(triple)
    for annotation in annotations:
        groups[root(by_study[str(annotation.study)])][1].append(annotation)
    members: dict[int, list] = {}
    for k, record in enumerate(records):
        members.setdefault(root(k), []).append(record)
    parts = [PagePart(studies=tuple(sorted(members[r])), triples=groups[r][0], annotations=groups[r][1])
             for r in groups]
    parts.sort(key=lambda part: part.studies[0])
    return parts, shared
