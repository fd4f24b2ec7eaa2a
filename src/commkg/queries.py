"""Saved SPARQL queries: find them, read their headers, run them with bound parameters, and
write their results as a table or in the W3C SPARQL 1.1 results formats.

A saved query is a `.rq` file in queries/ that opens with a comment header:

    # title: Studies that involve a given type of organisation
    # description: … (continued on lines that start with "#" and more spaces)
    # param: type — organisation type key, e.g. CCG, PCT (CCG)

A parameter is bound to its variable (`?type`) as an RDF term before the query runs, never pasted
into the query text, so no value can change what the query does. How a value becomes a term
(`parameter_term`):

- `<http://…>`, an absolute IRI in angle brackets, is an IRI;
- `prefix:name`, with a prefix the query declares or one of `WELL_KNOWN_PREFIXES`, is an IRI;
- anything else is a plain string literal (`CCG`, `000_2fa6104f5f396216.txt`, `2013`).

The engine is pyoxigraph: an in-memory Oxigraph store loaded from the Turtle file, whose
writers produce the W3C SPARQL 1.1 results formats (JSON, XML, CSV, TSV) as the rows stream.
rdflib's own SPARQL engine gives the same answers (the golden tests run both) but is far slower
on a large graph and slow to turn many rows into Python objects; `run_rdflib` keeps it as the
reference.

Fast on a large graph. The saved queries must answer within a second on 10,000 records
(bench/bench_queries.py). Oxigraph's in-memory store finds the triples of a term by walking a
list of all the triples that have it as subject (or object), and a study is the subject of
about a hundred, so asking one property of each study (`?study comm:sourceFile ?file` after
the study is known) costs a hundred steps per study. Its planner joins a plain triple pattern
by such a lookup per row, but a subquery (`{ SELECT ?study ?file WHERE { ?study
comm:sourceFile ?file } }`) by hash: read once, along the property's own list, and matched in
memory. So the saved queries put a per-study property in a subquery, start from the most
selective pattern (the planner breaks ties in the order the patterns are written), look up
concepts (few triples each) directly, aggregate before they name and label, and join labels
(`OPTIONAL { SELECT ?concept ?label … }`) by hash too. What stays costly is per result row:
ORDER BY, DISTINCT and GROUP_CONCAT each cost microseconds a row, so a query that returns
hundreds of thousands of rows cannot answer in a second however it is written. ORDER BY most:
the engine sorts by comparing, and works out both sides' values at every comparison (a string
read back from the store's dictionary), so ordering by file name costs some 3-6 µs a row
(0.4 s for 66,000 rows, 0.7-1.3 s for 232,000 on the benchmark's machine). Ordering by an
integer instead saves only half of that: the comparisons, not the strings, are most of the
cost. Rows that reach the sort already in order cost one pass, which is how
document-concepts.rq orders 232,000 rows (its comment says how; the ORDER BY still decides).
So a saved query orders only by what its result needs, and drops a DISTINCT its rows cannot
need (saying why).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pyoxigraph as ox
import rdflib
from rdflib import BNode, Literal, URIRef

from commkg.errors import QueryError
from commkg.resources import data_path

QUERY_SUFFIX = ".rq"

# Prefixes a --param value may use even when the query does not declare them.
WELL_KNOWN_PREFIXES = {
    "comm": "https://w3id.org/commkg/ontology#",
    "concept": "https://w3id.org/commkg/concept/",
    "unit": "https://w3id.org/commkg/unit/",
    "journal": "https://w3id.org/commkg/journal/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dcterms": "http://purl.org/dc/terms/",
    "bibo": "http://purl.org/ontology/bibo/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "oa": "http://www.w3.org/ns/oa#",
    "prov": "http://www.w3.org/ns/prov#",
}

FORMATS = ("table", "csv", "tsv", "json", "xml", "turtle", "ntriples")

# An IRI as SPARQL writes it: no spaces, quotes, angle or curly brackets, bars, carets,
# backquotes or backslashes inside (IRIREF of the SPARQL grammar).
_IRI = re.compile(r'<([^<>"{}|^`\\\x00-\x20]*)>')
_PREFIXED_NAME = re.compile(r"([A-Za-z][\w.-]*)?:([\w-][\w.-]*)")
_PREFIX_DECLARATION = re.compile(r"PREFIX\s+([A-Za-z][\w.-]*)?:\s*<([^>]*)>", re.IGNORECASE)
_VARIABLE = re.compile(r"[?$]([A-Za-z_]\w*)")
_PARAM_LINE = re.compile(r"(\w+)\s*(?:—|–|--?)\s*(.*)")
_DEFAULT = re.compile(r"^(.*?)\s*\(([^()]*)\)\s*$")


# ---------------------------------------------------------------------------------------------
# Saved queries and their headers


@dataclass(frozen=True)
class Param:
    name: str
    meaning: str
    default: str | None = None


@dataclass(frozen=True)
class SavedQuery:
    name: str  # the file name without .rq, or "-e" for a query given as text
    text: str
    title: str = ""
    description: str = ""
    params: tuple[Param, ...] = ()
    path: Path | None = None

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


def parse_header(text: str) -> tuple[str, str, tuple[Param, ...]]:
    """(title, description, params) from the leading `# key: value` comment lines of a query.

    A field goes on over the following comment lines that do not start a new `key:`; a
    parameter's default is the last parenthesised group of its line: `# param: type — … (CCG)`.
    """
    fields: list[list[str]] = []  # [key, value] in order; params repeat
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("#"):
            if stripped:
                break  # the header ends at the first line of SPARQL
            continue
        body = stripped.lstrip("#").strip()
        key, colon, value = body.partition(":")
        if colon and key in ("title", "description", "param"):
            fields.append([key, value.strip()])
        elif fields and body:
            fields[-1][1] += " " + body
    title = next((v for k, v in fields if k == "title"), "")
    description = next((v for k, v in fields if k == "description"), "")
    params = []
    for key, value in fields:
        if key != "param":
            continue
        match = _PARAM_LINE.fullmatch(value)
        if not match:
            raise QueryError(f"bad '# param:' line {value!r}: write '# param: name — meaning (default)'")
        name, meaning = match.groups()
        default_match = _DEFAULT.match(meaning)
        default = None
        if default_match:
            meaning, default = default_match.groups()
        params.append(Param(name=name, meaning=meaning, default=default))
    return title, description, tuple(params)


def load_query(path: Path) -> SavedQuery:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise QueryError(f"cannot read query file {path}: {error}") from None
    title, description, params = parse_header(text)
    return SavedQuery(name=path.stem, text=text, title=title, description=description,
                      params=params, path=path)


def queries_dir() -> Path:
    return data_path("queries")


def saved_queries(directory: Path | None = None) -> list[SavedQuery]:
    """Every saved query, by name."""
    directory = directory or queries_dir()
    return [load_query(path) for path in sorted(directory.glob(f"*{QUERY_SUFFIX}"))]


def find_query(name_or_file: str, *, directory: Path | None = None) -> SavedQuery:
    """The saved query NAME, or the query in FILE (a path that exists, or ends in .rq)."""
    path = Path(name_or_file)
    if path.suffix == QUERY_SUFFIX or path.is_file():
        if not path.is_file():
            raise QueryError(f"query file {name_or_file} does not exist")
        return load_query(path)
    candidate = (directory or queries_dir()) / f"{name_or_file}{QUERY_SUFFIX}"
    if not candidate.is_file():
        raise QueryError(f"unknown query '{name_or_file}' (see `commkg queries` for the names)")
    return load_query(candidate)


def query_from_text(text: str) -> SavedQuery:
    title, description, params = parse_header(text)
    return SavedQuery(name="-e", text=text, title=title, description=description, params=params)


# ---------------------------------------------------------------------------------------------
# Parameters


def declared_prefixes(text: str) -> dict[str, str]:
    """The query's PREFIX declarations (read only to resolve parameter values)."""
    return {prefix or "": iri for prefix, iri in _PREFIX_DECLARATION.findall(text)}


