"""The interactive page: RDF triples (+ evidence annotations) → two projections → one self-contained HTML file.

    triples (+ annotations) ──project──▶ Projection (full graph + study network + evidence + citations)
          ──focus (optional)──▶ a smaller Projection around one study or concept
          ──page_data──▶ layout, and the data in columns and flat number lists
          ──render_data──▶ HTML (page/graph.js and page/page.js inlined, data as JSON)

The two projections (docs/model.md describes the RDF they read):

- the **full graph**: one node per study (comm:sourceFile: a record of the corpus) and per
  shared concept (theories, methods, places …). The per-record actors of layer 2 are folded
  into their organisation type or role (the CCGs of study A and of study B both show as the
  node "CCG"), so that the page stays readable and the node count does not grow with the
  corpus; an actor with neither (a named organisation typed only by its class) is its own node.
  Edges: study → concept (what the study names), actor relations between the folded nodes
  (commissions from, partners with …), and commentary → study (comm:discusses).
- the **study network**: one node per study; an edge where two studies share concepts, its
  weight the number shared. Computed here from the full graph's study → concept edges, never
  from the reasoner's study-to-study properties, so it works on asserted-only graphs too.
  Every study keeps only its strongest links (`study_links`): 10,000 studies that all
  mention England would otherwise make 50 million edges.

The evidence quotes come from `Annotation` tuples (commkg.evidence): the build hands them over
apart from the triples; `commkg view`, which reads output files, has them read out of the oa:
triples first (evidence.annotations_from_triples, on the oa: triples the one pass over the
input set aside). One consumer (`_evidence`) either way.

Everything from a record (labels, quotes, titles) goes into the page only as JSON inside a
`<script type="application/json">` block, with `<`, `>`, `&`, U+2028 and U+2029 escaped;
page.js puts it into the DOM with textContent only and graph.js onto the canvas with fillText.
A Content-Security-Policy allows only the page's own two scripts and style sheet (by hash) and
no network at all, so even a bug there cannot load or run anything else.

The layout is computed once, here, with a fixed seed, and rounded to whole pixels: the page
draws it as it is, and the same input gives a byte-identical page.

Speed (10,000 records, a million triples, 2 cores): the page's Python is a few seconds, most
of it one pass over the triples (bench/bench_page.py). Hence plain strings and plain dicts,
numpy for the quadratic parts, and no networkx on the way (Projection.full / .studies make
networkx graphs when asked).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import re
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TextIO

import numpy as np
import rdflib
from rdflib import RDF, RDFS, BNode, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF, OWL, SKOS

from commkg.errors import CommkgError
from commkg.bulk import collector_paused
from commkg.evidence import OA, Annotation, annotations_from_triples
from commkg.writing import write_file_atomically

if TYPE_CHECKING:
    import networkx as nx

COMM = Namespace("https://w3id.org/commkg/ontology#")
BIBO = Namespace("http://purl.org/ontology/bibo/")

PAGE_DIR = Path(__file__).parent / "page"

# (key, legend label, colour, shape on the canvas). Okabe-Ito colours (readable by most colour-blind
# people) and a distinct shape for the two kinds of record, so that colour is not the only cue.
KINDS: tuple[tuple[str, str, str, str], ...] = (
    ("study", "Study", "#0072B2", "square"),
    ("commentary", "Commentary", "#56B4E9", "diamond"),
    ("actor", "Organisation type / actor", "#E69F00", "dot"),
    ("theory", "Theory", "#CC79A7", "dot"),
    ("method", "Method", "#009E73", "dot"),
    ("condition", "Condition", "#D55E00", "dot"),
    ("activity", "Activity", "#C9B800", "dot"),
    ("policy", "Policy", "#7F3C8D", "dot"),
    ("place", "Place", "#8C8C8C", "dot"),
)
KIND_KEYS = tuple(kind[0] for kind in KINDS)

# A concept's kind, from its category class (docs/model.md, layer 1). First match wins, so a
# node the reasoner gives two of these classes still gets one kind, the same every time.
CONCEPT_KINDS: tuple[tuple[URIRef, str], ...] = (
    (COMM.OrganisationType, "actor"), (COMM.Role, "actor"), (COMM.Theory, "theory"),
    (COMM.Method, "method"), (COMM.Condition, "condition"), (COMM.Activity, "activity"),
    (COMM.Policy, "policy"), (COMM.Place, "place"),
)

# Study → concept properties, with the words the page uses for them.
CONCEPT_LINKS: dict[URIRef, str] = {
    COMM.involvesOrganisationType: "involves", COMM.involvesRole: "involves",
    COMM.usesTheory: "uses theory", COMM.usesMethod: "uses method",
    COMM.concernsCondition: "concerns condition", COMM.describesActivity: "describes activity",
    COMM.concernsPolicy: "concerns policy", COMM.setIn: "set in", COMM.authoredIn: "authored in",
}
# Two studies "share" what they are about; where their authors work is not part of that.
AUTHORED_IN = CONCEPT_LINKS[COMM.authoredIn]

# Actor → actor relations: (label, reverse the direction?, symmetric?). providesFor is drawn as
# the commissionsFrom it is the inverse of, so asserted and inferred graphs draw one edge.
ACTOR_RELATIONS: dict[URIRef, tuple[str, bool, bool]] = {
    COMM.commissionsFrom: ("commissions from", False, False),
    COMM.providesFor: ("commissions from", True, False),
    COMM.partnersWith: ("partners with", False, True),
    COMM.negotiatesWith: ("negotiates with", False, True),
    COMM.memberOf: ("is a member of", False, False),
}

# The strongest links each study keeps in the study network: up to 8, fewer in big corpora so
# that the network stays near STUDY_EDGE_BUDGET edges (the page must be usable within seconds).
MAX_STUDY_LINKS = 8
STUDY_EDGE_BUDGET = 20_000
STUDY_VIEW_FROM = 500  # from this many studies on, the page opens in the study network view
SPRING_LAYOUT_MAX_NODES = 400  # above it, the whole-graph spring layout takes tens of seconds
LAYOUT_SEED = 20131  # any fixed number: the same input must give the same page
MAX_LABEL = 48  # characters of a study title shown on the canvas (the panel shows all)


class NotInGraphError(CommkgError):
    """A study or concept asked for by `focus_study` / `focus_concept` is not in the graph."""


class Node(NamedTuple):
    """One node of the full graph. (Named tuples, not frozen dataclasses: 10,000 of each are
    made per page, and a frozen dataclass sets each field through object.__setattr__.)"""

    iri: str
    kind: str  # one of KIND_KEYS
    en: str  # English label ("" when none)
    zh: str  # Chinese label ("" when none)
    search: str = ""  # more text the search box matches (a study's full title, DOI, file name)


class Study(NamedTuple):
    """What the side panel says about one record."""

    title: str
    citation: str
    doi: str  # "" when the record has none
    file: str
    document_type: str  # Article, Review, Commentary
    samples: tuple[str, ...]  # "10 single depth interviews" …
    discusses: tuple[tuple[str, str], ...]  # (study IRI or "", title of a cited work not in the graph)

# ---------------------------------------------------------------------------------- reading RDF

class _P:
    """The predicates project() reads, as the plain strings the index is keyed by. (Naming an
    rdflib Namespace member makes a new URIRef each time, and comparing URIRefs runs Python
    code: at a million lookups, that is seconds.)"""

    type = str(RDF.type)
    label, pref_label, notation = str(RDFS.label), str(SKOS.prefLabel), str(SKOS.notation)
    same_as = str(OWL.sameAs)
    title, creator, issued, is_part_of = str(DCTERMS.title), str(DCTERMS.creator), str(DCTERMS.issued), str(DCTERMS.isPartOf)
    name, family_name = str(FOAF.name), str(FOAF.familyName)
    doi, volume, issue, pages = str(BIBO.doi), str(BIBO.volume), str(BIBO.issue), str(BIBO.pages)
    e_locator, cited_year, source_file = str(COMM.eLocator), str(COMM.citedYear), str(COMM.sourceFile)
    has_sample_size, discusses, involves_actor = str(COMM.hasSampleSize), str(COMM.discusses), str(COMM.involvesActor)
    has_organisation_type, has_role = str(COMM.hasOrganisationType), str(COMM.hasRole)
    has_target, has_source, has_selector = str(OA.hasTarget), str(OA.hasSource), str(OA.hasSelector)
    has_body, exact, start, end = str(OA.hasBody), str(OA.exact), str(OA.start), str(OA.end)
    concept_links = {str(p): label for p, label in CONCEPT_LINKS.items()}
    actor_relations = {str(p): how for p, how in ACTOR_RELATIONS.items()}
    commentary, review = str(COMM.Commentary), str(COMM.Review)
    concept_kinds = tuple((str(cls), kind) for cls, kind in CONCEPT_KINDS)


# How the index keeps each predicate project() reads (every other predicate is skipped: abstracts,
# offsets, provenance …): OBJECTS for lookups of a subject's values, PAIRS for a pass over every
# (subject, object) of the predicate, CLASSES for rdf:type, of which only the classes project()
# asks about are kept (rdf:type is a quarter of the triples).
_OBJECTS, _PAIRS, _CLASSES = 1, 2, 4
_ROUTE = {
    _P.type: _CLASSES, _P.same_as: _PAIRS, _P.involves_actor: _PAIRS,
    _P.source_file: _OBJECTS | _PAIRS, _P.discusses: _OBJECTS | _PAIRS,
    _P.has_organisation_type: _PAIRS, _P.has_role: _PAIRS,
    **{p: _PAIRS for p in _P.concept_links}, **{p: _PAIRS for p in _P.actor_relations},
    **{p: _OBJECTS for p in (_P.label, _P.pref_label, _P.notation, _P.title, _P.creator, _P.issued,
                             _P.is_part_of, _P.name, _P.family_name, _P.doi, _P.volume, _P.issue,
                             _P.pages, _P.e_locator, _P.cited_year, _P.has_sample_size)},
}
_EVIDENCE = 8  # the triple as it is, for evidence.annotations_from_triples
_ROUTE_WITH_EVIDENCE = {**_ROUTE, **{p: _EVIDENCE for p in (
    _P.has_target, _P.has_source, _P.has_selector, _P.has_body, _P.exact, _P.start, _P.end)}}
# The classes project() asks about: a study's kind, and the category classes of concepts.
_CLASSES_READ = frozenset({_P.commentary, _P.review, *(cls for cls, _ in _P.concept_kinds)})

_plain = str.__str__  # an rdflib term's text as a plain str, which Python hashes and compares in C


def _key(term):
    """How the index holds a subject or object: an IRI as its plain text, a blank node as
    "_:" + its id (it can never equal an IRI), a literal as itself (language and datatype)."""
    if isinstance(term, Literal):
        return term
    if isinstance(term, BNode):
        return "_:" + term
    return _plain(term)


def _is_iri(key) -> bool:
    return type(key) is str and not key.startswith("_:")


class _Index:
    """The lookups `project` makes, over any iterable of triples (an rdflib Graph, or the build's
    set of tuples): one pass into plain dicts keyed by plain strings (see _P), keeping only what
    the page reads. Far faster than rdflib's store, and the build hands its triples over as they
    are. This pass is most of project()'s time at scale: a million triples scattered over the
    heap cost about a microsecond each just to visit, so the loop does as little as it can."""

    def __init__(self, triples: Iterable[tuple], *, evidence: bool):
        self._objects: dict[tuple[str, str], list] = defaultdict(list)  # (subject, predicate) → objects
        # predicate → ([subject …], [object …]): two lists, not a list of pairs, to make (and
        # free) half a million fewer objects
        self._pairs: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
        route = _ROUTE_WITH_EVIDENCE if evidence else _ROUTE
        # subject → the classes asked about (kept apart: a small dict is quicker to look in,
        # and every actor is looked up for them)
        self._types: dict[str, list[str]] = defaultdict(list)
        self.evidence: list[tuple] = []  # the oa: triples, when asked for (`evidence`)
        objects, pairs, types, classes, plain, key, iri = self._objects, self._pairs, self._types, _CLASSES_READ, _plain, _key, URIRef
        keep_evidence = self.evidence.append
        for triple in triples:
            s, p, o = triple
            predicate = plain(p)
            how = route.get(predicate)
            if how is None:
                continue
            if how == _EVIDENCE:
                keep_evidence(triple)
                continue
            if how == _CLASSES:
                if type(o) is iri and plain(o) in classes:
                    types[plain(s) if type(s) is iri else key(s)].append(plain(o))
                continue
            s = plain(s) if type(s) is iri else key(s)
            o = plain(o) if type(o) is iri else key(o)
            if how & _OBJECTS:
                objects[s, predicate].append(o)
            if how & _PAIRS:
                subjects, objects_ = pairs[predicate]
                subjects.append(s)
                objects_.append(o)

    def objects(self, subject, predicate: str) -> list:
        """The objects of (subject, predicate), where the predicate is one of _P's strings."""
        return self._objects.get((subject, predicate), [])

    def types(self, subject) -> list[str]:
        """The classes of `subject` among those project() asks about (_CLASSES_READ)."""
        return self._types.get(subject, [])

    @property
    def typed(self) -> Collection:
        """The subjects that have one of those classes."""
        return self._types.keys()

    def first(self, subject, predicate: str) -> str:
        """The least object of (subject, predicate) as text, "" when none: one value, the same
        every time, where the data should have one and might have more."""
        values = self._objects.get((subject, predicate))
        if not values:
            return ""
        return str(values[0]) if len(values) == 1 else min(map(str, values))

    def pairs(self, predicate: str) -> Iterable[tuple]:
        """Every (subject, object) of `predicate`, in no particular order."""
        subjects, objects = self._pairs.get(predicate, ((), ()))
        return zip(subjects, objects)


