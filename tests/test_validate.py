"""SHACL validation (ontology/shapes.ttl): golden reports for the sample and for a broken build."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from rdflib import XSD, Literal, URIRef

from commkg import validate
from commkg.cli import main
from commkg.export import load_build
from commkg.validate import build_warnings, validate_build, validate_triples
from conftest import run_commkg

BROKEN = Path(__file__).parent / "data" / "broken"
BROKEN_RECORDS = Path(__file__).parent / "data" / "broken-records"  # a corpus, see its README.md
# What `commkg validate` says of a build of BROKEN_RECORDS, and `commkg build` warns of.
BROKEN_RECORDS_VIOLATIONS = (
    "future.txt: https://doi.org/10.5555/commkg-shacl-future comm:studyPeriod: the year 2090 is out of range "
    "(1950 to next year): check the citation line",
    "future.txt: https://doi.org/10.5555/commkg-shacl-future comm:studyPeriod: the year 2094 is out of range "
    "(1950 to next year): check the citation line",
    "future.txt: https://doi.org/10.5555/commkg-shacl-future dcterms:issued: the year 2095-09-06 is out of range "
    "(1950 to next year): check the citation line",
    "old_year.txt: https://doi.org/10.5555/commkg-shacl-old-year dcterms:issued: the year 1890-09-06 is out of "
    "range (1950 to next year): check the citation line",
)
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


# --------------------------------------------------------------------------- in `commkg build`

@pytest.mark.parametrize("options", [[], ["--no-reason"]], ids=["reasoned", "no-reason"])
def test_build_warns_of_each_violation_as_validate_reports_it(tmp_path, options):
    runner = CliRunner()
    out = tmp_path / "out"
    built = runner.invoke(main, ["build", str(BROKEN_RECORDS), "--out", str(out), *options])
    assert built.exit_code == 0, built.output  # warnings: the exit code of a clean build
    assert built.stderr == "".join(f"commkg: warning: SHACL: {line}\n" for line in BROKEN_RECORDS_VIOLATIONS)
    assert built.stdout.startswith("built 3 records (0 with errors), ")
    assert {"asserted.ttl", "graph.html"} <= {path.name for path in out.iterdir()}  # written all the same
    # The same lines as `commkg validate` prints for the build it wrote (graph.trig, or asserted.ttl).
    checked = runner.invoke(main, ["validate", "--build", str(out)])
    assert checked.exit_code == 1
    assert checked.stdout == "".join(f"{line}\n" for line in BROKEN_RECORDS_VIOLATIONS) + "4 violation(s) in 2 record(s)\n"


def test_the_sample_build_is_checked_and_prints_no_warning(sample_build, tmp_path):
    assert sample_build.shacl_checked and sample_build.warnings == ()
    result = CliRunner().invoke(main, ["build", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # no SHACL warning, and no line saying the shapes were not checked


@pytest.mark.parametrize("limit, checked", [(3, True), (2, False)])
def test_build_checks_up_to_the_cut_off_and_says_which_command_checks_above_it(tmp_path, monkeypatch, limit, checked):
    monkeypatch.setattr(validate, "CHECKED_IN_BUILD_UP_TO_RECORDS", limit)  # BROKEN_RECORDS has 3 records
    out = tmp_path / "my graph"  # a space: the command must still work when pasted into a shell
    result = CliRunner().invoke(main, ["build", str(BROKEN_RECORDS), "--out", str(out)])
    assert result.exit_code == 0, result.output
    if checked:
        assert result.stderr.count("commkg: warning: SHACL: ") == len(BROKEN_RECORDS_VIOLATIONS)
    else:
        assert result.stderr == ("commkg: SHACL shapes not checked for 3 records (it takes about 40 ms a record); "
                                 f"`commkg validate --build '{out}'` checks them\n")


def test_build_warnings_are_the_validation_lines_up_to_the_cut_off():
    graphs = load_build(BROKEN)
    triples = graphs["asserted"] | graphs["evidence"]
    limit = validate.CHECKED_IN_BUILD_UP_TO_RECORDS
    warnings = build_warnings(triples, [], records=limit)
    expected = (BROKEN / "expected-report.txt").read_text(encoding="utf-8").splitlines()[:-1]  # without the sum
    assert warnings == tuple(f"SHACL: {line}" for line in expected)
    assert build_warnings(triples, [], records=limit + 1) is None


def test_build_help_gives_the_cut_off():
    text = " ".join(CliRunner().invoke(main, ["build", "--help"]).stdout.split())  # unwrapped
    assert f"for corpora up to {validate.CHECKED_IN_BUILD_UP_TO_RECORDS} records, each violation of the SHACL shapes" in text
