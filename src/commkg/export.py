"""Exports of a build for data teams: Turtle, N-Triples, N-Quads, TriG, JSON-LD and GraphML.

    read the build folder (graph.trig, else asserted.ttl [+ inferred.ttl]) → pick graphs → write

Every format is deterministic: the same triples give the same bytes whatever order rdflib
iterates them in (which depends on PYTHONHASHSEED, rdflib #3545). N-Triples and N-Quads are
written here line by line and sorted; Turtle and TriG reuse writing.py's sorted Turtle; JSON-LD
is built as plain JSON with a fixed @context (the prefixes of docs/model.md); GraphML adds nodes
and edges to networkx in sorted order, which it writes in insertion order.

Blank nodes (only the RDF lists of owl:hasKey in the ontology graph) are relabelled canonically,
per graph, so that two graphs never share a label in a TriG or N-Quads document.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TextIO

import rdflib
from rdflib import RDF, RDFS, XSD, BNode, Literal, URIRef
from rdflib.namespace import DCTERMS, FOAF, SKOS

from commkg.build import (ASSERTED_FILE, GRAPH_BASE, INFERRED_FILE, OUTPUT_PREFIXES, PROVENANCE_FILE, TRIG_FILE,
                          is_evidence)
from commkg.errors import CommkgError
from commkg.resources import ontology_file
from commkg.writing import _IRI_UNSAFE, _canonical_blank_nodes, _uchar, quoted_string, write_file_atomically
from commkg.writing import write_trig as _sorted_trig
from commkg.writing import write_turtle as _sorted_turtle

Triple = tuple

# The named graphs of graph.trig (docs/model.md: names and IRIs are fixed), in document order.
DATA_GRAPHS = ("ontology", "asserted", "inferred", "evidence")
# Provenance changes with every build, so it lives in its own file and is never part of "all".
PROVENANCE_GRAPH = "provenance"
GRAPH_CHOICES = (*DATA_GRAPHS, PROVENANCE_GRAPH, "all")
FORMATS = ("ttl", "nt", "nq", "trig", "jsonld", "graphml")

SPLIT_PREFIX = "commkg-"  # split N-Quads files: commkg-00001.nq, commkg-00002.nq …

BIBO_DOI = URIRef("http://purl.org/ontology/bibo/doi")
SOURCE_FILE = URIRef("https://w3id.org/commkg/ontology#sourceFile")


class ExportError(CommkgError):
    """The build folder cannot be read, or the export cannot be written."""


def graph_iri(name: str) -> URIRef:
    return URIRef(GRAPH_BASE + name)


# ------------------------------------------------------------------------------ reading a build

def load_build(build_dir: Path) -> dict[str, set[Triple]]:
    """The named graphs of a build, by short name (`asserted`, `inferred`, `evidence`,
    `ontology`, and `provenance` when the build wrote it). graph.trig is read when present;
    otherwise asserted.ttl is split into the asserted and evidence graphs, inferred.ttl is
    read if it is there, and the ontology graph is the bundled commissioning.ttl."""
    build_dir = Path(build_dir)
    graphs: dict[str, set[Triple]] = {}
    if (build_dir / TRIG_FILE).is_file():
        graphs.update(_read_named_graphs(build_dir / TRIG_FILE))
    elif (build_dir / ASSERTED_FILE).is_file():
        asserted = _parse(build_dir / ASSERTED_FILE, "turtle")
        graphs["evidence"] = {t for t in asserted if is_evidence(t[0])}
        graphs["asserted"] = asserted - graphs["evidence"]
        inferred = build_dir / INFERRED_FILE
        graphs["inferred"] = _parse(inferred, "turtle") if inferred.is_file() else set()
        graphs["ontology"] = _parse(ontology_file("commissioning.ttl"), "turtle")
    else:
        raise ExportError(f"{build_dir} holds no {TRIG_FILE} or {ASSERTED_FILE}; "
                          "run `commkg build CORPUS --out DIR` first, or give the build folder with --build")
    for name in DATA_GRAPHS:
        graphs.setdefault(name, set())
    if (build_dir / PROVENANCE_FILE).is_file():
        graphs.update(_read_named_graphs(build_dir / PROVENANCE_FILE))
    return graphs


def _parse(path: Path, format: str) -> set[Triple]:
    try:
        return set(rdflib.Graph().parse(path, format=format))
    except Exception as error:  # noqa: BLE001 - rdflib raises many kinds; all mean "unreadable"
        raise ExportError(f"cannot read {path}: {error}") from None


def _read_named_graphs(path: Path) -> dict[str, set[Triple]]:
    dataset = rdflib.Dataset()
    try:
        dataset.parse(path, format="trig")
    except Exception as error:  # noqa: BLE001
        raise ExportError(f"cannot read {path}: {error}") from None
    graphs: dict[str, set[Triple]] = defaultdict(set)
    for s, p, o, g in dataset.quads((None, None, None, None)):
        name = str(g)[len(GRAPH_BASE):] if str(g).startswith(GRAPH_BASE) else str(g)
        graphs[name].add((s, p, o))
    return dict(graphs)


def select(graphs: Mapping[str, set[Triple]], which: str) -> dict[str, set[Triple]]:
    """The graphs `which` names: one of them, or all four data graphs for "all"."""
    if which == "all":
        return {name: graphs.get(name, set()) for name in DATA_GRAPHS}
    if which not in GRAPH_CHOICES:
        raise ExportError(f"unknown graph {which!r}; choose one of {', '.join(GRAPH_CHOICES)}")
    if which == PROVENANCE_GRAPH and which not in graphs:
        raise ExportError(f"this build has no {PROVENANCE_FILE}; run `commkg build` again to make one")
    return {which: graphs.get(which, set())}


# ------------------------------------------------------------------------------ N-Triples, N-Quads

def nt_term(term, blank_labels: Mapping[BNode, str]) -> str:
    """One term in N-Triples syntax (UTF-8, no abbreviations, xsd:string left implicit)."""
    if isinstance(term, URIRef):
        return "<" + _IRI_UNSAFE.sub(lambda m: _uchar(m.group()), str(term)) + ">"
    if isinstance(term, BNode):
        return "_:" + blank_labels[term]
    if isinstance(term, Literal):
        text = quoted_string(str(term))
        if term.language:
            return f"{text}@{term.language}"
        if term.datatype is not None and term.datatype != XSD.string:
            return f"{text}^^{nt_term(term.datatype, blank_labels)}"
        return text
    raise TypeError(f"cannot write {term!r} as an N-Triples term")


def _canonical(triples: Iterable[Triple], label_prefix: str = "b") -> tuple[list[Triple], dict[BNode, str]]:
    canonical, labels = _canonical_blank_nodes(list(triples))
    return canonical, {blank: label_prefix + label[1:] for blank, label in labels.items()}


def ntriples_lines(triples: Iterable[Triple], *, graph: URIRef | None = None,
                   label_prefix: str = "b") -> list[str]:
    """Sorted N-Triples lines (N-Quads lines when `graph` is given), each ending in '\\n'."""
    canonical, labels = _canonical(triples, label_prefix)
    suffix = f" {nt_term(graph, labels)} .\n" if graph is not None else " .\n"
    lines = [f"{nt_term(s, labels)} {nt_term(p, labels)} {nt_term(o, labels)}{suffix}" for s, p, o in canonical]
    lines.sort()
    return lines


def nquads_lines(graphs: Mapping[str, set[Triple]]) -> Iterator[str]:
    """Sorted N-Quads lines, graph by graph in the order of `graphs`."""
    for name, triples in graphs.items():
        yield from ntriples_lines(triples, graph=graph_iri(name), label_prefix=f"{name}_b")


def _union(graphs: Mapping[str, set[Triple]]) -> set[Triple]:
    merged: set[Triple] = set()
    for triples in graphs.values():
        merged |= triples
    return merged


def write_split_nquads(graphs: Mapping[str, set[Triple]], out_dir: Path, *, max_quads: int) -> list[Path]:
    """N-Quads files of at most `max_quads` lines each (commkg-00001.nq …) in `out_dir`, the
    size bulk loaders such as Virtuoso's ld_dir or QLever's index builder take in parallel.
    Split files of an earlier export in that folder are removed first, so the folder holds
    exactly this export."""
    if max_quads < 1:
        raise ExportError("--split-size must be a positive number of quads")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"{out_dir} is a file; --split-size writes a folder of .nq files, give a folder with --out")
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob(f"{SPLIT_PREFIX}*.nq"):
        stale.unlink()
    lines = list(nquads_lines(graphs))
    paths = []
    for number, start in enumerate(range(0, len(lines), max_quads), start=1):
        chunk = lines[start:start + max_quads]
        path = out_dir / f"{SPLIT_PREFIX}{number:05d}.nq"
        paths.append(write_file_atomically(path, lambda stream, chunk=chunk: stream.writelines(chunk)))
    return paths


# ------------------------------------------------------------------------------ Turtle, TriG

def write_turtle(stream: TextIO, triples: Iterable[Triple]) -> None:
    _sorted_turtle(stream, graph=triples, prefixes=OUTPUT_PREFIXES)


def write_trig(stream: TextIO, graphs: Mapping[str, set[Triple]]) -> None:
    """Each graph as `<graph IRI> { … }` of sorted Turtle blocks (writing.py's TriG, which
    graph.trig is written with), one @prefix header for all."""
    _sorted_trig(stream, graphs, prefixes=OUTPUT_PREFIXES, graph_base=GRAPH_BASE)


# ------------------------------------------------------------------------------ JSON-LD

# The context is the same for every export (not only the prefixes used), so scripts can rely on it.
JSONLD_CONTEXT = dict(sorted(OUTPUT_PREFIXES.items()))
_SAFE_LOCAL = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_NAMESPACES = sorted(((iri, prefix) for prefix, iri in OUTPUT_PREFIXES.items()), key=lambda item: (-len(item[0]), item[1]))


def compact(iri: str) -> str:
    """prefix:local when the local part is plain, else the full IRI (always a valid @id)."""
    for namespace, prefix in _NAMESPACES:
        if iri.startswith(namespace) and _SAFE_LOCAL.match(iri[len(namespace):]):
            return f"{prefix}:{iri[len(namespace):]}"
    return iri


def _term_key(term) -> tuple:
    if isinstance(term, Literal):
        return (2, str(term), str(term.datatype or ""), term.language or "")
    return (0 if isinstance(term, URIRef) else 1, str(term), "", "")


def _jsonld_value(term, labels: Mapping[BNode, str]):
    if isinstance(term, URIRef):
        return {"@id": compact(str(term))}
    if isinstance(term, BNode):
        return {"@id": "_:" + labels[term]}
    if term.language:
        return {"@value": str(term), "@language": term.language}
    if term.datatype is not None and term.datatype != XSD.string:
        return {"@value": str(term), "@type": compact(str(term.datatype))}
    return str(term)


def _jsonld_nodes(triples: Iterable[Triple], label_prefix: str) -> list[dict]:
    canonical, labels = _canonical(triples, label_prefix)
    by_subject: dict = defaultdict(lambda: defaultdict(list))
    for s, p, o in canonical:
        by_subject[s][p].append(o)
    nodes = []
    for subject in sorted(by_subject, key=_term_key):
        node = {"@id": _jsonld_value(subject, labels)["@id"]}
        properties = by_subject[subject]
        if RDF.type in properties:
            node["@type"] = [compact(str(t)) if isinstance(t, URIRef) else "_:" + labels[t]
                             for t in sorted(properties.pop(RDF.type), key=_term_key)]
        for predicate in sorted(properties, key=str):
            values = [_jsonld_value(o, labels) for o in sorted(properties[predicate], key=_term_key)]
            node[compact(str(predicate))] = values[0] if len(values) == 1 else values
        nodes.append(node)
    return nodes


def write_jsonld(stream: TextIO, graphs: Mapping[str, set[Triple]], *, named: bool) -> None:
    """One JSON-LD document: the graphs as named graphs (`named`), else their union as the
    default graph. Keys in a fixed order, non-ASCII kept as UTF-8."""
    if named:
        body = [{"@id": str(graph_iri(name)), "@graph": _jsonld_nodes(triples, f"{name}_b")}
                for name, triples in graphs.items()]
    else:
        body = _jsonld_nodes(_union(graphs), "b")
    json.dump({"@context": JSONLD_CONTEXT, "@graph": body}, stream, ensure_ascii=False, indent=1)
    stream.write("\n")


# ------------------------------------------------------------------------------ GraphML

# The label a node gets in Gephi / Cytoscape: the first of these that it has (English first).
# A study without a title is known by its DOI, else by its file name.
_LABEL_PROPERTIES = (SKOS.prefLabel, RDFS.label, DCTERMS.title, FOAF.name, BIBO_DOI, SOURCE_FILE)


def _labels(triples: Iterable[Triple]) -> dict:
    candidates: dict = defaultdict(list)
    rank = {p: i for i, p in enumerate(_LABEL_PROPERTIES)}
    for s, p, o in triples:
        if p in rank and isinstance(o, Literal):
            candidates[s].append((rank[p], o.language not in ("en", None), str(o)))
    return {s: min(values)[2] for s, values in candidates.items()}


def _local_name(iri: str) -> str:
    return re.split(r"[/#]", iri.rstrip("/"))[-1] or iri


def knowledge_graph(graphs: Mapping[str, set[Triple]], *, label_source: Iterable[Triple] = ()):
    """The networkx MultiDiGraph of the resources in `graphs`: one node per IRI (attributes
    label, iri, type), one edge per triple whose object is a resource (attributes property =
    its prefixed name, iri). rdf:type becomes the node's `type` attribute, not an edge to a
    class; literals other than labels are left out (they are not nodes)."""
    import networkx

    triples = _union(graphs)
    labels = _labels([*triples, *label_source])
    types: dict = defaultdict(set)
    edges = []
    nodes = set()
    for s, p, o in triples:
        if isinstance(o, Literal):
            if not isinstance(s, Literal):
                nodes.add(s)
            continue
        if p == RDF.type:
            types[s].add(compact(str(o)))
            nodes.add(s)
            continue
        nodes.update((s, o))
        edges.append((s, p, o))
    canonical_triples, blank_labels = _canonical(edges) if any(isinstance(t, BNode) for e in edges for t in e) else (edges, {})

    def node_id(term) -> str:
        return "_:" + blank_labels[term] if isinstance(term, BNode) and term in blank_labels else str(term)

    graph = networkx.MultiDiGraph()
    for node in sorted(nodes, key=node_id):
        graph.add_node(node_id(node), label=labels.get(node) or _local_name(str(node)),
                       iri=str(node) if isinstance(node, URIRef) else "",
                       type=" ".join(sorted(types.get(node, ()))))
    for s, p, o in sorted(canonical_triples, key=lambda t: (node_id(t[0]), str(t[1]), node_id(t[2]))):
        graph.add_edge(node_id(s), node_id(o), key=compact(str(p)), property=compact(str(p)), iri=str(p))
    return graph


def write_graphml(stream: TextIO, graphs: Mapping[str, set[Triple]], *, label_source: Iterable[Triple] = ()) -> None:
    import networkx

    for line in networkx.generate_graphml(knowledge_graph(graphs, label_source=label_source)):
        stream.write(line + "\n")


# ------------------------------------------------------------------------------ one entry point

def export(stream: TextIO, graphs: Mapping[str, set[Triple]], *, format: str, graph: str = "all") -> None:
    """Write the `graph` selection of a loaded build (`load_build`) to `stream` as `format`.

    Turtle, N-Triples and GraphML carry no graph names, so "all" is the union of the graphs
    there (GraphML: of the asserted and inferred knowledge only, the evidence and ontology
    would bury the picture); TriG, N-Quads and JSON-LD keep each graph named."""
    if format not in FORMATS:
        raise ExportError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    chosen = select(graphs, graph)
    if format == "ttl":
        write_turtle(stream, _union(chosen))
    elif format == "nt":
        stream.writelines(ntriples_lines(_union(chosen)))
    elif format == "nq":
        stream.writelines(nquads_lines(chosen))
    elif format == "trig":
        write_trig(stream, chosen)
    elif format == "jsonld":
        write_jsonld(stream, chosen, named=graph == "all")
    else:
        if graph == "all":
            chosen = {name: graphs.get(name, set()) for name in ("asserted", "inferred")}
        write_graphml(stream, chosen, label_source=_union(graphs))