def _labels(graph: _Index, subject: str) -> tuple[str, str]:
    """(English, Chinese) skos:prefLabel of `subject`, falling back to rdfs:label / notation."""
    en = zh = ""
    for label in sorted(graph.objects(subject, _P.pref_label)):
        if isinstance(label, Literal):
            if (label.language or "").lower().startswith("zh") and not zh:
                zh = str(label)
            elif (label.language or "en").lower().startswith("en") and not en:
                en = str(label)
    if not en:
        en = graph.first(subject, _P.label) or graph.first(subject, _P.notation) or _local_name(subject)
    return en, zh


def _local_name(iri: str) -> str:
    return re.split(r"[/#]", iri.rstrip("/"))[-1]


def _natural_key(iri: str) -> tuple:
    """author/2 before author/10."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", iri))


def _short(text: str, limit: int = MAX_LABEL) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class _Reference(NamedTuple):
    """What a study's citation is made of. Kept apart from the text because the journal's title
    comes from the triples records share: pagestate.py redoes the text when that title changes."""

    authors: str
    year: str
    journal: str  # the title of the journal below ("" when none)
    journal_iri: str  # the least of the study's journals ("" when none)
    volume: str
    issue: str
    pages: str
    family: str  # the first author's family name


def _reference(graph: _Index, study: str) -> _Reference:
    creators = sorted(map(str, graph.objects(study, _P.creator)), key=_natural_key)
    names = [n for n in (graph.first(c, _P.name) for c in creators) if n]
    authors = ", ".join(names[:3]) + (" et al." if len(names) > 3 else "")
    year = graph.first(study, _P.issued)[:4] or graph.first(study, _P.cited_year)[:4]
    journal_iri = min(map(str, graph.objects(study, _P.is_part_of)), default="")
    journal = graph.first(journal_iri, _P.title) if journal_iri else ""
    pages = graph.first(study, _P.pages) or graph.first(study, _P.e_locator)
    family = graph.first(creators[0], _P.family_name) if creators else ""
    return _Reference(authors, year, journal, journal_iri, graph.first(study, _P.volume),
                      graph.first(study, _P.issue), pages, family)


def _citation(reference: _Reference, *, title: str, doi: str, file: str) -> tuple[str, str]:
    """(a reference in the usual form, a short label for the canvas). Records often carry no
    title, so the label falls back to first author + year, then journal + year + article id."""
    authors, year, journal, _, volume, issue, pages, family = reference
    where = journal + (f" {volume}" if volume else "") + (f"({issue})" if issue else "") + (f": {pages}" if pages else "")
    if authors:
        parts = [f"{authors} ({year})" if year else authors, title, where]
    else:
        parts = [title, f"{where} ({year})" if year else where]
    parts.append(f"doi:{doi}" if doi else "")
    citation = ". ".join(p.strip() for p in parts if p.strip())
    citation = citation + "." if citation else ""  # the panel says there is none
    short = (_short(title) if title else
             " ".join(x for x in (family, year) if x) if family else
             " ".join(x for x in (journal, year, pages) if x) or Path(file).stem)
    return citation, short


def _kind_of_concept(types: Iterable[str]) -> str | None:
    for cls, kind in _P.concept_kinds:
        if cls in types:
            return kind
    return None


# Every relation label the full graph's edges carry, each a bit.
_LABEL_BITS = {label: 1 << i for i, label in enumerate(sorted(
    {*CONCEPT_LINKS.values(), *(label for label, _, _ in ACTOR_RELATIONS.values()), "involves", "discusses"}))}


@cache
def _label_set(mask: int) -> frozenset[str]:
    """The labels of a bit mask (one frozenset per combination, shared by every edge with it)."""
    return frozenset(label for label, bit in _LABEL_BITS.items() if mask & bit)


# ------------------------------------------------------------------------------------ evidence

def _annotations_in(graph: _Index) -> list[Annotation]:
    """The evidence annotations among the triples (docs/model.md, "Evidence"), read back by
    evidence.annotations_from_triples: what `project` reads when it is given no `annotations`."""
    return annotations_from_triples(graph.evidence)


def _evidence(annotations: Iterable[Annotation], studies: Collection[str],
              about: Mapping[str, tuple[str, ...]]) -> dict[tuple[str, str], tuple[str, ...]]:
    """(node, study) → quotes: the words (`exact`) of each annotation of the study (its
    `study`) whose bodies include something that stands for the node (`about`: body → the
    nodes it stands for), in the order of the words' position in the record."""
    found: dict[tuple[str, str], set[tuple[int, str]] | tuple[int, str]] = {}
    plain, nothing = _plain, ()
    last, study, known = None, "", False  # a record's annotations come together: look it up once
    for _, record, start, _, exact, bodies in annotations:  # Annotation's fields, unpacked: faster
        if record is not last:
            last, study = record, plain(record)
            known = study in studies
        if not known or not exact:
            continue
        quote = (start, exact)
        for body in bodies:
            body = plain(body)
            if body in studies:
                continue  # the citation line: the panel shows the citation itself
            for node in about.get(body, nothing):
                # Most (node, study) pairs have one quote: keep it bare, make a set at the second.
                held = found.setdefault((node, study), quote)
                if held is not quote and held != quote:
                    if type(held) is tuple:
                        found[node, study] = held = {held}
                    held.add(quote)
    alone: dict[str, tuple[str]] = {}  # one tuple per quote, shared by every entry quoting only it
    return {key: alone.setdefault(quotes[1], (quotes[1],)) if type(quotes) is tuple
            else tuple(dict.fromkeys(q for _, q in sorted(quotes)))
            for key, quotes in found.items()}


