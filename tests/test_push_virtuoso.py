"""`commkg push` against a real triple store: a private Virtuoso on loopback.

The test installs nothing: it uses Debian's virtuoso-opensource where it is installed (CI's
.ci/run installs it) and skips, saying why, where it is not. With COMMKG_REQUIRE_VIRTUOSO=1 (as
CI sets it) a missing or broken Virtuoso fails the test instead of skipping it.

The instance lives in a temporary folder with its own virtuoso.ini and free ports, so it never
touches a system Virtuoso; it is stopped (by its own pid) when the module's tests are done.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import rdflib
import requests
from rdflib.compare import isomorphic

from commkg.export import graph_iri, load_build
from commkg.push import PushError, push_build, push_graphs

REQUIRED = os.environ.get("COMMKG_REQUIRE_VIRTUOSO") == "1"
START_TIMEOUT_SECONDS = 90

INI = """\
[Database]
DatabaseFile       = {dir}/virtuoso.db
ErrorLogFile       = {dir}/virtuoso.log
LockFile           = {dir}/virtuoso.lck
TransactionFile    = {dir}/virtuoso.trx
xa_persistent_file = {dir}/virtuoso.pxa
ErrorLogLevel      = 7
FileExtend         = 200
Striping           = 0
TempStorage        = TempDatabase

[TempDatabase]
DatabaseFile    = {dir}/virtuoso-temp.db
TransactionFile = {dir}/virtuoso-temp.trx
Striping        = 0

[Parameters]
ServerPort         = 127.0.0.1:{sql_port}
DisableUnixSocket  = 1
CheckpointInterval = 0
NumberOfBuffers    = 10000
MaxDirtyBuffers    = 6000
DirsAllowed        = ., {dir}

[HTTPServer]
ServerPort    = 127.0.0.1:{http_port}
ServerRoot    = {dir}
ServerThreads = 4
Charset       = UTF-8

