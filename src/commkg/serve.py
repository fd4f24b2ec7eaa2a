"""`commkg serve`: a read-only SPARQL 1.1 Protocol endpoint over one graph file, and a query page.

    GET  /sparql?query=…                         SPARQL 1.1 Protocol, query by GET
    POST /sparql  query=… (form) or a body of type application/sparql-query
    GET  /                                       the query page (src/commkg/endpoint/)
    GET  /queries                                the saved queries, as JSON, for the page

Results by content negotiation: SPARQL JSON (the default), XML, CSV or TSV for SELECT and ASK;
Turtle (the default), N-Triples, RDF/XML or JSON-LD for CONSTRUCT and DESCRIBE.

Read-only, and safe to share with people who did not build it:

- Every query is parsed with rdflib's SPARQL parser before it runs (`check_query`). An update
  (INSERT, DELETE, LOAD, CLEAR, DROP …), a SERVICE pattern anywhere in the algebra, and a dataset
  clause (FROM, FROM NAMED, or the protocol's default-graph-uri / named-graph-uri) are refused
  with 403: the endpoint answers from its one graph and never reads a file or the network for a
  query. A query rdflib cannot parse is refused with 400, even if Oxigraph might run it: what
  cannot be checked does not run.
- Queries run in worker processes (`WorkerPool`), forked from a template process that loaded the
  graph file into an in-memory Oxigraph store once. A query that runs past the time limit has
  its worker killed (and a new one forked at once); the HTTP request gets 503. Killing a process is the only reliable cut-off: Oxigraph
  evaluates ORDER BY, GROUP BY and aggregates over the whole input before it returns the first
  row, so a deadline checked between rows would not stop `SELECT (COUNT(*) AS ?n) { ?a ?b ?c .
  ?d ?e ?f . ?g ?h ?i }`. A worker also runs under a memory limit, so such a query cannot take the
  machine's memory down with it; if a worker dies, the request gets 500 and a new worker starts.
- A result larger than the size limit is refused with 403, asking for a LIMIT, as soon as the
  worker has written one byte too many (results are written as Oxigraph computes them).
"""

from __future__ import annotations

import asyncio
import functools
import json
import multiprocessing
import os
import threading
from urllib.parse import parse_qs
from dataclasses import dataclass
from pathlib import Path

from commkg.errors import QueryError

PAGE_DIR = Path(__file__).parent / "endpoint"
MAX_QUERY_BYTES = 64 * 1024  # a longer query text is refused with 413 before it is parsed

SELECT_TYPES = {  # media type -> queries.py writer name
    "application/sparql-results+json": "json",
    "application/json": "json",
    "application/sparql-results+xml": "xml",
    "application/xml": "xml",
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
}
GRAPH_TYPES = {  # media type -> queries.py graph format
    "text/turtle": "turtle",
    "application/x-turtle": "turtle",
    "application/turtle": "turtle",
    "application/n-triples": "ntriples",
    "application/rdf+xml": "rdfxml",
    "application/ld+json": "jsonld",
}


@dataclass(frozen=True)
class Limits:
    timeout: float = 10.0  # seconds a query may run before its worker is killed
    max_bytes: int = 50_000_000  # size of a written result
    query_memory_mb: int = 2048  # address space a worker may use beyond the loaded graph


@dataclass(frozen=True)
class Reply:
    status: int
    media_type: str
    body: bytes | str


def _error(status: int, message: str) -> Reply:
    return Reply(status, "text/plain; charset=utf-8", message + "\n")


class Refused(QueryError):
    """A query the endpoint will not run (403)."""


class Malformed(QueryError):
    """A query that does not parse (400)."""


# ---------------------------------------------------------------------------------------------
# What may run: checked on rdflib's parse of the query, never by searching its text


def _walk(node):
    """Every CompValue in an rdflib parse or algebra tree."""
    from rdflib.plugins.sparql.parserutils import CompValue

    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, CompValue):
            yield item
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif hasattr(item, "asList") and not isinstance(item, str):  # pyparsing ParseResults
            stack.extend(list(item))


def check_query(text: str) -> None:
    """Raise Refused or Malformed unless `text` is a plain read-only query (module docstring)."""
    problem = _query_problem(text)
    if problem is not None:
        raise problem


