"""Graph store on any SPARQL 1.1 endpoint (query + update), e.g. ``oxigraph serve``."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from urllib.parse import urlencode, urlsplit, urlunsplit

import urllib3
from pyoxigraph import (
    NamedNode,
    Quad,
    QueryResultsFormat,
    QuerySolutions,
    RdfFormat,
    parse,
    parse_query_results,
)

from scraper import settings as defaults
from scraper.graph.store import GraphStore, GraphStoreError, QuerySyntaxError, StoreUnavailable

_ACCEPT = "application/sparql-results+json, application/n-triples;q=0.9"


def endpoint_urls(store_url: str, update_url: str | None = None) -> tuple[str, str]:
    """Query and update URLs from ``GRAPH_STORE`` (and ``GRAPH_STORE_UPDATE_URL``).

    A bare server root (``http://host:7878``) means Oxigraph's ``/query`` and ``/update``;
    a URL ending in ``/query`` or ``/sparql`` updates at ``/update`` next to it (Oxigraph,
    Fuseki); any other URL takes updates at the same URL (the SPARQL protocol allows it).
    """
    parts = urlsplit(store_url)
    path = parts.path.rstrip("/")
    if not path:
        query_url = urlunsplit(parts._replace(path="/query"))
        derived = urlunsplit(parts._replace(path="/update"))
    else:
        query_url = store_url
        head, _, tail = path.rpartition("/")
        derived = (
            urlunsplit(parts._replace(path=f"{head}/update"))
            if tail in ("query", "sparql")
            else store_url
        )
    return query_url, update_url or derived


class SparqlEndpointStore(GraphStore):
    """Talks SPARQL 1.1 protocol over HTTP; every update is one (atomic) request."""

    def __init__(
        self,
        store_url: str,
        *,
        update_url: str | None = None,
        timeout: float = defaults.GRAPH_STORE_TIMEOUT,
    ):
        self.query_url, self.update_url = endpoint_urls(store_url, update_url)
        self.location = self.query_url
        parts = urlsplit(self.query_url)
        self._headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        if parts.username:  # credentials in the URL become HTTP Basic auth
            token = f"{parts.username}:{parts.password or ''}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(token).decode()
            self.query_url = _without_credentials(self.query_url)
            self.update_url = _without_credentials(self.update_url)
            self.location = self.query_url
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(total=timeout), retries=False, maxsize=4
        )

    def _post(self, url: str, form: list[tuple[str, str]], accept: str | None = None):
        headers = dict(self._headers)
        if accept:
            headers["Accept"] = accept
        try:
            response = self._http.request(
                "POST", url, body=urlencode(form).encode("utf-8"), headers=headers
            )
        except urllib3.exceptions.HTTPError as exc:
            raise StoreUnavailable(f"SPARQL endpoint {url} unreachable: {exc}") from exc
        if response.status == 400:
            message = response.data.decode("utf-8", "replace").strip()[:1000]
            raise QuerySyntaxError(f"the SPARQL endpoint rejected the request: {message}")
        if response.status in (401, 403):
            raise GraphStoreError(f"SPARQL endpoint {url} refused access (HTTP {response.status})")
        if response.status >= 300:
            message = response.data.decode("utf-8", "replace").strip()[:500]
            raise StoreUnavailable(f"SPARQL endpoint {url} answered {response.status}: {message}")
        return response

    def query(self, sparql: str, default_graphs: list[NamedNode] | None = None):
        # The SPARQL protocol's dataset parameters: the default graph is the union of the
        # default-graph-uri graphs; without named-graph-uri every named graph stays available.
        form = [("query", sparql)] + [("default-graph-uri", g.value) for g in default_graphs or []]
        response = self._post(self.query_url, form, _ACCEPT)
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type == "application/sparql-results+json":
            return parse_query_results(response.data, QueryResultsFormat.JSON)
        if content_type in ("application/n-triples", "text/plain"):
            return (q.triple for q in parse(response.data, RdfFormat.N_TRIPLES))
        if content_type == "text/turtle":
            return (q.triple for q in parse(response.data, RdfFormat.TURTLE))
        raise StoreUnavailable(f"SPARQL endpoint answered with unexpected type {content_type!r}")

    def update(self, sparql: str) -> None:
        self._post(self.update_url, [("update", sparql)])

    def quads(self) -> Iterator[Quad]:
        result = self.query("SELECT ?s ?p ?o ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
        if not isinstance(result, QuerySolutions):
            raise StoreUnavailable("the SPARQL endpoint did not answer a SELECT with results")
        return (Quad(row["s"], row["p"], row["o"], row["g"]) for row in result)

    def close(self) -> None:
        self._http.clear()


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))
