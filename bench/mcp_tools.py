"""MCP tool latency: each tool called in process (the public API) and through a real
``scrapy graph mcp`` server over stdio (the SDK's client), on a generated graph.

    python bench/mcp_tools.py [--entities 100000] [--calls 200]

The graph is bench/graph_store.py's (generated pages written through ``replace_page`` into
an embedded store). Baselines, in the same process: ``find_entities`` (the resolution-key
lookup ``scrapy graph entity`` uses) for the searches, and ``describe_entity`` without
sources for ``describe_entity``. The table gives p50/p95 per call and the ratios
search/find, describe-with-sources/describe, and MCP/in-process (what the protocol, JSON
and opening the store per call cost).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mcp import Client, StdioServerParameters

from bench.graph_store import entity, percentile, write_pages
from scraper import api
from scraper.graph import EmbeddedStore
from scraper.graph.queries import describe_entity, find_entities
from tests.crawling import PROJECT_DIR

PER_PAGE = 10


def calls(args: argparse.Namespace) -> list[tuple[str, str, dict[str, Any]]]:
    """(operation, tool, arguments) for every measured call, the same set for both paths."""
    rng = random.Random(7)
    plan = []
    for _ in range(args.calls):
        i = rng.randrange(args.entities)
        name = entity(i)["name"]
        plan.append(("search (full name)", "search_entities", {"query": name}))
        plan.append(("search (prefix)", "search_entities", {"query": name[:-3]}))
        plan.append(("describe_entity", "describe_entity", {"entity": name}))
        page = f"https://bench.example/page/{i // PER_PAGE}"
        plan.append(("page_facts", "page_facts", {"url": page}))
    return plan


def in_process(folder: Path, plan: list[tuple[str, str, dict[str, Any]]]) -> dict[str, list]:
    """Seconds per call of the API and of the baselines, store opened once per call."""
    api_calls: dict[str, Callable[..., Any]] = {
        "search_entities": lambda s, a: api.search_entities(s, a["query"]),
        "describe_entity": lambda s, a: api.describe_entity(s, a["entity"]),
        "page_facts": lambda s, a: api.page_facts(s, a["url"]),
    }
    times: dict[str, list[float]] = {}
    for operation, tool, arguments in plan:
        started = time.perf_counter()
        with api.open_store(folder, write=False) as store:
            assert api_calls[tool](store, arguments)
        times.setdefault(operation, []).append(time.perf_counter() - started)
        if tool == "describe_entity":  # the baselines, on the same names
            started = time.perf_counter()
            with api.open_store(folder, write=False) as store:
                assert find_entities(store, arguments["entity"])
            times.setdefault("baseline: find_entities", []).append(time.perf_counter() - started)
            started = time.perf_counter()
            with api.open_store(folder, write=False) as store:
                for iri in find_entities(store, arguments["entity"]):
                    describe_entity(store, iri)
            times.setdefault("baseline: describe (no sources)", []).append(
                time.perf_counter() - started
            )
    return times


async def over_mcp(folder: Path, plan: list[tuple[str, str, dict[str, Any]]]) -> dict[str, list]:
    """Seconds per tool call through ``scrapy graph mcp`` over stdio."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "scrapy", "graph", "mcp", "-s", f"GRAPH_STORE={folder}"],
        cwd=PROJECT_DIR,
        env={"PYTHONPATH": os.environ.get("PYTHONPATH", str(PROJECT_DIR))},
    )
    times: dict[str, list[float]] = {}
    async with Client(params, read_timeout_seconds=600) as client:
        for operation, tool, arguments in plan:
            started = time.perf_counter()
            result = await client.call_tool(tool, arguments)
            times.setdefault(operation, []).append(time.perf_counter() - started)
            assert not result.is_error, result.content
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mcp-bench-") as tmp:
        folder = Path(tmp) / "graph"
        pages = args.entities // PER_PAGE
        print(f"writing {pages} pages ({args.entities} entities) ...", file=sys.stderr)
        with EmbeddedStore.open_writer(folder, snapshot_interval=3600) as store:
            write_pages(store, pages, PER_PAGE)
        plan = calls(args)
        print(f"{len(plan)} calls in process ...", file=sys.stderr)
        direct = in_process(folder, plan)
        print(f"{len(plan)} calls through scrapy graph mcp (stdio) ...", file=sys.stderr)
        mcp = asyncio.run(over_mcp(folder, plan))
    print(f"\n{args.entities} entities in {pages} pages; {args.calls} calls per operation")
    print(f"\n{'operation':<32}{'in process p50/p95 ms':>24}{'MCP p50/p95 ms':>20}{'MCP/in':>9}")
    for operation, seconds in direct.items():
        line = f"{operation:<32}{_ms(seconds):>24}"
        if operation in mcp:
            ratio = statistics.median(mcp[operation]) / statistics.median(seconds)
            line += f"{_ms(mcp[operation]):>20}{ratio:>8.2f}x"
        print(line)
    find = statistics.median(direct["baseline: find_entities"])
    describe = statistics.median(direct["baseline: describe (no sources)"])
    print("\nratios of medians, in process:")
    for operation in ("search (full name)", "search (prefix)"):
        print(f"  {operation} / find_entities: {statistics.median(direct[operation]) / find:.2f}x")
    ratio = statistics.median(direct["describe_entity"]) / describe
    print(f"  describe_entity (with sources) / describe (no sources): {ratio:.2f}x")


def _ms(seconds: list[float]) -> str:
    return f"{1000 * statistics.median(seconds):.1f} / {1000 * percentile(seconds, 95):.1f}"


if __name__ == "__main__":
    main()