[SPARQL]
ResultSetMaxRows      = 100000
MaxQueryExecutionTime = 60
"""


def _unavailable(reason: str):
    if REQUIRED:
        pytest.fail(f"Virtuoso is required here (COMMKG_REQUIRE_VIRTUOSO=1) but {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Virtuoso:
    def __init__(self, folder: Path, server: str, isql: str):
        self.folder = folder
        self.isql = isql
        self.sql_port, self.http_port = _free_port(), _free_port()
        (folder / "virtuoso.ini").write_text(
            INI.format(dir=folder, sql_port=self.sql_port, http_port=self.http_port), encoding="utf-8")
        self.process = subprocess.Popen(
            [server, "+foreground", "+configfile", str(folder / "virtuoso.ini")],
            cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def log_tail(self) -> str:
        log = self.folder / "virtuoso.log"
        return log.read_text(errors="replace")[-1500:] if log.exists() else "(no log)"

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"virtuoso-t exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.base}/sparql", params={"query": "ASK {}"}, timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"virtuoso-t did not answer within {START_TIMEOUT_SECONDS} s:\n{self.log_tail()}")

    def sql(self, statement: str) -> None:
        # A new database's dba password is "dba"; the instance is private and on loopback only.
        subprocess.run([self.isql, f"127.0.0.1:{self.sql_port}", "dba", "dba", f"exec={statement}"],
                       check=True, capture_output=True, timeout=60)

    def count(self, graph: str) -> int:
        query = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"
        response = requests.get(f"{self.base}/sparql", params={"query": query},
                                headers={"Accept": "application/sparql-results+json"}, timeout=60)
        response.raise_for_status()
        return int(response.json()["results"]["bindings"][0]["n"]["value"])

    def graph(self, graph: str) -> rdflib.Graph:
        response = requests.get(f"{self.base}/sparql-graph-crud", params={"graph": graph},
                                headers={"Accept": "application/n-triples"}, timeout=60)
        if response.status_code == 404:  # Virtuoso keeps no empty graphs
            return rdflib.Graph()
        response.raise_for_status()
        return rdflib.Graph().parse(data=response.text, format="nt")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def virtuoso(tmp_path_factory):
    server = shutil.which("virtuoso-t")
    isql = shutil.which("isql-vt") or shutil.which("isql")
    if not server or not isql:
        _unavailable("Debian's virtuoso-opensource is not installed (virtuoso-t and isql-vt not on PATH); "
                     "`apt-get install -y virtuoso-opensource` to run this test")
    instance = Virtuoso(tmp_path_factory.mktemp("virtuoso"), server, isql)
    try:
        try:
            instance.wait_until_up()
            # The anonymous /sparql-graph-crud endpoint runs as user SPARQL, which may only read.
            instance.sql('grant SPARQL_UPDATE to "SPARQL";')
        except (RuntimeError, subprocess.SubprocessError) as error:
            _unavailable(f"Virtuoso is installed but could not be started: {error}")
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="module")
def sample_dir(sample_build) -> Path:
    return sample_build.out_dir  # conftest's sample, built once per session


def test_push_sample_build_and_count_triples_back(virtuoso, sample_dir):
    pushed = push_build(f"{virtuoso.base}/sparql-graph-crud", sample_dir)

    graphs = load_build(sample_dir)
    assert {p.iri for p in pushed} >= {str(graph_iri(n)) for n in ("asserted", "evidence", "ontology")}
    for result in pushed:
        name = result.iri.rsplit("/", 1)[-1]
        assert result.triples == len(graphs[name])
        assert virtuoso.count(result.iri) == len(graphs[name]), result.iri
    assert virtuoso.count(str(graph_iri("asserted"))) > 500


def test_push_in_chunks_with_digest_auth_is_isomorphic_and_idempotent(virtuoso, sample_dir, monkeypatch):
    monkeypatch.setenv("COMMKG_PUSH_USER", "dba")
    monkeypatch.setenv("COMMKG_PUSH_PASSWORD", "dba")
    monkeypatch.setenv("COMMKG_PUSH_AUTH", "digest")
    endpoint = f"{virtuoso.base}/sparql-graph-crud-auth"
    # Small chunks: the ontology's RDF lists (blank nodes) must still arrive whole.
    for _ in range(2):  # PUT replaces: a second push leaves the same graphs
        pushed = push_build(endpoint, sample_dir, chunk_triples=250)

    graphs = load_build(sample_dir)
    assert max(p.requests for p in pushed) > 1
    for name in ("asserted", "evidence", "ontology"):
        expected = rdflib.Graph()
        for triple in graphs[name]:
            expected.add(triple)
        back = virtuoso.graph(str(graph_iri(name)))
        assert len(back) == len(expected)
        assert isomorphic(back, expected), name


def test_push_only_the_graphs_asked_for(virtuoso, sample_dir):
    iri = "https://example.org/commkg-test/only"
    push_graphs(f"{virtuoso.base}/sparql-graph-crud", {iri: {(
        rdflib.URIRef("https://example.org/s"), rdflib.RDFS.label, rdflib.Literal("会议 «x»", lang="zh"))}})
    assert virtuoso.count(iri) == 1
    assert str(virtuoso.graph(iri).value(rdflib.URIRef("https://example.org/s"), rdflib.RDFS.label)) == "会议 «x»"


def test_wrong_password_is_a_clear_error(virtuoso, sample_dir, monkeypatch):
    monkeypatch.setenv("COMMKG_PUSH_USER", "dba")
    monkeypatch.setenv("COMMKG_PUSH_PASSWORD", "not-the-password")
    monkeypatch.setenv("COMMKG_PUSH_AUTH", "digest")
    with pytest.raises(PushError, match="HTTP 401"):
        push_build(f"{virtuoso.base}/sparql-graph-crud-auth", sample_dir, graphs=["asserted"])


# ------------------------------------------------------------------ no store needed

def test_unreachable_endpoint_is_a_clear_error(sample_dir):
    port = _free_port()  # nothing listens there
    with pytest.raises(PushError, match="cannot reach"):
        push_build(f"http://127.0.0.1:{port}/sparql-graph-crud", sample_dir, graphs=["asserted"])


def test_unknown_graph_is_a_clear_error(sample_dir):
    with pytest.raises(PushError, match="has no graph"):
        push_build("http://127.0.0.1:9/unused", sample_dir, graphs=["https://example.org/nope"])


def test_unknown_auth_scheme_is_refused(sample_dir, monkeypatch):
    monkeypatch.setenv("COMMKG_PUSH_USER", "someone")
    monkeypatch.setenv("COMMKG_PUSH_AUTH", "kerberos")
    with pytest.raises(PushError, match="not supported"):
        push_build("http://127.0.0.1:9/unused", sample_dir)


def test_push_command(virtuoso, sample_dir, tmp_path):
    from conftest import run_commkg

    iri = "https://w3id.org/commkg/graph/evidence"
    result = run_commkg("push", "--endpoint", f"{virtuoso.base}/sparql-graph-crud", "--graph", "evidence",
                        "--build", str(sample_dir), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"pushed {len(load_build(sample_dir)['evidence'])} triples -> {iri}"
    refused = run_commkg("push", "--endpoint", f"http://127.0.0.1:{_free_port()}/sparql-graph-crud",
                         "--build", str(sample_dir), cwd=tmp_path)
    assert refused.returncode == 1 and refused.stderr.startswith("Error: cannot reach")
