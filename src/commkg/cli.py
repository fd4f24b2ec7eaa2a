"""The `commkg` command line: parse the arguments, call the library, print the outcome.

The work is done in importable modules (build.py …); this module only turns their results and
their CommkgErrors into lines for people and exit codes:

    0  everything was built
    1  something failed: records skipped, --strict stopped the build, output not writable
    2  bad arguments (click's usage errors, and a CORPUS that is not a folder of records)
"""

from __future__ import annotations

import shlex
import sys
import unicodedata
from contextlib import nullcontext
from pathlib import Path

import click

from commkg import __version__

EXIT_FAILED = 1
EXIT_BAD_ARGUMENTS = 2

# From this many records on, `build` shows a progress bar on stderr even when stderr is not a
# terminal (CI logs); below it, only on a terminal, so the sample build prints just its summary.
LONG_CORPUS_RECORDS = 50


class _BadArgument(click.ClickException):
    """A one-line error for an argument click could not check (it prints no usage block)."""

    exit_code = EXIT_BAD_ARGUMENTS


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="commkg")
def main() -> None:
    """commkg: knowledge graphs of research on health-care commissioning, built from
    plain-text study records.

    \b
    Example:
      commkg build                          # the bundled sample -> ./output/asserted.ttl
      commkg build my-records/ --out out/   # your own corpus
    """


def _one_line(text: object) -> str:
    """`text` with its control, format and separator characters escaped (\\n, \\x1b, \\u202e …):
    a file name may hold a newline that would forge a second report line, a terminal escape
    sequence, or (undecodable bytes) a lone surrogate that stderr cannot even encode."""
    return "".join(c.encode("unicode_escape", "backslashreplace").decode("ascii")
                   if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") else c
                   for c in str(text))


class _NoBar:
    def update(self, n_steps: int) -> None:
        pass


def _progress_bar(total: int):
    stderr = sys.stderr  # looked up now, not at import: click's test runner swaps it
    if total < LONG_CORPUS_RECORDS and not stderr.isatty():
        return nullcontext(_NoBar())
    # Never stdout: stdout carries only the summary line, which scripts read.
    return click.progressbar(length=total, label=f"extracting {total} records", file=stderr)


@main.command(short_help="Build the knowledge graph of a folder of study records.")
@click.argument("corpus", required=False, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", default="output", show_default=True, metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the graph files into (made if missing).")
@click.option("--strict", is_flag=True,
              help="Stop at the first record that cannot be read, and write nothing.")
@click.option("--workers", type=click.IntRange(min=1), metavar="N",
              help="Extraction processes [default: one per core from 50 records on, else 1]; with "
                   "more than 1 (on Linux) the output files and the page are also "
                   "written by forked processes, beside the reasoning.")
@click.option("--incremental", is_flag=True,
              help="Re-extract only the records changed since the last --incremental build into "
                   "OUT (cache in OUT/.cache), and patch the output files instead of writing them "
                   "anew where that can be done (a file that would not change is left as it is); "
                   "the output is the same as a full build's.")
@click.option("--no-reason", "no_reason", is_flag=True,
              help="Skip the OWL 2 RL reasoning: write asserted.ttl and graph.html only.")
@click.option("--study-links/--no-study-links", default=None,
              help="Materialise study-to-study links (sharesTheoryWith …) [default: up to 500 records].")
