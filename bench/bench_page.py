"""Benchmark the interactive page on a synthetic corpus of N records (default 10,000).

    python bench/bench_page.py [--records 10000] [--out DIR] [--screenshot]

The corpus is the five seed records recombined: copy k of seed record j gets a new DOI and file
name, keeps each of its study → concept links with probability 0.7 and borrows two or three
concepts from the other seeds (seeded, so every run builds the same graph). Its evidence is
copied with it. Prints the time to build the graph, to render the page, the page's size, and
the time until the page is interactive in headless Chromium (navigation start → the first frame
drawn with the handlers live: `window.__commkgReady`). Goal: ≤ 5 s at 10,000 records.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from rdflib import Literal, URIRef

from commkg import visual
from commkg.corpus import find_records, read_record
from commkg.extract import extract
from commkg.lexicon import load_lexicon
from commkg.resources import data_path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
KEEP_LINK = 0.7


def _seed_records() -> list[tuple[str, str, list[tuple]]]:
    """(study IRI, its record base, its triples) for each seed record."""
    lexicon = load_lexicon()
    seeds = []
    for path in find_records(data_path("corpus")):
        graph = extract(read_record(path), lexicon)
        study = next(graph.subjects(visual.COMM.sourceFile, None))
        doi = next(graph.objects(study, visual.BIBO.doi), None)
        base = (f"https://w3id.org/commkg/id/doi/{doi}/" if doi else
                f"https://w3id.org/commkg/id/record/{path.stem}/")
        seeds.append((str(study), base, sorted(graph)))  # sorted: the same corpus under any hash seed
    return seeds


def synthetic_graph(records: int, *, seed: int = 1) -> set[tuple]:
    """The triples of the synthetic corpus: a set, as `commkg build` hands them to the page
    (an rdflib Graph works too, but filling and reading one costs minutes at this size)."""
    seeds = _seed_records()
    chance = random.Random(seed)
    links = set(visual.CONCEPT_LINKS)
    pool = sorted({(p, o) for _, _, triples in seeds for s, p, o in triples if p in links}, key=str)
    graph: set[tuple] = set()
    add = graph.add
    for k in range(records):
        study, base, triples = seeds[k % len(seeds)]
        doi = f"10.5555/synthetic.{k:05d}"
        new_study, new_base = URIRef(f"https://doi.org/{doi}"), f"https://w3id.org/commkg/id/doi/{doi}/"

        def rename(term):
            if isinstance(term, URIRef):
                text = str(term)
                if text == study:
                    return new_study
                if text.startswith(base):
                    return URIRef(new_base + text[len(base):])
            return term

        for s, p, o in triples:
            if p == visual.BIBO.doi:
                o = Literal(doi)
            elif p == visual.COMM.sourceFile:
                o = Literal(f"synthetic_{k:05d}.txt")
            elif p in links and str(s) == study and chance.random() > KEEP_LINK:
                continue
            add((rename(s), p, rename(o)))
        for p, o in chance.sample(pool, chance.randint(2, 3)):
            add((new_study, p, o))
    return graph


def time_to_interactive(page_file: Path, screenshot: Path | None) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        outside: list[str] = []
        page.on("request", lambda r: None if r.url.startswith("file://") else outside.append(r.url))
        started = time.perf_counter()
        page.goto(page_file.as_uri(), timeout=120_000)
        page.wait_for_function("window.__commkgReady !== undefined", timeout=120_000, polling=50)
        wall = time.perf_counter() - started
        ready_ms = page.evaluate("window.__commkgReady")
        timings = page.evaluate("window.__commkgTimings")
        counts = page.evaluate("window.commkg.counts()")
        started = time.perf_counter()
        page.click("#view-full")
        page.evaluate("new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
        full_view = time.perf_counter() - started
        full_counts = page.evaluate("window.commkg.counts()")
        if screenshot:
            page.click("#view-studies")
            page.screenshot(path=str(screenshot))
        browser.close()
    return {"ready_s": ready_ms / 1000, "timings": timings, "wall_s": wall, "counts": counts, "full_view_s": full_view,
            "full_counts": full_counts, "errors": errors, "outside": outside}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--out", type=Path, help="folder for graph.html (default: a temporary folder)")
    parser.add_argument("--screenshot", action="store_true", help="also save graph.png beside the page")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-page-"))
    out.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    graph = synthetic_graph(args.records)
    print(f"graph: {args.records} records, {len(graph):,} triples, built in {time.perf_counter() - started:.1f} s")

    # The steps of visual.write_page, timed one by one.
    started = time.perf_counter()
    projection = visual.project(graph)
    projected = time.perf_counter()
    data = visual.page_data(projection, title=f"commkg benchmark ({args.records} records)")
    laid_out = time.perf_counter()
    page_file = out / "graph.html"
    page_file.write_text(visual.render_data(data), encoding="utf-8")
    print(f"render: {time.perf_counter() - started:.1f} s (projections {projected - started:.1f} s, "
          f"layout + page data {laid_out - projected:.1f} s) -> {page_file}")
    size = page_file.stat().st_size
    print(f"page size: {size:,} bytes ({size / 2**20:.1f} MiB)")

    if not Path(CHROMIUM).exists():
        print(f"no {CHROMIUM}: time to interactive not measured")
        return 0
    result = time_to_interactive(page_file, out / "graph.png" if args.screenshot else None)
    c, f = result["counts"], result["full_counts"]
    print(f"opens in the {c['view']} view: {c['nodes']:,} nodes, {c['edges']:,} edges")
    steps = result["timings"]
    print("  in the page (ms from navigation start): " + ", ".join(f"{k} {v:.0f}" for k, v in steps.items()))
    print(f"time to interactive: {result['ready_s']:.2f} s after navigation start "
          f"({result['wall_s']:.2f} s wall clock from goto) [goal <= 5 s]")
    print(f"switch to the full graph ({f['nodes']:,} nodes, {f['edges']:,} edges): {result['full_view_s']:.2f} s")
    print(f"console errors: {len(result['errors'])}, requests outside file://: {len(result['outside'])}")
    return 0 if result["ready_s"] <= 5 and not result["errors"] and not result["outside"] else 1


if __name__ == "__main__":
    sys.exit(main())