# ---------------------------------------------------------------------------------- projection

@dataclass
class Projection:
    """The two graphs the page draws, in plain dicts (networkx views on demand, for focusing
    and for tests: building them costs seconds at 10,000 records, and the page needs none)."""

    nodes: dict[str, Node]
    edges: dict[tuple[str, str], frozenset[str]]  # the full graph: (from, to) → relation labels
    links: dict[tuple[str, str], tuple[str, ...]]  # the study network: (a, b), a < b → concepts shared
    studies_info: dict[str, Study]
    # (node IRI, study IRI) → the quoted words of that study supporting that node, in text order
    evidence: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)

    @cached_property
    def full(self) -> nx.DiGraph:
        """The full graph; edge attribute "relations": frozenset of labels."""
        import networkx as nx

        graph = nx.DiGraph()
        graph.add_nodes_from(sorted(self.nodes))
        graph.add_edges_from((a, b, {"relations": labels}) for (a, b), labels in sorted(self.edges.items()))
        return graph

    @cached_property
    def studies(self) -> nx.Graph:
        """The study network; edge attribute "shared": sorted tuple of concept IRIs."""
        import networkx as nx

        graph = nx.Graph()
        graph.add_nodes_from(sorted(self.studies_info))
        graph.add_edges_from((a, b, {"shared": shared}) for (a, b), shared in sorted(self.links.items()))
        return graph