def build(corpus: Path | None, out_dir: Path, strict: bool, workers: int | None, incremental: bool,
          no_reason: bool, study_links: bool | None) -> None:
    """Build the knowledge graph of CORPUS, a folder of plain-text study records (one per .txt
    file, subfolders included; default: the bundled sample of five records).

    Writes OUT/asserted.ttl (what the records say), OUT/inferred.ttl (what the OWL 2 RL
    reasoner adds), OUT/graph.ttl (both) and OUT/graph.trig (the same in named graphs), and
    prints one summary line. Warnings on stderr: inconsistencies the reasoner finds, and, for
    corpora up to 100 records, each violation of the SHACL shapes (the lines `commkg validate`
    prints, each naming the record file); larger corpora are not checked, and a line says so.
    Warnings do not change what is written nor the exit code. A record that cannot be read is
    skipped with a line on stderr and the rest is built. Exit code 0 when every record was
    built, 1 when any was skipped (or --strict stopped the build, or OUT could not be
    written), 2 for bad arguments such as a CORPUS folder that does not exist.

    \b
    Example:
      commkg build                              # the sample -> output/graph.ttl …
      commkg build --no-reason                  # asserted.ttl and graph.html only
      commkg build ~/records --out ~/graph      # your own corpus
      commkg build ~/records --strict           # stop at the first bad record
      commkg build ~/records --incremental      # only the changed records, output patched
    """
    # Imported here, not at the top: `commkg --help` should not wait for rdflib to load.
    from commkg.build import OUTPUT_FILES, PROVENANCE_FILE, CorpusError, build_corpus
    from commkg.errors import CommkgError, RecordError

    try:
        report = build_corpus(corpus, out_dir, strict=strict, workers=workers, progress=_progress_bar,
                              incremental=incremental, reason=not no_reason, study_links=study_links)
    except RecordError as error:  # only with --strict
        raise click.ClickException(f"{_one_line(error.path)}: {_one_line(error.reason)} "
                                   "(stopped by --strict; previous outputs left as they were)")
    except CorpusError as error:
        raise _BadArgument(str(error))
    except CommkgError as error:
        raise click.ClickException(str(error))

    for error in report.errors:
        click.echo(f"commkg: skipped {_one_line(error.path)}: {_one_line(error.reason)}", err=True)
    if incremental:
        total = report.records_built + report.records_failed
        if not report.patched:
            how = f"the output written anew ({report.not_patched})"
        elif {*report.unchanged, PROVENANCE_FILE} == set(OUTPUT_FILES):
            how = f"the previous output kept as it was ({PROVENANCE_FILE} written anew)"
        elif report.unchanged:
            how = f"the previous output patched ({', '.join(report.unchanged)} unchanged)"
        else:
            how = "the previous output patched"
        click.echo(f"commkg: {report.records_extracted} of {total} records extracted, "
                   f"the others taken from the cache; {how}", err=True)
    for warning in report.warnings:
        click.echo(f"commkg: warning: {_one_line(warning)}", err=True)
    if report.inferred is not None and not report.study_links:
        click.echo(f"commkg: study-to-study links not materialised for {report.records_built} records "
                   "(they grow with the square of the corpus); --study-links makes them", err=True)
    if not report.shacl_checked:
        command = _one_line(f"commkg validate --build {shlex.quote(str(report.out_dir))}")
        click.echo(f"commkg: SHACL shapes not checked for {report.records_built} records (it takes "
                   f"about 40 ms a record); `{command}` checks them", err=True)
    inferred = "" if report.inferred is None else f", {report.inferred} inferred"
    click.echo(f"built {report.records_built} records ({report.records_failed} with errors), "
               f"{report.triples} triples{inferred} -> {report.main_file}")
    if report.errors:
        raise click.exceptions.Exit(EXIT_FAILED)


_QUERY_FORMATS = ("table", "csv", "tsv", "json", "xml", "turtle", "ntriples")  # queries.FORMATS


@main.command("queries", short_help="List the saved queries.")
def list_queries() -> None:
    """List the saved queries: their names, titles and parameters.

    \b
    Example:
      commkg queries
      commkg query studies-by-organisation-type --param type=PCT
    """
    from commkg.errors import CommkgError
    from commkg.queries import saved_queries

    try:
        found = saved_queries()
    except CommkgError as error:
        raise click.ClickException(str(error))
    width = max((len(q.name) for q in found), default=0)
    for saved in found:
        click.echo(f"{saved.name.ljust(width)}  {saved.title}")
        for param in saved.params:
            default = f" [default: {param.default}]" if param.default else ""
            click.echo(f"{'':{width}}    --param {param.name}=…  {param.meaning}{default}")


