"""Routes of the explorer: HTML views (Jinja2, escaped) and the JSON their scripts read.

Every view reads the graph through ``scraper.graph.queries`` (no SPARQL here) and the crawl
history through ``scraper.report``. Nothing writes: the app answers GET only, the SPARQL box
refuses updates, and a Content-Security-Policy allows this app's own scripts alone.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pyoxigraph import NamedNode, QueryBoolean, QuerySolutions
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from scraper.graph import GraphStore, GraphStoreError, QuerySyntaxError, StoreUnavailable
from scraper.graph.live import LiveGraph
from scraper.graph.queries import (
    NEIGHBOURHOOD_MAX_NODES,
    QueryRefused,
    describe_entity,
    entity_facts,
    entity_name,
    entity_types,
    find_pages,
    format_result,
    neighbourhood,
    page_view,
    run_query,
    short,
)
from scraper.report import crawl_history, read_reports

HERE = Path(__file__).parent
TABLE_ROWS = 1000  # rows the SPARQL box shows; downloads have them all
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
DOWNLOADS = {"csv": "text/csv; charset=utf-8", "json": "application/sparql-results+json"}


class NotFound(GraphStoreError):
    """What the request names is not in the graph."""


def web_link(url: str) -> str | None:
    """``url`` when a browser may follow it (http, https), else None (no javascript: links)."""
    return url if urlsplit(url).scheme in ("http", "https") else None


def _status(exc: GraphStoreError) -> int:
    if isinstance(exc, NotFound):
        return 404
    return 503 if isinstance(exc, StoreUnavailable) else 400


def create_app(graph: LiveGraph, reports_dir: Path, *, allow_service: bool = False) -> Starlette:
    """The explorer over ``graph``, with the crawl reports of ``reports_dir``.

    ``allow_service`` lets the SPARQL box run federated queries (GRAPH_QUERY_SERVICE).
    """
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals["web_link"] = web_link
    templates.env.globals["short"] = short

    def page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        response = templates.TemplateResponse(
            request, name, {"location": graph.location, **context}, status_code=status
        )
        response.headers.update(SECURITY_HEADERS)
        return response

    def answer(view: Callable[[Request, GraphStore], Response]) -> Callable[[Request], Response]:
        """A route reading the graph: store errors become an error page (or JSON error)."""

        def endpoint(request: Request) -> Response:
            try:
                with graph.reading() as store:
                    return view(request, store)
            except GraphStoreError as exc:
                status = _status(exc)
                if request.url.path.startswith("/api/"):
                    return JSONResponse({"error": str(exc)}, status, headers=SECURITY_HEADERS)
                return page(request, "error.html", status, message=str(exc))

        return endpoint

    def home(request: Request, store: GraphStore) -> Response:
        return page(request, "search.html", query=request.query_params.get("q", ""))

    async def api_search(request: Request) -> Response:
        """Answered on the event loop: the name index is in memory (rebuilt in a thread)."""
        params = request.query_params
        kind = params.get("type", "").strip()
        if kind and ":" not in kind:
            kind = "schema:" + kind  # Person means schema:Person
        try:
            limit = min(int(params.get("limit", "20")), 100)
        except ValueError:
            error = f"bad search: limit must be a number, not {params['limit']!r}"
            return JSONResponse({"error": error}, 400, headers=SECURITY_HEADERS)
        try:
            names = graph.names()
        except GraphStoreError as exc:
            return JSONResponse({"error": str(exc)}, 503, headers=SECURITY_HEADERS)
        found = names.search(params.get("q", ""), entity_type=kind or None, limit=limit)
        return JSONResponse({"results": found}, headers=SECURITY_HEADERS)

    def api_types(request: Request, store: GraphStore) -> Response:
        return JSONResponse({"types": entity_types(store)}, headers=SECURITY_HEADERS)

    def entity(request: Request, store: GraphStore) -> Response:
        iri = _required(request, "id")
        view = describe_entity(store, iri)
        if not view["types"] and not view["pages"] and not view["mentions"]:
            raise NotFound(f"the graph has no entity {iri}")
        return page(request, "entity.html", entity=view, facts=entity_facts(store, iri))

    def graph_view(request: Request, store: GraphStore) -> Response:
        iri = _required(request, "id")
        name = entity_name(store, iri)
        return page(request, "graph.html", iri=iri, entity_name=name, hops=_hops(request))

    def api_neighbourhood(request: Request, store: GraphStore) -> Response:
        iri = _required(request, "id")
        limit = min(int(request.query_params.get("max", NEIGHBOURHOOD_MAX_NODES)), 2000)
        view = neighbourhood(store, iri, hops=_hops(request), max_nodes=limit)
        return JSONResponse(view, headers=SECURITY_HEADERS)

    def page_detail(request: Request, store: GraphStore) -> Response:
        url = _required(request, "url")
        view = page_view(store, url)
        if view is None:
            raise NotFound(f"the graph has no page {url}")
        return page(request, "page.html", page=view)

    def pages(request: Request, store: GraphStore) -> Response:
        text = request.query_params.get("q", "")
        return page(request, "pages.html", pages=find_pages(store, text), query=text)

    def crawls(request: Request) -> Response:
        reports, unreadable = read_reports(reports_dir)
        return page(
            request,
            "crawls.html",
            reports=reports,
            unreadable=unreadable,
            reports_dir=str(reports_dir),
        )

    def api_crawls(request: Request) -> Response:
        reports, _ = read_reports(reports_dir)
        return JSONResponse(crawl_history(reports), headers=SECURITY_HEADERS)

    def sparql(request: Request, store: GraphStore) -> Response:
        text = request.query_params.get("query", "")
        context: dict[str, Any] = {"query": text, "result": None, "error": None}
        if text.strip():
            try:
                context["result"] = _table(run_query(store, text, allow_service=allow_service))
            except (QuerySyntaxError, QueryRefused) as exc:
                context["error"] = str(exc)
        return page(request, "sparql.html", 400 if context["error"] else 200, **context)

    def sparql_download(request: Request, store: GraphStore) -> Response:
        fmt = request.path_params["fmt"]
        if fmt not in DOWNLOADS:
            raise NotFound(f"results come as {' or '.join(DOWNLOADS)}, not {fmt}")
        text = _required(request, "query")
        result = run_query(store, text, allow_service=allow_service)
        out = io.StringIO()
        format_result(result, fmt, out)
        kind = DOWNLOADS[fmt] if isinstance(result, QuerySolutions | QueryBoolean) else None
        return Response(
            out.getvalue(),
            media_type=kind or "application/n-triples",
            headers={
                **SECURITY_HEADERS,
                "Content-Disposition": f'attachment; filename="results.{fmt}"',
            },
        )

    routes = [
        Route("/", answer(home)),
        Route("/api/search", api_search),
        Route("/api/types", answer(api_types)),
        Route("/entity", answer(entity)),
        Route("/graph", answer(graph_view)),
        Route("/api/neighbourhood", answer(api_neighbourhood)),
        Route("/page", answer(page_detail)),
        Route("/pages", answer(pages)),
        Route("/crawls", crawls),
        Route("/api/crawls", api_crawls),
        Route("/sparql", answer(sparql)),
        Route("/sparql/results.{fmt:str}", answer(sparql_download)),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    # Only names of this machine: a page elsewhere cannot reach the app by DNS rebinding.
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"])]
    return Starlette(routes=routes, middleware=middleware)


def _required(request: Request, name: str) -> str:
    value = request.query_params.get(name, "").strip()
    if not value:
        raise QueryRefused(f"the request needs ?{name}=")
    return value


def _hops(request: Request) -> int:
    return 2 if request.query_params.get("hops") == "2" else 1


def _table(result: Any) -> dict[str, Any]:
    """A query result for the results table: at most TABLE_ROWS rows, and how many in all."""
    if isinstance(result, QueryBoolean):
        return {"boolean": bool(result)}
    if isinstance(result, QuerySolutions):
        names = [v.value for v in result.variables]
        rows, total = [], 0
        for row in result:
            total += 1
            if total <= TABLE_ROWS:
                rows.append([_cell(row[n]) for n in names])
        return {"columns": names, "rows": rows, "total": total}
    rows = [[_cell(t.subject), _cell(t.predicate), _cell(t.object)] for t in result]
    columns = ["subject", "predicate", "object"]
    return {"columns": columns, "rows": rows[:TABLE_ROWS], "total": len(rows)}


def _cell(term: Any) -> dict[str, Any]:
    """A table cell: the short text, the full term, and the IRI when it is one."""
    if term is None:
        return {"text": "", "full": "", "iri": None}
    iri = term.value if isinstance(term, NamedNode) else None
    return {"text": short(term), "full": str(term), "iri": iri}
