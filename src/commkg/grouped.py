"""Reasoning record by record: what each record infers alone, where it could meet another
record in a rule, and the groups of records that must be reasoned together.

Most OWL 2 RL rules read one triple (a subclass, a domain, an inverse), and what they give
from a record's triples needs no other record. The rules that read several triples meet them
at one node or value: transitivity (x p y, y p z), a two-step property chain (x p y, y q z),
owl:hasKey (two instances with equal key values) and owl:sameAs (every fact of an alias). A
record's closure can only meet another record's there, and only at nodes both can hold: not the
record's own nodes (its study and everything under its base), which no other record mentions.
So each record reports its *exposures*, the places where its closure could meet another's:

    =J   meets every record that also has =J       (a key value tuple; a node both key)
    aJ   meets every record that has bJ             (the two premises of a transitive step or
                                                     a chain, joined at a node; a study IRI
                                                     and a mention of it by another record)
    !    meets every record (a sameAs of a shared node; a mention of another record's own
         node that cannot be matched; a chain of more than two steps)

Records whose exposures meet form a group (`record_groups`); a group's closure is its records'
knowledge reasoned together (`reason_group`), and the corpus's closure is the union of its
groups' closures. That union is closed under every rule: a rule whose premises lie in two
groups would have to meet at an exposure, and exposures that meet put their records in one
group; premises that follow from the ontology's own facts alone are in every group's closure,
so they are left out of the exposures. `combine` then applies what only the whole corpus
knows: an inferred triple about a shared node (a concept, an organisation) that some other
record asserts is not new, and one whose subject some record uses as a class is not about an
individual (reason.clean). tests/test_grouped.py holds the result to reason_knowledge() of
the whole corpus.

Why: a record's inference can then be worked out in the extraction workers and cached with the
record, and an incremental build re-reasons only the groups a change touches.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import NamedTuple

from rdflib import BNode, Literal, URIRef

from commkg.errors import CommkgError
from commkg.reason import (
    _DOI, _SAME_AS, STUDY_LINKS, _TYPE, Ontology, _clean_closure, _individuals, _saturate,
)

Triple = tuple

ENTANGLED = "!"


class NotDecomposable(CommkgError):
    """The corpus cannot be split into records here (a blank node where records meet, say): it
    must be reasoned over and written as one whole."""


class RecordReasoning(NamedTuple):
    inferred: set[Triple]  # what the record's knowledge infers alone (reason_knowledge)
    exposures: frozenset[str]  # where its closure could meet another record's (module docstring)
    split: tuple[list[Triple], list[Triple]] | None = None  # split_by_owner's, when known already


class Locality(NamedTuple):
    """Which nodes are a record's own: its study, everything under its base."""

    study: str
    base: str

    def owns(self, node) -> bool:
        if type(node) is Literal:
            return False
        text = str.__str__(node)
        return text == self.study or text.startswith(self.base)


