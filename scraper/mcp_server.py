"""The knowledge graph as a Model Context Protocol server (the official ``mcp`` SDK).

Read-only tools over the public API (``scraper.api``): search entities, describe an entity
with its sources, a page's facts, graph sizes, and a read-only SPARQL query with a row limit.
With a :class:`CrawlTool` the server also crawls a URL into the graph, in a real
``scrapy crawl`` process. Each call opens the store and closes it at once, so a crawl can
write the embedded store while the server runs (reads then see its latest snapshot).
``scrapy graph mcp`` (scraper/commands/graph.py) builds the configuration from settings.
"""

# No `from __future__ import annotations`: the SDK reads the tools' annotations at
# registration, and crawl_url's bounds come from its CrawlTool (a closure variable).
import asyncio
import json
import re
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from scraper import api
from scraper.graph import GraphStore, GraphStoreError
from scraper.graph.browse import ENTITY_PAGES
from scraper.graph.queries import stats

NAME = "semantic-scraper"
MAX_ROWS = 1000  # the most rows one SPARQL call returns
MAX_PAGES = 1000  # the most source pages one describe_entity call lists
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
CRAWLS = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=True)
PROGRESS_SECONDS = 1.0
STOP_SECONDS = 30.0  # a crawl asked to stop at its time limit is killed after this


@dataclass(frozen=True)
class CrawlTool:
    """How the ``crawl`` tool runs ``scrapy crawl semantic`` (only when the server allows it)."""

    command: list[str]  # argv up to the spider's arguments: python -m scrapy crawl semantic -s …
    cwd: Path  # the project directory (scrapy.cfg), so the crawl has the project's settings
    max_pages: int  # the most pages one call may fetch
    timeout: float  # seconds before the crawl is stopped


@dataclass(frozen=True)
class ServerConfig:
    open_store: Callable[[], GraphStore]  # a read-only store, opened per call
    allow_service: bool = False  # GRAPH_QUERY_SERVICE
    crawl: CrawlTool | None = None


@contextmanager
def _reading(config: ServerConfig) -> Iterator[GraphStore]:
    """The store for one call; a store or input problem becomes the tool's error message."""
    try:
        with config.open_store() as store:
            yield store
    except (GraphStoreError, ValueError) as exc:
        raise ToolError(str(exc)) from None


def build_server(config: ServerConfig) -> MCPServer:
    """The MCP server with the graph's tools (and ``crawl`` when ``config.crawl`` is set)."""
    server = MCPServer(
        NAME,
        instructions=(
            "A knowledge graph built from crawled web pages: entities (schema.org types), "
            "their relations, and for every fact the page it came from. Find entities with "
            "search_entities, read one with describe_entity, see what a page said with "
            "page_facts, and ask anything else with sparql_query (read-only)."
        ),
        log_level="WARNING",
    )

    @server.tool(annotations=READ_ONLY)
    def search_entities(
        query: Annotated[str, Field(description="a name, alias or part of one", min_length=1)],
        types: Annotated[
            list[str] | None,
            Field(description="keep these schema.org types only, e.g. ['Organization']"),
        ] = None,
        limit: Annotated[int, Field(ge=1, le=200, description="the most hits")] = 20,
    ) -> list[dict[str, Any]]:
        """Entities whose name or alias contains the query (case-insensitive), best first:
        exact and normalised matches, then names starting with it. Each hit has its id
        (an IRI), canonical name, types and the name that matched."""
        with _reading(config) as store:
            return api.search_entities(store, query, types=types or (), limit=limit)

    @server.tool(annotations=READ_ONLY)
    def describe_entity(
        entity: Annotated[str, Field(description="an entity's name, alias or id (IRI)")],
        limit: Annotated[
            int, Field(ge=1, le=MAX_PAGES, description="the most source pages listed")
        ] = ENTITY_PAGES,
    ) -> list[dict[str, Any]]:
        """Everything the graph says about an entity: types, aliases, attributes, relations
        in and out (each with the page it came from), how each mention was matched (from the
        LLM or the page's structured data) and, per source page, when it was fetched, its
        content hash, model and prompt version. Several entities may share a name. An
        entity on more than `limit` pages lists `limit` of them with what they say; `counts`
        gives how many pages and mentions there are in all."""
        with _reading(config) as store:
            return api.describe_entity(store, entity, limit=limit)

    @server.tool(annotations=READ_ONLY)
    def page_facts(
        url: Annotated[str, Field(description="the page's URL, as crawled")],
    ) -> dict[str, Any]:
        """What one crawled page contributed: its provenance (fetch time, content hash,
        model, prompt version, extraction status, failures) and every node of its graph
        with types, names, aliases, attributes and relations."""
        with _reading(config) as store:
            return api.page_facts(store, url)

    @server.tool(annotations=READ_ONLY)
    def graph_stats() -> dict[str, Any]:
        """Sizes of the graph: pages, pages needing a retry, entities by type, facts,
        relations, mentions, merges and facts by origin."""
        with _reading(config) as store:
            return stats(store)

    @server.tool(annotations=READ_ONLY)
    def sparql_query(
        query: Annotated[
            str,
            Field(
                description="SPARQL SELECT, ASK, CONSTRUCT or DESCRIBE; prefixes schema:, rdf:, "
                "xsd:, owl:, ss: are predeclared; the default graph is the union of the pages"
            ),
        ],
        limit: Annotated[int, Field(ge=1, le=MAX_ROWS, description="the most rows")] = 100,
    ) -> dict[str, Any]:
        """Run a read-only SPARQL query over the graph (`GRAPH ?page { … }` gives the page
        of each fact). Returns rows as {variable: value}, a boolean for ASK, or N-Triples
        lines for CONSTRUCT/DESCRIBE, with `truncated` when more rows than `limit` exist.
        Updates and SERVICE (federated queries) are refused."""
        with _reading(config) as store:
            result = api.query(store, query, allow_service=config.allow_service, limit=limit + 1)
        if isinstance(result, bool):
            return {"boolean": result}
        key = "rows" if not result or isinstance(result[0], dict) else "triples"
        return {key: result[:limit], "truncated": len(result) > limit}

    if config.crawl is not None:
        _add_crawl_tool(server, config.crawl)
    return server


