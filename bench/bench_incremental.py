"""Benchmark: an incremental rebuild after changing 1 of N records, against a full build.

    python bench/bench_incremental.py               # N = 10,000 (the issue's figure)
    python bench/bench_incremental.py 1000 --workers 2

It makes a synthetic corpus of N records (the five sample records, each copy with its own DOI
and file name so that no two are the same study), then

1. builds it with --incremental into A (a cold cache: every record is extracted and stored);
2. changes one record (one more sentence, so its triples change);
3. builds the changed corpus in full into B (the baseline, timed);
4. rebuilds A with --incremental (timed: one record extracted, N-1 from the cache);
5. checks that A/asserted.ttl and B/asserted.ttl are byte-identical.

Wall time and CPU time (this process plus its worker processes) are printed for each step:
CPU time says what the work costs even when other jobs share the machine.
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from commkg.build import build_corpus
from commkg.corpus import find_records
from commkg.resources import data_path

_DOI = re.compile(r"(10\.\d{4,9}/[^\s]+?)(\.?\s)")


def make_corpus(folder: Path, records: int) -> list[Path]:
    samples = [(path.stem, path.read_text(encoding="utf-8")) for path in find_records(data_path("corpus"))]
    folder.mkdir(parents=True)
    paths = []
    for number in range(records):
        stem, text = samples[number % len(samples)]
        text = _DOI.sub(lambda m: f"{m.group(1)}-{number}{m.group(2)}", text, count=1)
        path = folder / f"{number:06d}_{stem}.txt"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(label: str, **build) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), _cpu()
    report = build_corpus(**build)
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    extracted = report.records_extracted
    print(f"{label:<44} {wall:9.1f} s wall {cpu:9.1f} s CPU   "
          f"{report.records_built} records, {extracted} extracted, {report.triples} triples", flush=True)
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="?", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=None, help="extraction processes (default: one per core)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="commkg-bench-"))
    try:
        corpus = work / "corpus"
        paths = make_corpus(corpus, args.records)
        print(f"{args.records} records in {corpus}; workers: {args.workers or 'one per core'}", flush=True)
        timed("1. incremental build, cold cache", corpus=corpus, out_dir=work / "A",
              workers=args.workers, incremental=True)
        changed = paths[len(paths) // 2]
        changed.write_text(changed.read_text(encoding="utf-8") + "\nWe interviewed 12 commissioners.\n",
                           encoding="utf-8")
        full_wall, full_cpu = timed("3. full build (baseline)", corpus=corpus, out_dir=work / "B",
                                    workers=args.workers)
        inc_wall, inc_cpu = timed("4. incremental rebuild, 1 record changed", corpus=corpus,
                                  out_dir=work / "A", workers=args.workers, incremental=True)
        same = (work / "A" / "asserted.ttl").read_bytes() == (work / "B" / "asserted.ttl").read_bytes()
        print(f"incremental / full: {100 * inc_wall / full_wall:.1f} % of the wall time, "
              f"{100 * inc_cpu / full_cpu:.1f} % of the CPU time (goal: <= 5 %)")
        print(f"output byte-identical to the full build: {same}")
        return 0 if same else 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