def parameter_term(value: str, *, prefixes: Mapping[str, str] | None = None) -> URIRef | Literal:
    """The RDF term a --param value stands for: an IRI for `<iri>` or a known `prefix:name`, a
    plain string literal for anything else (module docstring)."""
    iri = _IRI.fullmatch(value)
    if iri and _is_absolute_iri(iri.group(1)):
        return URIRef(iri.group(1))
    known = {**WELL_KNOWN_PREFIXES, **(prefixes or {})}
    name = _PREFIXED_NAME.fullmatch(value)
    if name and (name.group(1) or "") in known and _is_absolute_iri(known[name.group(1) or ""]):
        return URIRef(known[name.group(1) or ""] + name.group(2))
    return Literal(value)


def _is_absolute_iri(text: str) -> bool:
    try:
        ox.NamedNode(text)  # Oxigraph checks the IRI syntax (a scheme, no spaces …)
    except ValueError:
        return False
    return True


def bind_parameters(query: SavedQuery, given: Mapping[str, str]) -> dict[str, URIRef | Literal]:
    """Variable name -> term for every declared parameter (given, else its default) and every
    given one. A query with declared parameters accepts only those; a query without (`-e`,
    a file with no header) accepts any variable it uses."""
    if query.params:
        allowed = {p.name for p in query.params}
    else:
        allowed = set(_VARIABLE.findall(query.text))
    unknown = sorted(set(given) - allowed)
    if unknown:
        known = ", ".join(sorted(allowed)) if query.params else "none declared"
        raise QueryError(f"unknown parameter '{unknown[0]}' for query {query.name} (parameters: {known})")
    values = {p.name: p.default for p in query.params if p.default is not None}
    values.update(given)
    prefixes = declared_prefixes(query.text)
    return {name: parameter_term(value, prefixes=prefixes) for name, value in values.items()}


