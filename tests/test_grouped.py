"""grouped.py: reasoning record by record gives what reasoning over the whole corpus gives.

One test per rule that can join two records' triples (OWL 2 Profiles, section 4.3), each with
records whose triples meet only in that rule: the records must land in one group, and the
union of the groups' inferences must equal reason_knowledge() of every record at once. Then
the build itself, record by record, against `reason` of its asserted graph.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import rdflib
from rdflib.namespace import OWL

import commkg.build as build_module
from commkg.build import _group_reasoner, build_corpus
from commkg.grouped import ENTANGLED, Locality, reason_records, record_groups
from commkg.reason import STUDY_LINKS, _TYPE, knowledge, reason, reason_knowledge

ROOT = Path(__file__).resolve().parents[1]
ID = "https://w3id.org/commkg/id/record/"
PREFIXES = """
@prefix comm:    <https://w3id.org/commkg/ontology#> .
@prefix concept: <https://w3id.org/commkg/concept/> .
@prefix journal: <https://w3id.org/commkg/journal/> .
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix bibo:    <http://purl.org/ontology/bibo/> .
@prefix owl:     <http://www.w3.org/2002/07/owl#> .
"""


def records(**turtle: str) -> tuple[list[list[tuple]], list[Locality]]:
    """Each keyword a record named so: its Turtle, where `:x` are its own nodes."""
    ontology = build_module._compiled_ontology()
    knowledges, owners = [], []
    for name, text in turtle.items():
        graph = rdflib.Graph().parse(data=f"@prefix : <{ID}{name}/> .\n{PREFIXES}{text}", format="turtle")
        knowledges.append(list(knowledge(graph, ontology)))
        owners.append(Locality(f"{ID}{name}", f"{ID}{name}/"))
    return knowledges, owners


def grouped(knowledges, owners):
    """(the groups, the corpus's inference record by record, and reasoned whole)."""
    reasoner = _group_reasoner()
    alone = [reasoner.reason(k, [owner]) for k, owner in zip(knowledges, owners)]
    found = reason_records(reasoner, alone, owners, lambda i: knowledges[i])
    every = {t for k in knowledges for t in k}
    shared_knowledge = {t for k, owner in zip(knowledges, owners) for t in k if not owner.owns(t[0])}
    classes = {t[2] for t in every if t[1] is _TYPE}
    shared = reasoner.combine((t for part in found.shared for t in part), shared_knowledge=shared_knowledge,
                              classes=classes)
    by_group = {t for own in found.own for t in own} | shared
    whole = reason_knowledge(every, build_module._compiled_ontology(), exclude=STUDY_LINKS)
    return found.groups, by_group, whole


def test_prp_trp_across_records():
    """prp-trp: T(?p, rdf:type, owl:TransitiveProperty) T(?x, ?p, ?y) T(?y, ?p, ?z) ⇒ T(?x, ?p, ?z).
    Two records name one step each of a chain of places."""
    groups, by_group, whole = grouped(*records(
        a=":s a comm:Study ; comm:setIn concept:Leeds . concept:Leeds comm:partOf concept:Yorkshire .",
        b=":s a comm:Study . concept:Yorkshire comm:partOf concept:NorthOfEngland .",
        c=":s a comm:Study ; comm:usesTheory concept:T ."))
    assert groups == [[0, 1], [2]]
    assert by_group == whole
    assert any(t[2] == rdflib.URIRef("https://w3id.org/commkg/concept/NorthOfEngland") and
               str(t[0]).endswith("Leeds") for t in whole)


def test_prp_spo2_across_records():
    """prp-spo2: T(?p, owl:propertyChainAxiom, ?x) … T(?u1, ?p1, ?u2) T(?u2, ?p2, ?u3) ⇒ T(?u1, ?p, ?u3).
    comm:setIn ∘ comm:partOf: the study in one record, the place's part in another."""
    groups, by_group, whole = grouped(*records(
        a=":s a comm:Study ; comm:setIn concept:Leeds .",
        b=":s a comm:Study . concept:Leeds comm:partOf concept:Yorkshire ."))
    assert groups == [[0, 1]]
    assert by_group == whole
    assert (rdflib.URIRef(f"{ID}a/s"), rdflib.URIRef("https://w3id.org/commkg/ontology#setIn"),
            rdflib.URIRef("https://w3id.org/commkg/concept/Yorkshire")) in whole


def test_prp_key_across_records():
    """prp-key: T(?c, owl:hasKey, ?u) … T(?x, rdf:type, ?c) T(?x, ?p1, ?z1) … T(?y, rdf:type, ?c)
    T(?y, ?p1, ?z1) … ⇒ T(?x, owl:sameAs, ?y). A commentary cites the article of another record."""
    groups, by_group, whole = grouped(*records(
        article="""<https://w3id.org/commkg/id/record/article> a comm:Article ; dcterms:isPartOf journal:j ;
                   bibo:volume "3" ; comm:eLocator "e1" ; bibo:doi "10.1/x" .""",
        commentary=""":s a comm:Commentary ; comm:discusses :cited .
                      :cited a bibo:AcademicArticle ; dcterms:isPartOf journal:j ; bibo:volume "3" ; comm:eLocator "e1" .""",
        other="""<https://w3id.org/commkg/id/record/other> a comm:Article ; dcterms:isPartOf journal:j ;
                 bibo:volume "3" ; comm:eLocator "e2" ."""))
    assert groups == [[0, 1], [2]]
    assert by_group == whole
    assert any(p == OWL.sameAs for _, p, _ in whole)


def test_a_mention_of_another_records_study_joins_the_two():
    """Another record's own node is that record's to reason about: eq-rep and the rest need both."""
    groups, by_group, whole = grouped(*records(
        a="<https://w3id.org/commkg/id/record/a> a comm:Study .",
        b=":s a comm:Commentary ; comm:discusses <https://w3id.org/commkg/id/record/a> ."))
    assert groups == [[0, 1]]
    assert by_group == whole


def test_an_alias_of_a_shared_node_entangles_every_record():
    """eq-rep-s / eq-rep-o: every fact of an alias is a fact of the other node, in every record."""
    reasoner = _group_reasoner()
    knowledges, owners = records(
        a="concept:X owl:sameAs concept:Y .",
        b=":s a comm:Study ; comm:usesTheory concept:Y .")
    assert ENTANGLED in reasoner.reason(knowledges[0], [owners[0]]).exposures
    groups, by_group, whole = grouped(knowledges, owners)
    assert groups == [[0, 1]]
    assert by_group == whole


def test_records_that_share_only_concepts_stay_apart():
    groups, by_group, whole = grouped(*records(
        a=":s a comm:Study ; comm:usesTheory concept:T ; comm:setIn concept:Manchester .",
        b=":s a comm:Study ; comm:usesTheory concept:T ; comm:setIn concept:Manchester ."))
    assert groups == [[0], [1]]
    assert by_group == whole


def test_record_groups_joins_only_what_meets():
    assert record_groups([{"=k"}, {"=k"}, {"ax"}, {"bx"}, {"ay"}, set()]) == [[0, 1], [2, 3], [4], [5]]
    assert record_groups([{"ax"}, {"az"}, {"!"}]) == [[0, 1, 2]]
    assert record_groups([set(), set(), set()], together=[[0, 2]]) == [[0, 2], [1]]


# ------------------------------------------------------------------------------ the build

def commentaries_on_copies(folder: Path) -> Path:
    """Three copies of the sample under other DOIs: each copy of the article that commentary
    002 discusses has the same journal, volume and e-locator, so all of them and all three
    commentaries are one owl:sameAs group across six records."""
    folder.mkdir()
    for copy in range(3):
        for path in sorted((ROOT / "corpus").glob("*.txt")):
            text = path.read_text(encoding="utf-8").replace("10.1136/bmjopen-2013-003341", f"10.1136/bmjopen-2013-00334{copy}")
            text = text.replace("10.1186/1472-6963-13-S1-S4", f"10.1186/1472-6963-13-S1-S{copy}4")
            (folder / f"{copy}_{path.name}").write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize("corpus", ["sample", "dev", "hostile", "copies"])
def test_the_build_record_by_record_infers_what_reason_infers(corpus, tmp_path, monkeypatch):
    folder = {"sample": ROOT / "corpus", "dev": ROOT.parent / "shared" / "corpus" / "dev",
              "hostile": ROOT / "tests" / "data" / "hostile"}.get(corpus)
    if corpus == "copies":
        folder = commentaries_on_copies(tmp_path / "copies")
    if not folder.is_dir():
        pytest.skip(f"no corpus at {folder}")
    if corpus == "hostile":  # its odd files (a named pipe, a loop …) are made by test_hostile
        folder = shutil.copytree(folder, tmp_path / "hostile", symlinks=True)

    def whole(*args, **kw):
        raise AssertionError("reasoned as one whole")

    monkeypatch.setattr(build_module, "reason_knowledge", whole)
    report = build_corpus(folder, tmp_path / "out", study_links=False, workers=2)
    asserted = rdflib.Graph().parse(tmp_path / "out" / "asserted.ttl")
    built = set(rdflib.Graph().parse(tmp_path / "out" / "inferred.ttl"))
    ontology = rdflib.Graph().parse(ROOT / "ontology" / "commissioning.ttl")
    assert report.inferred == len(built) > 0
    assert built == set(reason(asserted, ontology, exclude=STUDY_LINKS))
