"""OWL 2 RL reasoning: what the ontology adds to an asserted graph, cleaned of noise.

`reason(asserted, ontology)` returns only the new, meaningful inferred triples (DESIGN.md, "What
the reasoner is for"); `inconsistencies(asserted, inferred, ontology)` lists the nodes typed with
two disjoint classes, for the build to report as warnings.

It does not call owlrl: owlrl needs minutes for a corpus of a few thousand records (issue 7), and
its owl:hasKey rule is wrong in 7.6.2 (it never compares the last key property, so a
one-property key merges every instance). Instead this module

1. compiles the ontology's axioms into lookup tables (`compile_ontology`): superclasses,
   superproperties, domains, ranges, inverses, symmetric and transitive properties, property
   chains, keys, disjoint classes. Any other axiom raises `UnsupportedAxiom`, so an edit to the
   ontology cannot make this module silently disagree with OWL 2 RL;
2. keeps the *knowledge* triples of the asserted graph (`knowledge`): no evidence annotations, no
   literals that no rule reads (abstracts, titles, labels) — a fifth of the graph;
3. saturates them with those tables, semi-naively: each new triple fires its rules once, against
   the triples already known (`_Closure`);
4. applies owl:hasKey itself (instances of the keyed class grouped by the tuple of all their key
   values), merges each group as owl:sameAs and saturates again, until nothing merges;
5. cleans the result (`clean`): owl:sameAs aliases are rewritten onto one canonical node (the one
   with a bibo:doi), and every triple that is noise, or was already asserted, is dropped.

owlrl stays the reference: `reason_with_owlrl` runs a plain owlrl closure (its prp-key fixed) and
the same `clean`; tests/test_reason.py checks that both give the same triples.

Scale: the study-to-study links (`STUDY_LINKS`) grow with the square of the number of records;
`reason(..., exclude=STUDY_LINKS)` leaves them to the queries. `reason_triples` takes and returns
plain triples, for a build that collects `knowledge()` record by record.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass

import rdflib
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS, XSD, Namespace

from commkg.bulk import interner
from commkg.errors import CommkgError
from commkg.evidence import Annotation, annotations_from_triples

COMM = Namespace("https://w3id.org/commkg/ontology#")
CONCEPT = Namespace("https://w3id.org/commkg/concept/")
OA = Namespace("http://www.w3.org/ns/oa#")
BIBO = Namespace("http://purl.org/ontology/bibo/")

Triple = tuple  # (subject, predicate, object) of rdflib terms

# The W3C vocabularies themselves: nothing about them is ever output.
_VOCABULARY_NAMESPACES = (str(RDF), str(RDFS), str(OWL), str(XSD))

# Triples about classes and properties that carry no logic (documentation of the ontology).
_ANNOTATIONS = {
    RDFS.label, RDFS.comment, RDFS.seeAlso, RDFS.isDefinedBy, SKOS.definition, SKOS.note,
    SKOS.example, SKOS.scopeNote, SKOS.prefLabel, SKOS.altLabel, OWL.versionInfo,
    OWL.versionIRI, OWL.imports, OWL.priorVersion,
}
_DECLARATIONS = {
    OWL.Class, RDFS.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty,
    RDF.Property, OWL.Ontology, OWL.SymmetricProperty, OWL.TransitiveProperty,
}


# Looked up once: attribute access on an rdflib Namespace costs a microsecond, in loops that run
# millions of times. Every triple handled below is interned (`_interner`), so that a predicate
# equal to one of these three *is* that object: the hot loops compare with `is`, because rdflib's
# `==` is a Python-level call. For the same reason they test `type(x) is Literal` rather than
# isinstance (rdflib's terms go through an ABC instance check).
_TYPE, _SAME_AS, _DOI, _OA = RDF.type, OWL.sameAs, BIBO.doi, str(OA)


class UnsupportedAxiom(CommkgError):
    """The ontology uses an OWL construct this reasoner does not implement."""


# ---------------------------------------------------------------------------------------------
# The ontology, compiled


@dataclass(frozen=True)
class Chain:
    """`result` holds from x0 to xn when steps link x0 → x1 → … → xn.

    A step is (property, inverted): inverted means the edge runs backwards, (x_k, property, x_k-1).
    """

    result: URIRef
    steps: tuple[tuple[URIRef, bool], ...]


@dataclass(frozen=True)
class Ontology:
    """The axioms of an OWL 2 RL ontology as lookup tables (what `_Closure` fires)."""

    superclasses: dict  # class -> frozenset of its strict superclasses, transitively
    superproperties: dict  # property -> frozenset of its strict superproperties, transitively
    domains: dict  # property -> frozenset of classes
    ranges: dict  # property -> frozenset of classes
    inverses: dict  # property -> frozenset of properties
    symmetric: frozenset
    transitive: frozenset
    chains: tuple  # of Chain
    keys: tuple  # of (class, tuple of properties)
    terms: frozenset  # every class, property and axiom node: never an individual
    properties: frozenset  # properties declared or used in axioms (literals of others are idle)
    facts: frozenset  # ABox triples in the ontology file (e.g. which place is part of which)
    disjoint: tuple = ()  # of frozensets of pairwise disjoint classes (checked, never inferred)
    # One object per distinct term (see `_interner`); knowledge() maps the data onto the same
    # objects, so the closure's set and dict lookups match by identity and never call rdflib's
    # slow Python-level __eq__.
    names: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def related_properties(self) -> frozenset:
        """comm:relatedStudy and its sub-properties: a study is never output as related to itself."""
        return frozenset(
            p for p, sup in self.superproperties.items() if COMM.relatedStudy in sup
        ) | {COMM.relatedStudy}


def _transitive(edges: dict) -> dict:
    """For each node, every other node reachable from it."""
    closed = {}
    for start in edges:
        seen, stack = set(), list(edges[start])
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(edges.get(node, ()))
        seen.discard(start)
        closed[start] = frozenset(seen)
    return closed


def _interner(names: dict):
    """bulk.interner, with the constants the hot loops compare by identity put in first."""
    for constant in (_TYPE, _SAME_AS, _DOI):
        names.setdefault(constant, constant)
    return interner(names)


def compile_ontology(ontology: Iterable[Triple]) -> Ontology:
    """Read the axioms of `ontology` into lookup tables; raise UnsupportedAxiom for the rest."""
    names = {}
    name = _interner(names)
    ontology = [(name(s), name(p), name(o)) for s, p, o in ontology]
    graph = rdflib.Graph()
    for t in ontology:
        graph.add(t)
    sub_class, sub_prop = defaultdict(set), defaultdict(set)
    domains, ranges, inverses = defaultdict(set), defaultdict(set), defaultdict(set)
    symmetric, transitive, chains, keys, disjoint = set(), set(), [], [], []
    terms, properties = set(), set()

    def items(head) -> list:
        # The list nodes themselves are part of the axiom, not individuals.
        node = head
        while node != RDF.nil:
            terms.add(node)
            node = graph.value(node, RDF.rest)
            if node is None:
                raise UnsupportedAxiom(f"malformed RDF list at {head}")
        return [name(item) for item in graph.items(head)]

    def named(node, axiom) -> URIRef:
        if not isinstance(node, URIRef):
            raise UnsupportedAxiom(f"only named classes and properties are supported in {axiom}")
        return node

    for s, p, o in ontology:
        if p == RDF.type and o in _DECLARATIONS:
            terms.add(s)
            if o == OWL.SymmetricProperty:
                symmetric.add(s)
            elif o == OWL.TransitiveProperty:
                transitive.add(s)
            if o in (OWL.ObjectProperty, OWL.DatatypeProperty, RDF.Property):
                properties.add(s)
        elif p == RDFS.subClassOf or p == OWL.equivalentClass:
            axiom = (s, p, o)
            sub_class[named(s, axiom)].add(named(o, axiom))
            if p == OWL.equivalentClass:
                sub_class[o].add(s)
            terms.update((s, o))
        elif p == RDFS.subPropertyOf or p == OWL.equivalentProperty:
            axiom = (s, p, o)
            sub_prop[named(s, axiom)].add(named(o, axiom))
            if p == OWL.equivalentProperty:
                sub_prop[o].add(s)
            terms.update((s, o))
            properties.update((s, o))
        elif p == RDFS.domain or p == RDFS.range:
            (domains if p == RDFS.domain else ranges)[named(s, (s, p, o))].add(named(o, (s, p, o)))
            terms.update((s, o))
            properties.add(s)
        elif p == OWL.inverseOf:
            terms.update((s, o))
            properties.add(o)
            if isinstance(s, URIRef):
                inverses[s].add(named(o, (s, p, o)))
                inverses[o].add(s)
                properties.add(s)
            # A blank node here is an anonymous inverse inside a property chain: read below.
        elif p == OWL.propertyChainAxiom:
            steps = []
            for step in items(o):
                if isinstance(step, BNode) and (step, OWL.inverseOf, None) in graph:
                    steps.append((named(name(graph.value(step, OWL.inverseOf)), (s, p, o)), True))
                else:
                    steps.append((named(step, (s, p, o)), False))
            chains.append(Chain(named(s, (s, p, o)), tuple(steps)))
            terms.add(s)
            properties.add(s)
            properties.update(prop for prop, _ in steps)
        elif p == OWL.disjointWith:
            disjoint.append(frozenset((named(s, (s, p, o)), named(o, (s, p, o)))))
            terms.update((s, o))
        elif p == RDF.type and o == OWL.AllDisjointClasses:
            members = graph.value(s, OWL.members)
            if members is None:
                raise UnsupportedAxiom(f"owl:AllDisjointClasses {s} without owl:members")
            disjoint.append(frozenset(named(c, (s, p, o)) for c in items(members)))
            terms.add(s)
        elif p == OWL.hasKey:
            key = tuple(named(prop, (s, p, o)) for prop in items(o))
            if not key:
                raise UnsupportedAxiom(f"empty owl:hasKey on {s}")
            keys.append((named(s, (s, p, o)), key))
            terms.add(s)
            properties.update(key)

    # Everything else in the file: documentation, list cells, or ABox facts. Any other triple in
    # the RDFS / OWL vocabulary is an axiom we do not implement.
    facts = set()
    handled = {RDFS.subClassOf, OWL.equivalentClass, RDFS.subPropertyOf, OWL.equivalentProperty,
               RDFS.domain, RDFS.range, OWL.inverseOf, OWL.propertyChainAxiom, OWL.hasKey,
               OWL.disjointWith, OWL.members, RDF.first, RDF.rest}
    for s, p, o in ontology:
        if p in handled or p in _ANNOTATIONS or (p == RDF.type and o in _DECLARATIONS):
            continue
        if p == RDF.type and o == OWL.AllDisjointClasses:
            continue
        if p == RDF.type and o == OWL.NamedIndividual:
            continue  # a declaration that changes nothing
        if s in terms:
            if _in_vocabulary(p) or (p == RDF.type and _in_vocabulary(o)):
                raise UnsupportedAxiom(f"unsupported axiom: {s.n3()} {p.n3()} {o.n3()}")
            continue  # an annotation of a class or property by some other vocabulary
        if _in_vocabulary(p) and p != RDF.type:
            raise UnsupportedAxiom(f"unsupported axiom: {s.n3()} {p.n3()} {o.n3()}")
        if p == RDF.type and _in_vocabulary(o):
            raise UnsupportedAxiom(f"unsupported axiom: {s.n3()} {p.n3()} {o.n3()}")
        facts.add((s, p, o))

    return Ontology(
        superclasses=_transitive(sub_class),
        superproperties=_transitive(sub_prop),
        domains={p: frozenset(c) for p, c in domains.items()},
        ranges={p: frozenset(c) for p, c in ranges.items()},
        inverses={p: frozenset(q) for p, q in inverses.items()},
        symmetric=frozenset(symmetric),
        transitive=frozenset(transitive),
        chains=tuple(chains),
        keys=tuple(keys),
        terms=frozenset(terms),
        properties=frozenset(properties),
        facts=frozenset(facts),
        disjoint=tuple(disjoint),
        names=names,
    )


def _in_vocabulary(term) -> bool:
    # str() first: rdflib's own startswith() takes no tuple of prefixes.
    return type(term) is URIRef and str(term).startswith(_VOCABULARY_NAMESPACES)


# ---------------------------------------------------------------------------------------------
# What the rules read


def knowledge(asserted: Iterable[Triple], ontology: Ontology) -> set[Triple]:
    """The asserted triples the rules can use: no evidence annotations, no idle literals.

    Evidence (oa: annotations, their targets and selectors) never meets an axiom, and neither do
    literals of properties the ontology does not speak of (abstracts, titles, names, labels):
    dropping them shrinks the graph several-fold before the closure. bibo:doi stays, because it
    decides which node of an owl:sameAs group is the canonical one. Each term comes out as the
    object `ontology.names` holds for it, or one object per distinct term (see `_interner`).
    """
    name = _interner(dict(ontology.names))  # a copy: the compiled ontology stays as it is
    usable = knowledge_test(ontology)
    kept, evidence = [], set()
    for triple in asserted:
        s, p, o = triple
        if o.startswith(_OA) and p == _TYPE:
            evidence.add(s)  # an annotation, a target or a selector: all its triples go
        elif usable(triple):
            kept.append((name(s), name(p), name(o)))
    return {t for t in kept if t[0] not in evidence}


def knowledge_test(ontology: Ontology) -> Callable[[Triple], bool]:
    """Whether a triple not about evidence is one `knowledge()` keeps. Build workers run it on
    each record's facts, which never hold evidence (evidence.py keeps it apart)."""
    # Decided once per predicate: rdflib terms compare slowly, and a corpus has millions of
    # triples but a few dozen predicates.
    drop, keep_all, keep_nodes, is_type = 0, 1, 2, 3
    decisions = {}

    def decide(p) -> int:
        if p == _TYPE:
            return is_type
        if p.startswith(_OA):
            return drop
        return keep_all if p in ontology.properties or p == _DOI else keep_nodes

    def usable(triple: Triple) -> bool:
        _, p, o = triple
        key = str.__str__(p)  # plain text: a dict compares it in C (see `_interner`)
        decision = decisions.get(key)
        if decision is None:
            decision = decisions[key] = decide(p)
        if decision == keep_nodes:
            return type(o) is not Literal
        if decision == is_type:
            return not o.startswith(_OA)
        return decision == keep_all
    return usable