@main.command(short_help="Run a saved query (or a query file or text) on the graph.")
@click.argument("name", required=False, metavar="NAME|FILE")
@click.option("-e", "text", metavar="TEXT", help="Run this SPARQL text instead of a saved query.")
@click.option("--graph", "graph_file", default="output/graph.ttl", show_default=True,
              type=click.Path(dir_okay=False, path_type=Path), help="The Turtle graph to query.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Bind ?NAME to VALUE (repeatable): <iri> or prefix:name is an IRI, anything "
                   "else a plain string.")
@click.option("--format", "fmt", type=click.Choice(_QUERY_FORMATS), default="table",
              show_default=True, help="table for people; csv, tsv, json, xml as the W3C SPARQL "
                                      "results formats; turtle or ntriples for CONSTRUCT.")
def query(name: str | None, text: str | None, graph_file: Path, params: tuple[str, ...],
          fmt: str) -> None:
    """Run the saved query NAME (see `commkg queries`), the query in FILE, or -e TEXT on the
    graph, and print the result.

    A --param value is bound to its variable as an RDF term before the query runs, never pasted
    into the query text: `<http://…>` or a prefixed name such as comm:Provider becomes an IRI,
    anything else a plain string literal. A saved query's parameters have defaults.

    \b
    Example:
      commkg query studies-by-organisation-type --param type=CCG
      commkg query shared-theories --format csv > shared.csv
      commkg query related-studies --param fileA=000_2fa6104f5f396216.txt --param fileB=001_1980af955ea8e01a.txt
      commkg query -e 'SELECT ?file WHERE { ?s <https://w3id.org/commkg/ontology#sourceFile> ?file }' --format json
    """
    from commkg.errors import CommkgError
    from commkg.queries import find_query, parse_param_options, query_from_text, run_saved

    if (name is None) == (text is None):
        raise _BadArgument("give a saved query NAME, a query FILE, or -e TEXT (one of them)")
    try:
        saved = query_from_text(text) if text is not None else find_query(name)
        output = run_saved(saved, graph_file, parse_param_options(params), fmt=fmt)
    except CommkgError as error:
        raise click.ClickException(str(error))
    click.echo(output, nl=False)


@main.command("serve", short_help="Serve the graph as a read-only SPARQL endpoint with a query page.")
@click.option("--graph", "graph_file", default="output/graph.ttl", show_default=True,
              type=click.Path(dir_okay=False, path_type=Path), help="The Turtle graph to serve.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (127.0.0.1: this machine only).")
@click.option("--port", default=7878, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1),
              help="Query processes, each with its own copy of the graph in memory.")
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds a query may run before it is stopped (HTTP 503).")
@click.option("--max-result-mb", default=50, show_default=True, type=click.IntRange(min=1),
              help="Largest result to send (HTTP 403 past it).")
def serve_command(graph_file: Path, host: str, port: int, workers: int, timeout: float,
                  max_result_mb: int) -> None:
    """Serve the graph as a read-only SPARQL 1.1 endpoint at /sparql (GET and POST; JSON, XML,
    CSV, TSV or Turtle by content negotiation) with a query page at /, until Ctrl-C.

    Updates, LOAD, SERVICE and FROM are refused; each query has a time limit and a size limit.

    \b
    Example:
      commkg serve                                  # http://127.0.0.1:7878/
      commkg serve --graph out/graph.ttl --port 8000
      curl -H 'Accept: text/csv' --data-urlencode 'query=SELECT * WHERE { ?s ?p ?o } LIMIT 5' http://127.0.0.1:7878/sparql
    """
    from commkg.errors import CommkgError
    from commkg.serve import Limits, serve

    click.echo(f"serving {graph_file} on http://{host}:{port}/ (SPARQL endpoint: /sparql); "
               "Ctrl-C stops", err=True)
    try:
        serve(graph_file, host=host, port=port, workers=workers,
              limits=Limits(timeout=timeout, max_bytes=max_result_mb * 1_000_000))
    except CommkgError as error:
        raise click.ClickException(str(error))


