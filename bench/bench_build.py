"""Benchmark `commkg build` at corpus scale, stage by stage, against a plain owlrl closure.

    python bench/bench_build.py                          # 100, 1,000 and 10,000 records
    python bench/bench_build.py --sizes 100 1000 --owlrl-limit 120

For each size it generates a synthetic corpus (bench/generate_corpus.py) in a temporary folder
and runs, each in a fresh subprocess so that peak memory is the build's own:

* the build: `commkg.build.build_corpus` as the CLI runs it (every output file), with the wall
  seconds of its stages as it reports them (`BuildReport.seconds`): extract (worker processes,
  which also render the records' own triples and evidence as Turtle and sort out what the rules
  use), reason (`reason.reason_knowledge`), check (the disjointness warnings), SHACL (validate.py, up
  to `validate.CHECKED_IN_BUILD_UP_TO_RECORDS` records), write (what is
  left of writing the files, graph.html included, after the check: forked processes write them
  from the end of extraction on) — with the default study-links setting (materialised only up
  to `build.STUDY_LINKS_UP_TO_RECORDS` records);
* the reference: `reason.reason_with_owlrl` (a plain owlrl closure, all links) on the same
  corpus's knowledge triples (`reason.knowledge`: no evidence, no idle literals), stopped after
  --owlrl-limit seconds. Once it fails to finish at one size, larger sizes are not tried.

Seconds are wall-clock; "cpu" is user+system time of the process and its workers (the machine
may be shared: compare cpu with wall). Peak memory is the largest resident set of the main
process ("peak MB") and of any one extraction worker ("worker MB").
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


# --------------------------------------------------------------------------- in the subprocess

def _cpu(children: bool = True) -> float:
    """CPU seconds of this process, plus (with `children`) those of its finished workers."""
    who = (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN) if children else (resource.RUSAGE_SELF,)
    return sum(u.ru_utime + u.ru_stime for u in map(resource.getrusage, who))


def _peaks() -> dict:
    return {"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def child_build(corpus: Path, out_dir: Path) -> dict:
    """`build.build_corpus` as the CLI calls it (every output file, graph.html included), with
    the wall seconds of each of its stages (BuildReport.seconds) and the CPU seconds of the whole."""
    from commkg.build import build_corpus

    start, cpu_start, main_start = time.perf_counter(), _cpu(), _cpu(children=False)
    report = build_corpus(corpus, out_dir)
    seconds = dict(report.seconds, total=time.perf_counter() - start)
    inferred = (out_dir / "inferred.ttl").read_text(encoding="utf-8")
    return {"records": report.records_built, "errors": report.records_failed,
            "study_links": report.study_links, "asserted": report.triples, "inferred": report.inferred,
            "warnings": len(report.warnings),
            # comm:discusses triples in inferred.ttl: the commentaries the reasoner linked.
            "commentaries_linked": inferred.count("comm:discusses"),
            "seconds": seconds, "cpu": _cpu() - cpu_start, "main_cpu": _cpu(children=False) - main_start,
            "output_mb": sum(f.stat().st_size for f in out_dir.iterdir() if f.is_file()) / 1e6,
            "files": [f.name for f in report.files], **_peaks()}


def _facts(corpus: Path):
    """The corpus's merged facts (no evidence), extracted as build_corpus extracts them."""
    from commkg import build
    from commkg.lexicon import load_lexicon

    paths = build._record_paths(corpus)
    asserted, _, built = build._extract_all(paths, strict=False, workers=build._worker_count(len(paths), None),
                                            bar=build._NoProgress(), lexicon=load_lexicon())
    return asserted.facts, built


class _OutOfTime(Exception):
    pass


def child_owlrl(corpus: Path, limit: float) -> dict:
    """A plain owlrl closure of the corpus's knowledge triples, given `limit` seconds."""
    import rdflib

    from commkg import build
    from commkg.reason import compile_ontology, knowledge, reason_triples, reason_with_owlrl

    asserted, built = _facts(corpus)
    ontology = build._ontology()
    facts = knowledge(asserted, compile_ontology(ontology))
    graph = rdflib.Graph()
    for t in facts:
        graph.add(t)

    def out_of_time(signum, frame):
        raise _OutOfTime

    signal.signal(signal.SIGALRM, out_of_time)
    signal.setitimer(signal.ITIMER_REAL, limit)
    start, cpu_start = time.perf_counter(), _cpu()
    try:
        inferred = set(reason_with_owlrl(graph, ontology))
    except _OutOfTime:
        return {"records": built, "finished": False, "asserted": len(facts), **_peaks()}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    seconds, cpu = time.perf_counter() - start, _cpu() - cpu_start
    ours = set(reason_triples(asserted, compile_ontology(ontology)))  # all links, as owlrl
    return {"records": built, "finished": True, "asserted": len(facts), "inferred": len(inferred),
            "seconds": seconds, "cpu": cpu, "same_as_commkg": inferred == ours, **_peaks()}


