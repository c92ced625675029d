"""GraphPipeline: pages stored, failed pages remembered, an unreachable store recorded."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from scrapy.utils.test import get_crawler

from scraper.facts import Entity, ExtractionStatus, Origin, PageFacts
from scraper.graph import EmbeddedStore, SparqlEndpointStore, StoreUnavailable
from scraper.items import PageRecord
from scraper.pipelines.graph import GraphPipeline
from tests.oxigraph_server import oxigraph_server
from tests.processes import free_port

URL = "https://shop.example/acme"


def record(url=URL, name="Acme Corporation", **fields):
    page = PageRecord(
        url=url,
        final_url=url,
        status=200,
        fetched_at="2026-03-01T10:00:00+00:00",
        content_hash="hash-1",
        extraction=PageFacts(
            status="ok",
            schema="schemas.knowledge_graph:KnowledgeGraph",
            model="gpt-test",
            prompt_version="extract_v1",
            entities=[Entity(name=name, type="Organization", origin="llm")],
            relations=[],
        ),
    )
    for key, value in fields.items():
        setattr(page, key, value)
    return page


async def opened_pipeline(store, **settings):
    crawler = get_crawler(settings_dict={"GRAPH_STORE": str(store), **settings})
    pipeline = GraphPipeline.from_crawler(crawler)
    await pipeline.open_spider()
    return pipeline, crawler.stats


async def test_pages_are_stored_and_failed_fetches_keep_their_facts(tmp_path):
    """A failed fetch keeps the page's facts; a failed LLM call still stores structured data."""
    pipeline, stats = await opened_pipeline(tmp_path / "graph")
    stored = await pipeline.process_item(record(etag='"abc"'))
    failed = record(content_hash=None, extraction=None)
    failed.fail("fetch", "http_503", "Service Unavailable")
    await pipeline.process_item(failed)
    no_llm = record(url="https://shop.example/other", name="Beta Industries")
    no_llm.extraction.status = ExtractionStatus.FAILED
    no_llm.extraction.failure_reason = "llm_timeout"
    no_llm.extraction.entities[0].origin = Origin.STRUCTURED_DATA
    await pipeline.process_item(no_llm)
    await pipeline.close_spider()
    assert stored.ok and failed.failures[-1].stage == "fetch"  # nothing added by the store
    # The page whose LLM extraction failed still has its structured data stored.
    assert stats.get_value("graph/pages_stored") == 2
    assert stats.get_value("graph/attempts_failed") == 2
    # The next crawl's LLM fails again on the same content: what was stored stays.
    pipeline, stats = await opened_pipeline(tmp_path / "graph")
    await pipeline.process_item(
        record(url=no_llm.url, extraction=dataclasses.replace(no_llm.extraction, entities=[]))
    )
    await pipeline.close_spider()
    assert stats.get_value("graph/pages_stored") is None
    assert stats.get_value("graph/attempts_failed") == 1
    with EmbeddedStore.open_reader(tmp_path / "graph") as store:
        state = store.page_state(URL)
        assert state.content_hash == "hash-1" and state.etag == '"abc"'
        assert state.failures[0]["reason"] == "http_503"
        names = store.select(f"SELECT ?n WHERE {{ GRAPH <{URL}> {{ ?e schema:name ?n }} }}")
        assert [n["n"].value for n in names] == ["Acme Corporation"]
        retry = store.page_state("https://shop.example/other")
        assert retry.needs_retry and retry.failures[0]["reason"] == "llm_timeout"
        graph = "GRAPH <https://shop.example/other>"
        names = store.select(f"SELECT ?n WHERE {{ {graph} {{ ?e schema:name ?n }} }}")
        assert [n["n"].value for n in names] == ["Beta Industries"]


async def test_an_unreachable_endpoint_fails_pages_with_a_reason_and_they_can_be_retried(
    tmp_path,
):
    port = free_port()
    settings = {"GRAPH_STORE_RETRY_TIMES": 0, "GRAPH_STORE_TIMEOUT": 5}
    with oxigraph_server(tmp_path / "oxi", port) as server:
        pipeline, stats = await opened_pipeline(server.url, **settings)
        first = await pipeline.process_item(record())
    second = await pipeline.process_item(record(url="https://shop.example/b", name="Beta"))
    assert first.ok
    assert [(f.stage, f.reason) for f in second.failures] == [("store", "store_unavailable")]
    assert "unreachable" in second.failures[0].detail
    assert stats.get_value("graph/failed/store_unavailable") == 1
    with oxigraph_server(tmp_path / "oxi", port):  # the store is back: retry the page
        retried = await pipeline.process_item(record(url="https://shop.example/b", name="Beta"))
        await pipeline.close_spider()
        assert retried.ok
        store = SparqlEndpointStore(server.url)
        assert store.pages() == ["https://shop.example/acme", "https://shop.example/b"]
        store.close()


async def test_a_locked_store_fails_pages_with_a_clear_reason(tmp_path):
    with EmbeddedStore.open_writer(tmp_path / "graph"):
        pipeline, stats = await opened_pipeline(tmp_path / "graph", GRAPH_STORE_LOCK_TIMEOUT=0.2)
        item = await pipeline.process_item(record())
        await pipeline.close_spider()
    assert item.failures[0].reason == "store_unusable"
    assert "in use by process" in item.failures[0].detail
    assert stats.get_value("graph/unusable") == "StoreLocked"


@pytest.mark.parametrize("status", ["skipped", None])
async def test_pages_without_new_facts_only_move_fetch_provenance(tmp_path, status):
    pipeline, _ = await opened_pipeline(tmp_path / "graph")
    await pipeline.process_item(record())
    again = record(fetched_at="2026-04-01T00:00:00+00:00", etag='"v2"')
    again.extraction = None if status is None else PageFacts(status=status)
    await pipeline.process_item(again)
    await pipeline.close_spider()
    with EmbeddedStore.open_reader(tmp_path / "graph") as store:
        state = store.page_state(URL)
        names = store.select(f"SELECT ?n WHERE {{ GRAPH <{URL}> {{ ?e schema:name ?n }} }}")
    assert state.fetched_at.startswith("2026-04-01") and state.etag == '"v2"'
    assert not state.needs_retry and len(names) == 1


async def test_pages_are_written_in_batches_and_acknowledged_once_written(tmp_path, monkeypatch):
    settings = {"GRAPH_WRITE_BATCH": 4, "GRAPH_STORE_RETRY_TIMES": 0}
    pipeline, _ = await opened_pipeline(tmp_path / "graph", **settings)
    store, requests = pipeline.store, []
    write = store.update

    def counted(sparql):
        requests.append(sparql)
        write(sparql)

    monkeypatch.setattr(store, "update", counted)
    pages = [record(url=f"{URL}/{i}", name=f"Org {i}") for i in range(5)]
    items = await asyncio.gather(*map(pipeline.process_item, pages))
    assert len(requests) == 2 and all(item.ok for item in items)  # a batch of 4, then 1

    def unreachable(sparql):
        raise StoreUnavailable("graph store error: the disk is gone")

    monkeypatch.setattr(store, "update", unreachable)
    lost = await asyncio.gather(
        *(pipeline.process_item(record(url=f"{URL}/x{i}")) for i in range(3))
    )
    assert [item.failures[-1].reason for item in lost] == ["store_unavailable"] * 3
    monkeypatch.undo()
    await pipeline.close_spider()
    with EmbeddedStore.open_reader(tmp_path / "graph") as reader:
        assert reader.pages() == sorted(page.url for page in pages)
