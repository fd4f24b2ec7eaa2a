"""Benchmark the page kept up to date from its state (commkg.pagestate) on N records (default 10,000).

    python bench/bench_page_update.py [--records 10000] [--corpus DIR] [--runs 7]

Makes a synthetic corpus (bench/generate_corpus.py) or reads DIR, extracts it (two processes),
reasons over it and cuts it into the parts the build hands to the page (tests/page_parts.py).
Then prints, each the median of --runs (wall seconds, and this process's CPU seconds beside
them; the machine may be shared, so the load average is printed too):

* the page from scratch as the build makes it today (visual.render_page of every triple) and
  with its state (pagestate.render_page_with_state): they must be byte-identical;
* the state: its size as saved, PageState.dumps and PageState.loads;
* an update after one record's text is edited (a sample size added: its part changes, nothing
  shared does): PageState.loads of the saved state, then update_page, until the HTML string,
  for --edits different records; and the same with the shared triples handed over again
  (unchanged), as a build that cannot tell would. The first updated page is checked against
  render_page_with_state of the changed parts.

Goal (issue 5): an update ≤ 0.5 s wall at 10,000 records, loading the state included.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from generate_corpus import generate  # noqa: E402
from page_parts import Corpus, corpus_of, extract_corpus  # noqa: E402

from commkg import pagestate, visual  # noqa: E402
from commkg.corpus import find_records, parse_record  # noqa: E402

EDIT = "We conducted 23 semi-structured interviews with commissioners."


def _extract(paths):
    return extract_corpus(paths)


def load_corpus(folder: Path) -> tuple[Corpus, dict]:
    paths = find_records(folder)
    with Pool(2) as pool:
        chunks = pool.map(_extract, [paths[k::2] for k in range(2)])
    extractions = sorted((e for chunk in chunks for e in chunk), key=lambda e: str(e.study))
    return corpus_of(extractions), {str(e.study): e for e in extractions}


def timed(function, runs: int):
    """(result of the last run, median wall s, median CPU s)."""
    walls, cpus, result = [], [], None
    for _ in range(runs):
        gc.collect()
        cpu, wall = time.process_time(), time.perf_counter()
        result = function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return result, statistics.median(walls), statistics.median(cpus)


def load() -> str:
    return "load average %.2f / %.2f / %.2f on %d cores" % (*os.getloadavg(), os.cpu_count())


def edited_part(folder: Path, extraction) -> pagestate.PagePart:
    """The record's part once a sample size is added to its first paragraph (reasoned on its own:
    the record is a part of one record, so nothing it infers concerns another record)."""
    from commkg.extract import extract_record
    from commkg.lexicon import load_lexicon

    name = next(str(o) for s, p, o in extraction.facts if str(p).endswith("#sourceFile"))
    text = (folder / name).read_text(encoding="utf-8")
    record = parse_record(text, folder / name)
    end = record.paragraphs[0].end
    changed = extract_record(parse_record(text[:end] + " " + EDIT + text[end:], folder / name), load_lexicon())
    (part,) = corpus_of([changed]).parts
    return part


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--corpus", type=Path, help="a folder of records instead of a generated corpus")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--edits", type=int, default=5, help="records edited, one update each")
    args = parser.parse_args()

    folder = args.corpus or Path(tempfile.mkdtemp(prefix="bench-page-update-"))
    if not args.corpus:
        generate(args.records, folder, seed=0)
    print(load())
    started = time.perf_counter()
    corpus, extractions = load_corpus(folder)
    print(f"{folder}: {len(extractions):,} records in {len(corpus.parts):,} parts, {len(corpus.triples):,} triples "
          f"({len(corpus.shared):,} shared), {len(corpus.annotations):,} annotations; made in "
          f"{time.perf_counter() - started:.1f} s")
    gc.collect()
    gc.freeze()  # the corpus stays: the collector need not walk it while we time

    reference, wall, cpu = timed(lambda: visual.render_page(iter(corpus.triples), annotations=corpus.annotations), 3)
    print(f"page from scratch, visual.render_page: {wall:.2f} s wall, {cpu:.2f} s CPU (median of 3)")
    (html, state), wall, cpu = timed(lambda: pagestate.render_page_with_state(corpus.parts, corpus.shared), 3)
    print(f"page from scratch, render_page_with_state: {wall:.2f} s wall, {cpu:.2f} s CPU (median of 3); "
          f"byte-identical: {'yes' if html == reference else 'NO'}")
    text, wall, cpu = timed(state.dumps, args.runs)
    print(f"state: {len(text.encode('utf-8')):,} bytes ({len(text.encode('utf-8')) / 2**20:.1f} MiB); "
          f"dumps {wall:.3f} s wall, {cpu:.3f} s CPU")
    _, wall, cpu = timed(lambda: pagestate.PageState.loads(text), args.runs)
    print(f"loads {wall:.3f} s wall, {cpu:.3f} s CPU")
    print(load())

    singles = [part for part in corpus.parts if len(part.studies) == 1]
    chosen = [singles[k * len(singles) // args.edits] for k in range(args.edits)]
    walls, cpus, shared_walls, shared_cpus = [], [], [], []
    for k, old in enumerate(chosen):
        study = old.studies[0][0]
        new = edited_part(folder, extractions[study])
        (page, _), wall, cpu = timed(lambda: pagestate.update_page(
            pagestate.PageState.loads(text), removed=[study], added=[new], shared=None), args.runs)
        walls.append(wall)
        cpus.append(cpu)
        _, wall, cpu = timed(lambda: pagestate.update_page(
            pagestate.PageState.loads(text), removed=[study], added=[new], shared=corpus.shared), args.runs)
        shared_walls.append(wall)
        shared_cpus.append(cpu)
        if k == 0:
            parts = [part for part in corpus.parts if part is not old] + [new]
            expected, _ = pagestate.render_page_with_state(sorted(parts, key=lambda p: p.studies[0]), corpus.shared)
            print(f"updated page byte-identical to render_page_with_state of the changed parts: "
                  f"{'yes' if page == expected else 'NO'}; differs from the old page: {'yes' if page != html else 'NO'}")
    print(f"update after one record's edit (loads + update_page, until the HTML): median {statistics.median(walls):.3f} s "
          f"wall, {statistics.median(cpus):.3f} s CPU over {args.edits} records × {args.runs} runs "
          f"(per record: {', '.join(f'{w:.3f}' for w in walls)}) [goal <= 0.5 s]")
    print(f"  the same, the shared triples handed over again: median {statistics.median(shared_walls):.3f} s wall, "
          f"{statistics.median(shared_cpus):.3f} s CPU")
    # The study most others keep among their strongest links: its edit redoes the most rows.
    import numpy as np

    links = np.bincount(state.partners[state.partners >= 0], minlength=len(state.iris))
    single = {part.studies[0][0]: part for part in singles}
    hub = max(single, key=lambda study: links[state.iris.index(study)])
    new = edited_part(folder, extractions[hub])
    _, wall, cpu = timed(lambda: pagestate.update_page(
        pagestate.PageState.loads(text), removed=[hub], added=[new], shared=None), args.runs)
    print(f"  an edit of the study {links[state.iris.index(hub)]:,} others link to: {wall:.3f} s wall, {cpu:.3f} s CPU")
    last = chosen[-1].studies[0][0]
    _, wall, cpu = timed(lambda: pagestate.update_page(
        pagestate.PageState.loads(text), removed=[last], added=[], shared=None), args.runs)
    print(f"  a record deleted: {wall:.3f} s wall, {cpu:.3f} s CPU")
    print(load())
    return 0


if __name__ == "__main__":
    sys.exit(main())
