"""The saved queries on the sample corpus (golden results, on Oxigraph and on rdflib), parameter
binding (no value can change a query), the result formats, and `commkg queries` / `commkg query`.

The golden results are tests/golden/NAME.tsv, written by Oxigraph in the W3C TSV results format.
To rewrite them after a deliberate change, run

    COMMKG_UPDATE_GOLDEN=1 pytest tests/test_queries.py

and read the diff: each must stay right by the records' text.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from click.testing import CliRunner
from rdflib import Literal, URIRef

from commkg.cli import main
from commkg.errors import QueryError
from commkg.queries import (
    bind_parameters,
    find_query,
    format_result,
    load_store,
    parameter_term,
    parse_header,
    query_from_text,
    result_rows,
    run,
    run_rdflib,
    saved_queries,
)

GOLDEN = Path(__file__).parent / "golden"
SAVED = [q.name for q in saved_queries()]
COMM = "https://w3id.org/commkg/ontology#"
INJECTIONS = ['" } ; DROP ALL #', "<http://x> . ?s ?p ?o", "CCG\" } UNION { ?s ?p ?o } #",
              "?s", "$type", "<>", "'CCG'", "CCG } LIMIT 1"]


@pytest.fixture(scope="session")
def graph_file(sample_build) -> Path:
    """graph.ttl (asserted + inferred) of the bundled sample, as `commkg build` writes it."""
    assert sample_build.main_file.name == "graph.ttl", "the sample build did not reason"
    return sample_build.main_file


@pytest.fixture(scope="session")
def store(graph_file) -> ox.Store:
    return load_store(graph_file)


@pytest.fixture(scope="session")
def rdflib_graph(graph_file) -> rdflib.Graph:
    return rdflib.Graph().parse(graph_file, format="turtle")


def rows_of(store, name: str, **params) -> list[dict[str, str]]:
    """The rows of saved query `name` as {variable: value} (value = IRI or lexical form)."""
    query = find_query(name)
    variables, rows = result_rows(run(store, query.text, bind_parameters(query, params)))
    return [{v: t.value for v, t in zip(variables, row) if t is not None} for row in rows]


def files(rows, column: str = "file") -> set[str]:
    return {row[column][:3] for row in rows}


# ---------------------------------------------------------------------------------------------
# Golden results


def _normal(variables: list[str], rows: list[tuple]) -> tuple[list[str], list[tuple]]:
    """Rows compared as a multiset (ORDER BY ties may come in any order), and a GROUP_CONCAT's
    items ("a; b") in sorted order (SPARQL leaves their order open)."""
    def cell(term):
        if term is None:
            return ""
        text = str(term)
        if isinstance(term, ox.Literal) and "; " in term.value:
            return "; ".join(sorted(term.value.split("; ")))
        return text
    return variables, sorted(tuple(cell(t) for t in row) for row in rows)


def _golden(name: str):
    path = GOLDEN / f"{name}.tsv"
    if not path.exists():
        pytest.fail(f"no golden result {path}; write it with COMMKG_UPDATE_GOLDEN=1")
    parsed = ox.parse_query_results(path=str(path), format=ox.QueryResultsFormat.TSV)
    variables = [v.value for v in parsed.variables]
    return variables, [tuple(solution) for solution in parsed]


@pytest.mark.parametrize("name", SAVED)
def test_golden_oxigraph(name, store):
    query = find_query(name)
    result = run(store, query.text, bind_parameters(query, {}))
    if os.environ.get("COMMKG_UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        (GOLDEN / f"{name}.tsv").write_text(format_result(result, "tsv"), encoding="utf-8")
        result = run(store, query.text, bind_parameters(query, {}))
    assert _normal(*result_rows(result)) == _normal(*_golden(name))


@pytest.mark.parametrize("name", SAVED)
def test_golden_rdflib(name, rdflib_graph):
    """rdflib's engine, with initial bindings, gives the same answers as Oxigraph."""
    query = find_query(name)
    assert _normal(*run_rdflib(rdflib_graph, query.text, bind_parameters(query, {}))) == \
        _normal(*_golden(name))


def test_every_saved_query_has_a_golden_result():
    assert sorted(p.stem for p in GOLDEN.glob("*.tsv")) == sorted(SAVED)


# ---------------------------------------------------------------------------------------------
# Right by the records' text (issue 3)


