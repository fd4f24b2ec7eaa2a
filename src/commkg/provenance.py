"""A PROV-O description of one build: what made the graphs, from what, when.

It lives in its own named graph, `https://w3id.org/commkg/graph/provenance`, in its own file,
`DIR/provenance.trig`: times change with every build, and the data files must stay
byte-identical for the same corpus. `commkg export --graph provenance` and `commkg push` read it.

    <urn:uuid:…> a prov:Activity ;                       # the build
        prov:startedAtTime / prov:endedAtTime ;
        prov:wasAssociatedWith <…/software/commkg> ;     # a prov:SoftwareAgent, owl:versionInfo
        prov:used <file:///…/corpus>, <…/ontology> .     # the corpus folder, the ontology (version)
    <file:///…/corpus> a prov:Collection, void:Dataset ; void:documents 5 .   # records built
    <…/graph/asserted> a prov:Entity ; prov:wasGeneratedBy <urn:uuid:…> ; void:triples 843 .

VoID's `void:documents` ("the number of documents, for a dataset published as a set of
documents") is the record count, `void:triples` the size of each graph.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

import rdflib
from rdflib import OWL, RDF, RDFS, XSD, Literal, Namespace, URIRef

from commkg import __version__
from commkg.build import _ontology
from commkg.export import PROVENANCE_FILE, PROVENANCE_GRAPH, graph_iri, write_trig
from commkg.writing import write_file_atomically

PROV = Namespace("http://www.w3.org/ns/prov#")
VOID = Namespace("http://rdfs.org/ns/void#")
SOFTWARE = URIRef("https://w3id.org/commkg/software/commkg")
ONTOLOGY = URIRef("https://w3id.org/commkg/ontology")

Triple = tuple


def ontology_version(path: Path | None = None) -> str | None:
    """owl:versionInfo of the ontology (the bundled commissioning.ttl by default, which the
    build has parsed already)."""
    triples = rdflib.Graph().parse(path, format="turtle") if path is not None else _ontology()
    return min((str(o) for s, p, o in triples if s == ONTOLOGY and p == OWL.versionInfo), default=None)


def _time(moment: datetime) -> Literal:
    return Literal(moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
                   datatype=XSD.dateTime)


def describe_build(*, corpus: Path, records: int, started: datetime, ended: datetime,
                   graph_sizes: Mapping[str, int] | None = None,
                   ontology: Path | None = None, build_id: str | None = None) -> set[Triple]:
    """The triples of the provenance graph of one build. `graph_sizes` maps a graph's short
    name (`asserted` …) to its triple count; `build_id` names the activity (a fresh UUID URN)."""
    build = URIRef(build_id or uuid.uuid4().urn)
    corpus_iri = URIRef(Path(corpus).resolve().as_uri())
    triples = {
        (build, RDF.type, PROV.Activity),
        (build, RDFS.label, Literal(f"commkg build of {Path(corpus).name}")),
        (build, PROV.startedAtTime, _time(started)),
        (build, PROV.endedAtTime, _time(ended)),
        (build, PROV.wasAssociatedWith, SOFTWARE),
        (build, PROV.used, corpus_iri),
        (build, PROV.used, ONTOLOGY),
        (SOFTWARE, RDF.type, PROV.SoftwareAgent),
        (SOFTWARE, RDFS.label, Literal("commkg")),
        (SOFTWARE, OWL.versionInfo, Literal(__version__)),
        (corpus_iri, RDF.type, PROV.Collection),
        (corpus_iri, RDF.type, VOID.Dataset),
        (corpus_iri, RDFS.label, Literal(str(corpus))),
        (corpus_iri, VOID.documents, Literal(records)),
        (ONTOLOGY, RDF.type, PROV.Entity),
    }
    version = ontology_version(ontology)
    if version is not None:
        triples.add((ONTOLOGY, OWL.versionInfo, Literal(version)))
    for name, size in sorted((graph_sizes or {}).items()):
        graph = graph_iri(name)
        triples |= {(graph, RDF.type, PROV.Entity), (graph, PROV.wasGeneratedBy, build),
                    (graph, VOID.triples, Literal(size))}
    return triples


def write_provenance(out_dir: Path, triples: set[Triple]) -> Path:
    """DIR/provenance.trig: the triples in the provenance named graph (written atomically)."""
    return write_file_atomically(Path(out_dir) / PROVENANCE_FILE,
                                 lambda stream: write_trig(stream, {PROVENANCE_GRAPH: triples}))
