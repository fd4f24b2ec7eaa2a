"""Time every saved query on a synthetic graph of N records (default 10,000). Goal: ≤ 1 s each.

    python bench/bench_queries.py [--records 10000] [--keep FILE | --graph FILE] [--repeat 3]

The graph is the sample's graph.ttl (asserted + inferred), copied N/5 times: copy g of the five
seed records gets new DOIs, file names, record IRIs and e-locators (so owl:hasKey still pairs
each copied commentary with its own copied article), and shares the concepts, journals, units
and named organisations with every other copy, as real records do. Copy 0 keeps the original
names, so the saved queries' default parameters (file names of the sample) still find their
studies. Study-to-study links (comm:relatedStudy and its sub-properties) are left out, as the
reasoner's `exclude=STUDY_LINKS` does at corpus scale; the saved queries join through the
shared concepts instead.

Each query runs the way `commkg query` and `commkg serve` run it: default parameters bound,
Oxigraph in memory, the whole result written as TSV. Printed: the wall time of the first run and
the best of --repeat runs, the best CPU time of this process (a query runs on one thread, so on
a shared machine this is the figure other work disturbs least), the rows, and whether the
query met the goal (best wall time); the exit code is 1 if any missed it. `--only NAME …`
times only those queries.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import rdflib

from commkg.corpus import find_records, read_record
from commkg.extract import extract
from commkg.lexicon import load_lexicon
from commkg.queries import bind_parameters, load_store, run, saved_queries, write_result
from commkg.resources import data_path, ontology_file

GOAL_SECONDS = 1.0
COMM = rdflib.Namespace("https://w3id.org/commkg/ontology#")
BIBO = rdflib.Namespace("http://purl.org/ontology/bibo/")
STUDY_LINKS = {COMM.relatedStudy, COMM.sharesTheoryWith, COMM.sharesMethodWith,
               COMM.sharesConditionWith, COMM.sharesOrganisationTypeWith}


def sample_graph() -> rdflib.Graph:
    """The five seed records, extracted and reasoned over (graph.ttl of the sample)."""
    from commkg.reason import reason

    lexicon = load_lexicon()
    asserted = rdflib.Graph()
    for path in find_records(data_path("corpus")):
        asserted += extract(read_record(path), lexicon)
    ontology = rdflib.Graph().parse(ontology_file("commissioning.ttl"))
    graph = asserted + reason(asserted, ontology)
    for link in STUDY_LINKS:
        graph.remove((None, link, None))
    return graph


def _renamings(graph: rdflib.Graph) -> list[str]:
    """The strings that name one record and must differ between copies: DOIs (in IRIs and
    literals), file stems (in record IRIs and file names) and e-locators (the hasKey values)."""
    names = {str(doi) for doi in graph.objects(None, BIBO.doi)}
    names |= {str(name).rsplit(".", 1)[0] for name in graph.objects(None, COMM.sourceFile)}
    names |= {f'"{locator}"' for locator in graph.objects(None, COMM.eLocator)}
    return sorted(names, key=len, reverse=True)  # longest first: no name inside another is hit


def write_synthetic_graph(records: int, out: Path) -> int:
    """Write the synthetic graph of `records` records to `out` (N-Triples); return its triples."""
    seed = sample_graph()
    seeds = len(set(seed.objects(None, COMM.sourceFile)))
    text = seed.serialize(format="nt")
    names = _renamings(seed)
    copies = -(-records // seeds)
    triples = 0
    with out.open("w", encoding="utf-8") as stream:
        for g in range(copies):
            copy = text
            if g:
                for name in names:
                    if name.startswith('"'):
                        copy = copy.replace(name, f'{name[:-1]}-g{g:04d}"')
                    else:
                        copy = copy.replace(name, f"{name}-g{g:04d}")
            stream.write(copy)
            triples += copy.count("\n")
    return triples  # an upper bound: the shared triples repeat in every copy


def time_queries(graph_file: Path, repeat: int, only: list[str] | None = None) -> list[dict]:
    started = time.perf_counter()
    store = load_store(graph_file)
    print(f"loaded {len(store):,} triples in {time.perf_counter() - started:.1f} s", flush=True)
    timings = []
    for query in saved_queries():
        if only and query.name not in only:
            continue
        bindings = bind_parameters(query, {})
        seconds, cpu = [], []
        for _ in range(repeat):
            output = io.BytesIO()
            started, started_cpu = time.perf_counter(), time.process_time()
            write_result(run(store, query.text, bindings), "tsv", output)
            seconds.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        rows = output.getvalue().count(b"\n") - 1
        timings.append({"name": query.name, "first": seconds[0], "best": min(seconds),
                        "cpu": min(cpu), "rows": rows})
        print(f"{query.name:34} first {seconds[0]:6.3f} s   best {min(seconds):6.3f} s   "
              f"cpu {min(cpu):6.3f} s   {rows:>8,} rows   "
              f"{'ok' if min(seconds) <= GOAL_SECONDS else 'SLOW'}", flush=True)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the synthetic graph here (N-Triples) and keep it")
    parser.add_argument("--graph", type=Path, help="time the queries on this graph file instead")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="time only these saved queries")
    args = parser.parse_args()
    unknown = sorted(set(args.only or ()) - {query.name for query in saved_queries()})
    if unknown:
        parser.error(f"no saved query named {', '.join(unknown)}")
    with tempfile.TemporaryDirectory() as scratch:
        graph_file = args.graph or args.keep or Path(scratch) / "synthetic.nt"
        if args.graph is None:
            started = time.perf_counter()
            triples = write_synthetic_graph(args.records, graph_file)
            print(f"synthetic graph: {args.records:,} records, {triples:,} triples written in "
                  f"{time.perf_counter() - started:.1f} s", flush=True)
        timings = time_queries(graph_file, args.repeat, args.only)
    slow = [t["name"] for t in timings if t["best"] > GOAL_SECONDS]
    print(f"{len(timings) - len(slow)}/{len(timings)} queries within {GOAL_SECONDS:g} s"
          + (f"; slow: {', '.join(slow)}" if slow else ""))
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