@pytest.mark.parametrize(("organisation_type", "expected"), [
    ("CCG", {"000", "003", "004"}),
    ("PCT", {"000", "001", "002"}),
    ("STP", {"004"}),
])
def test_studies_by_organisation_type(store, organisation_type, expected):
    assert files(rows_of(store, "studies-by-organisation-type", type=organisation_type)) == expected


def test_commissioners_of_any_kind_need_the_class_hierarchy(store):
    rows = rows_of(store, "studies-involving-commissioners")
    kinds = {(row["file"][:3], row["kind"]) for row in rows}
    # CCG and PCT actors are commissioners only through rdfs:subClassOf …
    assert {("000", "CCG"), ("000", "PCT"), ("003", "CCG"), ("004", "CCG"), ("002", "PCT")} <= kinds
    # … and GPs through the domain of comm:commissionsFrom (record 001)
    assert ("001", "GeneralPractitioner") in kinds
    providers = rows_of(store, "studies-involving-commissioners", **{"class": "comm:Provider"})
    assert ("003", "AcuteProvider") in {(row["file"][:3], row["kind"]) for row in providers}


def test_theories_of_001(store):
    rows = [row for row in rows_of(store, "study-theories") if row["file"].startswith("001")]
    assert {row["theory"] for row in rows} == {"ResourceDependencyTheory", "StewardshipTheory",
                                              "NegotiatedOrder"}


def test_002_discusses_000(store):
    rows = rows_of(store, "discussed-studies")
    assert [(row["commentaryFile"][:3], row["studyFile"][:3]) for row in rows] == [("002", "000")]
    assert rows[0]["doi"] == "10.1136/bmjopen-2013-003341"


def test_activities_outside_the_commissioning_cycle(store):
    rows = {row["activity"]: row for row in rows_of(store, "commissioning-activities")}
    # Record 000: needs assessment, planning and specification are in the official cycle;
    # redesigning services and supporting implementation are the additional activities.
    assert rows["NeedsAssessment"]["inOfficialCycle"] == "true"
    assert rows["ServiceSpecification"]["inOfficialCycle"] == "true"
    assert rows["ServiceRedesign"]["inOfficialCycle"] == "false"
    assert rows["Implementation"]["inOfficialCycle"] == "false"


def test_related_studies_shows_each_hop(store):
    rows = rows_of(store, "related-studies")  # defaults: 000 and 002
    hops = {(row["hopA"], row.get("via"), row.get("hopB")) for row in rows}
    assert (COMM + "isDiscussedBy", None, None) in hops
    assert (COMM + "usesTheory", "https://w3id.org/commkg/concept/CommissioningCycle",
            COMM + "usesTheory") in hops


def test_related_studies_binds_other_studies(store):
    rows = rows_of(store, "related-studies", fileA="001_1980af955ea8e01a.txt",
                   fileB="000_2fa6104f5f396216.txt")
    assert rows and {(row["fileA"][:3], row["fileB"][:3]) for row in rows} == {("001", "000")}
    assert (COMM + "usesTheory", "https://w3id.org/commkg/concept/CommissioningCycle") not in \
        {(row["hopA"], row.get("via")) for row in rows}  # 000's theory, which 001 does not use


# ---------------------------------------------------------------------------------------------
# Headers and parameters

# Saved queries that write their header's defaults into the text (COALESCE), so that run unbound,
# as the query page runs them, they answer the default question rather than every study pair or
# every class of every actor (far too many rows on a large corpus).
DEFAULTS_WRITTEN_IN = ["related-studies", "studies-involving-commissioners"]


@pytest.mark.parametrize("name", DEFAULTS_WRITTEN_IN)
def test_unbound_means_the_header_defaults(name, store, rdflib_graph):
    query = find_query(name)
    defaults = bind_parameters(query, {})
    assert defaults, "the header declares defaults"
    with_defaults = _normal(*result_rows(run(store, query.text, defaults)))
    assert with_defaults[1], "the defaults find something"
    assert _normal(*result_rows(run(store, query.text))) == with_defaults
    assert _normal(*run_rdflib(rdflib_graph, query.text)) == with_defaults


def test_every_saved_query_has_a_header_and_bindable_parameters():
    for query in saved_queries():
        assert query.title and query.description, query.name
        for param in query.params:
            assert param.default is not None, (query.name, param.name)
            assert f"?{param.name}" in query.text, (query.name, param.name)