@functools.lru_cache(maxsize=512)
def _query_problem(text: str) -> QueryError | None:
    """What is wrong with `text`, or None. Cached, refusals included: rdflib's parser takes from
    10 ms to half a second, and people and scripts send the same queries again and again."""
    from pyparsing import ParseException
    from rdflib.plugins.sparql.algebra import translateQuery
    from rdflib.plugins.sparql.parser import parseQuery, parseUpdate

    try:
        parsed = parseQuery(text)
    except ParseException as query_error:
        try:
            parseUpdate(text)
        except ParseException:
            return Malformed(f"syntax error: {' '.join(str(query_error).split())}")
        return Refused("SPARQL Update (INSERT, DELETE, LOAD, CLEAR, DROP, CREATE …) is refused: "
                       "this endpoint is read-only")
    try:
        query = translateQuery(parsed)
    except Exception as error:  # rdflib's semantic checks (unknown prefix, bad GROUP BY …)
        return Malformed(f"bad query: {' '.join(str(error).split())}")
    if query.algebra.get("datasetClause"):
        return Refused("FROM and FROM NAMED are refused: this endpoint answers from its one graph")
    if any(node.name == "ServiceGraphPattern" for node in _walk(query.algebra)):
        return Refused("SERVICE is refused: this endpoint never queries other endpoints")
    return None


# ---------------------------------------------------------------------------------------------
# Content negotiation


def _accepted(accept: str) -> list[tuple[str, float]]:
    """(media range, q) from an Accept header, best first; no header means anything."""
    ranges = []
    for position, part in enumerate((accept or "*/*").split(",")):
        media, *params = [p.strip() for p in part.split(";")]
        if not media:
            continue
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges.append((media.lower(), quality, position))
    ranges.sort(key=lambda r: (-r[1], r[2]))
    return [(media, quality) for media, quality, _ in ranges if quality > 0]


def negotiate(accept: str, offered: dict[str, str]) -> str | None:
    """The media type of `offered` (first = default) that the Accept header likes best."""
    for media, _ in _accepted(accept):
        if media in ("*/*", "*"):
            return next(iter(offered))
        if media.endswith("/*"):
            kind = media[:-1]
            match = next((m for m in offered if m.startswith(kind)), None)
            if match:
                return match
        elif media in offered:
            return media
    return None


# ---------------------------------------------------------------------------------------------
# One request, start to end, inside a worker


def answer(store, text: str, accept: str, limits: Limits) -> Reply:
    """The HTTP reply to the query `text` on `store`: checked, run, negotiated, written."""
    import io

    from commkg import queries

    try:
        check_query(text)
        result = queries.run(store, text)
        offered = GRAPH_TYPES if result.kind == "graph" else SELECT_TYPES
        media = negotiate(accept, offered)
        if media is None:
            return _error(406, "this result comes as one of: " + ", ".join(offered))
        body = io.BytesIO()
        queries.write_result(result, offered[media], body, max_bytes=limits.max_bytes)
    except (Refused, queries.ResultTooLarge) as error:
        return _error(403, str(error))
    except QueryError as error:  # Malformed, and Oxigraph's own syntax or evaluation errors
        return _error(400, str(error))
    return Reply(200, f"{media}; charset=utf-8", body.getvalue())


# ---------------------------------------------------------------------------------------------
# Worker processes
#
# One template process loads the graph once; every worker is an os.fork() of it, so a worker
# starts at once with the graph already in memory (shared with the template, copy-on-write),
# however big the graph. Loading 10,000 records takes Oxigraph over a minute: a killed worker
# must not cost that. The template never runs a query, and has a single thread when it forks.


def _limit_memory(extra_mb: int) -> None:
    """Cap this process's address space at what it uses now (the graph) + `extra_mb`."""
    try:
        import resource

        with open("/proc/self/statm") as statm:
            used = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        cap = used + extra_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    except (ImportError, OSError, ValueError):  # not Linux: no cap
        pass


def _serve_jobs(store, connection, limits: Limits) -> None:
    """A worker: answer (text, accept) jobs until the server closes the connection."""
    _limit_memory(limits.query_memory_mb)
    while True:
        try:
            text, accept = connection.recv()
        except (EOFError, OSError):
            return
        try:
            reply = answer(store, text, accept, limits)
        except MemoryError:
            reply = _error(500, "the query ran out of memory")
        connection.send(reply)


def _template_main(graph_file: str, limits: Limits, control) -> None:
    """The template: load the graph, then fork a ready worker each time the server asks."""
    import signal
    import socket
    from multiprocessing.connection import Connection
    from multiprocessing.reduction import send_handle

    from commkg.queries import load_store

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the workers we fork
    try:
        store = load_store(graph_file)
    except QueryError as error:
        control.send(("failed", str(error)))
        return
    check_query("ASK {}")  # loads rdflib's SPARQL parser now, for every worker to inherit
    control.send(("ready", None))
    while True:
        try:
            control.recv()
        except (EOFError, OSError):
            return  # the server is gone
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:  # the worker
            try:
                control.close()
                ours.close()
                _serve_jobs(store, Connection(theirs.detach()), limits)
            finally:
                os._exit(0)
        theirs.close()
        send_handle(control, ours.fileno(), os.getppid())
        ours.close()
        control.send(pid)


