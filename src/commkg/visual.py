"""The interactive page: an RDF graph → two networkx projections → one self-contained HTML file.

    graph ──project──▶ Projection (full graph + study network + evidence + citations)
          ──focus (optional)──▶ a smaller Projection around one study or concept
          ──layout──▶ fixed positions ──render_page──▶ HTML (vis-network inlined, data as JSON)

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
  Every study keeps only its strongest links (`study_network`): 10,000 studies that all
  mention England would otherwise make 50 million edges.

Everything from a record (labels, quotes, titles) goes into the page only as JSON inside a
`<script type="application/json">` block, with `<`, `>`, `&`, U+2028 and U+2029 escaped, and
page.js puts it into the DOM with textContent only. A Content-Security-Policy allows only the
page's own two scripts (by hash) and no network at all, so even a bug there cannot load or run
anything else.

The layout is computed once, here, with a fixed seed, and rounded to whole pixels: vis-network
draws it with physics off, and the same graph gives a byte-identical page.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import html
import json
import math
import re
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TextIO

import networkx as nx
import numpy as np
import rdflib
from rdflib import RDF, RDFS, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF, OWL, SKOS

from commkg.errors import CommkgError
from commkg.writing import write_file_atomically

COMM = Namespace("https://w3id.org/commkg/ontology#")
OA = Namespace("http://www.w3.org/ns/oa#")
BIBO = Namespace("http://purl.org/ontology/bibo/")

PAGE_DIR = Path(__file__).parent / "page"

# (key, legend label, colour, vis-network shape). Okabe-Ito colours (readable by most colour-blind
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

# Every predicate project() reads; the index drops the rest (abstracts, offsets, provenance …).
_READ = frozenset({
    RDF.type, RDFS.label, SKOS.prefLabel, SKOS.notation, OWL.sameAs,
    DCTERMS.title, DCTERMS.creator, DCTERMS.issued, DCTERMS.isPartOf, FOAF.name, FOAF.familyName,
    BIBO.doi, BIBO.volume, BIBO.issue, BIBO.pages, COMM.eLocator, COMM.citedYear,
    COMM.sourceFile, COMM.hasSampleSize, COMM.discusses, COMM.involvesActor,
    COMM.hasOrganisationType, COMM.hasRole, *CONCEPT_LINKS, *ACTOR_RELATIONS,
    OA.hasTarget, OA.hasSource, OA.hasSelector, OA.hasBody, OA.exact, OA.start,
})
_READ_KEYS = frozenset(map(str.__str__, _READ))

# The strongest links each study keeps in the study network: up to 8, fewer in big corpora so
# that the network stays near STUDY_EDGE_BUDGET edges (vis-network builds about 10,000 edges a
# second; the page must be usable within seconds).
MAX_STUDY_LINKS = 8
STUDY_EDGE_BUDGET = 20_000
STUDY_VIEW_FROM = 500  # from this many studies on, the page opens in the study network view
SPRING_LAYOUT_MAX_NODES = 400  # above it, the whole-graph spring layout takes tens of seconds
LAYOUT_SEED = 20131  # any fixed number: the same input must give the same page
MAX_LABEL = 48  # characters of a study title shown on the canvas (the panel shows all)


class NotInGraphError(CommkgError):
    """A study or concept asked for by `focus_study` / `focus_concept` is not in the graph."""


@dataclass(frozen=True)
class Node:
    iri: str
    kind: str  # one of KIND_KEYS
    en: str  # English label ("" when none)
    zh: str  # Chinese label ("" when none)
    search: str = ""  # more text the search box matches (a study's full title, DOI, file name)


@dataclass(frozen=True)
class Study:
    """What the side panel says about one record."""

    title: str
    citation: str
    doi: str  # "" when the record has none
    file: str
    document_type: str  # Article, Review, Commentary
    samples: tuple[str, ...]  # "10 single depth interviews" …
    discusses: tuple[tuple[str, str], ...]  # (study IRI or "", title of a cited work not in the graph)


@dataclass
class Projection:
    nodes: dict[str, Node]
    full: nx.DiGraph  # edge attribute "relations": frozenset of labels
    studies: nx.Graph  # edge attribute "shared": sorted tuple of concept IRIs
    studies_info: dict[str, Study]
    # (node IRI, study IRI) → the quoted words of that study supporting that node, in text order
    evidence: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)


# ---------------------------------------------------------------------------------- reading RDF

class _Index:
    """The lookups `project` makes, over any iterable of triples (an rdflib Graph, or the build's
    set of tuples): one pass into plain dicts, keeping only the predicates the page reads. For a
    corpus of 10,000 records this is several times faster than rdflib's own store, and it lets
    the build hand over its triples without making a Graph of them first."""

    def __init__(self, triples: Iterable[tuple]):
        # Keyed by plain str: rdflib terms hash in Python code, plain strings in C, and this
        # loop runs once per triple (millions of times for a big corpus).
        self._pairs: dict[str, list[tuple]] = defaultdict(list)  # predicate → [(subject, object)]
        self._objects: dict[tuple[str, str], list] = defaultdict(list)  # (subject, predicate) → [object]
        read, plain = _READ_KEYS, str.__str__
        for s, p, o in triples:
            key = plain(p)
            if key in read:
                self._pairs[key].append((s, o))
                self._objects[plain(s), key].append(o)

    def objects(self, subject, predicate) -> list:
        return self._objects.get((str.__str__(subject), str.__str__(predicate)), [])

    def triples(self, pattern: tuple) -> Iterator[tuple]:
        """Only the (None, predicate, None) pattern, which is all `project` asks for."""
        _, predicate, _ = pattern
        for s, o in self._pairs.get(str.__str__(predicate), ()):
            yield s, predicate, o


def _labels(graph: _Index, subject) -> tuple[str, str]:
    """(English, Chinese) skos:prefLabel of `subject`, falling back to rdfs:label / notation."""
    en = zh = ""
    for label in sorted(graph.objects(subject, SKOS.prefLabel)):
        if isinstance(label, Literal):
            if (label.language or "").lower().startswith("zh") and not zh:
                zh = str(label)
            elif (label.language or "en").lower().startswith("en") and not en:
                en = str(label)
    if not en:
        fallback = sorted(str(o) for o in graph.objects(subject, RDFS.label))
        fallback = fallback or sorted(str(o) for o in graph.objects(subject, SKOS.notation))
        en = fallback[0] if fallback else _local_name(str(subject))
    return en, zh


def _local_name(iri: str) -> str:
    return re.split(r"[/#]", iri.rstrip("/"))[-1]


def _first(graph: _Index, subject, predicate) -> str:
    values = sorted(str(o) for o in graph.objects(subject, predicate))
    return values[0] if values else ""


def _natural_key(iri: str) -> tuple:
    """author/2 before author/10."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", iri))