def test_parse_header():
    title, description, params = parse_header(
        "# title: T\n# description: one\n#   two\n# param: type — a key, e.g. CCG (PCT)\n"
        "# param: other - no default\nSELECT * {}\n# title: not header\n")
    assert (title, description) == ("T", "one two")
    assert [(p.name, p.meaning, p.default) for p in params] == [
        ("type", "a key, e.g. CCG", "PCT"), ("other", "no default", None)]


@pytest.mark.parametrize(("value", "term"), [
    ("<http://example.org/x>", URIRef("http://example.org/x")),
    ("comm:Provider", URIRef(COMM + "Provider")),
    ("ex:thing", Literal("ex:thing")),  # an unknown prefix: just text
    ("CCG", Literal("CCG")),
    ("2013", Literal("2013")),
    ("http://example.org/x", Literal("http://example.org/x")),
    ("<http://x> . ?s ?p ?o", Literal("<http://x> . ?s ?p ?o")),
    ('" } ; DROP ALL #', Literal('" } ; DROP ALL #')),
])
def test_parameter_term(value, term):
    assert parameter_term(value) == term


def test_parameter_prefix_declared_by_the_query():
    query = query_from_text("PREFIX ex: <http://example.org/>\nSELECT ?x WHERE { ?x ?p ?o }")
    assert bind_parameters(query, {"x": "ex:a"}) == {"x": URIRef("http://example.org/a")}


def test_unknown_parameter_is_refused():
    with pytest.raises(QueryError, match="unknown parameter 'typo'"):
        bind_parameters(find_query("studies-by-organisation-type"), {"typo": "CCG"})


def test_a_parameter_the_query_does_not_return_is_a_query_error(store):
    query = query_from_text("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?x }")
    with pytest.raises(QueryError, match="cannot bind the parameters: .*SELECT projection"):
        run(store, query.text, bind_parameters(query, {"x": "CCG"}))


@pytest.mark.parametrize("value", INJECTIONS)
def test_injection_cannot_change_the_query(store, value):
    """The value is one term, bound to ?type: it matches no notation, so no rows, and the
    store is what it was."""
    before = len(store)
    assert rows_of(store, "studies-by-organisation-type", type=value) == []
    assert rows_of(store, "studies-involving-commissioners", **{"class": value}) == []
    assert rows_of(store, "related-studies", fileA=value) == []
    assert len(store) == before


# ---------------------------------------------------------------------------------------------
# Formats


def test_csv_tsv_json_follow_the_w3c_formats(store):
    query = find_query("studies-by-organisation-type")
    bindings = bind_parameters(query, {"type": "STP"})
    as_csv = format_result(run(store, query.text, bindings), "csv")
    assert as_csv.startswith("file,type,label,study\r\n")
    assert list(csv.reader(io.StringIO(as_csv)))[1][:2] == ["004_2d04737228db5739.txt", "STP"]
    as_tsv = format_result(run(store, query.text, bindings), "tsv")
    assert as_tsv.splitlines()[0] == "?file\t?type\t?label\t?study"
    assert '"sustainability and transformation partnership"@en' in as_tsv
    as_json = json.loads(format_result(run(store, query.text, bindings), "json"))
    assert as_json["head"]["vars"] == ["file", "type", "label", "study"]
    assert as_json["results"]["bindings"][0]["study"] == {
        "type": "uri", "value": "https://doi.org/10.1136/bmjopen-2018-027622"}


def test_table_is_aligned_and_counts_rows(store):
    query = find_query("studies-by-organisation-type")
    table = format_result(run(store, query.text, bind_parameters(query, {})), "table")
    lines = table.splitlines()
    assert lines[0].split() == ["file", "type", "label", "study"]
    assert lines[-1] == "(3 rows)"
    assert len({line.index("CCG") for line in lines[2:-1]}) == 1  # one column


def test_construct_comes_as_turtle(store):
    text = "CONSTRUCT { ?s a ?c } WHERE { ?s a ?c } LIMIT 3"
    graph = rdflib.Graph().parse(data=format_result(run(store, text), "table"), format="turtle")
    assert len(graph) == 3
    with pytest.raises(QueryError, match="use --format turtle or ntriples"):
        format_result(run(store, text), "csv")