def _individuals(facts: Iterable[Triple], ontology: Ontology) -> set:
    """The nodes that are ours to say things about: records, actors, concepts, samples …"""
    nodes, classes = set(), set()
    for s, p, o in facts:
        nodes.add(s)
        if p is _TYPE:
            classes.add(o)
        elif type(o) is not Literal:
            nodes.add(o)
    return {
        n for n in nodes
        if n not in classes and n not in ontology.terms and not _in_vocabulary(n)
    }


# ---------------------------------------------------------------------------------------------
# The closure


@dataclass(frozen=True)
class _Plan:
    """What a new triple (s, p, o) of one predicate p fires, worked out once per predicate."""

    superproperties: tuple  # prp-spo1 / prp-eqp: (s, q, o) for each, through the agenda
    subject_types: frozenset  # prp-dom, with every superclass of the domains (cax-sco)
    object_types: frozenset  # prp-rng, likewise
    inverses: tuple  # prp-inv1/2: (o, q, s)
    symmetric: bool  # prp-symp: (o, p, s)
    transitive: bool  # prp-trp
    chain_steps: tuple  # prp-spo2: (chain, position of p in it)


class _Closure:
    """Forward chaining over indexed triples; each new triple fires its rules exactly once.

    Rules (names of the OWL 2 RL rule table): cax-sco / cax-eqc (superclasses), prp-spo1 /
    prp-eqp (superproperties), prp-dom, prp-rng, prp-inv1/2, prp-symp, prp-trp, prp-spo2 (chains).
    A type is added together with all its superclasses, and nothing fires on types afterwards
    (keys are looked up from the index), so type triples never go through the agenda. Triples with
    a literal object fire only prp-spo1 and prp-dom: the others would give a literal subject,
    which is never output.
    """

    def __init__(self, ontology: Ontology):
        self.ontology = ontology
        self.out = defaultdict(lambda: defaultdict(set))  # predicate -> subject -> objects
        self.into = defaultdict(lambda: defaultdict(set))  # predicate -> object -> subjects
        self.agenda: list[Triple] = []
        # What `clean` needs, noted as the closure goes, so that it never walks the whole closure:
        self.new: list[Triple] = []  # every triple added after the input (`load`), once
        self.ours: set = set()  # the input's individuals (`_individuals`), batch by batch
        self.with_doi: set = set()  # subjects of the input's bibo:doi triples
        self._plans: dict = {}
        self._class_closures: dict = {}

    def load(self, facts: Iterable[Triple]) -> list[tuple]:
        """Put input triples in (they are not `new`); returns the owl:sameAs pairs among them,
        which the caller merges instead."""
        out, into, agenda, same_as = self.out, self.into, self.agenda, []
        nodes, classes = set(), set()
        for triple in facts:
            s, p, o = triple
            nodes.add(s)
            if p is _TYPE:
                classes.add(o)
                known = out[_TYPE][s]
                if o not in known:
                    known.add(o)
                    into[_TYPE][o].add(s)
                self.add_types(s, self._classes(o))  # the superclasses are new
                continue
            if type(o) is not Literal:
                nodes.add(o)
            if p is _SAME_AS:
                same_as.append((s, o))
                continue
            if p is _DOI:
                self.with_doi.add(s)
            objects = out[p][s]
            if o not in objects:
                objects.add(o)
                into[p][o].add(s)
                agenda.append(triple)
        self.ours |= {n for n in nodes if n not in classes and n not in self.ontology.terms
                      and not _in_vocabulary(n)}
        return same_as

    def __iter__(self):
        for p, by_subject in self.out.items():
            for s, objects in by_subject.items():
                for o in objects:
                    yield (s, p, o)

    def _classes(self, cls) -> frozenset:
        """`cls` and all its superclasses."""
        closed = self._class_closures.get(cls)
        if closed is None:
            closed = frozenset({cls}) | self.ontology.superclasses.get(cls, frozenset())
            self._class_closures[cls] = closed
        return closed

    def _plan(self, p) -> _Plan:
        plan = self._plans.get(p)
        if plan is None:
            onto = self.ontology

            def typed(classes):
                return frozenset(c for cls in classes for c in self._classes(cls))

            plan = self._plans[p] = _Plan(
                superproperties=tuple(onto.superproperties.get(p, ())),
                subject_types=typed(onto.domains.get(p, ())),
                object_types=typed(onto.ranges.get(p, ())),
                inverses=tuple(onto.inverses.get(p, ())),
                symmetric=p in onto.symmetric,
                transitive=p in onto.transitive,
                chain_steps=tuple(
                    (chain, i) for chain in onto.chains
                    for i, (prop, _) in enumerate(chain.steps) if prop == p
                ),
            )
        return plan

    def add_types(self, node, classes: Iterable) -> None:
        known = self.out[_TYPE][node]
        into = self.into[_TYPE]
        for c in classes:
            if c not in known:
                known.add(c)
                into[c].add(node)
                self.new.append((node, _TYPE, c))

    def add(self, s, p, o) -> None:
        if p is _TYPE:
            self.add_types(s, self._classes(o))
            return
        objects = self.out[p][s]
        if o not in objects:
            objects.add(o)
            self.into[p][o].add(s)
            triple = (s, p, o)
            self.agenda.append(triple)
            self.new.append(triple)

    def about(self, node) -> Iterator[Triple]:
        """Every triple with `node` as its subject or object."""
        for p, by_subject in self.out.items():
            for o in by_subject.get(node, ()):
                yield (node, p, o)
        for p, by_object in self.into.items():
            for s in by_object.get(node, ()):
                yield (s, p, node)

    def run(self) -> None:
        add, add_types, plan_of = self.add, self.add_types, self._plan
        while self.agenda:
            s, p, o = self.agenda.pop()
            plan = plan_of(p)
            for q in plan.superproperties:
                add(s, q, o)
            if plan.subject_types:
                add_types(s, plan.subject_types)
            if type(o) is Literal:
                continue
            if plan.object_types:
                add_types(o, plan.object_types)
            for q in plan.inverses:
                add(o, q, s)
            if plan.symmetric:
                add(o, p, s)
            if plan.transitive:
                for after in list(self.out[p].get(o, ())):
                    add(s, p, after)
                for before in list(self.into[p].get(s, ())):
                    add(before, p, o)
            for chain, position in plan.chain_steps:
                self._extend(chain, position, s, o)

    def _extend(self, chain: Chain, position: int, s, o) -> None:
        """prp-spo2: every path through the chain that uses the edge (s, p, o) at `position`."""
        inverted = chain.steps[position][1]
        left_node, right_node = (o, s) if inverted else (s, o)
        starts = {left_node}
        for prop, inv in reversed(chain.steps[:position]):  # walk back to x0
            index = self.out[prop] if inv else self.into[prop]
            starts = {n for x in starts for n in index.get(x, ())}
        ends = {right_node}
        for prop, inv in chain.steps[position + 1:]:  # walk on to xn
            index = self.into[prop] if inv else self.out[prop]
            ends = {n for x in ends for n in index.get(x, ())}
        for start in starts:
            if type(start) is Literal:
                continue
            for end in ends:
                self.add(start, chain.result, end)