@main.command()
@click.option("--study", metavar="DOI|FILE", help="Show this study (DOI, record file name, or IRI) and its neighbours.")
@click.option("--concept", metavar="KEY", help="Show this concept (vocabulary key or label) and the studies that name it.")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The HTML file to write.")
@click.option("--graph", "graph_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Turtle graph to read [default: output/graph.ttl, else output/asserted.ttl].")
@click.option("--title", default=None, help="Page title [default: the study or concept asked for].")
def view(study: str | None, concept: str | None, out_file: Path, graph_file: Path | None, title: str | None) -> None:
    """Write an interactive HTML page of the graph: one study and its neighbours (--study),
    one concept across studies (--concept), or, with neither, the whole graph. The page works
    offline: open it by double-click.

    \b
    Example:
      commkg view --study 10.1136/bmjopen-2013-003341 --out study.html
      commkg view --concept ResourceDependencyTheory --out rdt.html
      commkg view --graph out/graph.ttl --out everything.html
    """
    import rdflib  # here, not at the top: `commkg --help` should not wait for rdflib

    from commkg.errors import CommkgError
    from commkg.visual import write_page

    if study and concept:
        raise _BadArgument("give --study or --concept, not both")
    if graph_file is None:
        graph_file = next((p for p in (Path("output/graph.ttl"), Path("output/asserted.ttl")) if p.is_file()), None)
        if graph_file is None:
            raise click.ClickException("no output/graph.ttl or output/asserted.ttl here: run `commkg build` first, or give --graph")
    try:
        graph = rdflib.Graph().parse(graph_file, format="turtle")
    except (OSError, SyntaxError, ValueError) as error:
        raise click.ClickException(f"cannot read {graph_file}: {error}")
    try:
        write_page(graph, out_file, title=title or study or concept or "commkg", focus_study=study, focus_concept=concept)
    except CommkgError as error:
        raise click.ClickException(str(error))
    except OSError as error:
        raise click.ClickException(f"cannot write {out_file}: {error.strerror or error}")
    click.echo(f"wrote {out_file}")


# --------------------------------------------------------------------------- data teams (issue 5)

def _build_folder_option(function):
    return click.option("--build", "build_dir", default="output", show_default=True, metavar="DIR",
                        type=click.Path(file_okay=False, path_type=Path),
                        help="The folder `commkg build` wrote.")(function)


@main.command("export", short_help="Write the graph as Turtle, N-Triples, N-Quads, TriG, JSON-LD or GraphML.")
@click.option("--format", "format_", required=True,
              type=click.Choice(["ttl", "nt", "nq", "trig", "jsonld", "graphml"]),
              help="ttl, nt (no graph names); nq, trig, jsonld (named graphs); graphml (nodes and edges).")
@click.option("--graph", "graph", default="all", show_default=True,
              type=click.Choice(["asserted", "inferred", "evidence", "ontology", "provenance", "all"]),
              help="Which named graph; all = ontology, asserted, inferred and evidence.")
@_build_folder_option
@click.option("--out", "out", default="-", show_default=True, metavar="FILE|-",
              help="File to write (atomically), or - for stdout; with --split-size, a folder.")
@click.option("--split-size", type=click.IntRange(min=1), metavar="N",
              help="With --format nq: write files of at most N quads each (commkg-00001.nq …) into --out.")