def _short(text: str, limit: int = MAX_LABEL) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _citation(graph: _Index, study: URIRef, *, title: str, doi: str, file: str) -> tuple[str, str]:
    """(a reference in the usual form, a short label for the canvas). Records often carry no
    title, so the label falls back to first author + year, then journal + year + article id."""
    creators = sorted((str(c) for c in graph.objects(study, DCTERMS.creator)), key=_natural_key)
    names = [_first(graph, URIRef(c), FOAF.name) for c in creators]
    names = [n for n in names if n]
    authors = ", ".join(names[:3]) + (" et al." if len(names) > 3 else "")
    year = _first(graph, study, DCTERMS.issued)[:4] or _first(graph, study, COMM.citedYear)[:4]
    journal = next((_first(graph, j, DCTERMS.title) for j in sorted(graph.objects(study, DCTERMS.isPartOf))), "")
    volume, issue = _first(graph, study, BIBO.volume), _first(graph, study, BIBO.issue)
    pages = _first(graph, study, BIBO.pages) or _first(graph, study, COMM.eLocator)
    where = journal + (f" {volume}" if volume else "") + (f"({issue})" if issue else "") + (f": {pages}" if pages else "")
    if authors:
        parts = [f"{authors} ({year})" if year else authors, title, where]
    else:
        parts = [title, f"{where} ({year})" if year else where]
    parts.append(f"doi:{doi}" if doi else "")
    citation = ". ".join(p.strip() for p in parts if p.strip())
    citation = citation + "." if citation else ""  # the panel says there is none
    family = _first(graph, URIRef(creators[0]), FOAF.familyName) if creators else ""
    short = (_short(title) if title else
             " ".join(x for x in (family, year) if x) if family else
             " ".join(x for x in (journal, year, pages) if x) or Path(file).stem)
    return citation, short


