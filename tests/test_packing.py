"""packing.py: a record's extraction as plain data, from a worker (pickle) or the cache (JSON)
back to the same rdflib terms, each distinct term one object for the whole build."""

from __future__ import annotations

import pickle

import pytest
import rdflib
from rdflib import XSD, BNode, Literal, URIRef

from commkg.cache import decode, encode
from commkg.evidence import Annotation
from commkg.extract import Extraction
from commkg.packing import PackedRecord, TermTable, checked, pack

STUDY = URIRef("https://e.org/s")
OBJECT = URIRef("https://e.org/o")
LITERALS = (Literal("plain"), Literal("会议", lang="zh"), Literal(12), Literal("2013-09-06", datatype=XSD.date),
            Literal("2013", datatype=XSD.gYear), Literal("x", datatype=URIRef("https://e.org/type")))


def _record(study: URIRef = STUDY) -> tuple[Extraction, list, list]:
    local = [(study, URIRef("https://e.org/p"), literal) for literal in LITERALS]
    shared = [(OBJECT, rdflib.RDF.type, URIRef("https://e.org/C")), (BNode("x1"), rdflib.RDF.first, OBJECT)]
    annotations = (Annotation(f"{study}/evidence/0-4", study, 0, 4, "会议 \"x\"", (study, OBJECT)),)
    extraction = Extraction(study, f"{study}/", tuple(local + shared), ("Interview",), annotations)
    return extraction, local, shared


def _packed(study: URIRef = STUDY) -> PackedRecord:
    extraction, local, shared = _record(study)
    return pack(extraction, local_facts=local, shared_facts=shared, knowledge=shared[:1],
                local_blocks=[((0, str(study), "", ""), f"<{study}> <https://e.org/p> \"plain\" .\n")],
                evidence=[((0, f"{study}/evidence/0-4", "", ""), f"<{study}/evidence/0-4> a oa:Annotation .\n")],
                prefixes={"oa"})


@pytest.mark.parametrize("carry", [
    pytest.param(lambda record: pickle.loads(pickle.dumps(record)), id="pickle (worker to build)"),
    pytest.param(lambda record: decode(encode(record)), id="JSON (incremental cache)"),
])
def test_every_kind_of_term_comes_back_equal_and_of_its_type(carry):
    extraction, local, shared = _record()
    packed = carry(_packed())
    assert packed == _packed()
    back = TermTable().unpack(packed)
    assert back.study == STUDY
    assert back.local_facts == local and back.shared_facts == shared and back.knowledge == shared[:1]
    assert [type(t[2]) for t in back.local_facts] == [type(t[2]) for t in local]
    assert [t[2].datatype for t in back.local_facts] == [t[2].datatype for t in local]
    assert [t[2].language for t in back.local_facts] == [t[2].language for t in local]
    assert back.annotations == list(extraction.annotations)


def test_a_term_is_one_object_for_the_whole_build():
    table = TermTable()
    first = table.unpack(_packed(URIRef("https://e.org/s1")))
    second = table.unpack(_packed(URIRef("https://e.org/s2")))
    assert first.shared_facts[0][0] is second.shared_facts[0][0]  # the shared IRI
    assert first.local_facts[2][2] is second.local_facts[2][2]  # Literal(12)
    assert first.local_facts[0][1] is second.local_facts[0][1]  # the predicate
    # A term made elsewhere (the lexicon's descriptions) maps onto the same object, and back.
    assert table.intern(URIRef("https://e.org/o")) is first.shared_facts[0][0]
    assert table.intern(Literal(12)) is first.local_facts[2][2]
    new = Literal("only here")
    assert table.intern(new) is new and table.intern(Literal("only here")) is new


def test_a_seeded_table_gives_the_seed_s_own_objects():
    """The build seeds its table with the compiled ontology's names: the reasoner compares
    rdf:type by identity, so a record's rdf:type must be the ontology's very object."""
    rdf_type = URIRef(str(rdflib.RDF.type))
    table = TermTable(seed={rdf_type: rdf_type, Literal(12): Literal(12)})
    back = table.unpack(_packed())
    assert back.shared_facts[0][1] is rdf_type
    assert table.intern(Literal(12)) is table.term(["l", "12", None, str(XSD.integer)])


@pytest.mark.parametrize("damage", [
    pytest.param(lambda r: r._replace(local_facts=r.local_facts[:-1]), id="facts not in threes"),
    pytest.param(lambda r: r._replace(shared_facts=[*r.shared_facts[:-1], len(r.terms)]), id="row out of range"),
    pytest.param(lambda r: r._replace(local_facts=[1.0, *r.local_facts[1:]]), id="row not a number"),
    pytest.param(lambda r: r._replace(terms=[*r.terms[:-1], ["l", "x"]]), id="short literal row"),
    pytest.param(lambda r: r._replace(terms=[*r.terms[:-1], ["q", "x"]]), id="unknown kind of term"),
    pytest.param(lambda r: r._replace(study=next(i for i, row in enumerate(r.terms) if type(row) is list)),
                 id="study not an IRI"),
    pytest.param(lambda r: r._replace(annotations=[["iri", 0, 4, "text"]]), id="annotation cut short"),
    pytest.param(lambda r: r._replace(evidence=[((0, "k"), "text")]), id="block key cut short"),
    pytest.param(lambda r: r._replace(concepts="Interview"), id="concepts not a list"),
    pytest.param(lambda r: r._replace(knowledge=[0, 1]), id="knowledge not in threes"),
])
def test_a_damaged_record_is_refused_before_it_is_merged(damage):
    packed = _packed()
    assert checked(packed) is packed
    with pytest.raises(ValueError, match="not a packed record"):
        checked(damage(packed))