def project(triples: Iterable[tuple], *, annotations: Iterable[Annotation] | None = None) -> Projection:
    """The full graph and the study network of an rdflib Graph or any iterable of triples
    (asserted, or asserted + inferred).

    The evidence quotes come from `annotations` when given (the build keeps the evidence apart
    from the triples, which then hold none of it), else from the oa: annotations in the triples.
    """
    with collector_paused():
        graph = _Index(triples, evidence=annotations is None)
        projection = _project(graph, _annotations_in(graph) if annotations is None else annotations)
        # Freed now: once the collector is back on, its first pass walks every young object
        # still alive, and the index is a million of them.
        del graph
    return projection


class _Resolver:
    """What each term stands for in the full graph, making the nodes as it goes: a concept
    (anything typed by a category class) stands for itself; a per-record actor for its
    organisation type(s) / role(s). `create=False` only looks up nodes already made (evidence
    must not add nodes). A class, not closures calling each other: those would form a cycle that
    keeps the whole index alive until the garbage collector walks it."""

    def __init__(self, graph: _Index, nodes: dict[str, Node], folds: Mapping[str, set]):
        self.graph, self.nodes, self.folds = graph, nodes, folds
        self.resolved: dict[bool, dict[str, tuple[str, ...]]] = {True: {}, False: {}}  # create → term → nodes
        self.made = self.resolved[True]  # what each term met so far stands for (a concept: itself)

    def stands_for(self, term, create: bool = True) -> tuple[str, ...]:
        if term in self.nodes:
            return (term,)
        known = self.resolved[create]
        if term not in known:
            known[term] = self._stands_for(term, create)
        return known[term]

    def _stands_for(self, term, create: bool) -> tuple[str, ...]:
        if not _is_iri(term):
            return ()
        kind = _kind_of_concept(self.graph.types(term))
        if kind is not None:
            if not create:
                return ()
            en, zh = _labels(self.graph, term)
            self.nodes[term] = Node(term, kind, en, zh, search=self.graph.first(term, _P.notation))
            return (term,)
        folded = self.folds.get(term, ())
        if len(folded) == 1:
            return self.stands_for(next(iter(folded)), create)
        return tuple(dict.fromkeys(t for o in sorted(folded, key=str) for t in self.stands_for(o, create)))

    def actor_node(self, actor) -> tuple[str, ...]:
        """An actor with no organisation type or role (rare) is a node of its own."""
        targets = self.stands_for(actor)
        if targets or not _is_iri(actor):
            return targets
        en, zh = _labels(self.graph, actor)
        self.nodes[actor] = Node(actor, "actor", en, zh)
        self.made[actor] = (actor,)
        return self.made[actor]


def _study(graph: _Index, study: str) -> tuple[Node, Study, _Reference, str]:
    """A record's node and panel (its `discusses` left empty), with its citation's parts and the
    label of a commentary without a title ("" otherwise), from which _citation makes the same
    node and panel text again."""
    types = graph.types(study)
    kind = "commentary" if _P.commentary in types else "study"
    document_type = "Commentary" if _P.commentary in types else "Review" if _P.review in types else "Article"
    file = graph.first(study, _P.source_file)
    title = graph.first(study, _P.title)
    doi = graph.first(study, _P.doi)
    reference = _reference(graph, study)
    citation, short = _citation(reference, title=title, doi=doi, file=file)
    label = ""
    if kind == "commentary" and not title:
        cited = sorted(graph.first(c, _P.title) for c in graph.objects(study, _P.discusses))
        label = _short("Commentary: " + cited[-1]) if cited and cited[-1] else ""
    samples = tuple(sorted(graph.first(s, _P.label) for s in graph.objects(study, _P.has_sample_size)))
    node = Node(study, kind, label or short, "", search=" ".join(x for x in (title, doi, file) if x))
    info = Study(title=title, citation=citation, doi=doi, file=file, document_type=document_type,
                 samples=samples, discusses=())
    return node, info, reference, label


def discussions(graph: _Index, study_set: Collection[str], relations: dict[tuple[str, str], int]) -> dict[str, set[tuple[str, str]]]:
    """Commentaries → what they discuss, (study IRI, "") or ("", title of a work not in the
    graph): asserted by the extractor, or resolved by the reasoner through owl:sameAs or a
    rewritten comm:discusses. Each commentary → study edge goes into `relations` (label bits)."""
    alias: dict[str, str] = {}
    for a, b in sorted((a, b) for a, b in graph.pairs(_P.same_as) if _is_iri(a) and _is_iri(b)):
        if b in study_set:
            alias[a] = b
        elif a in study_set:
            alias[b] = a
    discusses: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for commentary, cited in graph.pairs(_P.discusses):
        if commentary not in study_set:
            continue
        target = alias.get(cited, cited)
        if target in study_set and target != commentary:
            relations[commentary, target] = relations.get((commentary, target), 0) | _LABEL_BITS["discusses"]
            discusses[commentary].add((target, ""))
        elif not any(alias.get(o, o) in study_set for o in graph.objects(commentary, _P.discusses)):
            discusses[commentary].add(("", graph.first(cited, _P.title) or str(cited)))
    return discusses