class _SameAs:
    """Union-find over nodes; the representative of a group is chosen by `canonical`."""

    def __init__(self):
        self.parent = {}

    def find(self, node):
        # `is`: every node here is interned (see `_interner`), and rdflib's == is slow Python.
        parent = self.parent.get(node, node)
        if parent is node:
            return node
        root = self.find(parent)
        self.parent[node] = root
        return root

    def union(self, a, b) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra is rb:
            return False
        self.parent[rb] = ra
        return True

    def groups(self) -> list[set]:
        by_root = defaultdict(set)
        for node in list(self.parent):
            by_root[self.find(node)].add(node)
            by_root[self.find(node)].add(self.find(node))
        return [g for g in by_root.values() if len(g) > 1]


def _key_groups(closure: _Closure, ontology: Ontology, same: _SameAs) -> list[list]:
    """prp-key, done right: instances of a keyed class with equal values for *every* key property.

    Instances are grouped by the tuple of their key values (one tuple per combination when a
    property has several values), so this is linear in the instances, not quadratic.
    """
    merged = []
    for cls, props in ontology.keys:
        by_value = defaultdict(set)
        for instance in {same.find(x) for x in closure.into[_TYPE].get(cls, ())}:
            values = [
                {v if type(v) is Literal else same.find(v) for v in closure.out[p].get(instance, ())}
                for p in props
            ]
            for combination in itertools.product(*values):  # empty if any key value is missing
                by_value[combination].add(instance)
        merged.extend(sorted(group, key=str) for group in by_value.values() if len(group) > 1)
    return merged