def _kind_of_concept(types: set) -> str | None:
    for cls, kind in CONCEPT_KINDS:
        if cls in types:
            return kind
    return None


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a while. Indexing millions of triples makes
    millions of small containers, and each full collection walks all of them again: with it
    on, a 10,000-record corpus takes twice as long. Nothing made here forms a cycle."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def project(triples: Iterable[tuple]) -> Projection:
    """The full graph and the study network of an rdflib Graph or any iterable of triples
    (asserted, or asserted + inferred)."""
    with _collector_paused():
        return _project(_Index(triples))


def _project(graph: _Index) -> Projection:
    study_iris = sorted({s for s, _, _ in graph.triples((None, COMM.sourceFile, None)) if isinstance(s, URIRef)}, key=str)
    study_set = set(study_iris)
    nodes: dict[str, Node] = {}
    studies_info: dict[str, Study] = {}
    for study in study_iris:
        types = set(graph.objects(study, RDF.type))
        kind = "commentary" if COMM.Commentary in types else "study"
        document_type = ("Commentary" if COMM.Commentary in types else
                         "Review" if COMM.Review in types else "Article")
        file = _first(graph, study, COMM.sourceFile)
        title = _first(graph, study, DCTERMS.title)
        doi = _first(graph, study, BIBO.doi)
        citation, short = _citation(graph, study, title=title, doi=doi, file=file)
        if kind == "commentary" and not title:
            cited = sorted(_first(graph, c, DCTERMS.title) for c in graph.objects(study, COMM.discusses))
            short = _short("Commentary: " + cited[-1]) if cited and cited[-1] else short
        samples = tuple(sorted(_first(graph, s, RDFS.label) for s in graph.objects(study, COMM.hasSampleSize)))
        nodes[str(study)] = Node(str(study), kind, short, "", search=" ".join(x for x in (title, doi, file) if x))
        studies_info[str(study)] = Study(title=title, citation=citation, doi=doi, file=file,
                                         document_type=document_type, samples=samples, discusses=())

    # What each node of the full graph stands for: a concept (anything typed by a category
    # class) stands for itself; a per-record actor for its organisation type(s) / role(s).
    # `create=False` only looks up nodes already made (evidence must not add nodes).
    resolved: dict[tuple[str, bool], tuple[str, ...]] = {}

    def stands_for(term, create: bool = True) -> tuple[str, ...]:
        if str(term) in nodes:
            return (str(term),)
        key = (str(term), create)
        if key not in resolved:
            resolved[key] = _stands_for(term, create)
        return resolved[key]

    def _stands_for(term, create: bool) -> tuple[str, ...]:
        if not isinstance(term, URIRef):
            return ()
        kind = _kind_of_concept(set(graph.objects(term, RDF.type)))
        if kind is not None:
            if not create:
                return ()
            en, zh = _labels(graph, term)
            nodes[str(term)] = Node(str(term), kind, en, zh, search=_first(graph, term, SKOS.notation))
            return (str(term),)
        folded = sorted({o for p in (COMM.hasOrganisationType, COMM.hasRole) for o in graph.objects(term, p)}, key=str)
        return tuple(dict.fromkeys(t for o in folded for t in stands_for(o, create)))

    def actor_node(actor) -> tuple[str, ...]:
        """An actor with no organisation type or role (rare) is a node of its own."""
        targets = stands_for(actor)
        if targets or not isinstance(actor, URIRef):
            return targets
        en, zh = _labels(graph, actor)
        nodes[str(actor)] = Node(str(actor), "actor", en, zh)
        return (str(actor),)

    relations: dict[tuple[str, str], set[str]] = defaultdict(set)
    for predicate, label in CONCEPT_LINKS.items():
        for study, _, concept in graph.triples((None, predicate, None)):
            if study in study_set:
                for target in stands_for(concept):
                    relations[str(study), target].add(label)
    for study, _, actor in graph.triples((None, COMM.involvesActor, None)):
        if study in study_set:
            for target in actor_node(actor):
                relations[str(study), target].add("involves")
    for predicate, (label, reverse, symmetric) in ACTOR_RELATIONS.items():
        for a, _, b in graph.triples((None, predicate, None)):
            for x in actor_node(a):
                for y in actor_node(b):
                    if reverse:
                        x, y = y, x
                    if symmetric and y < x:
                        x, y = y, x
                    if x != y:
                        relations[x, y].add(label)

    # Commentaries → the studies they discuss (asserted by the extractor, or resolved by the
    # reasoner through owl:sameAs / a rewritten comm:discusses).
    alias: dict[URIRef, URIRef] = {}
    for a, _, b in graph.triples((None, OWL.sameAs, None)):
        if b in study_set:
            alias[a] = b
        elif a in study_set:
            alias[b] = a
    discusses: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for commentary, _, cited in graph.triples((None, COMM.discusses, None)):
        if commentary not in study_set:
            continue
        target = alias.get(cited, cited)
        if target in study_set and target != commentary:
            relations[str(commentary), str(target)].add("discusses")
            discusses[str(commentary)].add((str(target), ""))
        elif not any(alias.get(o, o) in study_set for o in graph.objects(commentary, COMM.discusses)):
            discusses[str(commentary)].add(("", _first(graph, cited, DCTERMS.title) or str(cited)))
    for study, items in discusses.items():
        info = studies_info[study]
        studies_info[study] = Study(**{**info.__dict__, "discusses": tuple(sorted(items))})

    full = nx.DiGraph()
    full.add_nodes_from(sorted(nodes))
    for (a, b), labels in sorted(relations.items()):
        full.add_edge(a, b, relations=frozenset(labels))

    evidence = _evidence(graph, study_set, stands_for)
    return Projection(nodes=nodes, full=full, studies=study_network(shared_concepts(full, studies_info)),
                      studies_info=studies_info, evidence=evidence)