# ---------------------------------------------------------------------------------------------
# The command line


@pytest.fixture
def cli():
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, list(args), catch_exceptions=False)
    return invoke


def test_cli_queries_lists_names_titles_and_params(cli):
    result = cli("queries")
    assert result.exit_code == 0
    for name in SAVED:
        assert name in result.output
    assert "--param type=…" in result.output and "[default: CCG]" in result.output


def test_cli_query_with_param(cli, graph_file):
    result = cli("query", "studies-by-organisation-type", "--graph", str(graph_file),
                 "--param", "type=PCT", "--format", "csv")
    assert result.exit_code == 0
    assert sorted(line[:3] for line in result.output.splitlines()[1:]) == ["000", "001", "002"]


def test_cli_query_file_and_text(cli, graph_file, tmp_path):
    rq = tmp_path / "count.rq"
    rq.write_text("SELECT (COUNT(*) AS ?n) WHERE { ?s <https://w3id.org/commkg/ontology#sourceFile> ?f }")
    result = cli("query", str(rq), "--graph", str(graph_file), "--format", "json")
    assert json.loads(result.output)["results"]["bindings"][0]["n"]["value"] == "5"
    result = cli("query", "-e", "ASK { ?s ?p ?o }", "--graph", str(graph_file))
    assert (result.exit_code, result.output) == (0, "true\n")


@pytest.mark.parametrize(("args", "code", "message"), [
    (["query", "no-such-query"], 1,
     "Error: unknown query 'no-such-query' (see `commkg queries` for the names)\n"),
    (["query", "studies-by-organisation-type", "--param", "typo=CCG"], 1,
     "Error: unknown parameter 'typo' for query studies-by-organisation-type (parameters: type)\n"),
    (["query", "studies-by-organisation-type", "--param", "type"], 1,
     "Error: bad --param 'type': write --param name=value\n"),
    (["query"], 2, "Error: give a saved query NAME, a query FILE, or -e TEXT (one of them)\n"),
    (["query", "missing.rq"], 1, "Error: query file missing.rq does not exist\n"),
])
def test_cli_query_errors(cli, graph_file, args, code, message):
    result = cli(*args, "--graph", str(graph_file))
    assert (result.exit_code, result.output) == (code, message)


def test_cli_query_syntax_error_is_one_line(cli, graph_file):
    result = cli("query", "-e", "SELEC ?x WHERE {", "--graph", str(graph_file))
    assert result.exit_code == 1
    assert result.output.startswith("Error: syntax error: ") and result.output.count("\n") == 1


def test_cli_query_missing_graph(cli, tmp_path):
    missing = tmp_path / "graph.ttl"
    result = cli("query", "study-comparison", "--graph", str(missing))
    assert (result.exit_code, result.output) == (
        1, f"Error: graph file {missing} does not exist (run `commkg build` first, or pass --graph)\n")


def test_cli_query_broken_graph(cli, tmp_path):
    broken = tmp_path / "graph.ttl"
    broken.write_text("<a> <b> .\n")
    result = cli("query", "study-comparison", "--graph", str(broken))
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: cannot read graph file {broken}: ")


@pytest.mark.parametrize("value", INJECTIONS[:2])
def test_cli_injection_is_just_a_value(cli, graph_file, value):
    result = cli("query", "studies-by-organisation-type", "--graph", str(graph_file),
                 "--param", f"type={value}", "--format", "csv")
    assert (result.exit_code, result.output) == (0, "file,type,label,study\n")  # CliRunner reads CRLF as LF


@pytest.mark.parametrize("command", ["queries", "query", "serve"])
def test_cli_help_has_examples(cli, command):
    result = cli(command, "--help")
    assert result.exit_code == 0 and "Example:" in result.output


def test_document_concepts_rows_reach_the_sort_in_order(store):
    """document-concepts.rq is shaped so that Oxigraph brings its rows in ?file ?key order before
    the ORDER BY, which then costs one pass (bench/README.md, "Query benchmark"). The ORDER BY
    decides the order either way; this only tells when an Oxigraph release stops doing so."""
    text = find_query("document-concepts").text
    unsorted = text.replace("\nORDER BY ?file ?key", "\n")
    assert unsorted != text
    rows = [tuple(t.value for t in row) for row in result_rows(run(store, unsorted))[1]]
    assert rows and rows == sorted(rows)
