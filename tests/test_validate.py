"""SHACL validation (ontology/shapes.ttl): golden reports for the sample and for a broken build."""

from __future__ import annotations

import datetime
from pathlib import Path

from rdflib import XSD, Literal, URIRef

from commkg.export import load_build
from commkg.validate import validate_build, validate_triples
from conftest import run_commkg

BROKEN = Path(__file__).parent / "data" / "broken"
COMM = "https://w3id.org/commkg/ontology#"
RECORD = URIRef("https://w3id.org/commkg/id/record/good")


def test_the_sample_conforms(sample_build):
    report = validate_build(sample_build.out_dir)
    assert report.conforms, report.text()
    assert report.text() == "conforms: every record is well formed\n"


def test_broken_build_gives_the_golden_report():
    report = validate_build(BROKEN)
    assert not report.conforms
    assert report.text() == (BROKEN / "expected-report.txt").read_text(encoding="utf-8")
    assert "good.txt" not in report.text()  # the control record has nothing wrong


def test_every_kind_of_mistake_is_named():
    text = validate_build(BROKEN).text()
    for expected in ("exactly one kind", "at most one DOI", "10.NNNN/suffix", "1890 is out of range",
                     "2199 is out of range", "positive xsd:integer", "one comm:unit",
                     "no evidence for https://w3id.org/commkg/concept/PrincipalAgentTheory",
                     "no evidence for https://w3id.org/commkg/id/record/bad/actor/CCG",
                     "supports at least one fact"):
        assert expected in text, expected


def _good_with_year(year: str):
    graphs = load_build(BROKEN)
    triples = {t for t in graphs["asserted"] | graphs["evidence"] if "/record/good" in str(t[0])}
    triples = {t for t in triples if t[1] != URIRef("http://purl.org/dc/terms/issued")}
    return triples | {(RECORD, URIRef("http://purl.org/dc/terms/issued"), Literal(year, datatype=XSD.gYear))}


def test_next_year_is_in_range_the_year_after_is_not():
    this_year = datetime.datetime.now(datetime.timezone.utc).year
    assert validate_triples(_good_with_year(str(this_year + 1))).conforms
    assert validate_triples(_good_with_year("1950")).conforms
    late = validate_triples(_good_with_year(str(this_year + 2)))
    assert [v.path for v in late.violations] == ["dcterms:issued"]
    assert late.violations[0].source_file == "good.txt"


def test_names_concept_needs_evidence():
    """comm:namesConcept says the record's words name the concept: an annotation must quote them."""
    names = URIRef(COMM + "namesConcept")
    concept = "https://w3id.org/commkg/concept/"
    good = _good_with_year("2013")
    assert validate_triples(good | {(RECORD, names, URIRef(concept + "ResourceDependencyTheory"))}).conforms
    unquoted = validate_triples(good | {(RECORD, names, URIRef(concept + "Scotland"))})
    assert [(v.path, v.message) for v in unquoted.violations] == [
        ("comm:namesConcept", f"no evidence for {concept}Scotland: no annotation with it as oa:hasBody targets this record")]


def test_command_exit_codes(sample_build, tmp_path):
    good = run_commkg("validate", "--build", str(sample_build.out_dir), cwd=tmp_path)
    assert good.returncode == 0 and "conforms" in good.stdout
    bad = run_commkg("validate", "--build", str(BROKEN), cwd=tmp_path)
    assert bad.returncode == 1
    assert bad.stdout == (BROKEN / "expected-report.txt").read_text(encoding="utf-8")
    missing = run_commkg("validate", "--build", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert missing.returncode == 1 and "Error:" in missing.stderr