def study_relations(graph: _Index, study_set: Collection[str], resolver: _Resolver, *,
                    watched: Collection[str] = (), seen: set[tuple[str, str]] | None = None) -> dict[tuple[str, str], int]:
    """(study, node) → the labels of the study's links to that node, as bits (_LABEL_BITS): its
    concepts and the actors it involves, through what each stands for (making the nodes).
    Where `seen` is given, each (term, study) whose term is one of `watched` is added to it
    (pagestate notes which part uses which shared term)."""
    relations: dict[tuple[str, str], int] = {}
    stands_for, actor_node, made, folds = resolver.stands_for, resolver.actor_node, resolver.made, resolver.folds
    noting = seen is not None
    bits = _LABEL_BITS
    for predicate, label in _P.concept_links.items():
        bit = bits[label]
        for study, concept in graph.pairs(predicate):
            if study in study_set:
                if noting and concept in watched:
                    seen.add((concept, study))
                for target in made.get(concept) or stands_for(concept):
                    key = (study, target)
                    relations[key] = relations.get(key, 0) | bit
    bit = bits["involves"]
    typed, nodes = graph.typed, resolver.nodes
    for study, actor in graph.pairs(_P.involves_actor):
        if study in study_set:
            if noting and actor in watched:
                seen.add((actor, study))
            targets = made.get(actor)
            if targets is None:
                # Most actors (one per study and organisation type) have one organisation type
                # or role and no class of their own: what it stands for, without the calls.
                folded = folds.get(actor)
                if (folded is not None and len(folded) == 1 and actor not in typed and actor not in nodes
                        and _is_iri(actor)):
                    (what,) = folded
                    targets = made.get(what) or stands_for(what)
                    if targets:
                        made[actor] = targets
                targets = targets or actor_node(actor)
            for target in targets:
                key = (study, target)
                relations[key] = relations.get(key, 0) | bit
    return relations


def _project(graph: _Index, annotations: Iterable[Annotation]) -> Projection:
    study_iris = sorted({s for s, _ in graph.pairs(_P.source_file) if _is_iri(s)})
    study_set = set(study_iris)
    nodes: dict[str, Node] = {}
    studies_info: dict[str, Study] = {}
    for study in study_iris:
        nodes[study], studies_info[study], _, _ = _study(graph, study)

    folds: dict[str, set] = defaultdict(set)  # actor → its organisation types and roles
    for predicate in (_P.has_organisation_type, _P.has_role):
        for actor, what in graph.pairs(predicate):
            folds[actor].add(what)
    resolver = _Resolver(graph, nodes, folds)
    stands_for, actor_node, made = resolver.stands_for, resolver.actor_node, resolver.made

    # (from, to) → the relation labels as bits of an int (_LABEL_BITS): a quarter of a million
    # pairs, and an int is one small object where a set is a big one; the edges then share one
    # frozenset per combination (_label_set).
    relations = study_relations(graph, study_set, resolver)
    bits = _LABEL_BITS
    for predicate, (label, reverse, symmetric) in _P.actor_relations.items():
        bit = bits[label]
        for a, b in graph.pairs(predicate):
            for x in actor_node(a):
                for y in actor_node(b):
                    if reverse:
                        x, y = y, x
                    if symmetric and y < x:
                        x, y = y, x
                    if x != y:
                        relations[x, y] = relations.get((x, y), 0) | bit

    for study, items in discussions(graph, study_set, relations).items():
        studies_info[study] = studies_info[study]._replace(discusses=tuple(sorted(items)))

    edges = {pair: _label_set(mask) for pair, mask in relations.items()}
    # What evidence can be about: the nodes, and the actors (through what they stand for).
    # Resolved once here, not per annotation body: there are hundreds of thousands of bodies.
    about = {node: (node,) for node in nodes}
    # An actor resolved while the nodes were made stands for the same nodes now (any node it
    # needed was made then); only the others are looked up, without making nodes.
    about.update((actor, made[actor] if actor in made else stands_for(actor, False)) for actor in folds if actor not in nodes)
    evidence = _evidence(annotations, study_set, about)
    return Projection(nodes=dict(sorted(nodes.items())), edges=edges,
                      links=study_links(shared_concepts(edges, studies_info)),
                      studies_info=studies_info, evidence=evidence)


def shared_concepts(edges: Mapping[tuple[str, str], Collection[str]], studies: Iterable[str]) -> dict[str, list[str]]:
    """Study → the nodes two studies can share: what it links to in the full graph (`edges`:
    (from, to) → relation labels), except other studies and the places linked only as where
    its authors work (page.js computes the same when it names what two studies share)."""
    studies = set(studies)
    shared: dict[str, list[str]] = {study: [] for study in sorted(studies)}
    only_authored = {AUTHORED_IN}
    for (a, b), labels in edges.items():
        if a in studies and b not in studies and labels != only_authored:
            shared[a].append(b)
    for concepts in shared.values():
        concepts.sort()
    return shared


def study_network(shared: dict[str, list[str]], *, max_links: int | None = None) -> nx.Graph:
    """`study_links` as a networkx graph with every study a node (edge attribute "shared")."""
    import networkx as nx

    network = nx.Graph()
    network.add_nodes_from(sorted(shared))
    network.add_edges_from((a, b, {"shared": both}) for (a, b), both in study_links(shared, max_links=max_links).items())
    return network