class _Worker:
    def __init__(self, connection, pid: int):
        self.connection = connection
        self.pid = pid

    def ask(self, text: str, accept: str, timeout: float) -> Reply | None:
        """The worker's reply, or None when it did not answer within `timeout` seconds."""
        self.connection.send((text, accept))
        if not self.connection.poll(timeout):
            return None
        return self.connection.recv()

    def stop(self) -> None:
        import signal

        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.connection.close()


class _Template:
    def __init__(self, context, graph_file: str, limits: Limits):
        self.control, child_end = context.Pipe()
        self.process = context.Process(target=_template_main, args=(graph_file, limits, child_end),
                                       daemon=True, name="commkg-query-template")
        self.process.start()
        child_end.close()
        self._lock = threading.Lock()  # one fork at a time: the replies must not interleave
        try:
            status, message = self.control.recv()  # blocks until the graph is loaded
        except (EOFError, OSError):
            status, message = "failed", f"the query process died while loading {graph_file}"
        if status != "ready":
            self.stop()
            raise QueryError(message)

    def fork_worker(self) -> _Worker:
        from multiprocessing.connection import Connection
        from multiprocessing.reduction import recv_handle

        with self._lock:
            try:
                self.control.send("fork")
                descriptor = recv_handle(self.control)
                pid = self.control.recv()
            except (EOFError, OSError) as error:
                raise QueryError(f"the query template process is gone: {error}") from None
        return _Worker(Connection(descriptor), pid)

    def stop(self) -> None:
        self.process.kill()
        self.process.join(timeout=5)
        self.control.close()


class WorkerPool:
    """`size` worker processes forked from one template; one query at a time per worker.

    The template is started with forkserver (spawn where there is none), never by forking the
    server: the server has threads, and a fork copies their locks in whatever state they are.
    """

    def __init__(self, graph_file: Path | str, *, size: int = 2, limits: Limits = Limits()):
        self.graph_file = str(graph_file)
        self.size = size
        self.limits = limits
        methods = multiprocessing.get_all_start_methods()
        self._context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if "forkserver" in methods:
            self._context.set_forkserver_preload(["commkg.serve", "commkg.queries"])
        self._template: _Template | None = None
        self._idle: asyncio.Queue[_Worker] | None = None
        self._all: set[_Worker] = set()
        self._replacing: set[asyncio.Task] = set()  # held, so that no replacement is collected
        self._lock = threading.Lock()

    def _new_worker(self) -> _Worker:
        worker = self._template.fork_worker()
        with self._lock:
            self._all.add(worker)
        return worker

    async def start(self) -> None:
        """Load the graph in the template (in a thread: it takes a while), fork the workers."""
        self._idle = asyncio.Queue()
        self._template = await asyncio.to_thread(_Template, self._context, self.graph_file, self.limits)
        for _ in range(self.size):
            self._idle.put_nowait(await asyncio.to_thread(self._new_worker))

    async def _replace(self, worker: _Worker) -> None:
        with self._lock:
            self._all.discard(worker)
        await asyncio.to_thread(worker.stop)
        try:
            self._idle.put_nowait(await asyncio.to_thread(self._new_worker))
        except QueryError:  # the template died (out of memory?): the pool shrinks
            pass

    def _replace_later(self, worker: _Worker) -> None:
        task = asyncio.get_running_loop().create_task(self._replace(worker))
        self._replacing.add(task)
        task.add_done_callback(self._replacing.discard)

    async def answer(self, text: str, accept: str) -> Reply:
        # Shielded: if the client goes away, the query still finishes and its worker comes
        # back to the pool (or is replaced) instead of being lost.
        return await asyncio.shield(self._answer(text, accept))

    async def _answer(self, text: str, accept: str) -> Reply:
        worker = await self._idle.get()
        try:
            reply = await asyncio.to_thread(worker.ask, text, accept, self.limits.timeout)
        except (EOFError, OSError):
            self._replace_later(worker)
            return _error(500, "the query stopped its worker (out of memory?); it was restarted")
        if reply is None:
            # Replace in the background: the caller hears at once, other workers go on serving.
            self._replace_later(worker)
            return _error(503, f"the query ran longer than the limit of {self.limits.timeout:g} s "
                               "and was stopped")
        self._idle.put_nowait(worker)
        return reply

    def close(self) -> None:
        with self._lock:
            workers, self._all = list(self._all), set()
        for worker in workers:
            worker.stop()
        if self._template is not None:
            self._template.stop()