def _saturate(knowledge: Iterable[Triple], ontology: Ontology) -> tuple[_Closure, _SameAs]:
    """The OWL 2 RL closure of `knowledge` and the ontology's facts, and its owl:sameAs groups.

    Aliases keep their own facts; `clean` maps them onto the canonical node in the end.
    """
    closure = _Closure(ontology)
    same = _SameAs()
    for batch in (knowledge, ontology.facts):  # apart: `_individuals` of each, as `clean` has it
        for s, o in closure.load(batch):
            same.union(s, o)
    renamed = set()
    pending = [n for g in same.groups() for n in g]
    while True:
        # eq-rep-s / eq-rep-o: give every fact of an alias to its group's root as well. What the
        # rules derive later from the alias's facts, they derive from the root's copies too.
        for alias in pending:
            root = same.find(alias)
            if alias == root or alias in renamed:
                continue
            renamed.add(alias)
            for p in list(closure.out):
                for o in list(closure.out[p].get(alias, ())):
                    closure.add(root, p, o if type(o) is Literal else same.find(o))
            for p in list(closure.into):
                for s in list(closure.into[p].get(alias, ())):
                    closure.add(same.find(s), p, root)
        closure.run()
        pending = []
        for group in _key_groups(closure, ontology, same):
            for other in group[1:]:
                if same.union(group[0], other):
                    pending.extend(group)
        if not pending:
            break
        # A merge may have made an earlier root an alias: its facts move on too.
        pending.extend(n for g in same.groups() for n in g)
    return closure, same