def study_links(shared: dict[str, list[str]], *, max_links: int | None = None) -> dict[tuple[str, str], tuple[str, ...]]:
    """Studies linked where they share concepts (`shared`: study → its concepts): (a, b) with
    a < b → the concepts both name, sorted.

    Each study keeps its `max_links` strongest links (most concepts shared; ties to the study
    that sorts first), and a link stays when either end keeps it. Default: MAX_STUDY_LINKS,
    or fewer for big corpora (STUDY_EDGE_BUDGET). The counts come from a studies × concepts
    matrix multiplied block by block: about a second for 10,000 studies.
    """
    studies = sorted(shared)
    if max_links is None:
        max_links = max(1, min(MAX_STUDY_LINKS, STUDY_EDGE_BUDGET // max(len(studies), 1)))
    concepts = sorted({c for cs in shared.values() for c in cs})
    n = len(studies)
    if n < 2 or not concepts:
        return {}
    column = {c: j for j, c in enumerate(concepts)}
    rows = [i for i, s in enumerate(studies) for _ in shared[s]]
    columns = [column[c] for s in studies for c in shared[s]]
    # float32: the product runs in BLAS (integer matrices do not), and counts below 2**24 are exact.
    matrix = np.zeros((n, len(concepts)), dtype=np.float32)
    matrix[rows, columns] = 1
    k = min(max_links, n - 1)
    pairs = []
    block = max(1, 4_000_000 // n)  # rows per block: about 16 MB of counts at a time
    for start in range(0, n, block):
        counts = matrix[start:start + block] @ matrix.T  # concepts shared, this block × all
        here = np.arange(counts.shape[0])
        counts[here, here + start] = -1  # not linked to itself
        # The k strongest, one argmax at a time: argmax takes the first of equal counts, which
        # is the tie-break wanted (the study that sorts first), and k is small.
        for _ in range(k):
            best = counts.argmax(axis=1)
            linked = counts[here, best] > 0
            i, j = here[linked] + start, best[linked]
            pairs.append(np.minimum(i, j) * n + np.maximum(i, j))
            counts[here, best] = -1
    kept = np.unique(np.concatenate(pairs))
    sets = [set(shared[s]) for s in studies]
    return {(studies[i], studies[j]): tuple(sorted(sets[i] & sets[j]))
            for i, j in zip((kept // n).tolist(), (kept % n).tolist())}


# ------------------------------------------------------------------------------------ focusing

def _normal(text: str) -> str:
    return " ".join(text.casefold().split())


def find_study(projection: Projection, wanted: str) -> str:
    """The study IRI for a DOI (with or without https://doi.org/), a file name or stem, or an IRI."""
    target = _normal(wanted).removeprefix("https://doi.org/").removeprefix("doi:")
    for iri, info in sorted(projection.studies_info.items()):
        names = {_normal(iri), _normal(info.doi), _normal(info.file), _normal(Path(info.file).stem)}
        if target in names - {""}:
            return iri
    raise NotInGraphError(f"no study {wanted!r} in the graph (give a DOI, a record's file name, or its IRI)")


def find_concept(projection: Projection, wanted: str) -> str:
    """The node IRI for a vocabulary key (ResourceDependencyTheory), an English or Chinese label, or an IRI."""
    target = _normal(wanted)
    for iri, node in sorted(projection.nodes.items()):
        if node.kind in ("study", "commentary"):
            continue
        if target in {_normal(iri), _normal(_local_name(iri)), _normal(node.en), _normal(node.zh), _normal(node.search)} - {""}:
            return iri
    raise NotInGraphError(f"no concept {wanted!r} in the graph (give a vocabulary key such as "
                          "ResourceDependencyTheory, or its English or Chinese label)")


def restrict(projection: Projection, keep: Iterable[str]) -> Projection:
    """The projection cut down to the nodes `keep` (edges between them only)."""
    keep = set(keep)
    studies = {s for s in keep if s in projection.studies_info}
    return Projection(
        nodes={k: v for k, v in projection.nodes.items() if k in keep},
        edges={(a, b): r for (a, b), r in projection.edges.items() if a in keep and b in keep},
        links={(a, b): s for (a, b), s in projection.links.items() if a in studies and b in studies},
        studies_info={k: v for k, v in projection.studies_info.items() if k in studies},
        evidence={k: v for k, v in projection.evidence.items() if k[0] in keep and k[1] in keep},
    )


def focus_on_study(projection: Projection, study: str) -> Projection:
    """One study, what it names, and its neighbours: the studies it shares most with and the
    commentaries that discuss it (or that it discusses)."""
    keep = {study} | {b for a, b in projection.edges if a == study}
    keep |= {b if a == study else a for a, b in projection.links if study in (a, b)}
    keep |= {a for a, b in projection.edges if b == study and a in projection.studies_info}
    return restrict(projection, keep)


def focus_on_concept(projection: Projection, concept: str) -> Projection:
    """One concept and every study that names it."""
    keep = {concept} | {a for a, b in projection.edges if b == concept and a in projection.studies_info}
    return restrict(projection, keep)


# -------------------------------------------------------------------------------------- layout

def _unit_pair(text: str) -> tuple[float, float]:
    """Two numbers in [0, 1) from a string: a jitter that is the same on every run and machine
    (Python's hash() is salted per process, so it cannot be used)."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") / 2**32, int.from_bytes(digest[4:8], "big") / 2**32


def _grouped(groups: np.ndarray, rows: np.ndarray) -> list[int]:
    """`rows` (one row of numbers each, sorted by `groups`, ascending) as one flat list: for
    each group, the step from the previous group's number (the first from 0), how many rows,
    then the rows' numbers. Made with array arithmetic: 200,000 rows in a few milliseconds."""
    count, width = rows.shape
    if not count:
        return []
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])  # each group's first row
    sizes = np.diff(np.r_[starts, count])
    flat = np.empty(2 * len(starts) + width * count, dtype=np.int64)
    heads = 2 * np.arange(len(starts)) + width * starts  # where each group's two numbers go
    flat[heads] = np.diff(groups[starts], prepend=0)
    flat[heads + 1] = sizes
    at = 2 * (np.repeat(np.arange(len(starts)), sizes) + 1) + width * np.arange(count)  # each row's first number
    for column in range(width):
        flat[at + column] = rows[:, column]
    return flat.tolist()


class _Numbered:
    """The projection's nodes numbered in page order (the concepts, then the studies, each
    sorted by IRI: the many study → concept edges then point at small numbers) and its edges as
    arrays of those numbers, sorted. Made once per page; the layout and the page data share it."""

    def __init__(self, projection: Projection):
        studies = sorted(projection.studies_info)
        concepts = sorted(n for n in projection.nodes if n not in projection.studies_info)
        self.order = concepts + studies
        self.first_study = len(concepts)
        self.index = index = {iri: i for i, iri in enumerate(self.order)}
        source, target, relations = [], [], []
        for (a, b), labels in projection.edges.items():
            source.append(index[a])
            target.append(index[b])
            relations.append(labels)
        source, target = np.array(source, dtype=np.int64), np.array(target, dtype=np.int64)
        # Sorting numbers, not IRI pairs: 200,000 tuples of long strings sort ten times slower.
        by_number = np.argsort(source * max(len(self.order), 1) + target, kind="stable")
        self.source, self.target = source[by_number], target[by_number]
        self.relations = [relations[k] for k in by_number.tolist()]


def layout(projection: Projection) -> dict[str, tuple[int, int]]:
    """Pixel positions for every node of the full graph, the same for the same projection."""
    numbered = _Numbered(projection)
    return dict(zip(numbered.order, map(tuple, _layout(projection, numbered).tolist())))


def _layout(projection: Projection, numbered: _Numbered) -> np.ndarray:
    """Pixel positions (x, y) of the nodes in `numbered.order`."""
    return _positions(numbered.order, numbered.first_study, numbered.source, numbered.target,
                      jitter=_jitter(numbered.order[numbered.first_study:]),
                      edges=lambda: sorted(projection.edges), index=numbered.index)


def _jitter(studies: list[str]) -> np.ndarray:
    return np.array([_unit_pair(study) for study in studies], dtype=float).reshape(-1, 2)


def _positions(order: list[str], first: int, source: np.ndarray, target: np.ndarray, *, jitter: np.ndarray,
               edges: Callable[[], Iterable[tuple[str, str]]], index: Mapping[str, int]) -> np.ndarray:
    """Pixel positions (x, y) of the nodes in `order` (concepts, then studies from `first` on),
    given the edges as numbers into it (`source` → `target`, sorted), each study's jitter
    (_unit_pair of its IRI), and, for small graphs only, the edges as sorted IRI pairs.

    Concepts are laid out by a seeded spring layout of the concepts (linked where studies name
    both), which is small whatever the corpus; each study sits at the centre of its concepts
    plus a small fixed jitter, so studies about the same things sit together (in both views).
    Small graphs are then relaxed by a seeded spring layout of the whole graph; big ones keep
    the placement (spring_layout is quadratic)."""
    # Here, not at the top: it takes 0.15 s to load, which a patch's main process need not pay
    # (the page's job imports it while it waits: incremental._updated_page).
    import networkx as nx

    if not order:
        return np.zeros((0, 2), dtype=np.int64)
    concepts = order[:first]
    # Studies × concepts: which concepts each study links to.
    named = np.zeros((len(order) - first, len(concepts)), dtype=np.float32)
    names = (source >= first) & (target < first)
    named[source[names] - first, target[names]] = 1
    # Concept pairs: studies naming both (exact in float32 below 2**24), plus one for each
    # direct edge between them (actor relations).
    together = np.rint(named.T @ named).astype(np.int64)
    between = (source < first) & (target < first)
    np.add.at(together, (np.minimum(source[between], target[between]), np.maximum(source[between], target[between])), 1)
    co = nx.Graph()
    co.add_nodes_from(concepts)
    co.add_weighted_edges_from((concepts[i], concepts[j], int(together[i, j]))
                               for i, j in zip(*np.nonzero(np.triu(together, 1))))
    spots = np.zeros((len(concepts), 2))
    if len(concepts) > 1:
        spring = nx.spring_layout(co, seed=LAYOUT_SEED, weight="weight")
        spots = np.array([spring[c] for c in concepts], dtype=float)
    spread = 0.9 / math.sqrt(max(len(concepts), 1))
    anchors = named.sum(axis=1)
    centres = (named.astype(float) @ spots) / np.maximum(anchors, 1)[:, None]
    radius = spread * (0.35 + np.sqrt(jitter[:, 0])) * np.where(anchors > 0, 1, 3)
    angle = 2 * math.pi * jitter[:, 1]
    position = np.vstack([spots, centres + radius[:, None] * np.column_stack([np.cos(angle), np.sin(angle)])])
    if 2 < len(order) <= SPRING_LAYOUT_MAX_NODES:
        by_iri = sorted(order)
        undirected = nx.Graph()
        undirected.add_nodes_from(by_iri)
        undirected.add_edges_from(edges())
        start = {n: position[index[n]] for n in by_iri}
        # k: twice networkx's default spacing, so that the labels of hub concepts do not overlap.
        relaxed = nx.spring_layout(undirected, pos=start, seed=LAYOUT_SEED, iterations=60,
                                   k=2 / math.sqrt(len(order)))
        position = np.array([relaxed[n] for n in order], dtype=float)
    return np.rint(position * (110 * math.sqrt(len(order)))).astype(np.int64)


# -------------------------------------------------------------------------------------- the page

def page_data(projection: Projection, *, title: str, focus: str | None = None,
              view: str | None = None) -> dict:
    """Everything the page shows, as plain JSON-able data.

    Nodes are numbered: the concepts first, then the studies (from `firstStudy` on), each
    sorted by IRI. Per-node values are columns (`nodes.iri[i]`, `nodes.x[i]` …; `zh`, `degree`
    and `search` for the concepts only) and per-study values too (`studies.title[i -
    firstStudy]` …; `type` indexes `documentTypes`). Edges and evidence are flat lists of
    numbers, not one list per item (a big page has 200,000 edges, and every small list costs the
    reader's browser time to parse):

    - `edges`: the full graph's edges grouped by source, sources ascending: for each source, the
      step from the previous source, how many edges, then (target, index into `relationSets`)
      for each, targets ascending;
    - `studyEdges`: (study a, study b, how many concepts they share), a < b, sorted;
    - `evidence`: grouped by study the same way: for each study, the step, how many quotes,
      then (node, index into `quotes`) for each, by node and then in text order.
    """
    with collector_paused():  # hundreds of thousands of small lists for a big corpus
        return _page_data(projection, title=title, focus=focus, view=view)


def _page_data(projection: Projection, *, title: str, focus: str | None, view: str | None) -> dict:
    numbered = _Numbered(projection)
    order, index, first = numbered.order, numbered.index, numbered.first_study
    positions = _layout(projection, numbered)
    source, target = numbered.source, numbered.target
    degree = np.bincount(target[source >= first], minlength=len(order))[:first]  # studies naming it
    relations, relation_sets, set_index = relation_numbers(set(numbered.relations))
    edges = _grouped(source, np.column_stack([target, [set_index[labels] for labels in numbered.relations]]))

    nodes = [projection.nodes[iri] for iri in order]
    concepts = nodes[:first]
    infos = [projection.studies_info[iri] for iri in order[first:]]

    # Evidence sorted by study and node: numbered, then sorted as numbers.
    cited_in, cited, quoted = [], [], []  # per entry: study number, node number, quotes
    for (n, s), quotes in projection.evidence.items():
        if n in index and s in index:
            cited_in.append(index[s])
            cited.append(index[n])
            quoted.append(quotes)
    by_number = np.argsort(np.array(cited_in, dtype=np.int64) * max(len(order), 1) + np.array(cited, dtype=np.int64),
                           kind="stable").tolist()
    quote_index: dict[str, int] = {}  # numbered as first met in that order: no sorting of strings
    rows = [(cited_in[k], cited[k], quote_index.setdefault(q, len(quote_index))) for k in by_number for q in quoted[k]]
    rows = np.array(rows, dtype=np.int64).reshape(-1, 3)
    evidence = _grouped(rows[:, 0], rows[:, 1:])

    if view is None:
        view = "studies" if len(projection.studies_info) >= STUDY_VIEW_FROM else "full"
    kind_index = {key: i for i, key in enumerate(KIND_KEYS)}
    document_types = sorted({info.document_type for info in infos})
    return assemble_page_data(
        title=title, view=view, focus=index[focus] if focus in index else -1, relations=relations,
        relation_sets=relation_sets, first_study=first, document_types=document_types,
        iri=order, kind=[kind_index[node.kind] for node in nodes], en=[node.en for node in nodes],
        positions=positions, zh=[node.zh for node in concepts], degree=degree,
        search=[node.search for node in concepts],
        study_title=[info.title for info in infos], citation=[info.citation for info in infos],
        doi=[info.doi for info in infos], file=[info.file for info in infos],
        document_type=[document_types.index(info.document_type) for info in infos],
        samples=[list(info.samples) for info in infos],
        discusses=[[[index.get(target, -1), text] for target, text in info.discusses if not target or target in index]
                   for info in infos],
        edges=edges,
        # Only how many: page.js works out which from the study → concept edges when asked
        # (the lists would double the size of a big page).
        study_edges=[v for a, b, c in sorted((index[a], index[b], len(shared)) for (a, b), shared in projection.links.items())
                     for v in (a, b, c)],
        quotes=list(quote_index), evidence=evidence)


def relation_numbers(label_sets: Collection[frozenset[str]]) -> tuple[list[str], list[tuple[int, ...]], dict[frozenset[str], int]]:
    """How the page numbers the edges' labels: the labels of `label_sets` (the distinct sets
    the edges carry), sorted; those sets as sorted label numbers, sorted; each set's number."""
    relations = sorted({label for labels in label_sets for label in labels})
    relation_index = {label: i for i, label in enumerate(relations)}
    relation_sets = sorted({tuple(sorted(relation_index[r] for r in labels)) for labels in label_sets})
    set_index = {frozenset(relations[r] for r in rs): i for i, rs in enumerate(relation_sets)}
    return relations, relation_sets, set_index


def assemble_page_data(*, title: str, view: str, focus: int, relations: list[str], relation_sets: list[tuple[int, ...]],
                       first_study: int, document_types: list[str], iri: list[str], kind: list[int], en: list[str],
                       positions: np.ndarray, zh: list[str], degree: np.ndarray, search: list[str],
                       study_title: list[str], citation: list[str], doi: list[str], file: list[str],
                       document_type: list[int], samples: list, discusses: list, edges: list[int],
                       study_edges: list[int], quotes: list[str], evidence: list[int]) -> dict:
    """The page's data as page.js reads it, from its columns: its keys and their order in one
    place for both ways a page is made (from a projection here, from its state in pagestate)."""
    return {
        "title": title,
        "view": view,
        "focus": focus,
        "kinds": [list(each) for each in KINDS],
        "relations": relations,
        "relationSets": [list(rs) for rs in relation_sets],
        "firstStudy": first_study,
        "documentTypes": document_types,
        "nodes": {
            "iri": iri,
            "kind": kind,
            "en": en,
            "x": positions[:, 0].tolist(),
            "y": positions[:, 1].tolist(),
            "zh": zh,
            "degree": degree.tolist(),
            "search": search,
        },
        "studies": {
            "title": study_title,
            "citation": citation,
            "doi": doi,
            "file": file,
            "type": document_type,
            "samples": samples,
            "discusses": discusses,
        },
        "edges": edges,
        "studyEdges": study_edges,
        "quotes": quotes,
        "evidence": evidence,
    }


_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def json_for_script(data) -> str:
    """JSON that can sit inside <script type="application/json"> whatever its strings hold: no
    `</script>`, `<!--` or `&` sequence survives, and no JavaScript line separator."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for character, escape in _JSON_ESCAPES.items():  # str.replace: a pass in C each, no matches to call back
        text = text.replace(character, escape)
    return text


@cache
def _asset(name: str) -> str:
    return (PAGE_DIR / name).read_text(encoding="utf-8")


@cache
def _script(name: str) -> str:
    """One of the page's own scripts, checked to be safe to inline."""
    code = _asset(name)
    if re.search(r"</script|<!--", code, re.IGNORECASE):  # would end the inline <script> early
        raise CommkgError(f"page/{name} cannot be inlined: it contains </script or <!--")
    return code


def page_scripts() -> tuple[str, ...]:
    """The code of the page's own scripts, in page order (the renderer, then the page)."""
    return _script("graph.js"), _script("page.js")


def _source_hash(code: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(code.encode("utf-8")).digest()).decode("ascii") + "'"


def render_page(graph: rdflib.Graph | Iterable[tuple], *, title: str = "commkg",
                focus_study: str | None = None, focus_concept: str | None = None,
                annotations: Iterable[Annotation] | None = None) -> str:
    """The interactive page of `graph` (a Graph, or any iterable of triples), as one
    self-contained HTML string. The evidence quotes come from `annotations` when given (the
    triples then need hold no oa: evidence), else from the evidence in the triples.

    With `focus_study` (DOI, file name or IRI) or `focus_concept` (key or label), the page shows
    only that node and its neighbourhood, selected. Raises NotInGraphError when it is unknown.
    """
    # The collector stays off from the first step to the last, and what they make is freed
    # before it is back on: its first pass walks every young object still alive, and the
    # projection and the page data are millions of them.
    with collector_paused():
        projection = project(graph, annotations=annotations)
        focus = None
        if focus_study is not None:
            focus = find_study(projection, focus_study)
            projection = focus_on_study(projection, focus)
        elif focus_concept is not None:
            focus = find_concept(projection, focus_concept)
            projection = focus_on_concept(projection, focus)
        data = page_data(projection, title=title, focus=focus, view="full" if focus else None)
        del projection
        page = render_data(data)
        del data
    return page


def render_data(data: dict) -> str:
    """The HTML page for page_data's output."""
    graph, app = page_scripts()
    css = _asset("page.css")
    # Only the page's own scripts and style sheet, by hash, and nothing from anywhere else.
    policy = ("default-src 'none'; "
              f"script-src {_source_hash(graph)} {_source_hash(app)}; "
              f"style-src {_source_hash(css)}; "
              "base-uri 'none'; form-action 'none'")
    parts = {
        "csp": html.escape(policy, quote=True),
        "title": html.escape(data["title"], quote=True),
        "css": css,
        "data": json_for_script(data),
        "graph": graph,
        "app": app,
    }
    # One pass over the template only: a record that contains "{{graph}}" stays text.
    return re.sub(r"\{\{(\w+)\}\}", lambda m: parts[m.group(1)], _asset("page.html"))


def write_html(stream: TextIO, graph: rdflib.Graph | Iterable[tuple], **kw) -> None:
    """Write the page to an open text stream: the shape of writing.write_turtle, so that the
    build can write graph.html in the same atomic step as its other files."""
    stream.write(render_page(graph, **kw))


def write_page(graph: rdflib.Graph | Iterable[tuple], path: Path | str, **kw) -> Path:
    """Render the page (keyword arguments as render_page) and write it atomically to `path`
    (a temporary file beside it, then os.replace): a reader never sees half a page."""
    page = render_page(graph, **kw)
    return write_file_atomically(Path(path), lambda stream: stream.write(page))