def _add_crawl_tool(server: MCPServer, crawl: CrawlTool) -> None:
    @server.tool(annotations=CRAWLS)
    async def crawl_url(
        url: Annotated[str, Field(description="an http(s) URL to start from")],
        ctx: Context,
        max_pages: Annotated[
            int, Field(ge=1, le=crawl.max_pages, description="the most pages to fetch")
        ] = min(10, crawl.max_pages),
        follow_links: Annotated[
            bool, Field(description="follow links within the site (false: this page only)")
        ] = True,
    ) -> dict[str, Any]:
        """Crawl a URL into the graph (the project's own crawl, bounded by max_pages and a
        time limit) and report what happened: pages stored, failed pages with reasons,
        entities found. Pages already in the graph and unchanged cost nothing."""
        return await run_crawl(crawl, url, max_pages, follow_links, ctx)


async def run_crawl(
    crawl: CrawlTool, url: str, max_pages: int, follow: bool, ctx: Context
) -> dict[str, Any]:
    """One ``scrapy crawl semantic`` of ``url``; progress is the number of pages done."""
    with tempfile.TemporaryDirectory(prefix="mcp-crawl-") as folder:
        feed = Path(folder) / "pages.jsonl"
        argv = [*crawl.command, "-a", f"url={url}", "-a", f"max_pages={max_pages}"]
        argv += ["-a", f"follow={str(follow).lower()}", "-O", str(feed)]
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=crawl.cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,  # stdout is the MCP channel of stdio servers
            stderr=asyncio.subprocess.PIPE,
        )
        log = asyncio.ensure_future(process.stderr.read())  # type: ignore[union-attr]
        timed_out = await _wait(process, crawl.timeout, lambda: _progress(ctx, feed, max_pages))
        stderr = (await log).decode("utf-8", "replace")
        records = _records(feed)
    if process.returncode != 0 and not records:
        raise ToolError(_crawl_error(stderr, process.returncode))
    return _crawl_summary(records, timed_out)


async def _progress(ctx: Context, feed: Path, max_pages: int) -> None:
    await ctx.report_progress(len(_records(feed)), max_pages, "pages crawled")


async def _wait(
    process: asyncio.subprocess.Process, timeout: float, tick: Callable[[], Awaitable[None]]
) -> bool:
    """Wait for the crawl, calling ``tick`` every second; past ``timeout`` it is asked to stop
    (SIGTERM: Scrapy finishes the pages in flight and writes their records), then killed.
    True when the time limit stopped it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        try:
            await asyncio.wait_for(process.wait(), PROGRESS_SECONDS)
            return False
        except TimeoutError:
            await tick()
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), STOP_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
    return True


def _records(feed: Path) -> list[dict[str, Any]]:
    """The page records written so far (a line still being written is left out)."""
    try:
        lines = feed.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            break
    return records


# The crawl's one-line reasons: `error: …` (a bad argument), `… ERROR: …` (a refused store).
_CRAWL_ERROR = re.compile(r"(?:^error: |\] ERROR: )(.*)")


def _crawl_error(stderr: str, returncode: int | None) -> str:
    """The crawl's own reason for failing, else its last lines."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    reasons = [m.group(1) for line in lines if (m := _CRAWL_ERROR.search(line))]
    reason = reasons[-1] if reasons else " | ".join(lines[-3:])
    return f"the crawl failed (exit status {returncode}): {reason}"


def _crawl_summary(records: list[dict[str, Any]], timed_out: bool) -> dict[str, Any]:
    failed = [r for r in records if r.get("failures")]
    entities = sum(len((r.get("extraction") or {}).get("entities", [])) for r in records)
    changes = Counter(r.get("change") or "unknown" for r in records if not r.get("failures"))
    return {
        "pages": len(records),
        "pages_ok": len(records) - len(failed),
        "pages_failed": [
            {"url": r["url"], "reasons": [f"{f['stage']}/{f['reason']}" for f in r["failures"]]}
            for r in failed
        ],
        "changes": dict(changes),
        "entities_extracted": entities,
        "stopped_at_time_limit": timed_out,
        "urls": [r["url"] for r in records],
    }