# ---------------------------------------------------------------------------------------------
# Cleaning


def _canonical(group: set, with_doi: set):
    """The node that stands for an owl:sameAs group: the one with a DOI, else a stable choice."""
    return min(group, key=lambda n: (n not in with_doi, isinstance(n, BNode), len(n), str(n)))


def clean(
    closure: set[Triple],
    *,
    knowledge: set[Triple],
    ontology: Ontology,
) -> set[Triple]:
    """The new, meaningful triples of a closure of `knowledge` (see `knowledge()`) and the ontology.

    - owl:sameAs groups are rewritten onto their canonical node (the record with a bibo:doi), and
      each alias gets one `alias owl:sameAs canonical` link;
    - the subject must be one of our individuals (records, actors, concepts …), never a literal,
      a blank-node property, a class, a property or a node of the RDF / RDFS / OWL vocabulary;
    - no type of the vocabulary (owl:Thing, rdfs:Resource …), no literal of a property the
      ontology does not speak of, no study related to itself;
    - nothing already asserted (in `knowledge` or the ontology's facts).

    Anything asserted but left out of `knowledge` (evidence, idle literals) can never come out of
    this function, so subtracting `knowledge` is subtracting everything asserted.
    """
    same = _SameAs()
    for s, p, o in closure:
        if p is _SAME_AS and type(s) is not Literal and type(o) is not Literal:
            same.union(s, o)
    representative = _representatives(same, {s for s, p, _ in knowledge if p is _DOI})
    # Only triples that are new, or that mention an alias (and so may be new once rewritten),
    # need looking at: a set difference first keeps this pass small.
    candidates = closure - knowledge - ontology.facts
    if representative:
        candidates |= {t for t in closure if t[0] in representative or t[2] in representative}
    ours = _individuals(knowledge, ontology) | _individuals(ontology.facts, ontology)
    return _meaningful(candidates, representative, ours, ontology) - knowledge - ontology.facts