def parse_param_options(options: Iterable[str]) -> dict[str, str]:
    """`["k=v", …]` from the command line -> {k: v}; the value may itself contain '='."""
    given = {}
    for option in options:
        name, equals, value = option.partition("=")
        if not equals or not name.strip():
            raise QueryError(f"bad --param {option!r}: write --param name=value")
        given[name.strip()] = value
    return given


# ---------------------------------------------------------------------------------------------
# Running


class ResultTooLarge(QueryError):
    """A result longer than the caller's limit."""


@dataclass
class QueryResult:
    """What a query returned: Oxigraph's answer, read once, while it is being written."""

    answer: ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples
    prefixes: dict[str, str] = field(default_factory=dict)  # for Turtle and the table

    @property
    def kind(self) -> str:
        if isinstance(self.answer, ox.QueryBoolean):
            return "ask"
        return "select" if isinstance(self.answer, ox.QuerySolutions) else "graph"


def _one_line(message) -> str:
    return " ".join(str(message).split())


def _to_ox(term):
    """The pyoxigraph term for an rdflib one."""
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if term.language:
        return ox.Literal(str(term), language=term.language)
    if term.datatype:
        return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
    return ox.Literal(str(term))


def load_store(path: Path | str) -> ox.Store:
    """An in-memory Oxigraph store holding the RDF file `path` (Turtle unless its extension
    says otherwise) as its default graph."""
    path = Path(path)
    if not path.is_file():
        raise QueryError(f"graph file {path} does not exist (run `commkg build` first, or pass --graph)")
    store = ox.Store()
    rdf_format = ox.RdfFormat.from_extension(path.suffix.lstrip(".")) or ox.RdfFormat.TURTLE
    try:
        store.bulk_load(path=str(path), format=rdf_format)
    except (SyntaxError, ValueError, OSError) as error:
        raise QueryError(f"cannot read graph file {path}: {_one_line(error)}") from None
    return store


def run(store: ox.Store, text: str,
        bindings: Mapping[str, URIRef | Literal] | None = None) -> QueryResult:
    """Run the SPARQL query `text` on `store`, each binding substituted for its variable
    (Oxigraph's substitutions: the term stands where the variable was, as with rdflib's
    initBindings; the text is never touched). Rows are computed as they are written."""
    substitutions = {ox.Variable(name): _to_ox(term) for name, term in (bindings or {}).items()}
    try:
        answer = store.query(text, substitutions=substitutions)
    except SyntaxError as error:
        raise QueryError(f"syntax error: {_one_line(error)}") from None
    except RuntimeError as error:  # Oxigraph binds only variables the query returns
        raise QueryError(f"cannot bind the parameters: {_one_line(error)}") from None
    except (OSError, ValueError, TypeError) as error:
        raise QueryError(f"query failed: {_one_line(error)}") from None
    return QueryResult(answer=answer, prefixes={**WELL_KNOWN_PREFIXES, **declared_prefixes(text)})


def result_rows(result: QueryResult) -> tuple[list[str], list[tuple]]:
    """(variables, rows of pyoxigraph terms or None) of a SELECT result; reads it."""
    variables = [v.value for v in result.answer.variables]
    return variables, [tuple(solution) for solution in result.answer]


def run_rdflib(graph: rdflib.Graph, text: str,
               bindings: Mapping[str, URIRef | Literal] | None = None) -> tuple[list[str], list[tuple]]:
    """(variables, rows of pyoxigraph terms) of a SELECT run by rdflib's engine with initial
    bindings: the reference the golden tests hold Oxigraph to. Slow on a big graph."""
    init = {rdflib.Variable(name): term for name, term in (bindings or {}).items()}
    try:
        answer = graph.query(text, initBindings=init)
    except Exception as error:  # rdflib raises pyparsing and plain Exceptions for bad queries
        raise QueryError(f"query failed: {_one_line(error)}") from None
    variables = [str(v) for v in answer.vars]
    rows = [tuple(_to_ox(row[v]) if row[v] is not None else None for v in variables)
            for row in answer]
    return variables, rows


# ---------------------------------------------------------------------------------------------
# Writing: Oxigraph's writers for the W3C SPARQL 1.1 results formats (JSON, XML, CSV, TSV) and
# for RDF (Turtle, N-Triples …); an aligned table for people at a terminal.