# ---------------------------------------------------------------------------------------------
# The web application


_SECURITY_HEADERS = {
    # The page runs its own script and style files only, and talks only to this server.
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; "
                                "connect-src 'self'; img-src 'self'; base-uri 'none'; "
                                "form-action 'none'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _saved_queries_json() -> str:
    from commkg.queries import saved_queries

    return json.dumps([
        {"name": q.name, "title": q.title, "description": q.description, "text": q.text,
         "params": [{"name": p.name, "meaning": p.meaning, "default": p.default} for p in q.params]}
        for q in saved_queries()
    ], ensure_ascii=False)


def create_app(graph_file: Path | str, *, workers: int = 2, limits: Limits = Limits()):
    """The Starlette application serving `graph_file` (its workers start with the app)."""
    import contextlib

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import FileResponse, Response
    from starlette.routing import Route

    pool = WorkerPool(graph_file, size=workers, limits=limits)
    saved = _saved_queries_json()

    def respond(reply: Reply) -> Response:
        return Response(reply.body, status_code=reply.status, media_type=reply.media_type,
                        headers={"Vary": "Accept", **_SECURITY_HEADERS})

    async def sparql(request: Request) -> Response:
        params = request.query_params
        text = params.get("query")
        if "update" in params:
            return respond(_error(403, "SPARQL Update is refused: this endpoint is read-only"))
        if request.method == "POST":
            media = request.headers.get("content-type", "").split(";")[0].strip().lower()
            body = await request.body()
            if len(body) > MAX_QUERY_BYTES:
                return respond(_error(413, f"the request is larger than {MAX_QUERY_BYTES} bytes"))
            if media == "application/sparql-update":
                return respond(_error(403, "SPARQL Update is refused: this endpoint is read-only"))
            if media == "application/sparql-query":
                text = body.decode("utf-8", errors="replace")
            elif media == "application/x-www-form-urlencoded":
                # Parsed here (no python-multipart needed): the last value of each field wins.
                try:
                    form = {key: values[-1] for key, values in parse_qs(
                        body.decode("utf-8", errors="replace"), max_num_fields=20).items()}
                except ValueError:
                    return respond(_error(400, "too many form fields"))
                if "update" in form:
                    return respond(_error(403, "SPARQL Update is refused: this endpoint is read-only"))
                if "default-graph-uri" in form or "named-graph-uri" in form:
                    return respond(_error(403, "default-graph-uri and named-graph-uri are refused: "
                                               "this endpoint answers from its one graph"))
                text = form.get("query", text)
            elif body:
                return respond(_error(415, "send the query as application/sparql-query or as the "
                                           "form field query="))
        if "default-graph-uri" in params or "named-graph-uri" in params:
            return respond(_error(403, "default-graph-uri and named-graph-uri are refused: this "
                                       "endpoint answers from its one graph"))
        if not text:
            return respond(_error(400, "no query: send it as query=… (GET or form POST) or as an "
                                       "application/sparql-query body"))
        if len(text.encode("utf-8")) > MAX_QUERY_BYTES:
            return respond(_error(413, f"the query is longer than {MAX_QUERY_BYTES} bytes"))
        return respond(await pool.answer(text, request.headers.get("accept", "")))

    async def page(request: Request) -> Response:
        return FileResponse(PAGE_DIR / "query.html", headers=_SECURITY_HEADERS)

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ("query.js", "query.css"):  # a fixed list: no paths from the request
            return Response("not found\n", status_code=404, media_type="text/plain")
        return FileResponse(PAGE_DIR / name, headers=_SECURITY_HEADERS)

    async def queries_list(request: Request) -> Response:
        return Response(saved, media_type="application/json", headers=_SECURITY_HEADERS)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await pool.start()
        try:
            yield
        finally:
            await asyncio.to_thread(pool.close)

    return Starlette(routes=[
        Route("/", page),
        Route("/sparql", sparql, methods=["GET", "POST"]),
        Route("/queries", queries_list),
        Route("/static/{name}", static),
    ], lifespan=lifespan)


def serve(graph_file: Path | str, *, host: str = "127.0.0.1", port: int = 7878, workers: int = 2,
          limits: Limits = Limits()) -> None:
    """Serve `graph_file` until interrupted (what `commkg serve` runs)."""
    import uvicorn

    graph_file = Path(graph_file)
    if not graph_file.is_file():
        raise QueryError(f"graph file {graph_file} does not exist (run `commkg build` first, or pass --graph)")
    app = create_app(graph_file, workers=workers, limits=limits)
    uvicorn.run(app, host=host, port=port, log_level=os.environ.get("COMMKG_LOG_LEVEL", "warning"))