def export_command(format_: str, graph: str, build_dir: Path, out: str, split_size: int | None) -> None:
    """Export the build in DIR (graph.trig, else asserted.ttl) in a standard format. The output
    is byte-identical for the same build, whatever machine or PYTHONHASHSEED.

    ttl and nt merge the chosen graphs; trig, nq and jsonld keep each named graph
    (https://w3id.org/commkg/graph/asserted …); graphml draws the asserted and inferred
    knowledge for Gephi or Cytoscape (labels from skos:prefLabel / rdfs:label).

    \b
    Example:
      commkg export --format nt --graph inferred > inferred.nt
      commkg export --format trig > all.trig
      commkg export --format jsonld --out graph.jsonld
      commkg export --format graphml > graph.graphml
      commkg export --format nq --split-size 1000000 --out bulk/    # for bulk loaders
    """
    import io
    import os

    from commkg.errors import CommkgError
    from commkg.export import export, load_build, select, write_split_nquads
    from commkg.writing import write_file_atomically

    if split_size is not None and format_ != "nq":
        raise _BadArgument("--split-size works with --format nq only")
    if split_size is not None and out == "-":
        raise _BadArgument("--split-size writes a folder of files: give it with --out DIR")
    try:
        graphs = load_build(build_dir)
        if split_size is not None:
            paths = write_split_nquads(select(graphs, graph), Path(out), max_quads=split_size)
            click.echo(f"wrote {len(paths)} N-Quads files to {out}", err=True)
        elif out == "-":
            stdout = io.TextIOWrapper(click.get_binary_stream("stdout"), encoding="utf-8", newline="\n")
            try:
                export(stdout, graphs, format=format_, graph=graph)
                stdout.flush()
            except BrokenPipeError:  # `commkg export … | head`: the reader has what it wanted
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no noise at exit
                raise click.exceptions.Exit(EXIT_FAILED)
            stdout.detach()  # leave the process's stdout open for click
        else:
            write_file_atomically(Path(out), lambda stream: export(stream, graphs, format=format_, graph=graph))
    except CommkgError as error:
        raise click.ClickException(_one_line(error))
    except OSError as error:
        raise click.ClickException(f"cannot write {_one_line(error.filename or out)}: {error.strerror or error}")


@main.command("validate", short_help="Check every record of a build against the SHACL shapes.")
@_build_folder_option
def validate_command(build_dir: Path) -> None:
    """Check the asserted graph and evidence of the build in DIR against ontology/shapes.ttl
    (a kind, at most one well-formed DOI, years in range, sample sizes with a positive count
    and a unit, evidence for every fact). Prints one line per violation: record file, focus
    node, path, message. Exit code 0 when every record conforms, 1 otherwise.

    \b
    Example:
      commkg validate                    # the build in ./output
      commkg validate --build ~/graph
    """
    from commkg.errors import CommkgError
    from commkg.validate import validate_build

    try:
        report = validate_build(build_dir)
    except CommkgError as error:
        raise click.ClickException(_one_line(error))
    click.echo(report.text(), nl=False)
    if not report.conforms:
        raise click.exceptions.Exit(EXIT_FAILED)


@main.command("push", short_help="Load the build's named graphs into a triple store (Graph Store Protocol).")
@click.option("--endpoint", required=True, metavar="URL",
              help="The store's SPARQL 1.1 Graph Store endpoint, e.g. http://127.0.0.1:8890/sparql-graph-crud.")
@click.option("--graph", "graphs", multiple=True, metavar="IRI",
              help="A graph to push (IRI or short name such as asserted); repeatable [default: all of them].")
@_build_folder_option
@click.option("--chunk-size", default=50_000, show_default=True, type=click.IntRange(min=1), metavar="N",
              help="Triples per request: the first request PUTs (replaces the graph), the rest POST.")
def push_command(endpoint: str, graphs: tuple[str, ...], build_dir: Path, chunk_size: int) -> None:
    """Send each named graph of the build in DIR to a triple store with the SPARQL 1.1 Graph
    Store HTTP Protocol (HTTP PUT per graph, N-Triples). Pushing again replaces the graphs.

    Credentials are read from the environment only, never from the command line:
    COMMKG_PUSH_USER, COMMKG_PUSH_PASSWORD and COMMKG_PUSH_AUTH (basic, the default, or digest).

    \b
    Example:
      commkg push --endpoint http://127.0.0.1:8890/sparql-graph-crud
      commkg push --endpoint http://127.0.0.1:8890/sparql-graph-crud --graph asserted
      COMMKG_PUSH_USER=dba COMMKG_PUSH_PASSWORD=… COMMKG_PUSH_AUTH=digest \\
        commkg push --endpoint http://127.0.0.1:8890/sparql-graph-crud-auth
    """
    from commkg.errors import CommkgError
    from commkg.push import push_build

    try:
        pushed = push_build(endpoint, build_dir, graphs=graphs, chunk_triples=chunk_size)
    except CommkgError as error:
        raise click.ClickException(_one_line(error))
    for result in pushed:
        click.echo(f"pushed {result.triples} triples -> {result.iri}")
