"""Evidence kept apart from the facts: the fast paths give exactly what the plain ones give.

The build never makes evidence triples: workers render each annotation as Turtle text
(`evidence.turtle_entries`), and the writer merges that text with the rendered facts. These tests
hold that shortcut to the plain route: annotation_triples → the sorted writer.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import rdflib

from commkg.build import OUTPUT_PREFIXES, build_corpus
from commkg.corpus import read_record
from commkg.evidence import annotation_triples, annotations_from_triples, triple_count, turtle_entries
from commkg.extract import extract, extract_record
from commkg.lexicon import load_lexicon
from commkg.writing import turtle_lines, write_turtle
from conftest import copy_records

HOSTILE = Path(__file__).parent / "data" / "hostile"
RECORDS = sorted(Path(__file__).parent.parent.joinpath("corpus").glob("*.txt")) + sorted(
    p for p in HOSTILE.glob("*.txt") if p.name != "same_doi_b.txt")


@pytest.fixture(scope="module")
def extractions():
    lexicon = load_lexicon()
    return [extract_record(read_record(path), lexicon) for path in RECORDS]


def test_the_records_have_evidence(extractions):
    assert sum(len(e.annotations) for e in extractions) > 100


@pytest.mark.parametrize("index", range(len(RECORDS)), ids=[p.name for p in RECORDS])
@pytest.mark.parametrize("evidence_prefix", [False, True], ids=["iris", "prefixed"])
def test_rendered_evidence_is_what_the_sorted_writer_writes(extractions, index, evidence_prefix):
    annotations = extractions[index].annotations
    prefixes = dict(OUTPUT_PREFIXES)
    if evidence_prefix and annotations:  # the annotations as ev:e0-31, their parts (…#target) as <IRI>
        # (a local name may not start with a digit: offsets alone are never prefixed)
        annotations = [a._replace(iri=a.iri.replace("/evidence/", "/evidence/e")) for a in annotations]
        prefixes["ev"] = annotations[0].iri.rsplit("/", 1)[0] + "/"
    entries, used = turtle_entries(annotations, prefixes)
    plain = "".join(turtle_lines([t for a in annotations for t in annotation_triples(a)], prefixes))
    header = "".join(f"@prefix {p}: <{prefixes[p]}> .\n" for p in sorted(used))
    assert header + "".join("\n" + text for _, text in sorted(entries)) == plain
    assert ("ev" in used) == (evidence_prefix and bool(annotations))


def test_annotations_read_back_from_triples_are_the_same(extractions):
    for extraction in extractions:
        triples = [t for a in extraction.annotations for t in annotation_triples(a)]
        assert annotations_from_triples(triples) == sorted(extraction.annotations, key=lambda a: a.iri)
        assert len(triples) == sum(triple_count(a) for a in extraction.annotations)


def test_a_record_graph_is_its_facts_descriptions_and_evidence(extractions):
    lexicon = load_lexicon()
    graph = extract(read_record(RECORDS[0]), lexicon)
    extraction = extractions[0]
    assert set(graph) == set(extraction.triples(lexicon))
    assert len(graph) == len(set(extraction.facts) | {t for k in extraction.concepts for t in lexicon.descriptions[k]}) \
        + sum(triple_count(a) for a in extraction.annotations)


def test_the_build_writes_what_the_sorted_writer_writes_for_every_triple(tmp_path):
    """asserted.ttl, made from facts rendered once and evidence rendered in the workers, is byte
    for byte the sorted Turtle of the union of every record's triples (extract())."""
    build_corpus(copy_records(RECORDS, tmp_path / "corpus"), tmp_path / "out", workers=2)
    lexicon = load_lexicon()
    union = rdflib.Graph()
    for path in RECORDS:
        union += extract(read_record(path), lexicon)
    expected = tmp_path / "expected.ttl"
    with expected.open("w", encoding="utf-8", newline="\n") as stream:
        write_turtle(stream, union, OUTPUT_PREFIXES)
    assert (tmp_path / "out" / "asserted.ttl").read_bytes() == expected.read_bytes()