def shared_concepts(full: nx.DiGraph, studies: Iterable[str]) -> dict[str, list[str]]:
    """Study → the nodes two studies can share: what it links to in the full graph, except
    other studies and the places linked only as where its authors work (page.js computes the
    same when it names what two studies share)."""
    studies = set(studies)
    return {study: sorted(n for n, data in full.adj[study].items()
                          if n not in studies and data["relations"] != {AUTHORED_IN})
            for study in sorted(studies)}


def _evidence(graph: _Index, study_set: set, stands_for) -> dict[tuple[str, str], tuple[str, ...]]:
    """(node, study) → quotes: oa:exact of each annotation whose body the node stands for, whose
    target's source is the study; in the order of the quote's position in the record."""
    found: dict[tuple[str, str], set[tuple[int, str]]] = defaultdict(set)
    studies = {str(s) for s in study_set}
    has_source, has_selector, has_body, exact_, start_ = OA.hasSource, OA.hasSelector, OA.hasBody, OA.exact, OA.start
    for annotation, _, target in graph.triples((None, OA.hasTarget, None)):
        sources = [str(s) for s in graph.objects(target, has_source) if str(s) in studies]
        if not sources:
            continue
        exact, start = "", 0
        for selector in graph.objects(target, has_selector):
            for value in graph.objects(selector, exact_):
                exact = str(value)
            for value in graph.objects(selector, start_):
                start = int(value) if str(value).isdigit() else 0
        if not exact:
            continue
        for body in graph.objects(annotation, has_body):
            if str(body) in studies:
                continue  # the citation line: the panel shows the citation itself
            for node in stands_for(body, False):
                for source in sources:
                    found[node, source].add((start, exact))
    return {key: tuple(dict.fromkeys(q for _, q in sorted(quotes))) for key, quotes in sorted(found.items())}