def _clean_closure(closure: _Closure, same: _SameAs, *, knowledge: set[Triple], ontology: Ontology) -> set[Triple]:
    """`clean` of our own closure, from what it noted as it went (`_Closure.new` …) rather than
    by walking the whole of it: the same result (tests)."""
    representative = _representatives(same, closure.with_doi)
    candidates = closure.new
    if representative:
        candidates = itertools.chain(candidates, (t for node in representative for t in closure.about(node)))
    return _meaningful(candidates, representative, closure.ours, ontology) - knowledge - ontology.facts


def _representatives(same: _SameAs, with_doi: set) -> dict:
    """Each node of an owl:sameAs group → the group's canonical node."""
    representative = {}
    for group in same.groups():
        root = _canonical(group, with_doi)
        representative.update((node, root) for node in group)
    return representative


def _meaningful(candidates: Iterable[Triple], representative: dict, ours: set, ontology: Ontology) -> set[Triple]:
    """The candidates that `clean` keeps, rewritten onto canonical nodes; and a link from each
    alias to its canonical node."""
    related = ontology.related_properties()
    # Terms are interned (`_interner`): `is` and dict lookups by identity, never rdflib's
    # Python-level ==, over the hundreds of thousands of candidates of a big corpus.
    vocabulary: dict = {}

    def in_vocabulary(term) -> bool:
        found = vocabulary.get(term)
        if found is None:
            found = vocabulary[term] = _in_vocabulary(term)
        return found

    result = set()
    for s, p, o in candidates:
        if p is _SAME_AS or type(s) is Literal or type(p) is BNode:
            continue
        s = representative.get(s, s)
        if type(o) is Literal:
            if p not in ontology.properties:
                continue
        else:
            o = representative.get(o, o)
            if type(o) is BNode and p is _TYPE:
                continue
            if in_vocabulary(o):
                continue
        if s not in ours or (p is not _TYPE and in_vocabulary(p)):
            continue
        if s is o and p in related:
            continue
        result.add((s, p, o))
    for alias, root in representative.items():
        if alias is not root and alias in ours:
            result.add((alias, _SAME_AS, root))
    return result