class GroupReasoner:
    """The rules of one compiled ontology, ready to reason record by record (one per process)."""

    def __init__(self, ontology: Ontology, *, exclude: Collection[URIRef] = STUDY_LINKS,
                 record_nodes: tuple[str, ...] = (), is_study: Callable[[str], bool] = lambda iri: False):
        """`exclude`: properties not materialised (reason_knowledge's). `record_nodes`: the
        prefixes of every record's own nodes, of which `is_study` tells a study IRI: a mention
        of another record's study is matched to that record, one of its other nodes cannot be."""
        self.exclude = frozenset(exclude)
        self.ontology = dataclasses.replace(
            ontology, chains=tuple(c for c in ontology.chains if c.result not in self.exclude)) if exclude else ontology
        self.record_nodes, self.is_study = record_nodes, is_study
        onto = self.ontology
        # Whatever the ontology's facts give alone is in every group's closure: never an exposure.
        facts_closure, _ = _saturate(set(), onto)
        self._facts_closure = frozenset(facts_closure)
        self._f_individuals = frozenset(_individuals(onto.facts, onto))
        self._chains = [(str(chain.result), chain.steps) for chain in onto.chains]
        self._entangled_ontology = any(len(steps) != 2 for _, steps in self._chains)
        # The ontology's own terms by text, copied for each call (reason.py compares rdf:type and
        # owl:sameAs by identity): cheaper than reason._interner's start, thousands of times a build.
        self._names = {str.__str__(t): t for t in _with_constants(onto.names) if type(t) is URIRef}
        self._other_names = {t: t for t in onto.names if type(t) is not URIRef}

    def _interned(self, triples: Iterable[Triple]) -> set[Triple]:
        iris, others = self._names.copy(), self._other_names.copy()

        def name(term):
            if type(term) is URIRef:
                text = str.__str__(term)
                found = iris.get(text)
                if found is None:
                    found = iris[text] = term
                return found
            return others.setdefault(term, term)
        return {(name(s), name(p), name(o)) for s, p, o in triples}

    def reason(self, knowledge: Iterable[Triple], owners: Sequence[Locality], *, interned: bool = False) -> RecordReasoning:
        """What `knowledge` infers, and where its closure could meet other records' (module
        docstring). `knowledge`: what knowledge_test keeps of the facts of the records of
        `owners` (one, or a group) and of the descriptions of the concepts they use; `interned`:
        each of its terms is already the object the compiled ontology's names hold for it."""
        facts = set(knowledge) if interned else self._interned(knowledge)
        closure, same = _saturate(facts, self.ontology)
        inferred = _clean_closure(closure, same, knowledge=facts, ontology=self.ontology)
        if self.exclude:
            inferred = {t for t in inferred if t[1] not in self.exclude}
        return RecordReasoning(inferred, frozenset(self._exposures(facts, closure, same, owners)))

    def _exposures(self, facts, closure, same, owners: Sequence[Locality]) -> set[str]:
        if self._entangled_ontology:
            return {ENTANGLED}
        onto, known = self.ontology, self._facts_closure
        found: set[str] = set()

        owns = owners[0].owns if len(owners) == 1 else _Owners(owners).owns
        memo: dict = {}  # node → owned: the study is in most triples

        def owned(node) -> bool:
            found = memo.get(node)
            if found is None:
                found = memo[node] = owns(node)
            return found

        def expose(side: str, *join) -> None:
            found.add(side + json.dumps(join, ensure_ascii=False, separators=(",", ":")))

        def joinable(node) -> bool:
            return type(node) is not Literal and not owned(node)

        for p in onto.transitive:  # prp-trp: (x p y) (y p z) meet at y
            for s, objects in closure.out.get(p, {}).items():
                for o in objects:
                    if (s, p, o) in known:
                        continue
                    if joinable(o):
                        expose("a", "trp", p, _text(o))
                    if joinable(s):
                        expose("b", "trp", p, _text(s))
        for number, (result, ((p0, inv0), (p1, inv1))) in enumerate(self._chains):  # prp-spo2, two steps
            for s, objects in closure.out.get(p0, {}).items():
                for o in objects:
                    middle = s if inv0 else o
                    if (s, p0, o) not in known and joinable(middle):
                        expose("a", "chain", number, result, _text(middle))
            for s, objects in closure.out.get(p1, {}).items():
                for o in objects:
                    middle = o if inv1 else s
                    if (s, p1, o) not in known and joinable(middle):
                        expose("b", "chain", number, result, _text(middle))
        for cls, props in onto.keys:  # prp-key: equal key values, or one instance described by two records
            for x in closure.into[_TYPE].get(cls, ()):
                if joinable(x) and (x, _TYPE, cls) not in known:
                    expose("=", "keynode", _text(x))
                values = [[]]
                for p in props:
                    values = [v + [_text(value)] for v in values for value in closure.out[p].get(x, ())]
                for key in values:
                    expose("=", "key", str(cls), *key)
            for p in props:
                for x, objects in closure.out.get(p, {}).items():
                    if joinable(x) and any((x, p, o) not in known for o in objects):
                        expose("=", "keynode", _text(x))
        for group in same.groups():  # eq-rep: an alias that other records may hold too
            if not all(owned(node) for node in group):
                return {ENTANGLED}
        # Each study, and the other records' studies this knowledge mentions: those records
        # must be reasoned with it.
        for owner in owners:
            expose("a", "node", owner.study)
        for s, p, o in facts:
            for node in (s,) if p is _TYPE or type(o) is Literal else (s, o):
                if type(node) is BNode or owned(node) or node in onto.terms:
                    continue  # a record's blank nodes are its own
                text = str.__str__(node)
                if text.startswith(self.record_nodes):
                    if not self.is_study(text):
                        return {ENTANGLED}  # some other record's own node: which one's is not known
                    expose("b", "node", text)
        return found

    def combine(self, shared_inferred: Iterable[Triple], *, shared_knowledge: Collection[Triple],
                classes: Collection) -> set[Triple]:
        """The inferred triples about shared nodes that the whole corpus keeps: not asserted by
        any record (`shared_knowledge`: every knowledge triple about a node no record owns), and
        not about a node that some record's knowledge uses as a class (`classes`), unless the
        ontology's facts make it an individual (reason.clean's rules, corpus-wide)."""
        keep_individuals = self._f_individuals
        return {t for t in shared_inferred
                if t not in shared_knowledge and (t[0] not in classes or t[0] in keep_individuals)}


