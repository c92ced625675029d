"""The demo site crawled through a real OpenAI-compatible server: llama-cpp-python + SmolLM2.

A 135M model extracts little that is true. What this proves is the protocol as a real
server speaks it: the server rejects ``json_schema`` and the crawl steps down to
``json_object`` with a schema after one rejected call, no call is wasted, every answer that
is stored validated, the hallucination guard drops what the model invented, and the pages'
structured data is stored whatever the model did.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scraper.extract.grounding import PageText
from scraper.graph import open_store
from scraper.graph.queries import entity_lines
from tests.crawling import PROJECT_DIR, without_openai
from tests.llama_server import llama_server


@pytest.fixture(scope="module")
def llama():
    with llama_server() as server:
        yield server


def demo_crawl(output: Path, env: dict[str, str], settings: dict[str, str]) -> dict:
    """``scrapy demo -o output``: its records, report, graph entities and log."""
    argv = [sys.executable, "-m", "scrapy", "demo", "-o", str(output)]
    for key, value in settings.items():
        argv += ["-s", f"{key}={value}"]
    proc = subprocess.run(
        argv, cwd=PROJECT_DIR, env=without_openai(env), capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(line) for line in (output / "pages.jsonl").read_text().splitlines()]
    [report_file] = (output / "reports").glob("semantic-*.json")
    with open_store(str(output / "graph"), write=False) as store:
        entities = list(entity_lines(store))
    return {
        "records": {r["url"].split("/", 3)[3]: r for r in records},
        "report": json.loads(report_file.read_text()),
        "entities": entities,
        "log": proc.stderr,
    }


def structured_data_entities(records: dict[str, dict]) -> set[tuple[str, str, str]]:
    return {
        (path, entity["type"], entity["name"])
        for path, record in records.items()
        for entity in (record.get("extraction") or {}).get("entities", [])
        if entity["origin"] != "llm"
    }


def test_demo_crawl_through_a_real_llama_cpp_server(tmp_path, llama):
    without_llm = demo_crawl(tmp_path / "without-llm", {}, {})
    crawl = demo_crawl(
        tmp_path / "with-llm",
        {"OPENAI_BASE_URL": llama.base_url},
        {
            "LLM_MODEL": llama.model,
            "LLM_CONCURRENCY": "2",  # the server answers one request at a time anyway
            "LLM_MAX_TOKENS": "512",
            "LLM_TIMEOUT": "300",
            "LLM_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
        },
    )
    records, llm = crawl["records"], crawl["report"]["llm"]

    # Every page is recorded, as in a crawl without the LLM.
    assert records.keys() == without_llm["records"].keys()
    # One call rejected (json_schema, HTTP 500), then json_object with the schema for good.
    assert llm["format_rejections"] <= 2
    assert llm["response_format"] == "json_object_schema"
    assert llm["retries"] == 0 and llm["stopped"] is None
    requests = [
        json.loads(line)
        for line in (tmp_path / "audit.jsonl").read_text().splitlines()
        if '"event": "request"' in line
    ]
    assert requests[0]["response_format"]["type"] == "json_schema"
    assert {r["response_format"]["type"] for r in requests[1:]} == {"json_object"}
    assert all("schema" in r["response_format"] for r in requests[1:])

    # At least 90 % of the pages with text got an answer that validated.
    with_text = [r for r in records.values() if r["chunks"]]
    answered = [r for r in with_text if r["extraction"]["status"] == "ok"]
    assert len(with_text) >= 8
    assert len(answered) >= 0.9 * len(with_text), [
        (r["url"], r["extraction"]["failure_reason"]) for r in with_text
    ]

    # The pages' structured data is all there, whatever the model said.
    assert structured_data_entities(without_llm["records"]) <= structured_data_entities(records)
    assert len(crawl["entities"]) >= len(without_llm["entities"])

    # No stored entity is named by words that appear in no page.
    pages = PageText(
        "\n".join(
            (r.get("markdown") or "") + "\n" + json.dumps(r["structured_data"], ensure_ascii=False)
            for r in records.values()
        )
    )
    invented = [e["name"] for e in crawl["entities"] if not pages.mentions(e["name"])]
    assert invented == []
    print(
        f"\nreal LLM crawl: {len(records)} pages, {len(answered)}/{len(with_text)} answered, "
        f"{llm['calls']} calls ({llm['format_rejections']} rejected), "
        f"{llm['dropped_ungrounded']} ungrounded and {llm['dropped_invalid']} invalid dropped, "
        f"{len(crawl['entities'])} entities vs {len(without_llm['entities'])} without LLM"
    )