# ---------------------------------------------------------------------------------------------
# Consistency


@dataclass(frozen=True)
class Inconsistency:
    """A node typed with two disjoint classes (cax-dw / cax-adc), with the words behind it."""

    node: rdflib.term.Node
    classes: tuple  # the two disjoint classes
    evidence: tuple  # of (record, quoted words): the annotations whose body is the node

    def __str__(self) -> str:
        a, b = (c.n3() if isinstance(c, BNode) else str(c).rsplit("#", 1)[-1] for c in self.classes)
        where = "; ".join(f'{record} "{quote}"' for record, quote in self.evidence)
        return f"{self.node} is both {a} and {b}" + (f" (evidence: {where})" if where else "")


def inconsistencies(
    asserted: Iterable[Triple], inferred: Iterable[Triple], ontology: rdflib.Graph | Ontology, *,
    annotations: Iterable[Annotation] | None = None,
) -> list[Inconsistency]:
    """Every node that asserted + inferred (Graphs or any iterables of triples) types with two
    disjoint classes.

    OWL 2 RL calls this an inconsistency; commkg reports it as a warning (an extraction error,
    usually), it does not stop the build. `inferred` is what `reason` returned: aliases are
    already rewritten onto their canonical node, and their asserted types are added to it here.
    The evidence named comes from `annotations`, or else from the oa: triples of `asserted`.
    """
    compiled = ontology if isinstance(ontology, Ontology) else compile_ontology(ontology)
    if not compiled.disjoint:
        return []
    inferred = list(inferred)
    if annotations is None:
        asserted = list(asserted)  # read twice: for the types, then for the evidence
    # Predicates compared as plain text, in C: rdflib's == is a Python call, here millions of times.
    same_as, rdf_type = str(OWL.sameAs), str(RDF.type)
    alias_of = {s: o for s, p, o in inferred if str.__str__(p) == same_as}
    in_a_group = frozenset().union(*compiled.disjoint)
    types = defaultdict(set)  # node → its types that some disjointness axiom names
    for s, p, o in itertools.chain(asserted, inferred):
        if str.__str__(p) == rdf_type and o in in_a_group:
            types[alias_of.get(s, s)].add(o)
    found = []
    for node, classes in types.items():
        if len(classes) < 2:
            continue
        for group in compiled.disjoint:
            clash = classes & group
            if len(clash) >= 2:
                found.append((node, tuple(sorted(clash, key=str)[:2])))
    if not found:
        return []
    found.sort(key=lambda item: str(item[0]))  # stable: per node, in the order of the groups
    if annotations is None:
        annotations = annotations_from_triples(asserted)
    quotes = defaultdict(set)  # body → (record, quoted words)
    for annotation in annotations:
        for body in annotation.bodies:
            quotes[body].add((annotation.study, annotation.exact))
    return [Inconsistency(node, classes, tuple(sorted(quotes.get(node, ()), key=str)))
            for node, classes in found]