def _with_constants(names: dict) -> list:
    """The ontology's names, and the terms the closure compares by identity (reason._interner)."""
    return [_TYPE, _SAME_AS, _DOI, *(t for t in names if t not in (_TYPE, _SAME_AS, _DOI))]


def _text(term) -> str | list:
    """A term as JSON: an IRI as its text, a literal as [text, language, datatype]."""
    if type(term) is Literal:
        return [str.__str__(term), term.language, None if term.datatype is None else str(term.datatype)]
    if type(term) is BNode:
        raise NotDecomposable(f"a blank node ({term.n3()}) where records could meet")
    return str.__str__(term)


class Meetings:
    """Where records' exposures meet: an exposure is its side ("=", "a" or "b") and what is
    exposed; "=" meets "=" (equal key values) and "a" meets "b" (the two ends of a chain)."""

    _SIDES = {"=": 0, "a": 1, "b": 2}

    def __init__(self, exposures: Sequence[Collection[str]]):
        # what is exposed → the records (by position) exposing it on each side
        self._joins: dict[str, tuple[list[int], list[int], list[int]]] = defaultdict(lambda: ([], [], []))
        for position, found in enumerate(exposures):
            for exposure in found:
                self._joins[exposure[1:]][self._SIDES[exposure[0]]].append(position)

    def all(self) -> Iterable[list[int]]:
        """Each list of records that meet: those of one thing exposed on side "=", or on sides
        "a" and "b"."""
        for both, left, right in self._joins.values():
            if len(both) > 1:
                yield both
            if left and right:
                yield left + right

    def at(self, exposure: str) -> list[int]:
        """The records that meet at what `exposure` exposes, on any side (none: [])."""
        both, left, right = self._joins.get(exposure[1:], ([], [], []))
        return (both if len(both) > 1 else []) + (left + right if left and right else [])


def record_groups(exposures: Sequence[Collection[str]], *, together: Iterable[Sequence[int]] = ()) -> list[list[int]]:
    """The records (by position) that must be reasoned together, each group sorted, the groups
    in the order of their first record: records whose exposures meet, and the records of each
    of `together` (groups found before, whose exposures are now those of the group)."""
    count = len(exposures)
    if any(ENTANGLED in found for found in exposures):
        return [list(range(count))] if count else []
    parent = list(range(count))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def join(members: list[int]) -> None:
        first = root(members[0])
        for other in members[1:]:
            other = root(other)
            if other != first:
                parent[max(first, other)] = min(first, other)
                first = min(first, other)

    for members in together:
        if len(members) > 1:
            join(list(members))
    for members in Meetings(exposures).all():
        join(members)
    groups: dict[int, list[int]] = defaultdict(list)
    for position in range(count):
        groups[root(position)].append(position)
    return sorted(groups.values())


