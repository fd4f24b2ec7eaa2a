"""A bounded load test of `commkg serve` on loopback: C concurrent clients for S seconds.

    python bench/load_test.py [--clients 50] [--seconds 30] [--graph FILE | --url URL]

Without --url it starts `commkg serve` itself on a free loopback port, with --graph (default:
the sample's graph.ttl, built into a temporary folder) and stops it at the end. Each client
sends, one after the other, the saved queries (as the query page shows them: parameters
unbound) and a few small ad-hoc ones, by GET and POST in turn, and reads the whole answer.
An error is any answer other than 200, or a failed connection. Prints requests per second,
errors and latency percentiles; exits 1 if there was any error.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from commkg.queries import saved_queries

EXTRA_QUERIES = [
    "ASK { ?s a <https://w3id.org/commkg/ontology#Commentary> }",
    "SELECT ?file WHERE { ?s <https://w3id.org/commkg/ontology#sourceFile> ?file } LIMIT 10",
    "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } LIMIT 20",
]
ACCEPT = {"SELECT": "application/sparql-results+json", "CONSTRUCT": "text/turtle"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _sample_graph(folder: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_queries import sample_graph

    path = folder / "graph.ttl"
    sample_graph().serialize(path, format="turtle")
    return path


async def _wait_until_up(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient() as client:
        while True:
            try:
                if (await client.get(url, params={"query": "ASK {}"})).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the endpoint at {url} did not come up")
            await asyncio.sleep(0.2)


async def _client(number: int, url: str, queries: list[str], stop_at: float,
                  latencies: list[float], errors: list[str]) -> None:
    order = itertools.islice(itertools.cycle(queries), number, None)  # clients start apart
    async with httpx.AsyncClient(timeout=60) as client:
        for count, text in enumerate(order):
            if time.monotonic() >= stop_at:
                return
            accept = "text/turtle" if text.lstrip().startswith("CONSTRUCT") else ACCEPT["SELECT"]
            started = time.perf_counter()
            try:
                if count % 2:
                    response = await client.post(url, data={"query": text}, headers={"Accept": accept})
                else:
                    response = await client.get(url, params={"query": text}, headers={"Accept": accept})
                await response.aread()
                if response.status_code != 200:
                    errors.append(f"{response.status_code}: {response.text[:120]!r}")
            except httpx.HTTPError as error:
                errors.append(f"{type(error).__name__}: {error}")
            latencies.append(time.perf_counter() - started)


async def load(url: str, clients: int, seconds: float) -> dict:
    queries = [q.text for q in saved_queries()] + EXTRA_QUERIES
    await _wait_until_up(url)
    latencies: list[float] = []
    errors: list[str] = []
    started = time.monotonic()
    await asyncio.gather(*(_client(n, url, queries, started + seconds, latencies, errors)
                           for n in range(clients)))
    elapsed = time.monotonic() - started
    ordered = sorted(latencies)
    return {
        "requests": len(latencies), "errors": errors, "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(ordered) if ordered else 0.0,
        "p95": ordered[int(0.95 * (len(ordered) - 1))] if ordered else 0.0,
        "max": ordered[-1] if ordered else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--graph", type=Path, help="graph file to serve [default: the sample's]")
    parser.add_argument("--url", help="an endpoint that is already running (…/sparql)")
    parser.add_argument("--workers", type=int, default=2, help="query processes of the server")
    args = parser.parse_args()

    server = None
    with tempfile.TemporaryDirectory() as scratch:
        url = args.url
        if url is None:
            graph = args.graph or _sample_graph(Path(scratch))
            port = _free_port()
            commkg = shutil.which("commkg", path=str(Path(sys.executable).parent)) or "commkg"
            server = subprocess.Popen(
                [commkg, "serve", "--graph", str(graph),
                 "--port", str(port), "--workers", str(args.workers)],
                env={**os.environ, "COMMKG_LOG_LEVEL": "error"})
            url = f"http://127.0.0.1:{port}/sparql"
        try:
            report = asyncio.run(load(url, args.clients, args.seconds))
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
    print(f"{args.clients} clients, {report['seconds']:.1f} s: {report['requests']:,} requests, "
          f"{report['rps']:.0f} requests/s, {len(report['errors'])} errors; latency p50 "
          f"{report['p50'] * 1000:.0f} ms, p95 {report['p95'] * 1000:.0f} ms, max "
          f"{report['max'] * 1000:.0f} ms")
    for error in report["errors"][:10]:
        print("  error:", error)
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
