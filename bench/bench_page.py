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
import gc
import os
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


def open_page(page_file: Path, screenshot: Path | None = None) -> dict:
    """Open the page in a fresh Chromium, as a double-click would, and time it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        # CPU seconds of the page's main thread: unlike the wall clock, not stretched when
        # other work shares the machine's cores.
        devtools = page.context.new_cdp_session(page)
        devtools.send("Performance.enable")
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        outside: list[str] = []
        page.on("request", lambda r: None if r.url.startswith("file://") else outside.append(r.url))
        started = time.perf_counter()
        page.goto(page_file.as_uri(), timeout=300_000)
        # A selector, not wait_for_function: that evaluates a string, which the page's CSP forbids.
        page.wait_for_selector("html[data-ready]", state="attached", timeout=300_000)
        wall = time.perf_counter() - started
        result = {"ready_s": page.evaluate("window.__commkgReady") / 1000, "wall_s": wall,
                  "timings": page.evaluate("window.__commkgTimings"),
                  "counts": page.evaluate("window.commkg.counts()"), "errors": errors, "outside": outside}
        metrics = {m["name"]: m["value"] for m in devtools.send("Performance.getMetrics")["metrics"]}
        result["cpu_s"] = metrics.get("ThreadTime", float("nan"))
        if screenshot:
            page.screenshot(path=str(screenshot))
            # The full graph, one click away: how long until it is drawn.
            page.set_default_timeout(300_000)
            started = time.perf_counter()
            page.click("#view-full")  # the handler builds the full view's data and network
            page.evaluate("() => new Promise((done) => requestAnimationFrame(() => done()))")  # and it is drawn
            result["full_view_s"] = time.perf_counter() - started
            result["full_counts"] = page.evaluate("window.commkg.counts()")
        browser.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--out", type=Path, help="folder for graph.html (default: a temporary folder)")
    parser.add_argument("--screenshot", action="store_true",
                        help="also save graph.png beside the page, and time the switch to the full graph")
    parser.add_argument("--runs", type=int, default=3, help="fresh Chromium starts to time (median reported)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-page-"))
    out.mkdir(parents=True, exist_ok=True)

    # Millions of small tuples: Python's cyclic collector would walk them again and again.
    gc.disable()
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
    runs = [open_page(page_file, out / "graph.png" if i == 0 and args.screenshot else None) for i in range(args.runs)]
    first = runs[0]
    c = first["counts"]
    print(f"opens in the {c['view']} view: {c['nodes']:,} nodes, {c['edges']:,} edges")
    for run in runs:
        print("  ready at {:.2f} s ({:.2f} s main-thread CPU); in the page (ms): {}".format(
            run["ready_s"], run["cpu_s"], ", ".join(f"{k} {v:.0f}" for k, v in run["timings"].items())))
    ready = sorted(run["ready_s"] for run in runs)
    median = ready[len(ready) // 2]
    cpu = sorted(run["cpu_s"] for run in runs)[len(runs) // 2]
    print(f"time to interactive: median {median:.2f} s, best {ready[0]:.2f} s of {len(runs)} fresh Chromium runs "
          f"(navigation start -> first frame drawn with handlers live) [goal <= 5 s]; "
          f"main-thread CPU until then: median {cpu:.2f} s")
    if "full_view_s" in first:
        f = first["full_counts"]
        print(f"switch to the full graph ({f['nodes']:,} nodes, {f['edges']:,} edges), drawn in {first['full_view_s']:.2f} s")
    errors = sum(len(run["errors"]) for run in runs)
    outside = sum(len(run["outside"]) for run in runs)
    print(f"console errors: {errors}, requests outside file://: {outside}")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0 if median <= 5 and not errors and not outside else 1


if __name__ == "__main__":
    sys.exit(main())
