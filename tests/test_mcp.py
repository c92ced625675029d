"""``scrapy graph mcp`` driven by the MCP SDK's own client: a real server subprocess over
stdio (and once over streamable HTTP), on graphs built by real crawls of a local site."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from scraper.commands.graph import MCP_PORT
from scraper.graph.queries import is_update
from tests.crawling import PROJECT_DIR, TEST_SETTINGS, run_crawl, start_crawl
from tests.fake_llm import FakeLLM, serve_fake_llm
from tests.oxigraph_server import oxigraph_server
from tests.processes import free_port, server_process
from tests.sites import Page, serve
from tests.test_graph_crawl import SITE, answer

READ_TOOLS = {"search_entities", "describe_entity", "page_facts", "graph_stats", "sparql_query"}


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """A graph built by a real crawl (fake LLM + JSON-LD): (state folder, site URL)."""
    tmp = tmp_path_factory.mktemp("mcp")
    with serve(SITE) as site, serve_fake_llm(FakeLLM(answer)) as fake:
        result = run_crawl(
            tmp,
            {"url": site.url, "render": "never"},
            {"LLM_MODEL": "fake-model"},
            {"OPENAI_BASE_URL": fake.base_url},
        )
        assert result.returncode == 0, result.log[-3000:]
        yield tmp, site.url


def mcp_argv(store: str, *options: str, settings: dict[str, str] | None = None) -> list[str]:
    argv = ["-m", "scrapy", "graph", "mcp", *options, "-s", f"GRAPH_STORE={store}"]
    for key, value in (settings or {}).items():
        argv += ["-s", f"{key}={value}"]
    return argv


def stdio_server(store: str, *options: str, settings: dict[str, str] | None = None) -> Client:
    """A client of ``scrapy graph mcp`` started as a subprocess (the SDK's stdio transport)."""
    params = StdioServerParameters(
        command=sys.executable,
        args=mcp_argv(store, *options, settings=settings),
        cwd=PROJECT_DIR,
        # The SDK starts servers with a minimal environment: keep the import path.
        env={"PYTHONPATH": os.environ.get("PYTHONPATH", "")},
    )
    return Client(params, read_timeout_seconds=120)


async def call(client: Client, tool: str, **arguments: Any) -> Any:
    """A tool's structured result; fails the test on a tool error."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    content = result.structured_content
    return content["result"] if set(content) == {"result"} else content


async def error(client: Client, tool: str, **arguments: Any) -> str:
    """The message of a call that must fail as a tool error (not a crash)."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    (block,) = result.content
    return block.text


async def test_every_tool_over_stdio_on_a_crawled_graph(crawled):
    tmp, site = crawled
    async with stdio_server(str(tmp / "graph")) as client:
        assert {tool.name for tool in (await client.list_tools()).tools} == READ_TOOLS
        for tool in (await client.list_tools()).tools:
            assert tool.annotations.read_only_hint is True, tool.name

        # search: by part of a name or alias, best match first, type filter
        hits = await call(client, "search_entities", query="acme")
        assert hits[0]["name"] == "Acme Corporation"
        assert hits[0]["types"] == ["schema:Organization"]
        people = await call(client, "search_entities", query="O", types=["Person"])
        assert {h["name"] for h in people} == {"Jane Doe", "Zoë Ångström"}
        assert all("schema:Person" in h["types"] for h in people)
        assert await call(client, "search_entities", query="ångs") == [
            people[[h["name"] for h in people].index("Zoë Ångström")]
        ]
        assert len(await call(client, "search_entities", query="e", limit=1)) == 1
        assert await call(client, "search_entities", query="e", types=["Event"]) == []

        # describe: provenance of every fact
        (acme,) = await call(client, "describe_entity", entity="ACME Corp.")
        about, news = site + "about", site + "news"
        assert acme["name"] == "Acme Corporation" and acme["pages"] == [about, news]
        assert {(r["type"], r["target_name"]) for r in acme["relations_out"]} >= {
            ("founder", "Jane Doe"),
            ("location", "Springfield"),
        }
        assert {(m["origin"], m["page"]) for m in acme["mentions"]} >= {
            ("ss:StructuredData", about),
            ("ss:LLM", news),
        }
        assert acme["sources"][news]["model"] == "fake-model"
        assert acme["sources"][news]["prompt_version"]
        assert acme["sources"][about]["fetched_at"] and acme["sources"][about]["content_hash"]
        assert (await call(client, "describe_entity", entity=acme["id"]))[0]["id"] == acme["id"]
        (first,) = await call(client, "describe_entity", entity="ACME Corp.", limit=1)
        assert len(first["pages"]) == 1 and list(first["sources"]) == first["pages"]
        assert first["counts"] == acme["counts"] and acme["counts"]["pages"] == 2

        # a page's facts
        page = await call(client, "page_facts", url=news)
        assert page["url"] == news and page["extraction_status"] == "ok"
        names = {name for node in page["nodes"] for name in node["names"]}
        assert {"ACME Corp.", "Zoë Ångström"} <= names
        assert ["Acme"] in [node["aliases"] for node in page["nodes"]]
        (zoe,) = [n for n in page["nodes"] if "Zoë Ångström" in n["names"]]
        assert zoe["relations"][0]["type"] == "worksFor"
        assert zoe["relations"][0]["target_name"] == "ACME Corp."
        missing = await call(client, "page_facts", url=site + "missing")
        assert missing["failures"][0]["reason"] == "http_404" and missing["nodes"] == []

        stats = await call(client, "graph_stats")
        assert stats["pages"] == 6 and stats["entities_by_type"]["schema:Person"] == 2

        # SPARQL with a row limit
        sparql = (
            "SELECT DISTINCT ?name WHERE { ?e a schema:Person ; schema:name ?name } ORDER BY ?name"
        )
        rows = await call(client, "sparql_query", query=sparql)
        assert rows == {
            "rows": [{"name": "Jane Doe"}, {"name": "Zoë Ångström"}],
            "truncated": False,
        }
        assert await call(client, "sparql_query", query=sparql, limit=1) == {
            "rows": [{"name": "Jane Doe"}],
            "truncated": True,
        }
        ask = "ASK { ?e schema:name 'Springfield' }"
        assert await call(client, "sparql_query", query=ask) == {"boolean": True}
        construct = await call(client, "sparql_query", query=f"DESCRIBE <{acme['id']}>", limit=3)
        assert len(construct["triples"]) == 3 and construct["truncated"] is True

        # bad input: a clear tool error, and the server keeps answering
        assert "no entity named 'Nobody'" in await error(client, "describe_entity", entity="Nobody")
        assert "names containing it: ACME Corp., Acme," in await error(
            client, "describe_entity", entity="cme"
        )
        assert "not a schema.org type: 'no such type'" in await error(
            client, "search_entities", query="a", types=["no such type"]
        )
        assert "give a name" in await error(client, "search_entities", query="   ")
        assert "greater than or equal to 1" in await error(
            client, "search_entities", query="a", limit=0
        )
        assert "the store has no page" in await error(client, "page_facts", url=site + "nope")
        assert "not an absolute IRI" in await error(client, "page_facts", url="no url")
        assert "SPARQL syntax error: error at 1:" in await error(
            client, "sparql_query", query="SELECT ?x WHERE { ?x schema:name }"
        )
        assert "SPARQL update" in await error(
            client, "sparql_query", query="PREFIX ex: <urn:x:> DROP ALL"
        )
        assert "SPARQL update" in await error(
            client, "sparql_query", query="INSERT DATA { <urn:a> <urn:b> 'c' }"
        )
        assert "SERVICE (a federated query) is off" in await error(
            client, "sparql_query", query="SELECT * { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }"
        )
        assert "less than or equal to 1000" in await error(
            client, "sparql_query", query=sparql, limit=5000
        )
        assert "crawl_url" in await error(client, "crawl_url", url=site)  # not offered
        assert (await call(client, "graph_stats"))["pages"] == 6  # nothing was changed


def slow_page(seconds: float) -> Page:
    def answer_slowly(handler: Any) -> Page:
        time.sleep(seconds)
        return Page("<html><body><main><h1>Slow</h1><p>A slow page.</p></main></body></html>")

    return answer_slowly  # type: ignore[return-value]


async def test_reads_the_embedded_store_while_a_crawl_writes_it(crawled):
    tmp, _ = crawled
    with serve({"/": "<a href='/slow'>slow</a>", "/slow": slow_page(10)}) as slow:
        async with stdio_server(str(tmp / "graph")) as client:
            crawl = start_crawl(tmp, {"url": slow.url, "render": "never"}, tmp / "slow.jsonl")
            try:
                deadline = time.monotonic() + 30
                while "/slow" not in slow.hits and time.monotonic() < deadline:
                    time.sleep(0.1)
                hits = await call(client, "search_entities", query="Acme Corporation")
                assert hits[0]["name"] == "Acme Corporation"
                assert crawl.poll() is None  # the crawl held the store as its writer meanwhile
            finally:
                assert crawl.wait(timeout=60) == 0


async def test_crawl_tool_on_a_sparql_endpoint_store(tmp_path):
    settings = {**TEST_SETTINGS, "MCP_CRAWL_MAX_PAGES": "5", "REPORT_DIR": str(tmp_path)}
    settings["HTTPCACHE_DIR"] = str(tmp_path / "httpcache")
    settings["FAILURES_FILE"] = str(tmp_path / "failures.jsonl")
    settings["LLM_CACHE_DIR"] = str(tmp_path / "llm-cache")
    progress: list[tuple[float, float | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total))

    with oxigraph_server() as endpoint, serve(SITE) as site:
        async with stdio_server(endpoint.url, "--allow-crawl", settings=settings) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            assert set(tools) == READ_TOOLS | {"crawl_url"}
            assert tools["crawl_url"].annotations.read_only_hint is False
            assert "less than or equal to 5" in await error(
                client, "crawl_url", url=site.url, max_pages=6
            )
            assert "url must be an absolute http(s) URL" in await error(
                client, "crawl_url", url="ftp://example.com/"
            )
            result = await client.call_tool(
                "crawl_url", {"url": site.url, "max_pages": 5}, progress_callback=on_progress
            )
            assert not result.is_error, result.content
            summary = result.structured_content
            assert summary["pages"] == 5 and summary["stopped_at_time_limit"] is False
            assert summary["pages_ok"] + len(summary["pages_failed"]) == 5
            assert site.url in summary["urls"]
            (acme,) = await call(client, "describe_entity", entity="Acme Corporation")
            assert acme["sources"][site.url + "about"]["extraction_status"]
            assert (await call(client, "graph_stats"))["pages"] == 5

            once = await call(client, "crawl_url", url=site.url + "about", follow_links=False)
            assert once["urls"] == [site.url + "about"] and once["changes"] == {"unchanged": 1}
    assert progress and all(total == 5 for _, total in progress)


async def test_streamable_http_transport(crawled):
    tmp, _ = crawled
    port = free_port()
    argv = [sys.executable, *mcp_argv(str(tmp / "graph"), "--http", "--port", str(port))]
    with server_process(argv, b"MCP server (streamable HTTP) on", timeout=90):
        wait_for_port(port)
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            assert {tool.name for tool in (await client.list_tools()).tools} == READ_TOOLS
            hits = await call(client, "search_entities", query="springfield", types=["Place"])
            assert [h["name"] for h in hits] == ["Springfield"]
            assert "no entity named" in await error(client, "describe_entity", entity="Nobody")
        second = subprocess.run(argv, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert second.stderr == (
            f"error: cannot listen on 127.0.0.1:{port} (Address already in use): "
            "choose another --port\n"
        )


def wait_for_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def readme_client_configs() -> list[dict[str, Any]]:
    """The MCP client configurations (JSON blocks) of the README's `scrapy graph mcp` section."""
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### `scrapy graph mcp`") :].split("\n## ", 1)[0]
    return [json.loads(block.split("```", 1)[0]) for block in section.split("```json\n")[1:]]


async def test_the_readme_client_configuration_starts_the_server(crawled, tmp_path):
    """Claude Desktop's configuration, with this machine's paths, started as a client would:
    outside the project folder, with the environment the configuration gives."""
    store, _ = crawled
    desktop, vscode, http = readme_client_configs()
    assert http["servers"]["semantic-scraper"] == {
        "type": "http",
        "url": f"http://127.0.0.1:{MCP_PORT}/mcp",
    }
    assert vscode["servers"]["semantic-scraper"]["args"][:2] == ["graph", "mcp"]
    server = desktop["mcpServers"]["semantic-scraper"]
    here = json.dumps(server)
    here = here.replace("/home/me/semantic-scraper/.venv/bin", str(Path(sys.executable).parent))
    here = here.replace("/home/me/semantic-scraper/.semantic/graph", str(store / "graph"))
    server = json.loads(here)
    params = StdioServerParameters(
        command=server["command"],
        args=server["args"],
        env={**server["env"], "PYTHONPATH": os.environ.get("PYTHONPATH", "")},
        cwd=tmp_path,  # not the project
    )
    async with Client(params, read_timeout_seconds=120) as client:
        hits = await call(client, "search_entities", query="Acme Corporation")
        assert hits[0]["name"] == "Acme Corporation"


@pytest.mark.parametrize(
    ("sparql", "update"),
    [
        ("INSERT DATA { <urn:a> <urn:b> 'c' }", True),
        ("prefix ex: <urn:x:>\nBASE <http://b/>\n delete where { ?s ?p ?o }", True),
        ("PREFIX : <urn:x:> LOAD <http://example.com/data.ttl>", True),
        ("WITH <urn:g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }", True),
        ("CLEAR ALL", True),
        ("# INSERT in a comment\nSELECT * { ?s ?p ?o }", False),
        ("SELECT ?s { ?s schema:name 'DROP ALL' }", False),
        ("PREFIX insert: <urn:insert:> SELECT * { ?s insert:p ?o }", False),
        ("DESCRIBE <urn:delete>", False),
    ],
)
def test_updates_are_told_from_queries(sparql, update):
    assert is_update(sparql) is update