class _Owners:
    """Which of several records owns a node (Locality.owns, a few string tests in C)."""

    def __init__(self, members: Sequence[Locality]):
        self.members = members
        self.studies = {member.study: position for position, member in enumerate(members)}
        self.bases = tuple(member.base for member in members)

    def owner(self, node) -> int | None:
        if type(node) is Literal:
            return None
        text = str.__str__(node)
        found = self.studies.get(text)
        if found is None and text.startswith(self.bases):
            found = next(position for position, base in enumerate(self.bases) if text.startswith(base))
        return found

    def owns(self, node) -> bool:
        return self.owner(node) is not None


class CorpusOwners:
    """Which record of a whole corpus owns a node: its study, or the longest base that holds it
    (a dict lookup per "/" of the IRI, where _Owners tries every base)."""

    def __init__(self, members: Sequence[Locality]):
        self.studies = {member.study: position for position, member in enumerate(members)}
        self.bases = {member.base: position for position, member in enumerate(members)}

    def owner(self, node) -> int | None:
        if type(node) is Literal or type(node) is BNode:
            return None
        text = str.__str__(node)
        found = self.studies.get(text)
        at = len(text)
        while found is None and at > 0:
            at = text.rfind("/", 0, at)
            found = self.bases.get(text[:at + 1]) if at >= 0 else None
        return found


def split_by_owner(triples: Iterable[Triple], members: Sequence[Locality]) -> tuple[list[list[Triple]], list[Triple]]:
    """`triples` of a group: those about each member's own nodes (by subject), and the rest
    (about shared nodes). Raises NotDecomposable for a blank node (whose would its block be?)."""
    own: list[list[Triple]] = [[] for _ in members]
    shared: list[Triple] = []
    owner = _Owners(members).owner
    for triple in triples:
        subject, _, obj = triple
        if type(subject) is BNode or type(obj) is BNode:
            raise NotDecomposable(f"an inferred triple with a blank node ({triple})")
        position = owner(subject)
        (shared if position is None else own[position]).append(triple)
    return own, shared


class CorpusInference(NamedTuple):
    """What `reason_records` finds, record by record."""

    groups: list[list[int]]  # the records reasoned together, by position
    own: list[list[Triple]]  # per record: the inferred triples about its own nodes
    shared: list[list[Triple]]  # per group: those about shared nodes, before `combine`
    exposures: list[frozenset[str]]  # per record: its own, or its group's


def reason_records(reasoner: GroupReasoner, alone: Sequence[RecordReasoning], owners: Sequence[Locality],
                   knowledge_of: Callable[[int], Iterable[Triple]], *, interned: bool = False) -> CorpusInference:
    """Group the records whose inferences meet (`alone`: each record's RecordReasoning), reason
    each group of several together (`knowledge_of(i)`: record i's knowledge, descriptions
    included), and split every group's inference by owner. A group's closure can meet records
    that none of its records met alone: its exposures replace theirs until the groups settle."""
    exposures = [found.exposures for found in alone]
    together: dict[tuple[int, ...], RecordReasoning] = {}
    groups = record_groups(exposures)
    while True:
        for group in groups:
            if len(group) > 1 and tuple(group) not in together:
                found = together[tuple(group)] = reasoner.reason(
                    (t for i in group for t in knowledge_of(i)), [owners[i] for i in group], interned=interned)
                for i in group:
                    exposures[i] = found.exposures
        settled = record_groups(exposures, together=[g for g in groups if len(g) > 1])
        if settled == groups:
            break
        groups = settled
    own: list[list[Triple]] = [[] for _ in alone]
    shared: list[list[Triple]] = []
    for group in groups:
        if len(group) == 1 and alone[group[0]].split is not None:
            (parts, rest) = ([alone[group[0]].split[0]], alone[group[0]].split[1])
        else:
            inferred = alone[group[0]].inferred if len(group) == 1 else together[tuple(group)].inferred
            parts, rest = split_by_owner(inferred, [owners[i] for i in group])
        for i, part in zip(group, parts):
            own[i] = part
        shared.append(rest)
    return CorpusInference(groups, own, shared, exposures)
