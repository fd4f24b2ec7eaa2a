"""Evidence: the W3C Web Annotations that back each extracted fact (docs/model.md, "Evidence").

An `Annotation` is one span of a record's text and every node that span supports. The extractor
collects them; `annotation_triples` turns one into its eleven RDF triples. At corpus scale the
build never makes those triples in the main process: each worker renders its records'
annotations as Turtle text (`turtle_entries`), since evidence is four-fifths of the graph and
nothing but the output files and the page's quotes ever reads it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import NamedTuple

from rdflib import RDF, Literal, Namespace, URIRef

OA = Namespace("http://www.w3.org/ns/oa#")

Triple = tuple


class Annotation(NamedTuple):
    """The words record[start:end] of `study`, supporting each of `bodies` (sorted). A named
    tuple, not a dataclass: workers send hundreds of thousands of them to the build process."""

    iri: str  # {record base}evidence/{start}-{end}
    study: URIRef  # the record the words come from
    start: int
    end: int
    exact: str
    bodies: tuple[URIRef, ...]


def annotation_triples(annotation: Annotation) -> Iterator[Triple]:
    """The annotation, its target and its two selectors (quote and position), as docs/model.md shows."""
    iri = URIRef(annotation.iri)
    target, quote, position = (URIRef(f"{iri}#{part}") for part in ("target", "quote", "position"))
    yield iri, RDF.type, OA.Annotation
    for body in annotation.bodies:
        yield iri, OA.hasBody, body
    yield iri, OA.hasTarget, target
    yield target, OA.hasSource, annotation.study
    yield target, OA.hasSelector, quote
    yield target, OA.hasSelector, position
    yield quote, RDF.type, OA.TextQuoteSelector
    yield quote, OA.exact, Literal(annotation.exact)
    yield position, RDF.type, OA.TextPositionSelector
    yield position, OA.start, Literal(annotation.start)
    yield position, OA.end, Literal(annotation.end)


def triple_count(annotation: Annotation) -> int:
    """len(list(annotation_triples(annotation))), without making them."""
    return 10 + len(annotation.bodies)


def annotations_from_triples(triples: Iterable[Triple]) -> list[Annotation]:
    """The annotations of a graph read back (for pages and warnings made from output files).

    One Annotation per annotation, target and quote; a quote without a position selector gets
    start = end = 0. Sorted by IRI, then position.
    """
    # Keyed by plain text (with the kind of term): rdflib's == is a Python call, and an output
    # file of 10,000 records holds millions of these triples.
    wanted = {str(OA[name]): name for name in ("hasBody", "hasTarget", "hasSource", "hasSelector", "exact", "start", "end")}
    values: dict = defaultdict(list)  # (kind of subject, its text, predicate name) -> objects
    for s, p, o in triples:
        name = wanted.get(str.__str__(p))
        if name is not None:
            values[type(s), str.__str__(s), name].append(o)

    def objects(node, name: str) -> list:
        return values.get((type(node), str.__str__(node), name), [])

    found = []
    for (kind, annotation, predicate), targets in values.items():
        if predicate != "hasTarget":
            continue
        bodies = tuple(sorted(values.get((kind, annotation, "hasBody"), ()), key=str))
        for target in targets:
            selectors = objects(target, "hasSelector")
            start = max((_integer(v) for sel in selectors for v in objects(sel, "start")), default=0)
            end = max((_integer(v) for sel in selectors for v in objects(sel, "end")), default=0)
            for study in objects(target, "hasSource"):
                for exact in sorted({str(v) for sel in selectors for v in objects(sel, "exact")}):
                    found.append(Annotation(annotation, study, start, end, exact, bodies))
    return sorted(found, key=lambda a: (a.iri, a.start, str(a.study), a.exact))


def _integer(value) -> int:
    return int(value) if str(value).isdigit() else 0


def turtle_entries(annotations: Iterable[Annotation], prefixes: Mapping[str, str]) -> tuple[list[tuple[tuple, str]], set[str]]:
    """Each annotation as (the writing.subject_key of its IRI, the sorted Turtle blocks of its four
    subjects, a blank line between them), and the prefixes the blocks use: what writing.write_turtle would write for
    `annotation_triples`, without making an rdflib term (tests/test_evidence.py compares them).

    An annotation's subjects are `A`, `A#position`, `A#quote`, `A#target`: no other subject of
    the graph sorts between them (record IRIs percent-encode every character below '#'), so
    sorting the entries by IRI puts every block where the sorted writer would put it.
    """
    from commkg.writing import TurtleForms, format_block, quoted_string, subject_key  # writing imports nothing from here

    forms = TurtleForms(prefixes)
    a, has_body, has_target, has_source, has_selector, exact, start, end, annotation_class, quote_class, position_class = (
        "a", *(forms.term(term) for term in (
            OA.hasBody, OA.hasTarget, OA.hasSource, OA.hasSelector, OA.exact, OA.start, OA.end,
            OA.Annotation, OA.TextQuoteSelector, OA.TextPositionSelector)))
    entries = []
    for annotation in annotations:
        iri = annotation.iri
        subject = forms.iri(iri)
        if subject.startswith("<"):  # as always: no prefix's namespace holds evidence IRIs
            target, quote, position = (f"{subject[:-1]}#{part}>" for part in ("target", "quote", "position"))
        else:
            target, quote, position = (forms.iri(f"{iri}#{part}") for part in ("target", "quote", "position"))
        # Subjects, predicates and objects in the sorted writer's order (rdf:type first, then by IRI).
        blocks = (
            format_block(subject, [(a, [annotation_class]),
                                   (has_body, [forms.term(body) for body in annotation.bodies]),
                                   (has_target, [target])]),
            format_block(position, [(a, [position_class]), (end, [str(annotation.end)]),
                                    (start, [str(annotation.start)])]),
            format_block(quote, [(a, [quote_class]), (exact, [quoted_string(annotation.exact)])]),
            format_block(target, [(has_selector, [position, quote]),
                                  (has_source, [forms.term(annotation.study)])]),
        )
        entries.append((subject_key(URIRef(iri)), "\n".join(blocks)))
    return entries, forms.used_prefixes
