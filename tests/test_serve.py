"""The SPARQL endpoint: driven over loopback by SPARQLWrapper (a real client) and by plain HTTP,
plus the read-only checks and content negotiation as functions.

The server runs in a thread of the test process (uvicorn on a socket bound to a free port on
127.0.0.1), with the sample graph (asserted + inferred) and a 2-second time limit.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import rdflib
from SPARQLWrapper import JSON, POST, TURTLE, SPARQLWrapper
from SPARQLWrapper.SPARQLExceptions import QueryBadFormed

from commkg.queries import load_store
from commkg.serve import Limits, Malformed, Refused, answer, check_query, create_app, negotiate

TIMEOUT = 2.0
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
FILES = "SELECT ?file WHERE { ?s <https://w3id.org/commkg/ontology#sourceFile> ?file } ORDER BY ?file"


@pytest.fixture(scope="module")
def graph_file(sample_build):
    """graph.ttl (asserted + inferred) of the bundled sample, as `commkg build` writes it."""
    return sample_build.main_file


@pytest.fixture(scope="module")
def base_url(graph_file):
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # a free port, held from now on: no race with other tests
    port = sock.getsockname()[1]
    app = create_app(graph_file, workers=2, limits=Limits(timeout=TIMEOUT))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the endpoint did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


def client(base_url: str, query: str, *, return_format=JSON, method=None) -> SPARQLWrapper:
    sparql = SPARQLWrapper(f"{base_url}/sparql")
    sparql.setQuery(query)
    sparql.setReturnFormat(return_format)
    if method:
        sparql.setMethod(method)
    return sparql


# ---------------------------------------------------------------------------------------------
# SPARQLWrapper: SELECT, ASK, CONSTRUCT; refusals; the runaway query


def test_select(base_url):
    result = client(base_url, FILES).queryAndConvert()
    assert [b["file"]["value"][:3] for b in result["results"]["bindings"]] == \
        ["000", "001", "002", "003", "004"]


def test_select_by_post(base_url):
    result = client(base_url, FILES, method=POST).queryAndConvert()
    assert len(result["results"]["bindings"]) == 5


def test_ask(base_url):
    ask = "ASK { ?s a <https://w3id.org/commkg/ontology#Commentary> }"
    assert client(base_url, ask).queryAndConvert()["boolean"] is True


def test_construct(base_url):
    construct = ("PREFIX comm: <https://w3id.org/commkg/ontology#> "
                 "CONSTRUCT { ?c comm:discusses ?s } WHERE { ?c comm:discusses ?s . ?s comm:sourceFile ?f }")
    body = client(base_url, construct, return_format=TURTLE).queryAndConvert()
    graph = rdflib.Graph().parse(data=body, format="turtle")
    assert (None, rdflib.URIRef("https://w3id.org/commkg/ontology#discusses"),
            rdflib.URIRef("https://doi.org/10.1136/bmjopen-2013-003341")) in graph


@pytest.mark.parametrize("update", [
    "INSERT DATA { <http://example.org/a> <http://example.org/b> <http://example.org/c> }",
    "DROP ALL",
    "LOAD <http://example.org/data.ttl>",
])
def test_updates_are_refused(base_url, update):
    with pytest.raises(urllib.error.HTTPError) as refused:
        client(base_url, update, method=POST).query()
    assert refused.value.code == 403
    assert b"read-only" in refused.value.read()
    assert len(client(base_url, FILES).queryAndConvert()["results"]["bindings"]) == 5


@pytest.mark.parametrize("query", [
    "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }",
    "SELECT * WHERE { ?x ?y ?z OPTIONAL { SERVICE SILENT <http://127.0.0.1:9/> { ?s ?p ?o } } }",
    "SELECT * WHERE { { SELECT ?s WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } } } }",
])
def test_service_is_refused(base_url, query):
    with pytest.raises(urllib.error.HTTPError) as refused:
        client(base_url, query).query()
    assert refused.value.code == 403
    assert b"SERVICE is refused" in refused.value.read()


@pytest.mark.parametrize("query", [
    "SELECT * FROM <file:///etc/passwd> WHERE { ?s ?p ?o }",
    "SELECT * FROM NAMED <http://example.org/graph> WHERE { GRAPH ?g { ?s ?p ?o } }",
])
def test_dataset_clauses_are_refused(base_url, query):
    with pytest.raises(urllib.error.HTTPError) as refused:
        client(base_url, query).query()
    assert refused.value.code == 403


def test_syntax_error_is_400(base_url):
    with pytest.raises(QueryBadFormed):
        client(base_url, "SELECT ?x WHERE { ?x").query()


def test_runaway_query_is_cut_off_while_others_answer(base_url):
    with ThreadPoolExecutor(max_workers=1) as pool:
        started = time.monotonic()
        runaway = pool.submit(lambda: client(base_url, RUNAWAY).query())
        time.sleep(0.3)  # the runaway holds one worker now; the other one answers
        quick_started = time.monotonic()
        assert len(client(base_url, FILES).queryAndConvert()["results"]["bindings"]) == 5
        assert time.monotonic() - quick_started < 1.5
        with pytest.raises(urllib.error.HTTPError) as stopped:
            runaway.result(timeout=30)
    assert stopped.value.code == 503
    assert TIMEOUT <= time.monotonic() - started < TIMEOUT + 5
    # The worker was replaced: two more runaways in turn are cut off too, and the server answers.
    for _ in range(2):
        with pytest.raises(urllib.error.HTTPError) as stopped:
            client(base_url, RUNAWAY).query()
        assert stopped.value.code == 503
    assert len(client(base_url, FILES).queryAndConvert()["results"]["bindings"]) == 5


# ---------------------------------------------------------------------------------------------
# Plain HTTP: the protocol's other forms, negotiation, the page


@pytest.mark.parametrize(("accept", "media", "start"), [
    ("text/csv", "text/csv", "file\r\n000_"),
    ("text/tab-separated-values", "text/tab-separated-values", '?file\n"000_'),
    ("application/sparql-results+xml", "application/sparql-results+xml", "<?xml"),
    ("*/*", "application/sparql-results+json", '{"head"'),
    ("text/html, application/sparql-results+json;q=0.5", "application/sparql-results+json", "{"),
])
def test_content_negotiation(base_url, accept, media, start):
    response = httpx.get(f"{base_url}/sparql", params={"query": FILES}, headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)
    assert response.text.startswith(start)


def test_sparql_query_body_and_form(base_url):
    body = httpx.post(f"{base_url}/sparql", content=FILES,
                      headers={"Content-Type": "application/sparql-query", "Accept": "text/csv"})
    form = httpx.post(f"{base_url}/sparql", data={"query": FILES}, headers={"Accept": "text/csv"})
    assert body.status_code == form.status_code == 200
    assert body.text == form.text and body.text.count("\r\n") == 6


@pytest.mark.parametrize(("request_kwargs", "status"), [
    ({"content": "INSERT DATA { <a:b> <a:c> <a:d> }",
      "headers": {"Content-Type": "application/sparql-update"}}, 403),
    ({"data": {"query": FILES, "default-graph-uri": "file:///etc/passwd"}}, 403),
    ({"content": "x", "headers": {"Content-Type": "text/plain"}}, 415),
    ({"data": {}}, 400),
    ({"content": "SELECT * WHERE { ?s ?p ?o } #" + "x" * 70_000,
      "headers": {"Content-Type": "application/sparql-query"}}, 413),
])
def test_bad_requests(base_url, request_kwargs, status):
    assert httpx.post(f"{base_url}/sparql", **request_kwargs).status_code == status


def test_graph_result_not_acceptable(base_url):
    response = httpx.get(f"{base_url}/sparql", params={"query": "CONSTRUCT WHERE { ?s a ?c } LIMIT 1"},
                         headers={"Accept": "text/csv"})
    assert response.status_code == 406


def test_query_page_works_offline(base_url):
    page = httpx.get(f"{base_url}/")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "http://" not in page.text and "https://" not in page.text  # no CDN, nothing remote
    script = httpx.get(f"{base_url}/static/query.js").text
    assert "textContent" in script and "innerHTML" not in script
    saved = httpx.get(f"{base_url}/queries").json()
    assert {"studies-by-organisation-type", "related-studies"} <= {q["name"] for q in saved}
    assert httpx.get(f"{base_url}/static/..%2Fserve.py").status_code == 404


# ---------------------------------------------------------------------------------------------
# The checks as functions


@pytest.mark.parametrize("text", [
    "SELECT * WHERE { ?s ?p ?o }",
    "ASK { ?s ?p ?o }",
    "CONSTRUCT WHERE { ?s ?p ?o }",
    "DESCRIBE <http://example.org/x>",
    'SELECT * WHERE { ?s ?p "SERVICE <http://x> { }" }',  # the word in a string is no SERVICE
    "# FROM <file:///etc/passwd>\nSELECT * WHERE { ?s ?p ?o }",
])
def test_check_allows_plain_queries(text):
    check_query(text)


@pytest.mark.parametrize(("text", "problem"), [
    ("CLEAR DEFAULT", Refused),
    ("PREFIX x: <http://x/> INSERT { ?s x:p 1 } WHERE { ?s ?p ?o }", Refused),
    ("SELECT * WHERE { ?s ?p ?o FILTER EXISTS { SERVICE <http://x/> { ?a ?b ?c } } }", Refused),
    ("SELECT * FROM <http://example.org/x.ttl> WHERE { ?s ?p ?o }", Refused),
    ("SELECT * WHERE {", Malformed),
    ("SELECT * WHERE { ?s unknown:p ?o }", Malformed),
])
def test_check_refuses(text, problem):
    with pytest.raises(problem):
        check_query(text)


def test_result_size_limit(graph_file):
    store = load_store(graph_file)
    reply = answer(store, "SELECT * WHERE { ?s ?p ?o }", "text/csv", Limits(max_bytes=1000))
    assert reply.status == 403 and "add a LIMIT" in reply.body
    reply = answer(store, "SELECT * WHERE { ?s ?p ?o } LIMIT 3", "text/csv", Limits(max_bytes=1000))
    assert reply.status == 200


def test_describe_comes_as_turtle(graph_file):
    store = load_store(graph_file)
    reply = answer(store, "DESCRIBE <https://doi.org/10.1136/bmjopen-2013-003341>", "text/turtle",
                   Limits())
    assert reply.status == 200 and reply.media_type.startswith("text/turtle")
    assert len(rdflib.Graph().parse(data=reply.body, format="turtle")) > 20


@pytest.mark.parametrize(("accept", "expected"), [
    ("", "application/sparql-results+json"),
    ("text/csv;q=0.5, text/tab-separated-values", "text/tab-separated-values"),
    ("text/*", "text/csv"),
    ("image/png", None),
    ("text/csv;q=0", None),
])
def test_negotiate(accept, expected):
    from commkg.serve import SELECT_TYPES

    assert negotiate(accept, SELECT_TYPES) == expected


def test_a_query_that_runs_out_of_memory_loses_only_its_worker(graph_file):
    import asyncio

    from commkg.serve import WorkerPool

    async def scenario():
        pool = WorkerPool(graph_file, size=1, limits=Limits(timeout=30, query_memory_mb=64))
        await pool.start()
        try:
            hungry = await pool.answer("SELECT * WHERE { ?a ?b ?c . ?d ?e ?f } ORDER BY ?f ?c", "")
            after = await pool.answer("ASK { ?s ?p ?o }", "")
        finally:
            pool.close()
        return hungry, after

    hungry, after = asyncio.run(scenario())
    assert hungry.status == 500 and "worker" in hungry.body
    assert (after.status, after.body) == (200, b'{"head":{},"boolean":true}')
