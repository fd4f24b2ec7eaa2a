"""`commkg push`: load a build into a triple store through the SPARQL 1.1 Graph Store Protocol.

    load_build(DIR) ──▶ for each named graph: PUT <endpoint>?graph=<IRI>  (first chunk)
                                             POST <endpoint>?graph=<IRI> (further chunks)

PUT replaces the graph, so pushing the same build twice leaves the store as after one push.
Large graphs go in chunks of sorted N-Triples lines (PUT, then POST to add): a store that takes
a 50 MB body in one request is rare, and a failure then names the chunk. The body is sent as
N-Triples, which every Graph Store implementation reads.

Credentials come from the environment only (a command line ends up in shell history and in
`ps`): COMMKG_PUSH_USER and COMMKG_PUSH_PASSWORD, and COMMKG_PUSH_AUTH=basic (default) or
digest (Virtuoso's /sparql-graph-crud-auth).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from rdflib import BNode

from commkg.errors import CommkgError
from commkg.export import DATA_GRAPHS, GRAPH_BASE, PROVENANCE_GRAPH, graph_iri, load_build, ntriples_lines

Triple = tuple

USER_VARIABLE = "COMMKG_PUSH_USER"
PASSWORD_VARIABLE = "COMMKG_PUSH_PASSWORD"
AUTH_VARIABLE = "COMMKG_PUSH_AUTH"
CONTENT_TYPE = "application/n-triples; charset=utf-8"
DEFAULT_CHUNK_TRIPLES = 50_000
TIMEOUT_SECONDS = 300  # per request: a store may index a whole chunk before it answers


class PushError(CommkgError):
    """The store refused a graph, or could not be reached."""


@dataclass(frozen=True)
class PushedGraph:
    iri: str
    triples: int
    requests: int


def auth_from_environment(environ: Mapping[str, str] | None = None):
    """A requests auth object from COMMKG_PUSH_USER / _PASSWORD / _AUTH, or None."""
    import requests.auth

    environ = os.environ if environ is None else environ
    user = environ.get(USER_VARIABLE)
    if not user:
        return None
    password = environ.get(PASSWORD_VARIABLE, "")
    scheme = environ.get(AUTH_VARIABLE, "basic").lower()
    if scheme == "basic":
        return requests.auth.HTTPBasicAuth(user, password)
    if scheme == "digest":
        return requests.auth.HTTPDigestAuth(user, password)
    raise PushError(f"{AUTH_VARIABLE}={scheme!r} is not supported; use basic or digest")


def graphs_to_push(build_dir: Path, iris: Iterable[str] = ()) -> dict[str, set[Triple]]:
    """The named graphs of the build, by IRI: the ones given (by IRI or short name, e.g.
    `asserted`), or every data graph plus the provenance graph when none are given."""
    graphs = load_build(Path(build_dir))
    by_iri = {str(graph_iri(name)): triples for name, triples in graphs.items()}
    wanted = list(iris) or [str(graph_iri(name)) for name in (*DATA_GRAPHS, PROVENANCE_GRAPH) if name in graphs]
    chosen = {}
    for iri in wanted:
        full = iri if "/" in iri else GRAPH_BASE + iri
        if full not in by_iri:
            known = ", ".join(sorted(by_iri))
            raise PushError(f"the build has no graph {iri}; it has {known}")
        chosen[full] = by_iri[full]
    return chosen


def push_graphs(endpoint: str, graphs: Mapping[str, set[Triple]], *, auth=None,
                chunk_triples: int = DEFAULT_CHUNK_TRIPLES, session=None) -> list[PushedGraph]:
    """Replace each graph (IRI → triples) in the store behind the Graph Store `endpoint`."""
    import requests

    if chunk_triples < 1:
        raise PushError("the chunk size must be a positive number of triples")
    session = session or requests.Session()
    pushed = []
    for iri, triples in graphs.items():
        chunks = _chunks(triples, chunk_triples)
        for number, chunk in enumerate(chunks):
            method = "PUT" if number == 0 else "POST"
            _send(session, method, endpoint, iri, "".join(chunk).encode("utf-8"), auth,
                  what=f"graph {iri} (part {number + 1} of {len(chunks)})")
        pushed.append(PushedGraph(iri=iri, triples=sum(map(len, chunks)), requests=len(chunks)))
    return pushed


def _chunks(triples: Iterable[Triple], size: int) -> list[list[str]]:
    """N-Triples lines in chunks of about `size`. A blank node label means one node only within
    one request, so every triple with a blank node (the ontology's RDF lists) goes into the
    first chunk; an empty graph is one empty chunk, so that the PUT still empties the store's copy."""
    with_blank, plain = [], []
    for triple in triples:
        (with_blank if any(isinstance(term, BNode) for term in triple) else plain).append(triple)
    lines = ntriples_lines(plain)
    first = ntriples_lines(with_blank) + lines[:size]
    return [first] + [lines[i:i + size] for i in range(size, len(lines), size)]


def _send(session, method: str, endpoint: str, iri: str, body: bytes, auth, *, what: str) -> None:
    import requests

    try:
        response = session.request(method, endpoint, params={"graph": iri}, data=body, auth=auth,
                                   headers={"Content-Type": CONTENT_TYPE}, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as error:
        raise PushError(f"cannot reach {endpoint}: {error.__class__.__name__}: {error}") from None
    if response.status_code in (401, 403):
        hint = (f"set {USER_VARIABLE} and {PASSWORD_VARIABLE}" if auth is None
                else "check the user's password and its right to update graphs")
        raise PushError(f"{endpoint} refused {what}: HTTP {response.status_code} ({hint})")
    if not 200 <= response.status_code < 300:
        detail = " ".join(response.text.split())[:300]
        raise PushError(f"{endpoint} refused {what}: HTTP {response.status_code} {response.reason}: {detail}")


def push_build(endpoint: str, build_dir: Path, *, graphs: Iterable[str] = (),
               chunk_triples: int = DEFAULT_CHUNK_TRIPLES) -> list[PushedGraph]:
    """Push the build in `build_dir` (see `graphs_to_push`), with auth from the environment."""
    return push_graphs(endpoint, graphs_to_push(build_dir, graphs),
                       auth=auth_from_environment(), chunk_triples=chunk_triples)