# --------------------------------------------------------------------------- in the parent

def _run_child(args: list[str], timeout: float | None = None) -> dict | None:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"benchmark subprocess failed: {' '.join(command)}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _build_rows(size: int, build: dict) -> str:
    s = build["seconds"]
    links = "yes" if build["study_links"] else "no"
    return "\n".join([
        f"### {size:,} records (study-to-study links materialised: {links}; "
        f"{build['errors']} records skipped; {build['commentaries_linked']} commentaries linked; "
        f"{build['warnings']} inconsistency warnings)",
        "",
        "| run | extract s | reason s | check s | SHACL s | write s | total s | cpu s | asserted | inferred | peak MB | worker MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| commkg build | {s['extract']:.1f} | {s.get('reason', 0):.1f} | {s.get('check', 0):.1f} "
        f"| {s.get('validate', 0):.1f} | {s['write']:.1f} | **{s['total']:.1f}** | {build['cpu']:.1f} "
        f"| {build['asserted']:,} | {build['inferred']:,} | **{build['peak_mb']:.0f}** | {build['worker_mb']:.0f} |",
    ])


def _owlrl_row(owl: dict | str) -> str:
    if isinstance(owl, str):
        return f"| owlrl closure | | {owl} | | | | | | | | | |"
    same = "same as commkg (all links)" if owl["same_as_commkg"] else "DIFFERS from commkg (all links)"
    return (f"| owlrl closure | | {owl['seconds']:.1f} | | | | | {owl['cpu']:.1f} | "
            f"{owl['asserted']:,} knowledge | {owl['inferred']:,} ({same}) | {owl['peak_mb']:.0f} | |")


def _footer(build: dict) -> str:
    return (f"\ncpu s: {build['cpu']:.1f} (main process {build['main_cpu']:.1f}); "
            f"output files {build['output_mb']:.0f} MB: {', '.join(build['files'])}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000],
                        help="corpus sizes in records (default: 100 1000 10000)")
    parser.add_argument("--owlrl-limit", type=float, default=600, metavar="SECONDS",
                        help="time allowed for each owlrl closure (default 600; 0 skips owlrl)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="generate the corpora and outputs under DIR and keep them")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:  # internal: one measurement in a fresh process, printed as JSON
        kind, corpus, other = args.child[0], Path(args.child[1]), args.child[2]
        if kind == "build":
            result = child_build(corpus, Path(other))
        else:
            result = child_owlrl(corpus, float(other))
        print(json.dumps(result))
        return

    sys.path.insert(0, str(HERE))
    from generate_corpus import generate

    print(f"# commkg build benchmark — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{os.cpu_count()} cores, load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    owlrl_gave_up_at = None
    with tempfile.TemporaryDirectory(prefix="commkg-bench-") as scratch:
        root = args.keep or Path(scratch)
        for size in args.sizes:
            corpus, out = root / f"corpus-{size}", root / f"out-{size}"
            generate(size, corpus, seed=args.seed)
            build = _run_child(["build", str(corpus), str(out)])
            print(_build_rows(size, build), flush=True)
            if args.owlrl_limit <= 0:
                owl = "not run (--owlrl-limit 0)"
            elif owlrl_gave_up_at is not None:
                owl = f"not run: did not finish at {owlrl_gave_up_at:,} records"
            else:
                # The child stops itself after the limit; the extra time covers its extraction.
                owl = _run_child(["owlrl", str(corpus), str(args.owlrl_limit)],
                                 timeout=args.owlrl_limit + 2 * build["seconds"]["extract"] + 120)
                if owl is None or not owl["finished"]:
                    owlrl_gave_up_at = size
                    owl = f"did not finish in {args.owlrl_limit:.0f} s"
            print(_owlrl_row(owl))
            print(_footer(build))
            print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}\n", flush=True)


if __name__ == "__main__":
    main()