RESULT_FORMATS = {
    "json": ox.QueryResultsFormat.JSON,
    "xml": ox.QueryResultsFormat.XML,
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
}
GRAPH_FORMATS = {
    "turtle": ox.RdfFormat.TURTLE,
    "ntriples": ox.RdfFormat.N_TRIPLES,
    "rdfxml": ox.RdfFormat.RDF_XML,
    "jsonld": ox.RdfFormat.JSON_LD,
}


class _CappedOutput:
    """A binary output that refuses to grow past `max_bytes` (Oxigraph's writers stop when a
    write raises, so a huge result is cut off as it streams, not after it is built)."""

    def __init__(self, output: BinaryIO, max_bytes: int | None):
        self.output = output
        self.max_bytes = max_bytes
        self.written = 0
        self.overflowed = False

    def write(self, data: bytes) -> int:
        self.written += len(data)
        if self.max_bytes is not None and self.written > self.max_bytes:
            self.overflowed = True
            raise ValueError("result too large")
        return self.output.write(data)

    def flush(self) -> None:
        pass


def _short(term, prefixes: Mapping[str, str]) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        text = term.value
        # The longest namespace that the IRI starts with wins (concept: before a shorter one).
        for prefix, iri in sorted(prefixes.items(), key=lambda item: -len(item[1])):
            if iri and text.startswith(iri) and _PREFIXED_NAME.fullmatch(f"{prefix}:{text[len(iri):]}"):
                return f"{prefix}:{text[len(iri):]}"
        return f"<{text}>"
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    return term.value


def to_table(result: QueryResult, *, max_width: int = 60) -> str:
    """Aligned columns for a terminal: IRIs shortened with the query's prefixes, literals by
    their text, each cell cut at `max_width` characters (use csv or tsv for everything)."""
    if result.kind == "ask":
        return ("true" if result.answer else "false") + "\n"

    def cell(term) -> str:
        text = " ".join(_short(term, result.prefixes).split())  # no line breaks in a cell
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    header, rows = result_rows(result)
    body = [[cell(t) for t in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in body]
    lines.append(f"({len(body)} row{'s' if len(body) != 1 else ''})")
    return "\n".join(lines) + "\n"


def write_result(result: QueryResult, fmt: str, output: BinaryIO, *,
                 max_bytes: int | None = None) -> None:
    """Write the result to `output` in `fmt` (one of FORMATS, or rdfxml / jsonld for a graph).

    A graph (CONSTRUCT, DESCRIBE) is written as Turtle for `table` or `turtle`, or N-Triples;
    rows and booleans in the other formats. With `max_bytes`, raises ResultTooLarge as soon as
    the output would pass it.
    """
    if fmt not in FORMATS and fmt not in GRAPH_FORMATS:
        raise QueryError(f"unknown format '{fmt}' (one of: {', '.join(FORMATS)})")
    capped = _CappedOutput(output, max_bytes)
    try:
        if result.kind == "graph":
            if fmt == "table":
                fmt = "turtle"
            if fmt not in GRAPH_FORMATS:
                raise QueryError(f"a CONSTRUCT or DESCRIBE result is a graph: use --format turtle "
                                 f"or ntriples, not {fmt}")
            ox.serialize(result.answer, capped, GRAPH_FORMATS[fmt], prefixes=result.prefixes)
        elif fmt == "table":
            table = to_table(result).encode("utf-8")
            capped.write(table)
        elif fmt in RESULT_FORMATS:
            result.answer.serialize(capped, RESULT_FORMATS[fmt])
        else:
            raise QueryError(f"a SELECT or ASK result has rows, not a graph: use --format table, "
                             f"csv, tsv, json or xml, not {fmt}")
    except (ValueError, OSError) as error:
        if capped.overflowed:
            raise ResultTooLarge(f"the result is larger than {max_bytes} bytes; add a LIMIT") from None
        raise QueryError(f"query failed: {_one_line(error)}") from None


def format_result(result: QueryResult, fmt: str) -> str:
    buffer = io.BytesIO()
    write_result(result, fmt, buffer)
    return buffer.getvalue().decode("utf-8")


# ---------------------------------------------------------------------------------------------
# The whole of `commkg query`, for the CLI and for tests


def run_saved(query: SavedQuery, graph_file: Path | str, given: Mapping[str, str] | None = None,
              *, fmt: str = "table") -> str:
    """Bind `given` (and the defaults), run `query` on the graph file, and format the result."""
    if fmt not in FORMATS:
        raise QueryError(f"unknown format '{fmt}' (one of: {', '.join(FORMATS)})")
    bindings = bind_parameters(query, given or {})
    store = load_store(graph_file)
    return format_result(run(store, query.text, bindings), fmt)
