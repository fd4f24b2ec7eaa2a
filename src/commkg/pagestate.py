"""The graph page kept up to date from a saved state, so that an incremental build (issue 5)
need not project every triple again (visual.project: seconds at 10,000 records, for a build
that may have changed one record).

The build hands the graph over cut into parts (`PagePart`: one record, or a commentary with
the articles it discusses, and every triple that mentions their own nodes) and the triples no
part owns (concept descriptions, journals, named organisations). Each part's share of the page
is worked out once, from its triples and the shared ones, and kept in a `PageState` as rows:

    part ──(its triples + the shared triples)──▶ its edges, the nodes it makes, its evidence
        quotes (rows of numbers), and a row of text per study
    every part's rows ──numpy──▶ which nodes exist, their numbering, edge labels, degrees,
        layout, quote numbering ──▶ page data ──visual.render_data──▶ HTML

An update drops the rows of the parts that changed, adds the new parts' rows, and redoes
everything global from all the rows: milliseconds at 10,000 records, where the projection took
seconds. The one global step too dear to redo is the study network (visual.study_links: each
study's strongest links), so the state keeps each study's top links and an update recomputes
only the rows a change can reach.

The page is byte for byte what visual.render_page makes of the same triples (the tests hold it
so). That rests on the build's guarantee that no triple mentions the nodes of two parts: then
a part's share depends on nothing but its own triples and the shared ones. Of the shared ones
it uses what a term stands for (a concept, or the type a named organisation folds into), node
labels and journal titles. Labels and titles are redone whenever new shared triples come; if
what a term stands for changes under a part that is kept, `update_page` raises StalePageState,
and the page must be made from scratch (`render_page_with_state`).

Why the state is JSON and not pickle: a state file in someone else's output folder must never
run code. It carries a digest and the tool's version, so that a damaged, foreign or older file
is refused (PageStateError, a ValueError) rather than half read. Its text reaches the page only
through visual's escaping (json_for_script), as the records' own text does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
import operator
import zlib
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from rdflib import BNode, Literal, URIRef

from commkg import __version__
from commkg.bulk import collector_paused
from commkg.errors import CommkgError
from commkg.evidence import Annotation
from commkg.visual import (
    _LABEL_BITS, AUTHORED_IN, KIND_KEYS, MAX_STUDY_LINKS, SPRING_LAYOUT_MAX_NODES, STUDY_EDGE_BUDGET,
    STUDY_VIEW_FROM, Node, _citation, discussions, _grouped, _Index, _is_iri, _jitter, _label_set, _P, _plain, _positions,
    _labels, _Reference, _Resolver, _study, assemble_page_data, relation_numbers, render_data, study_relations,
)

Triple = tuple
SHARED = 0  # the part number of what the shared triples make on their own (actor relations among shared nodes)

STATE_FORMAT = "commkg-page-state"
STATE_VERSION = 1


class PageStateError(CommkgError, ValueError):
    """A page state that cannot be used: damaged, not a page state, or made by another version."""


class StalePageState(PageStateError):
    """New shared triples change what a term stands for under a part that is kept: the parts
    that use it would need their triples again, so the page must be made from scratch."""


@dataclass(frozen=True)
class PagePart:
    """Records whose triples the build hands over together: usually one, or a commentary with
    the articles it discusses."""

    studies: tuple[tuple[str, str], ...]  # (study IRI, record base) of each record
    triples: Sequence[Triple]  # every triple (asserted or inferred, no evidence) mentioning a node of these records
    annotations: Sequence[Annotation]  # the evidence of these records


# ---------------------------------------------------------------------------- a part's share

class _Share(NamedTuple):
    """What some parts put into the page, as visual._project works it out (IRIs as text)."""

    studies: list[tuple]  # (study IRI, part, Node, Study with its discusses, _Reference, commentary label)
    # Rows of numbers (terms, quotes), the part last:
    edges: np.ndarray  # (from, to, label bits, part); parts may repeat an edge
    made: np.ndarray  # (node, part): every node an actor relation makes, edge or not
    evidence: np.ndarray  # (study, node, quote, part), each (study, node)'s quotes in order
    uses: np.ndarray  # (shared term that folds into other nodes, part that used it)
    nodes: dict[int, Node]  # the nodes made (not studies), by term
    local: set[int]  # those of them that are a part's own


class _Owner:
    """Which part a term is local to (SHARED for none): its study IRI, or under its record base."""

    def __init__(self, studies: dict[str, int], bases: dict[str, int]):
        self.studies, self.bases, self.known = studies, bases, {}

    def __call__(self, term) -> int:
        found = self.known.get(term)
        if found is None:
            found = self.known[term] = self._find(term)
        return found

    def _find(self, term) -> int:
        if not _is_iri(term):
            return SHARED
        if term in self.studies:
            return self.studies[term]
        at = term.rfind("/")
        while at > 0:  # the longest base that holds it
            part = self.bases.get(term[:at + 1])
            if part is not None:
                return part
            at = term.rfind("/", 0, at)
        return SHARED


def _shares(graph: _Index, parts: Sequence[PagePart], numbers: Sequence[int],
            shared_folds: Collection[str], terms: _Numbers, quotes: _Numbers) -> _Share:
    """The share of each of `parts` (numbered `numbers`) and of the shared triples alone (part
    SHARED), from the index of all their triples. The same steps as visual._project, each
    result noted with the part it comes from; evidence is kept for every node it could be about
    (a concept, or a shared term another part may make a node of) and sorted out when the page
    is made. Terms and quotes come out as numbers of `terms` and `quotes`."""
    listed: dict[str, int] = {}
    bases: dict[str, int] = {}
    for part, number in zip(parts, numbers):
        for study, base in part.studies:
            if _plain(study) in listed:
                raise ValueError(f"study {study} is in two parts")
            listed[_plain(study)] = number
            bases[_plain(base)] = number
    owner = _Owner(listed, bases)
    study_iris = sorted({s for s, _ in graph.pairs(_P.source_file) if _is_iri(s)})
    for study in study_iris:
        if study not in listed:
            raise ValueError(f"{study} has a comm:sourceFile but is not one of the parts' studies")
    study_set = set(study_iris)
    nodes: dict[str, Node] = {}
    studies = []
    for study in study_iris:
        node, info, reference, label = _study(graph, study)
        nodes[study] = node
        studies.append([study, listed[study], node, info, reference, label])

    folds = _folds(graph)  # actor → its organisation types and roles
    resolver = _Resolver(graph, nodes, folds)
    stands_for, actor_node = resolver.stands_for, resolver.actor_node
    uses: set[tuple[str, int]] = set()

    # As visual._project, noting which part uses which shared term.
    seen: set[tuple[str, str]] = set()
    relations = study_relations(graph, study_set, resolver, watched=shared_folds, seen=seen)
    uses.update((term, listed[study]) for term, study in seen)
    bits = _LABEL_BITS
    between: dict[tuple[int, str, str], int] = {}
    made_by: set[tuple[str, int]] = set()
    for predicate, (label, reverse, symmetric) in _P.actor_relations.items():
        bit = bits[label]
        for a, b in graph.pairs(predicate):
            xs = actor_node(a)
            if not xs:  # visual._project makes b's nodes inside the loop over a's
                continue
            ys = actor_node(b)
            part = owner(a) or owner(b)
            for term in (a, b):
                if term in shared_folds:
                    uses.add((term, part))
            made_by.update((n, part) for n in xs)
            made_by.update((n, part) for n in ys)
            for x in xs:
                for y in ys:
                    if reverse:
                        x, y = y, x
                    if symmetric and y < x:
                        x, y = y, x
                    if x != y:
                        key = (part, x, y)
                        between[key] = between.get(key, 0) | bit

    discusses = discussions(graph, study_set, relations)
    for row in studies:
        items = discusses.get(row[0])
        if items:
            row[3] = row[3]._replace(discusses=tuple(sorted(items)))

    # What each annotation body can stand for: what stands_for gives (a concept, what an actor
    # folds into); else the body itself if it is a node here, or if it is a shared term that
    # another part may make an actor node of. The page keeps those that are nodes.
    about: dict[str, tuple[str, ...]] = {}
    found: dict[tuple[str, str], set[tuple[int, str]] | tuple[int, str]] = {}
    base_of = {_plain(study): _plain(base) for part in parts for study, base in part.studies}
    about_get, setdefault, plain = about.get, found.setdefault, _plain
    last, study, known, base = None, "", False, ""
    for part_annotations in (part.annotations for part in parts):
        for _, record, start, _, exact, bodies in part_annotations:
            if record is not last:
                last, study = record, plain(record)
                known = study in study_set
                base = base_of.get(study) or "\x00"  # (no IRI starts with it)
            if not known or not exact:
                continue
            quote = (start, exact)
            for body in bodies:
                body = plain(body)
                can = about_get(body)
                if can is None:
                    # (most bodies that stand for nothing are the record's own: under its base)
                    can = about[body] = () if body in study_set else (body,) if body in nodes else (stands_for(body) or (
                        (body,) if _is_iri(body) and not body.startswith(base) and owner(body) == SHARED else ()))
                if body in shared_folds:
                    uses.add((body, listed[study]))
                for node in can:
                    held = setdefault((node, study), quote)
                    if held is not quote and held != quote:
                        if type(held) is tuple:
                            found[node, study] = held = {held}
                        held.add(quote)
    quoted_in, quoted_node, quoted = [], [], []
    for (node, study), held in found.items():
        if type(held) is tuple:
            quoted_in.append(study)
            quoted_node.append(node)
            quoted.append(held[1])
        else:
            for q in dict.fromkeys(q for _, q in sorted(held)):
                quoted_in.append(study)
                quoted_node.append(node)
                quoted.append(q)

    # As rows of numbers: a quarter of a million edges and quotes at 10,000 records.
    for study in study_iris:
        terms(study)
    study_term = np.zeros(len(terms), dtype=np.int64)  # each study's part, by term
    study_term[terms.ids(study_iris)] = [listed[s] for s in study_iris]
    from_study = list(relations)
    sources = terms.ids([s for s, _ in from_study])  # (not zip(*…): a call of 170,000 arguments is slow)
    edges = np.column_stack([sources, terms.ids([t for _, t in from_study]),
                             np.fromiter(relations.values(), np.int64, len(relations)),
                             study_term[sources]]).reshape(-1, 4)
    edges = np.concatenate([edges, _table([(terms(x), terms(y), mask, part) for (part, x, y), mask in between.items()], 4)])
    studied = terms.ids(quoted_in)
    evidence = np.column_stack([studied, terms.ids(quoted_node), quotes.ids(quoted), study_term[studied]]).reshape(-1, 4)
    made_nodes = {terms(n): node for n, node in nodes.items() if n not in study_set}
    return _Share(studies=studies, edges=edges, made=_table([(terms(n), part) for n, part in sorted(made_by)], 2),
                  evidence=evidence, uses=_table([(terms(t), part) for t, part in sorted(uses)], 2),
                  nodes=made_nodes, local={terms(n) for n, node in nodes.items()
                                           if n not in study_set and owner(n) != SHARED})


def _table(rows: list, width: int) -> np.ndarray:
    return np.array(rows, dtype=np.int64).reshape(-1, width)


class _Numbers(dict):
    """Text → number, a new text numbered as it comes: the dict's order is the numbers' order."""

    def __call__(self, text: str) -> int:
        return self.setdefault(text, len(self))

    def ids(self, texts: Sequence[str]) -> np.ndarray:
        for text in dict.fromkeys(texts):  # each new one once, in the order met
            if text not in self:
                self[text] = len(self)
        return np.fromiter(map(self.__getitem__, texts), dtype=np.int64, count=len(texts))


def _folds(graph: _Index) -> dict[str, set]:
    folds: dict[str, set] = defaultdict(set)
    for predicate in (_P.has_organisation_type, _P.has_role):
        for actor, what in graph.pairs(predicate):
            folds[actor].add(what)
    return folds


class _SharedView:
    """The shared triples on their own: what a shared term stands for, what its node says and a
    journal's title, untouched by any part's triples."""

    def __init__(self, triples: Iterable[Triple]):
        self.graph = _Index(triples, evidence=False)
        self.folds = _folds(self.graph)
        self.resolver = _Resolver(self.graph, {}, self.folds)

    def stands_for(self, term: str) -> tuple[str, ...]:
        return self.resolver.stands_for(term)

    def node(self, term: str) -> Node:
        """The node visual makes of a shared term: a concept, or else an actor of its own."""
        self.stands_for(term)  # makes the node of a concept
        node = self.resolver.nodes.get(term)
        if node is None:
            en, zh = _labels(self.graph, term)
            node = Node(term, "actor", en, zh)
        return node

    def journal_title(self, journal: str) -> str:
        return self.graph.first(journal, _P.title)


# ---------------------------------------------------------------------------------- the state

# The text the state keeps of each study (visual.Node and visual.Study), a list per column:
#   en        the label on the canvas;  search  what the search box matches
#   title, citation, doi, file, document_type   as in visual.Study
#   journal   the title of the journal the citation was made with
#   label     a commentary's label from the work it discusses, "" if none
#   samples   [sample size label, …];  discusses  [[study IRI or "", title of a work not in the graph], …]
#   cite      the _Reference but its journal: [authors, year, volume, issue, pages, family]
_TEXT = ("en", "search", "title", "citation", "doi", "file", "document_type", "journal", "label")
_COLUMNS = _TEXT + ("samples", "discusses", "cite")


class PageState:
    """What the page of a set of parts is made from (see the module docstring). Made by
    render_page_with_state and update_page, saved by dumps and read by loads; never changed in
    place. Term numbers index `iris`, which is sorted, so numbers sort as IRIs do."""

    def __init__(self, *, title: str, iris: list[str], shared: tuple, listed: np.ndarray, parts: np.ndarray,
                 next_part: int, study: np.ndarray, study_part: np.ndarray, jitter: np.ndarray,
                 text: dict[str, list], journal: np.ndarray, edges: np.ndarray, made: np.ndarray,
                 evidence: np.ndarray, uses: np.ndarray, quotes: list[str], nodes: dict[int, tuple],
                 local: np.ndarray, signatures: dict[int, tuple[int, ...]], k: int, partners: np.ndarray,
                 counts: np.ndarray):
        self.title = title
        self.iris = iris  # every term the rows name, sorted
        self.shared = shared  # the shared triples (rdflib terms)
        self.listed, self.parts = listed, parts  # each study a part lists (term), and its part
        self.next_part = next_part
        # One entry per study of the page, by term number (so in page order):
        self.study, self.study_part, self.jitter = study, study_part, jitter
        self.text = text  # column → one value per study (_COLUMNS)
        self.journal = journal  # the term of the journal its citation names, -1 for none
        # Rows of the parts, the part last: (from, to, label bits), (node,), (study, node, quote), (term,)
        self.edges, self.made, self.evidence, self.uses = edges, made, evidence, uses
        self.quotes = quotes
        self.nodes = nodes  # node term → (kind, en, zh, search) for every node the rows name
        self.local = local  # the terms of those that are local to a part (sorted)
        self.signatures = signatures  # shared term → the terms it stands for, when the page was made
        # Each study's strongest links: k of them (fewer where it has fewer), by term, -1 where none
        self.k, self.partners, self.counts = k, partners, counts
        self._graph = None  # _graph(self), worked out once

    def __len__(self) -> int:
        """The number of studies on the page."""
        return len(self.study)

    def dumps(self) -> str:
        return _dumps(self)

    @classmethod
    def loads(cls, text: str) -> PageState:
        with collector_paused():  # a hundred thousand strings: no collection needs to walk them
            return _loads(text)


def _empty(title: str) -> PageState:
    none = np.zeros(0, dtype=np.int64)
    return PageState(title=title, iris=[], shared=(), listed=none, parts=none, next_part=SHARED + 1,
                     study=none, study_part=none, jitter=np.zeros((0, 2)), text={name: [] for name in _COLUMNS}, journal=none,
                     edges=np.zeros((0, 4), dtype=np.int64), made=np.zeros((0, 2), dtype=np.int64),
                     evidence=np.zeros((0, 4), dtype=np.int64), uses=np.zeros((0, 2), dtype=np.int64),
                     quotes=[], nodes={}, local=none, signatures={}, k=0,
                     partners=np.zeros((0, 0), dtype=np.int64), counts=np.zeros((0, 0), dtype=np.int64))


# ------------------------------------------------------------------------------------- the API

class PageIndex:
    """The one pass over the triples that most of a page's time goes to (visual._Index), made
    apart so that a build can make it as the triples come, before it has cut them into parts:
    the asserted ones while it reasons, then the inferred ones (see render_page_with_state)."""

    def __init__(self, triples: Iterable[Triple]):
        with collector_paused():
            self._index = _Index(triples, evidence=False)


def render_page_with_state(parts: Sequence[PagePart], shared: Iterable[Triple], *, title: str = "commkg",
                           index: PageIndex | None = None) -> tuple[str, PageState]:
    """The page of every part's triples and the shared ones, with their evidence: the same as
    visual.render_page(all those triples, annotations=all the parts' annotations, title=title),
    and the state that `update_page` updates it from.

    With `index`, a PageIndex of exactly those triples (the shared ones and every part's, in
    any order), the parts' `triples` are not read again; the index serves that one page."""
    with collector_paused():
        graph = None
        if index is not None:
            if index._index is None:
                raise ValueError("a PageIndex makes one page")
            graph, index._index = index._index, None
        new = _update(_empty(title), set(), list(parts), tuple(shared), title, index=graph)
        del graph
        return _page(new), new


def update_page(state: PageState, *, removed: Iterable[str], added: Sequence[PagePart],
                shared: Iterable[Triple] | None, title: str | None = None) -> tuple[str, PageState]:
    """The page once the parts of the studies `removed` are gone and the parts `added` are in,
    with the new `shared` triples (None: unchanged), and its state: the same page as
    render_page_with_state of the new set of parts. `removed` names every study of each part
    that changed or went (a replaced part is removed, then added again).

    Raises ValueError when `removed` leaves half a part or names a study not in the state, or
    when an added part's study is already in; StalePageState when the new shared triples change
    what a term that a kept part uses stands for."""
    with collector_paused():
        new = _update(state, set(map(_plain, removed)), list(added), None if shared is None else tuple(shared),
                      state.title if title is None else title)
        return _page(new), new


# ---------------------------------------------------------------------------------- updating

def _update(state: PageState, removed: set[str], added: list[PagePart], shared: tuple | None,
            title: str, index: _Index | None = None) -> PageState:
    terms = _Numbers((iri, i) for i, iri in enumerate(state.iris))  # new ones come last; _compact sorts
    iris = state.iris
    term = terms

    # The parts that go: every study of each must be named.
    part_of = dict(zip((iris[t] for t in state.listed.tolist()), state.parts.tolist()))
    unknown = sorted(removed - part_of.keys())
    if unknown:
        raise ValueError(f"removed study {unknown[0]} is not on the page")
    gone = {part_of[s] for s in removed}
    half = sorted(s for s, part in part_of.items() if part in gone and s not in removed)
    if half:
        raise ValueError(f"study {half[0]} would be left without the rest of its part; "
                         "name every study of a part that changed")
    for part in added:
        for study, _ in part.studies:
            if _plain(study) in part_of and _plain(study) not in removed:
                raise ValueError(f"added study {study} is already on the page; remove its part first")

    shared_triples = state.shared if shared is None else shared
    view = _SharedView(shared_triples)
    numbers = list(range(state.next_part, state.next_part + len(added)))
    quotes = _Numbers((q, i) for i, q in enumerate(state.quotes))
    if index is None:
        index = _Index(itertools.chain(shared_triples, *(part.triples for part in added)), evidence=False)
    share = _shares(index, added, numbers, set(view.folds), terms, quotes)
    del index

    # Rows kept: those of the parts that stay; the shared triples' own rows are always redone.
    drop = np.array(sorted(gone | {SHARED}), dtype=np.int64)

    def kept(table: np.ndarray) -> np.ndarray:
        return table[~np.isin(table[:, -1], drop)]

    old_edges, old_made, old_evidence, old_uses = (kept(t) for t in (state.edges, state.made, state.evidence, state.uses))
    edges = np.concatenate([old_edges, share.edges])
    made = np.concatenate([old_made, share.made])
    evidence = np.concatenate([old_evidence, share.evidence])
    uses = np.concatenate([old_uses, share.uses])

    listed_kept = ~np.isin(state.parts, drop)
    listed = np.concatenate([state.listed[listed_kept],
                             np.array([term(_plain(s)) for part in added for s, _ in part.studies], dtype=np.int64)])
    parts = np.concatenate([state.parts[listed_kept],
                            np.array([n for part, n in zip(added, numbers) for _ in part.studies], dtype=np.int64)])

    # Studies: the kept ones' rows, then the new ones'.
    study_kept = ~np.isin(state.study_part, drop)
    keep_rows = study_kept.tolist()
    text = {name: list(itertools.compress(column, keep_rows)) for name, column in state.text.items()}
    fresh = np.zeros(int(study_kept.sum()) + len(share.studies), dtype=bool)
    fresh[int(study_kept.sum()):] = True
    _add_studies(text, share.studies)
    study = np.concatenate([state.study[study_kept], np.array([term(s) for s, *_ in share.studies], dtype=np.int64)])
    study_part = np.concatenate([state.study_part[study_kept],
                                 np.array([part for _, part, *_ in share.studies], dtype=np.int64)])
    journal = np.concatenate([state.journal[study_kept], np.array(
        [term(r.journal_iri) if r.journal_iri else -1 for *_, r, _ in share.studies], dtype=np.int64)])
    jitter = np.concatenate([state.jitter[study_kept], _jitter([s for s, *_ in share.studies])])
    # The kept studies' links, a link to a study gone or redone marked -2.
    partners, counts = state.partners[study_kept], state.counts[study_kept]
    partners = np.where(np.isin(partners, state.study[~study_kept]), -2, partners)

    # Nodes: what the new parts say of theirs; what the shared triples say of shared ones.
    iris = list(terms)
    nodes = dict(state.nodes)
    local = set(state.local.tolist())
    for t, node in share.nodes.items():
        nodes[t] = (node.kind, node.en, node.zh, node.search)
    local.update(share.local)
    signatures = dict(state.signatures)
    if shared is not None:
        # What a kept part uses must stand for the same; labels and journal titles are redone.
        for t in _named(old_edges, old_made, old_evidence, old_uses):
            if t in signatures:
                if tuple(term(x) for x in view.stands_for(iris[t])) != signatures[t]:
                    raise StalePageState(f"the new shared triples change what {iris[t]} stands for; "
                                         "make the page from scratch")
        signatures = {}
        for t in list(nodes):
            if t not in local:
                nodes[t] = tuple(view.node(iris[t]))[1:5]
        titles: dict[int, str] = {}
        for at, j in enumerate(journal.tolist()):
            if j >= 0 and not fresh[at]:
                if j not in titles:
                    titles[j] = view.journal_title(iris[j])
                if titles[j] != text["journal"][at]:
                    _recite(text, at, titles[j])
    # What every shared term the rows name stands for, for the check above next time.
    studies = set(study.tolist())
    for t in _named(edges, made, evidence, uses):
        if t not in signatures and t not in local and t not in studies:
            signatures[t] = tuple(term(x) for x in view.stands_for(iris[t]))

    iris = list(terms)
    state = PageState(title=title, iris=iris, shared=tuple(shared_triples), listed=listed, parts=parts,
                      next_part=state.next_part + len(added), study=study, study_part=study_part,
                      jitter=jitter, text=text, journal=journal, edges=edges, made=made, evidence=evidence,
                      uses=uses, quotes=list(quotes), nodes=nodes, local=np.array(sorted(local), dtype=np.int64),
                      signatures=signatures, k=state.k, partners=partners, counts=counts)
    state, fresh = _compact(state, fresh)
    return _relink(state, fresh)


def _named(edges: np.ndarray, made: np.ndarray, evidence: np.ndarray, uses: np.ndarray) -> list[int]:
    """The terms these rows name as nodes (or as terms a part resolved)."""
    return _distinct(edges[:, 0], edges[:, 1], made[:, 0], evidence[:, 1], uses[:, 0]).tolist()


def _distinct(*columns: np.ndarray) -> np.ndarray:
    """The distinct non-negative numbers of the columns, ascending (without sorting them)."""
    top = max((int(c.max()) + 1 for c in columns if c.size), default=0)
    seen = np.zeros(top, dtype=bool)
    for column in columns:
        seen[column[column >= 0]] = True
    return np.flatnonzero(seen)


def _add_studies(text: dict[str, list], studies: list) -> None:
    """Append the rows of _shares's studies to the columns."""
    nodes = [row[2] for row in studies]
    infos = [row[3] for row in studies]
    references = [row[4] for row in studies]
    for name, values in (
            ("en", [n.en for n in nodes]), ("search", [n.search for n in nodes]),
            ("title", [i.title for i in infos]), ("citation", [i.citation for i in infos]),
            ("doi", [i.doi for i in infos]), ("file", [i.file for i in infos]),
            ("document_type", [i.document_type for i in infos]), ("journal", [r.journal for r in references]),
            ("label", [row[5] for row in studies]), ("samples", [list(i.samples) for i in infos]),
            ("discusses", [[list(item) for item in i.discusses] for i in infos]),
            ("cite", [[r.authors, r.year, r.volume, r.issue, r.pages, r.family] for r in references])):
        text[name].extend(values)


def _recite(text: dict[str, list], at: int, journal: str) -> None:
    """Study `at`'s citation made again with its journal's new title."""
    authors, year, volume, issue, pages, family = text["cite"][at]
    reference = _Reference(authors, year, journal, "", volume, issue, pages, family)
    citation, short = _citation(reference, title=text["title"][at], doi=text["doi"][at], file=text["file"][at])
    text["citation"][at], text["en"][at], text["journal"][at] = citation, text["label"][at] or short, journal


def _compact(state: PageState, fresh: np.ndarray) -> tuple[PageState, np.ndarray]:
    """The state with only the terms and quotes its rows name, the terms renumbered in IRI
    order and the studies in that order (page order); `fresh` in the same order."""
    iris = state.iris
    used = set(_distinct(state.listed, state.study, state.journal, state.edges[:, 0], state.edges[:, 1],
                         state.made[:, 0], state.evidence[:, 0], state.evidence[:, 1], state.uses[:, 0],
                         state.partners.ravel()).tolist())
    nodes = {t: v for t, v in state.nodes.items() if t in used}
    signatures = {t: v for t, v in state.signatures.items() if t in used}
    used.update(x for v in signatures.values() for x in v)
    order = sorted(used, key=iris.__getitem__)
    renumber = np.full(len(iris), -1, dtype=np.int64)
    renumber[np.array(order, dtype=np.int64)] = np.arange(len(order))

    def re(a: np.ndarray) -> np.ndarray:  # -1 (none) and -2 (a link to redo) stay as they are
        return np.where(a >= 0, renumber[np.maximum(a, 0)], a)

    def re_columns(rows: np.ndarray, columns: int) -> np.ndarray:
        rows = rows.copy()
        rows[:, :columns] = renumber[rows[:, :columns]]
        return rows

    quotes_used = _distinct(state.evidence[:, 2])
    quote_renumber = np.zeros(len(state.quotes), dtype=np.int64)
    quote_renumber[quotes_used] = np.arange(len(quotes_used))
    evidence = re_columns(state.evidence, 2)
    evidence[:, 2] = quote_renumber[evidence[:, 2]]
    local = renumber[state.local]

    study = renumber[state.study]
    by_iri = np.argsort(study, kind="stable")
    # The kept studies' links stay in their (already IRI) order: those rows are the kept
    # studies', which keep their order among themselves.
    compacted = PageState(
        title=state.title, iris=[iris[t] for t in order], shared=state.shared, listed=renumber[state.listed],
        parts=state.parts, next_part=state.next_part, study=study[by_iri], study_part=state.study_part[by_iri],
        jitter=state.jitter[by_iri], text=_reordered(state.text, by_iri), journal=re(state.journal)[by_iri],
        edges=re_columns(state.edges, 2), made=re_columns(state.made, 1), evidence=evidence,
        uses=re_columns(state.uses, 1), quotes=[state.quotes[q] for q in quotes_used.tolist()],
        nodes={int(renumber[t]): v for t, v in nodes.items()}, local=np.sort(local[local >= 0]),
        signatures={int(renumber[t]): tuple(int(renumber[x]) for x in v) for t, v in signatures.items()},
        k=state.k, partners=re(state.partners), counts=state.counts)
    return compacted, fresh[by_iri]


def _reordered(text: dict[str, list], order: np.ndarray) -> dict[str, list]:
    if len(order) < 2:
        return {name: [column[k] for k in order.tolist()] for name, column in text.items()}
    pick = operator.itemgetter(*order.tolist())
    return {name: list(pick(column)) for name, column in text.items()}


# ------------------------------------------------------------------------------ study network

def _max_links(studies: int) -> int:
    """How many links each study keeps: visual.study_links's default, and no more than the
    other studies."""
    return min(max(1, min(MAX_STUDY_LINKS, STUDY_EDGE_BUDGET // max(studies, 1))), max(studies - 1, 0))


def _named_matrix(state: PageState) -> np.ndarray:
    """Studies × the nodes each links to but as where its authors work (visual.shared_concepts),
    0 or 1 in float32: the products run in BLAS, and count exactly below 2**24."""
    graph = _graph(state)
    first = graph.first
    chosen = (graph.source >= first) & (graph.target < first) & (graph.masks != _LABEL_BITS[AUTHORED_IN])
    matrix = np.zeros((len(state.study), first), dtype=np.float32)
    matrix[graph.source[chosen] - first, graph.target[chosen]] = 1
    return matrix[:, matrix.any(axis=0)] if first else matrix


def _relink(state: PageState, fresh: np.ndarray) -> PageState:
    """The state with each study's strongest links brought up to date: from scratch when a
    study may keep more of them than before, else only for the rows a change can reach.

    A kept study's links change only if one of them went to a study gone or redone (then its
    row is redone), or if a new study beats its weakest (merged in). A new study's row is done."""
    n = len(state.study)
    k = _max_links(n)
    matrix = _named_matrix(state)
    if k == 0 or not matrix.shape[1]:
        return _with_links(state, k, np.full((n, k), -1, dtype=np.int64), np.zeros((n, k), dtype=np.int64))
    if k > state.k:
        top, top_counts = _top_links(matrix, np.arange(n), k)
        return _with_links(state, k, _terms(state, top), top_counts)
    kept = np.flatnonzero(~fresh)  # the rows of state.partners, in order
    position = np.full(len(state.iris), -1, dtype=np.int64)
    position[state.study] = np.arange(n)
    old = state.partners[:, :k]
    old = np.where(old >= 0, position[np.maximum(old, 0)], old)
    dirty = fresh.copy()
    dirty[kept[(old == -2).any(axis=1)]] = True
    clean = ~dirty[kept]
    rows = kept[clean]
    top = np.full((n, k), -1, dtype=np.int64)
    top_counts = np.zeros((n, k), dtype=np.int64)
    top[rows], top_counts[rows] = old[clean], state.counts[clean, :k]
    new = np.flatnonzero(fresh)
    if len(new) and len(rows):
        with_new = np.rint(matrix[rows] @ matrix[new].T).astype(np.int64)
        touched = with_new.any(axis=1)
        rows, with_new = rows[touched], with_new[touched]
        if len(rows):
            candidates = np.concatenate([top[rows], np.broadcast_to(new, with_new.shape)], axis=1)
            shared = np.concatenate([top_counts[rows], with_new], axis=1)
            valid = (candidates >= 0) & (shared > 0)
            # most shared first, then the study that sorts first (as argmax finds them)
            rank = np.where(valid, shared * (n + 1) + (n - candidates), -1)
            best = np.argsort(-rank, axis=1, kind="stable")[:, :k]
            picked = np.take_along_axis(valid, best, axis=1)
            top[rows] = np.where(picked, np.take_along_axis(candidates, best, axis=1), -1)
            top_counts[rows] = np.where(picked, np.take_along_axis(shared, best, axis=1), 0)
    redo = np.flatnonzero(dirty)
    if len(redo):
        top[redo], top_counts[redo] = _top_links(matrix, redo, k)
    return _with_links(state, k, _terms(state, top), top_counts)


def _terms(state: PageState, positions: np.ndarray) -> np.ndarray:
    return np.where(positions >= 0, state.study[np.maximum(positions, 0)], -1)


def _with_links(state: PageState, k: int, partners: np.ndarray, counts: np.ndarray) -> PageState:
    state.k, state.partners, state.counts = k, partners, counts  # a state just made, not yet handed out
    return state


def _top_links(matrix: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """For each study of `rows` (positions), its k strongest links as visual.study_links finds
    them (most concepts shared; ties to the study that sorts first; none that shares nothing):
    the partners' positions (-1 where fewer) and their counts."""
    n = matrix.shape[0]
    top = np.full((len(rows), k), -1, dtype=np.int64)
    top_counts = np.zeros((len(rows), k), dtype=np.int64)
    block = max(1, 4_000_000 // max(n, 1))
    every = len(rows) == n
    for start in range(0, len(rows), block):
        these = rows[start:start + block]
        counts = (matrix[start:start + block] if every else matrix[these]) @ matrix.T
        here = np.arange(len(these))
        counts[here, these] = -1  # not linked to itself
        for rank in range(k):
            best = counts.argmax(axis=1)
            value = counts[here, best]
            linked = value > 0
            top[start + here[linked], rank] = best[linked]
            top_counts[start + here[linked], rank] = np.rint(value[linked]).astype(np.int64)
            counts[here, best] = -1
    return top, top_counts


# ------------------------------------------------------------------------------------ the page

class _Graph(NamedTuple):
    """The full graph in page order: the concepts (every node but the studies), then the
    studies, each sorted by IRI (so by term); each edge once, sorted by its two numbers."""

    order: np.ndarray  # the term of each node
    first: int  # the number of the first study
    index: np.ndarray  # term → its number, -1 for a term that is no node
    source: np.ndarray
    target: np.ndarray
    masks: np.ndarray  # each edge's label bits: parts that make the same edge add theirs


def _graph(state: PageState) -> _Graph:
    if state._graph is not None:
        return state._graph
    edges, terms = state.edges, len(state.iris)
    is_study = np.zeros(terms, dtype=bool)
    is_study[state.study] = True
    present = np.zeros(terms, dtype=bool)
    for column in (edges[:, 0], edges[:, 1], state.made[:, 0]):
        present[column] = True
    concepts = np.flatnonzero(present & ~is_study)
    order = np.concatenate([concepts, state.study])
    index = np.full(terms, -1, dtype=np.int64)
    index[order] = np.arange(len(order))
    keys = index[edges[:, 0]] * max(len(order), 1) + index[edges[:, 1]]
    by_number = np.argsort(keys, kind="stable")
    keys, masks = keys[by_number], edges[by_number, 2]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.zeros(0, dtype=np.int64)
    masks = np.bitwise_or.reduceat(masks, starts) if len(keys) else masks
    keys = keys[starts]
    state._graph = _Graph(order, len(concepts), index, keys // max(len(order), 1), keys % max(len(order), 1), masks)
    return state._graph


def _page(state: PageState) -> str:
    return render_data(_page_data(state))


def _page_data(state: PageState) -> dict:
    """visual.page_data's output for the state (the same values, through visual.assemble_page_data)."""
    iris = state.iris
    graph = _graph(state)
    first, index, source, target, masks = graph.first, graph.index, graph.source, graph.target, graph.masks
    concepts = graph.order[:first]
    size = len(graph.order)
    order = [iris[t] for t in graph.order.tolist()]

    small = 2 < size <= SPRING_LAYOUT_MAX_NODES
    positions = _positions(
        order, first, source, target, jitter=state.jitter,
        edges=lambda: sorted((order[a], order[b]) for a, b in zip(source.tolist(), target.tolist())),
        index={iri: i for i, iri in enumerate(order)} if small else {})
    degree = np.bincount(target[source >= first], minlength=size)[:first]

    label_sets = {mask: _label_set(mask) for mask in np.unique(masks).tolist()}
    relations, relation_sets, set_index = relation_numbers(set(label_sets.values()))
    mask_set = {mask: set_index[labels] for mask, labels in label_sets.items()}
    edges = _grouped(source, np.column_stack([target, [mask_set[m] for m in masks.tolist()]]).astype(np.int64)
                     if len(masks) else np.zeros((0, 2), dtype=np.int64))

    concept_nodes = [state.nodes[t] for t in concepts.tolist()]
    text = state.text

    # Evidence: the rows about nodes of the page, by study and node, each (study, node)'s
    # quotes as they come; quotes numbered as first met in that order.
    evidence = state.evidence
    node_at, study_at = index[evidence[:, 1]], index[evidence[:, 0]]
    shown = (node_at >= 0) & (node_at < first) & (study_at >= first)
    node_at, study_at, quoted = node_at[shown], study_at[shown], evidence[shown, 2]
    by_number = np.argsort(study_at * max(size, 1) + node_at, kind="stable")
    quoted = quoted[by_number]
    first_met = np.full(len(state.quotes), len(quoted), dtype=np.int64)
    np.minimum.at(first_met, quoted, np.arange(len(quoted)))
    met = np.flatnonzero(first_met < len(quoted))
    quote_order = met[np.argsort(first_met[met], kind="stable")]
    quote_number = np.zeros(len(state.quotes), dtype=np.int64)
    quote_number[quote_order] = np.arange(len(quote_order))
    evidence_rows = np.column_stack([study_at[by_number], node_at[by_number], quote_number[quoted]]).reshape(-1, 3)
    evidence_flat = _grouped(evidence_rows[:, 0], evidence_rows[:, 1:])

    links = _study_edges(state, first)
    kind_index = {key: i for i, key in enumerate(KIND_KEYS)}
    document_types = sorted(set(text["document_type"]))
    type_index = {t: i for i, t in enumerate(document_types)}
    study_index = {iris[t]: first + i for i, t in enumerate(state.study.tolist())}
    commentary = kind_index["commentary"]
    study_kind = kind_index["study"]
    return assemble_page_data(
        title=state.title, view="studies" if len(state.study) >= STUDY_VIEW_FROM else "full", focus=-1,
        relations=relations, relation_sets=relation_sets, first_study=first, document_types=document_types,
        iri=order, kind=[kind_index[node[0]] for node in concept_nodes]
        + [commentary if t == "Commentary" else study_kind for t in text["document_type"]],
        en=[node[1] for node in concept_nodes] + text["en"], positions=positions,
        zh=[node[2] for node in concept_nodes], degree=degree, search=[node[3] for node in concept_nodes],
        study_title=text["title"], citation=text["citation"], doi=text["doi"], file=text["file"],
        document_type=[type_index[t] for t in text["document_type"]], samples=text["samples"],
        discusses=[[[study_index.get(target, -1), title] for target, title in items
                    if not target or target in study_index] for items in text["discusses"]],
        edges=edges, study_edges=links, quotes=[state.quotes[q] for q in quote_order.tolist()],
        evidence=evidence_flat)


def _study_edges(state: PageState, first: int) -> list[int]:
    """(study a, study b, concepts shared), a < b, sorted, flat: a link stays where either end keeps it."""
    n, k = state.partners.shape if state.partners.size else (len(state.study), 0)
    if not k:
        return []
    position = np.searchsorted(state.study, np.maximum(state.partners, 0))
    me = np.broadcast_to(np.arange(n)[:, None], (n, k))
    linked = state.partners >= 0
    a, b, c = me[linked], position[linked], state.counts[linked]
    low, high = np.minimum(a, b), np.maximum(a, b)
    keys, at = np.unique(low * n + high, return_index=True)
    rows = np.column_stack([low[at] + first, high[at] + first, c[at]])
    return rows.ravel().tolist()


# ---------------------------------------------------------------------------------- the file

# The text starts with this, then the digest, then the state: the digest is checked on the
# state's exact text before it is parsed.
_HEADER = '{"format":"%s","version":%d,"commkg":%s,"sha256":"' % (STATE_FORMAT, STATE_VERSION, json.dumps(__version__))
_TABLES = {"edges": 4, "made": 2, "evidence": 4, "uses": 2}  # columns of each table of rows


def _ints(array: np.ndarray) -> str:
    """Whole numbers (a table column by column) as int32, compressed, in base64: a few bytes a
    row, where a JSON list takes ten and parses a hundred times slower."""
    array = np.asarray(array, dtype=np.int64)
    array = np.ascontiguousarray(array.T if array.ndim == 2 else array).ravel()
    if len(array) and (array.min() < -2**31 or array.max() >= 2**31):
        raise PageStateError("a number in the page state does not fit in 32 bits")
    return base64.b64encode(zlib.compress(array.astype("<i4").tobytes(), 1)).decode("ascii")


def _from_ints(text: str, columns: int = 0) -> np.ndarray:
    """_ints read back: a flat array, or a table of `columns` columns."""
    raw = zlib.decompress(base64.b64decode(text.encode("ascii"), validate=True))
    if len(raw) % (4 * max(columns, 1)):
        raise PageStateError("the page state is damaged: a table of the wrong size")
    array = np.frombuffer(raw, dtype="<i4").astype(np.int64)
    return array.reshape(columns, -1).T.copy() if columns else array


def _term_json(term) -> list:
    if isinstance(term, Literal):
        return ["l", str(term), term.language, None if term.datatype is None else str(term.datatype)]
    if isinstance(term, BNode):
        return ["b", str(term)]
    return ["u", str(term)]


def _dumps(state: PageState) -> str:
    nodes = sorted(state.nodes.items())
    body = {
        "title": state.title,
        "iris": state.iris,
        "shared": [[_term_json(t) for t in triple] for triple in state.shared],
        "nextPart": state.next_part,
        "listed": _ints(state.listed),
        "parts": _ints(state.parts),
        "study": _ints(state.study),
        "studyPart": _ints(state.study_part),
        "jitter": base64.b64encode(np.ascontiguousarray(state.jitter, dtype="<f8").tobytes()).decode("ascii"),
        "journal": _ints(state.journal),
        "text": state.text,
        **{name: _ints(getattr(state, name)) for name in _TABLES},
        "quotes": state.quotes,
        "nodes": {"term": _ints(np.array([t for t, _ in nodes], dtype=np.int64)), "values": [list(v) for _, v in nodes]},
        "local": _ints(state.local),
        "signatures": [[t, list(v)] for t, v in sorted(state.signatures.items())],
        "k": state.k,
        "partners": _ints(state.partners),
        "counts": _ints(state.counts),
    }
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return _HEADER + hashlib.sha256(text.encode("utf-8")).hexdigest() + '","state":' + text + "}"


def _loads(text: str) -> PageState:
    if not isinstance(text, str):
        raise PageStateError("a page state is text")
    if not text.startswith(_HEADER):
        if text.startswith('{"format":"%s"' % STATE_FORMAT):
            raise PageStateError("the page state was saved by another version of commkg")
        raise PageStateError("not a commkg page state")
    digest, rest = text[len(_HEADER):len(_HEADER) + 64], text[len(_HEADER) + 64:]
    if not rest.startswith('","state":') or not rest.endswith("}"):
        raise PageStateError("the page state is damaged (cut short?)")
    body = rest[len('","state":'):-1]
    try:
        if hashlib.sha256(body.encode("utf-8")).hexdigest() != digest:
            raise PageStateError("the page state is damaged: its digest does not match")
        return _state_from(json.loads(body))
    except PageStateError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, binascii.Error, zlib.error) as error:
        raise PageStateError(f"the page state is damaged ({type(error).__name__}: {error})") from None


def _term_from(value: list):
    kind = value[0]
    if kind == "u" and len(value) == 2 and isinstance(value[1], str):
        return URIRef(value[1])
    if kind == "b" and len(value) == 2 and isinstance(value[1], str):
        return BNode(value[1])
    if kind == "l" and len(value) == 4 and isinstance(value[1], str):
        lang, datatype = value[2], value[3]
        if (lang is not None and (not isinstance(lang, str) or datatype is not None)) or (
                datatype is not None and not isinstance(datatype, str)):
            raise PageStateError("the page state is damaged: a bad literal")
        return Literal(value[1], lang=lang, datatype=None if datatype is None else URIRef(datatype))
    raise PageStateError("the page state is damaged: a bad term")


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise PageStateError(f"the page state is damaged: {what}")


def _all_text(values: Iterable) -> bool:
    """Whether every value is a str ("".join checks it in C, where a loop would be Python's)."""
    try:
        "".join(values)
    except TypeError:
        return False
    return True


def _state_from(body: dict) -> PageState:
    """The state from its JSON, checked so that every number points where it may: a state that
    parses but does not hold together is refused here, not met as a wrong page later."""
    iris = body["iris"]
    _check(type(iris) is list and _all_text(iris) and all(a < b for a, b in zip(iris, iris[1:])),
           "its terms are not text in order")
    terms = len(iris)

    def ids(array: np.ndarray, *, none: bool = False) -> np.ndarray:
        _check(not array.size or (array.min() >= (-1 if none else 0) and array.max() < terms), "a term number out of range")
        return array

    study = ids(_from_ints(body["study"]))
    n = len(study)
    _check(bool(np.all(np.diff(study) > 0)), "its studies are not in order")
    text = body["text"]
    _check(type(text) is dict and set(text) == set(_COLUMNS)
           and all(type(text[name]) is list and len(text[name]) == n for name in _COLUMNS), "a column of the wrong length")
    _check(all(_all_text(text[name]) for name in _TEXT), "a column of text holds something else")
    _check(all(type(v) is list for v in text["samples"]) and _all_text(itertools.chain.from_iterable(text["samples"])),
           "bad sample sizes")
    _check(all(type(v) is list and len(v) == 6 and _all_text(v) for v in text["cite"]), "bad citation parts")
    _check(all(type(v) is list and all(type(pair) is list and len(pair) == 2 and _all_text(pair) for pair in v)
               for v in text["discusses"]), "bad discussed works")
    tables = {name: _from_ints(body[name], columns) for name, columns in _TABLES.items()}
    for name, table in tables.items():
        ids(table[:, 0])
        if name in ("edges", "evidence"):
            ids(table[:, 1])
        _check(not table.size or table[:, -1].min() >= 0, "a part number out of range")
    quotes = body["quotes"]
    _check(type(quotes) is list and _all_text(quotes), "bad quotes")
    evidence = tables["evidence"]
    _check(not evidence.size or (evidence[:, 2].min() >= 0 and evidence[:, 2].max() < len(quotes)), "a quote number out of range")
    node_terms = ids(_from_ints(body["nodes"]["term"])).tolist()
    values = body["nodes"]["values"]
    _check(type(values) is list and len(values) == len(node_terms), "a column of the wrong length")
    nodes = {}
    for t, value in zip(node_terms, values):
        _check(type(value) is list and len(value) == 4 and _all_text(value) and value[0] in KIND_KEYS, "a bad node")
        nodes[t] = tuple(value)
    edges, made = tables["edges"], tables["made"]
    is_study = np.zeros(terms, dtype=bool)
    is_study[study] = True
    needed = np.unique(np.concatenate([edges[:, 0], edges[:, 1], made[:, 0]]))
    _check(all(t in nodes for t in needed[~is_study[needed]].tolist()), "a node without its labels")
    signatures = {}
    for t, targets in body["signatures"]:
        _check(type(t) is int and 0 <= t < terms and type(targets) is list
               and all(type(x) is int and 0 <= x < terms for x in targets), "a bad term")
        signatures[t] = tuple(targets)
    listed, parts = ids(_from_ints(body["listed"])), _from_ints(body["parts"])
    study_part = _from_ints(body["studyPart"])
    journal = ids(_from_ints(body["journal"]), none=True)
    jitter = np.frombuffer(base64.b64decode(body["jitter"].encode("ascii"), validate=True), dtype="<f8").astype(float)
    k = body["k"]
    _check(type(k) is int and 0 <= k <= MAX_STUDY_LINKS, "a bad number of links")
    partners, counts = (_from_ints(body[name], k) if k else np.zeros((n, 0), dtype=np.int64) for name in ("partners", "counts"))
    _check(len(listed) == len(parts) and len(study_part) == n and len(journal) == n and jitter.shape == (2 * n,)
           and partners.shape == (n, k) and counts.shape == (n, k), "a column of the wrong length")
    _check(not partners.size or (bool(np.isin(partners[partners >= 0], study).all()) and partners.min() >= -1),
           "a link to no study")
    next_part, title = body["nextPart"], body["title"]
    _check(type(next_part) is int and (not parts.size or (parts.min() > SHARED and parts.max() < next_part))
           and bool(np.isin(study_part, parts).all()) and type(title) is str, "a bad part number or title")
    return PageState(
        title=title, iris=iris, shared=tuple(tuple(_term_from(t) for t in triple) for triple in body["shared"]),
        listed=listed, parts=parts, next_part=next_part, study=study, study_part=study_part,
        jitter=jitter.reshape(-1, 2), text=text, journal=journal, edges=edges, made=made,
        evidence=evidence, uses=tables["uses"], quotes=quotes, nodes=nodes,
        local=ids(_from_ints(body["local"])), signatures=signatures, k=k, partners=partners, counts=counts)