def study_network(shared: dict[str, list[str]], *, max_links: int | None = None) -> nx.Graph:
    """Studies linked where they share concepts (`shared`: study → its concepts).

    Each study keeps its `max_links` strongest links (most concepts shared; ties to the study
    that sorts first), and an edge stays when either end keeps it. Default: MAX_STUDY_LINKS,
    or fewer for big corpora (STUDY_EDGE_BUDGET). The counts come from a studies × concepts
    matrix multiplied block by block, so 10,000 studies take seconds.
    """
    studies = sorted(shared)
    if max_links is None:
        max_links = max(1, min(MAX_STUDY_LINKS, STUDY_EDGE_BUDGET // max(len(studies), 1)))
    network = nx.Graph()
    network.add_nodes_from(studies)
    concepts = sorted({c for cs in shared.values() for c in cs})
    if len(studies) < 2 or not concepts:
        return network
    column = {c: j for j, c in enumerate(concepts)}
    matrix = np.zeros((len(studies), len(concepts)), dtype=np.int32)
    for i, study in enumerate(studies):
        matrix[i, [column[c] for c in shared[study]]] = 1
    n = len(studies)
    kept: set[tuple[int, int]] = set()
    block = max(1, 4_000_000 // n)  # rows per block: about 16 MB of counts at a time
    for start in range(0, n, block):
        counts = matrix[start:start + block] @ matrix.T  # shared-concept counts, this block × all
        rows = np.arange(counts.shape[0])
        counts[rows, rows + start] = 0  # not linked to itself
        # One integer per candidate: more shared first, then the lower index. Unique keys make
        # the top-k choice exact, whatever algorithm argpartition uses.
        keys = counts.astype(np.int64) * n + (n - 1 - np.arange(n))
        k = min(max_links, n - 1)
        top = np.argpartition(-keys, k - 1, axis=1)[:, :k]
        for r in rows:
            for j in top[r]:
                if counts[r, j] > 0:
                    i = r + start
                    kept.add((min(i, j), max(i, j)))
    for i, j in sorted(kept):
        both = tuple(concepts[c] for c in np.flatnonzero(matrix[i] & matrix[j]))
        network.add_edge(studies[i], studies[j], shared=both)
    return network


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
        full=projection.full.subgraph(sorted(keep)).copy(),
        studies=projection.studies.subgraph(sorted(studies)).copy(),
        studies_info={k: v for k, v in projection.studies_info.items() if k in studies},
        evidence={k: v for k, v in projection.evidence.items() if k[0] in keep and k[1] in keep},
    )


def focus_on_study(projection: Projection, study: str) -> Projection:
    """One study, what it names, and its neighbours: the studies it shares most with and the
    commentaries that discuss it (or that it discusses)."""
    keep = {study} | set(projection.full.successors(study))
    keep |= set(projection.studies.neighbors(study))
    keep |= {p for p in projection.full.predecessors(study) if p in projection.studies_info}
    return restrict(projection, keep)


def focus_on_concept(projection: Projection, concept: str) -> Projection:
    """One concept and every study that names it."""
    keep = {concept} | {p for p in projection.full.predecessors(concept) if p in projection.studies_info}
    return restrict(projection, keep)


# -------------------------------------------------------------------------------------- layout

def _unit_pair(text: str) -> tuple[float, float]:
    """Two numbers in [0, 1) from a string: a jitter that is the same on every run and machine
    (Python's hash() is salted per process, so it cannot be used)."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") / 2**32, int.from_bytes(digest[4:8], "big") / 2**32


def layout(projection: Projection) -> dict[str, tuple[int, int]]:
    """Pixel positions for every node of the full graph, the same for the same projection.

    Concepts are laid out by a seeded spring layout of the concepts (linked where studies name
    both); each study starts at the centre of its concepts plus a small fixed jitter, so studies
    about the same things sit together (in both views). Small graphs are then relaxed by a
    seeded spring layout of the whole graph; big ones keep the placement (spring_layout is
    quadratic)."""
    full = projection.full
    order = sorted(full.nodes)
    if not order:
        return {}
    studies = set(projection.studies_info)
    concepts = [n for n in order if n not in studies]
    together: Counter[tuple[str, str]] = Counter()  # concept pair → studies naming both
    for study in sorted(studies):
        named = sorted(n for n in full.successors(study) if n not in studies)
        together.update(itertools.combinations(named, 2))
    for a, b in full.edges:
        if a not in studies and b not in studies:
            together[min(a, b), max(a, b)] += 1
    co = nx.Graph()
    co.add_nodes_from(concepts)
    co.add_weighted_edges_from((a, b, w) for (a, b), w in sorted(together.items()))
    position: dict[str, np.ndarray] = {}
    if concepts:
        spring = nx.spring_layout(co, seed=LAYOUT_SEED, weight="weight") if len(concepts) > 1 else {concepts[0]: np.zeros(2)}
        position.update({n: np.asarray(p, dtype=float) for n, p in spring.items()})
    spread = 0.9 / math.sqrt(max(len(concepts), 1))
    for study in sorted(studies):
        anchors = [position[n] for n in full.successors(study) if n in position]
        centre = np.mean(anchors, axis=0) if anchors else np.zeros(2)
        u, v = _unit_pair(study)
        radius = spread * (0.35 + math.sqrt(u)) * (1 if anchors else 3)
        position[study] = centre + radius * np.array([math.cos(2 * math.pi * v), math.sin(2 * math.pi * v)])
    if len(order) <= SPRING_LAYOUT_MAX_NODES and len(order) > 2:
        undirected = nx.Graph()
        undirected.add_nodes_from(order)
        undirected.add_edges_from(sorted(full.edges))
        start = {n: position[n] for n in order}
        # k: twice networkx's default spacing, so that the labels of hub concepts do not overlap.
        relaxed = nx.spring_layout(undirected, pos=start, seed=LAYOUT_SEED, iterations=60,
                                   k=2 / math.sqrt(len(order)))
        position = {n: np.asarray(relaxed[n]) for n in order}
    scale = 110 * math.sqrt(len(order))
    return {n: (int(round(position[n][0] * scale)), int(round(position[n][1] * scale))) for n in order}


# -------------------------------------------------------------------------------------- the page

def page_data(projection: Projection, *, title: str, focus: str | None = None,
              view: str | None = None) -> dict:
    """Everything the page shows, as plain JSON-able data. Nodes are referred to by their index
    in `nodes` (sorted by IRI), which keeps the file small."""
    with _collector_paused():  # hundreds of thousands of small lists for a big corpus
        return _page_data(projection, title=title, focus=focus, view=view)


def _page_data(projection: Projection, *, title: str, focus: str | None, view: str | None) -> dict:
    order = sorted(projection.full.nodes)
    index = {iri: i for i, iri in enumerate(order)}
    positions = layout(projection)
    degree = {n: sum(1 for p in projection.full.predecessors(n) if p in projection.studies_info) for n in order}
    relation_labels = sorted({label for _, _, d in projection.full.edges(data=True) for label in d["relations"]})
    relation_index = {label: i for i, label in enumerate(relation_labels)}
    quotes = sorted({q for qs in projection.evidence.values() for q in qs})
    quote_index = {q: i for i, q in enumerate(quotes)}
    nodes = []
    for iri in order:
        node = projection.nodes[iri]
        x, y = positions[iri]
        nodes.append([iri, KIND_KEYS.index(node.kind), node.en, node.zh, x, y, degree[iri], node.search])
    studies = []
    for iri in sorted(projection.studies_info):
        info = projection.studies_info[iri]
        studies.append([index[iri], info.title, info.citation, info.doi, info.file, info.document_type,
                        list(info.samples),
                        [[index.get(target, -1), text] for target, text in info.discusses if not target or target in index]])
    if view is None:
        view = "studies" if len(projection.studies_info) >= STUDY_VIEW_FROM else "full"
    return {
        "title": title,
        "view": view,
        "focus": index[focus] if focus in index else -1,
        "kinds": [list(kind) for kind in KINDS],
        "relations": relation_labels,
        "nodes": nodes,
        "edges": [[index[a], index[b], sorted(relation_index[r] for r in d["relations"])]
                  for a, b, d in sorted(projection.full.edges(data=True), key=lambda e: (index[e[0]], index[e[1]]))],
        # Only how many: page.js works out which from the study → concept edges when asked
        # (the lists would double the size of a big page).
        "studyEdges": [[index[a], index[b], len(d["shared"])]
                       for a, b, d in sorted(((min(a, b, key=index.get), max(a, b, key=index.get), d)
                                              for a, b, d in projection.studies.edges(data=True)),
                                             key=lambda e: (index[e[0]], index[e[1]]))],
        "studies": studies,
        "quotes": quotes,
        "evidence": [[index[n], index[s], [quote_index[q] for q in qs]]
                     for (n, s), qs in sorted(projection.evidence.items(), key=lambda kv: (index[kv[0][0]], index[kv[0][1]]))
                     if n in index and s in index],
    }


_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def json_for_script(data) -> str:
    """JSON that can sit inside <script type="application/json"> whatever its strings hold: no
    `</script>`, `<!--` or `&` sequence survives, and no JavaScript line separator."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return re.sub("[<>&\u2028\u2029]", lambda m: _JSON_ESCAPES[m.group()], text)


@cache
def _asset(name: str) -> str:
    return (PAGE_DIR / name).read_text(encoding="utf-8")


@cache
def _vis_network() -> str:
    """The vendored vis-network build, minus its source-map comment (the page points at no file)."""
    code = _asset("vendor/vis-network.min.js")
    code = re.sub(r"\n//# sourceMappingURL=\S*\s*$", "\n", code)
    if re.search(r"</script|<!--", code, re.IGNORECASE):  # would end the inline <script> early
        raise CommkgError("the vendored vis-network cannot be inlined: it contains </script or <!--")
    return code


def _script_hash(code: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(code.encode("utf-8")).digest()).decode("ascii") + "'"


def render_page(graph: rdflib.Graph | Iterable[tuple], *, title: str = "commkg",
                focus_study: str | None = None, focus_concept: str | None = None) -> str:
    """The interactive page of `graph` (a Graph, or any iterable of triples), as one
    self-contained HTML string.

    With `focus_study` (DOI, file name or IRI) or `focus_concept` (key or label), the page shows
    only that node and its neighbourhood, selected. Raises NotInGraphError when it is unknown.
    """
    projection = project(graph)
    focus = None
    if focus_study is not None:
        focus = find_study(projection, focus_study)
        projection = focus_on_study(projection, focus)
    elif focus_concept is not None:
        focus = find_concept(projection, focus_concept)
        projection = focus_on_concept(projection, focus)
    data = page_data(projection, title=title, focus=focus, view="full" if focus else None)
    return render_data(data)


def render_data(data: dict) -> str:
    """The HTML page for page_data's output."""
    vis, app = _vis_network(), _asset("page.js")
    policy = ("default-src 'none'; "
              f"script-src {_script_hash(vis)} {_script_hash(app)}; "
              "style-src 'unsafe-inline'; img-src data:; "
              "base-uri 'none'; form-action 'none'")
    parts = {
        "csp": html.escape(policy, quote=True),
        "title": html.escape(data["title"], quote=True),
        "css": _asset("page.css"),
        "data": json_for_script(data),
        "vis": vis,
        "app": app,
    }
    # One pass over the template only: a record that contains "{{vis}}" stays text.
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
