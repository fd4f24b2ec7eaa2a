"""Benchmark: an incremental rebuild after changing 1 of N records, against a full build.

    python bench/bench_incremental.py               # N = 10,000 (the issue's figure)
    python bench/bench_incremental.py 1000 --repeat 5

It generates a synthetic corpus of N records (bench/generate_corpus.py: recombined real
records, each article with its own DOI and e-locator, a commentary citing one of them), then,
each build a `commkg build` command of its own (so that every figure includes starting Python
and importing the libraries, as a user's build does):

1. builds it with --incremental into A (a cold cache: every record is extracted and stored);
2. rebuilds A with --incremental, nothing changed (the state it keeps now trusts the files'
   stamps: the first build saw them written within two seconds of reading them);
3. builds the corpus in full into B: the baseline;
4. for each of --repeat rounds: changes one article (one more sentence in its abstract, so
   that its triples change; it stops if a rebuild patched nothing) and rebuilds A with
   --incremental (timed);
5. builds the changed corpus in full into B again, and checks that A's output files are
   byte-identical to B's.

Wall time and CPU time (the build's processes, workers included) are printed for each build:
CPU time says what the work costs even when other jobs share the machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generate_corpus import generate  # noqa: E402

OUTPUTS = ("asserted.ttl", "inferred.ttl", "graph.ttl", "graph.trig", "graph.html")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _commkg() -> str:
    """The console script of the commkg installed beside this Python."""
    beside = Path(sys.executable).parent / "commkg"
    return str(beside) if beside.exists() else shutil.which("commkg") or "commkg"


def timed(label: str, *args: str) -> tuple[float, float, str]:
    command = [_commkg(), "build", *args]
    wall, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall, cpu = time.perf_counter() - wall, _children_cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"{label}: exit {done.returncode}\n{done.stderr}")
    summary = done.stdout.strip().splitlines()[-1]
    extracted = next((line for line in done.stderr.splitlines() if "records extracted" in line), "")
    print(f"{label:<42} {wall:7.2f} s wall {cpu:7.2f} s CPU   {summary}  {extracted.strip()}", flush=True)
    return wall, cpu, done.stderr


def compiles_at_each_start() -> bool:
    """Whether the commkg timed keeps no bytecode (an editable install where
    PYTHONDONTWRITEBYTECODE is set): every build then compiles its modules first, 0.1 s more."""
    spec = importlib.util.find_spec("commkg")
    if spec is None or spec.origin is None:
        return False
    return sys.dont_write_bytecode and not any(Path(spec.origin).parent.glob("__pycache__/*.pyc"))


def identical(a: Path, b: Path) -> bool:
    return all((a / name).read_bytes() == (b / name).read_bytes() for name in OUTPUTS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="?", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="changed-record rebuilds to time (default 3)")
    parser.add_argument("--workers", type=int, default=None, help="extraction processes (default: one per core)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="commkg-bench-"))
    workers = ["--workers", str(args.workers)] if args.workers else []
    try:
        corpus = work / "corpus"
        paths = generate(args.records, corpus)
        print(f"{args.records} records in {corpus}; workers: {args.workers or 'one per core'}; "
              f"load average {os.getloadavg()[0]:.2f}", flush=True)
        if compiles_at_each_start():
            print("warning: this commkg has no bytecode and may not write any (an editable install, "
                  "PYTHONDONTWRITEBYTECODE set): each build compiles it first; time the README's install", flush=True)
        a, b = str(work / "A"), str(work / "B")
        timed("1. incremental build, cold cache", str(corpus), "--out", a, "--incremental", *workers)
        timed("2. incremental rebuild, nothing changed", str(corpus), "--out", a, "--incremental", *workers)
        full_wall, full_cpu, _ = timed("3. full build (baseline)", str(corpus), "--out", b, *workers)
        walls, cpus, same = [], [], True
        # Articles: the sentence lands in the abstract. After a commentary's Links section it
        # changes no triple, and the rebuild would time a patch that writes nothing.
        articles = [path for path in paths if path.name.endswith("_article.txt")]
        for round_ in range(args.repeat):
            changed = articles[(len(articles) // 2 + 7 * round_) % len(articles)]
            changed.write_text(changed.read_text(encoding="utf-8") + f"\nWe interviewed {12 + round_} commissioners.\n",
                               encoding="utf-8")
            wall, cpu, stderr = timed(f"4.{round_ + 1} incremental rebuild, 1 record changed",
                                      str(corpus), "--out", a, "--incremental", *workers)
            if "the previous output patched" not in stderr:
                raise SystemExit(f"round {round_ + 1}: the rebuild patched nothing ({changed.name}):\n{stderr}")
            walls.append(wall)
            cpus.append(cpu)
        shutil.rmtree(b)
        timed("5. full build of the changed corpus", str(corpus), "--out", b, *workers)
        same = identical(Path(a), Path(b))
        wall, cpu = statistics.median(walls), statistics.median(cpus)
        print(f"incremental / full (median of {len(walls)}): {100 * wall / full_wall:.1f} % of the wall time, "
              f"{100 * cpu / full_cpu:.1f} % of the CPU time (goal: <= 5 %)")
        print(f"output byte-identical to the full build: {same}")
        return 0 if same else 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