# ---------------------------------------------------------------------------------------------
# Entry points

STUDY_LINKS = frozenset({COMM.relatedStudy, COMM.sharesTheoryWith, COMM.sharesMethodWith,
                         COMM.sharesConditionWith, COMM.sharesOrganisationTypeWith})


def reason_triples(
    asserted: Iterable[Triple],
    ontology: Ontology,
    *,
    exclude: Collection[URIRef] = frozenset(),
) -> set[Triple]:
    """`reason` on plain triples and a compiled ontology (no rdflib.Graph in or out).

    `asserted` may be the whole asserted graph or only its `knowledge()` (e.g. collected record
    by record in worker processes): the result is the same.
    """
    return reason_knowledge(knowledge(asserted, ontology), ontology, exclude=exclude)


def reason_knowledge(
    facts: set[Triple],
    ontology: Ontology,
    *,
    exclude: Collection[URIRef] = frozenset(),
) -> set[Triple]:
    """`reason_triples` on what `knowledge()` gives: triples the rules can use, each term the
    object that `ontology.names` holds for it (the rules compare rdf:type and owl:sameAs by
    identity). The build collects them record by record in its workers (packing.TermTable)."""
    if exclude:
        ontology = dataclasses.replace(
            ontology, chains=tuple(c for c in ontology.chains if c.result not in exclude))
    closure, same = _saturate(facts, ontology)
    inferred = _clean_closure(closure, same, knowledge=facts, ontology=ontology)
    return {t for t in inferred if t[1] not in exclude} if exclude else inferred


def reason(
    asserted: rdflib.Graph,
    ontology: rdflib.Graph,
    *,
    exclude: Collection[URIRef] = frozenset(),
) -> rdflib.Graph:
    """The new, meaningful triples that the OWL 2 RL `ontology` infers from `asserted`.

    Nothing asserted, nothing axiomatic, nothing about the RDF/OWL vocabulary; owl:sameAs aliases
    (a commentary's cited article) come out rewritten onto the canonical record, plus one
    `alias owl:sameAs canonical` link each.

    `exclude` names properties not to materialise: their property chains are not run and none of
    their triples is output. The study-to-study links (`STUDY_LINKS`) grow with the square of
    the number of records (every pair of studies that use interviews): at corpus scale, pass
    `exclude=STUDY_LINKS` and let the queries join through the shared concept instead.
    """
    return _graph(reason_triples(asserted, compile_ontology(ontology), exclude=exclude))


def _graph(triples: Iterable[Triple]) -> rdflib.Graph:
    graph = rdflib.Graph()
    graph.bind("comm", COMM)
    graph.bind("concept", CONCEPT)
    graph.bind("owl", OWL)
    graph.bind("bibo", BIBO)
    for t in triples:
        graph.add(t)
    return graph


def reason_with_owlrl(asserted: rdflib.Graph, ontology: rdflib.Graph) -> rdflib.Graph:
    """The reference: a plain owlrl closure of ontology + asserted, cleaned like `reason`.

    Slow (about 750 triples/s): for tests and benchmarks. owlrl's prp-key is replaced by a
    correct one (`_FixedKeys`).
    """
    import owlrl  # only the reference needs it

    class _FixedKeys(owlrl.OWLRL_Semantics):
        """owlrl 7.6.2 with prp-key comparing every key property (its own skips the last)."""

        def rules(self, t, cycle_num):
            if t[1] != OWL.hasKey:
                return super().rules(t, cycle_num)
            cls, props = t[0], list(self.graph.items(t[2]))
            by_value = defaultdict(set)
            for x in self.graph.subjects(RDF.type, cls):
                values = [set(self.graph.objects(x, p)) for p in props]
                for combination in itertools.product(*values):
                    by_value[combination].add(x)
            for group in by_value.values():
                first, *others = sorted(group, key=str)
                for other in others:
                    if (first, OWL.sameAs, other) not in self.graph:
                        self.store_triple((first, OWL.sameAs, other))

    compiled = compile_ontology(ontology)
    graph = rdflib.Graph()
    for t in itertools.chain(ontology, asserted):
        graph.add(t)
    owlrl.DeductiveClosure(_FixedKeys, axiomatic_triples=False).expand(graph)
    name = _interner(dict(compiled.names))
    closure = {(name(s), name(p), name(o)) for s, p, o in graph}
    inferred = clean(closure, knowledge=knowledge(asserted, compiled), ontology=compiled)
    return _graph(inferred)
