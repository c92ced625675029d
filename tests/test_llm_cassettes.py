"""The openai SDK path recorded and replayed with vcrpy cassettes.

vcrpy 9.4 patches ``httpx2`` (the HTTP client of openai 3.x) as well as
``httpx``, so the SDK's requests go through the cassette. The committed
cassette was recorded against the local fake server; the test replays it and
checks that the server saw nothing. A change of prompt, schema or SDK request
shape changes the request body: delete the cassette and run the test again
to re-record it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import vcr

from prompts import load_prompt
from schemas.knowledge_graph import KnowledgeGraph
from scraper.extract import Extractor
from scraper.extract.llm import CostMeter, StructuredLLM, make_openai_client, price_table
from scraper.facts import Chunk
from tests.fake_llm import FakeLLM, StatsRecorder, fast_llm_settings, serve_fake_llm

CASSETTES = Path(__file__).parent / "cassettes"
SECRET = "sk-test-NEVER-IN-A-CASSETTE-0123456789"
PAGE = "Acme Corporation was founded by Jane Doe in Springfield. It sells the Road Runner Trap."


def cassette_recorder(path: Path, record_mode: str) -> vcr.VCR:
    return vcr.VCR(
        record_mode=record_mode,
        match_on=["method", "path", "body"],
        filter_headers=["authorization", "openai-organization", "openai-project"],
    ).use_cassette(str(path))


async def extract_once(base_url: str):
    stats = StatsRecorder()
    settings = fast_llm_settings()
    client = make_openai_client(settings.timeout, api_key=SECRET, base_url=base_url)
    llm = StructuredLLM(
        client, settings, prices=price_table(), meter=CostMeter(), on_stat=stats.inc_value
    )
    extractor = Extractor(
        schema=KnowledgeGraph, prompt=load_prompt(), llm=llm, cache=None, on_stat=stats.inc_value
    )
    chunk = Chunk(index=0, text=PAGE, tokens=0, start=0, end=len(PAGE))
    try:
        return await extractor.extract_page(
            url="https://acme.example/", markdown=PAGE, chunks=[chunk], structured_data={}
        )
    finally:
        await client.close()


@pytest.mark.parametrize("record_mode", ["all"])
async def test_recording_filters_the_api_key(tmp_path, record_mode):
    path = tmp_path / "recorded.yaml"
    with serve_fake_llm(FakeLLM()) as fake:
        with cassette_recorder(path, record_mode) as cassette:
            outcome = await extract_once(fake.base_url)
        assert fake.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    assert len(cassette) == 1 and outcome.result.status == "ok"
    text = path.read_text()
    assert "chat/completions" in text and "Road Runner Trap" in text
    assert SECRET not in text


async def test_sdk_path_replays_from_the_committed_cassette():
    path = CASSETTES / "extract_knowledge_graph.yaml"
    with serve_fake_llm(FakeLLM()) as fake:
        with cassette_recorder(path, "once") as cassette:
            outcome = await extract_once(fake.base_url)
        recorded_now = len(fake.requests)
    assert cassette.play_count + recorded_now == 1
    if recorded_now:
        pytest.skip(f"recorded {path.name}; the next run replays it")
    result = outcome.result
    assert result.status == "ok"
    assert {e.name for e in result.entities} == {
        "Acme Corporation",
        "Jane Doe",
        "Road Runner Trap",
    }
    assert result.usage["calls"] == 1 and result.usage["prompt_tokens"] > 0
    assert SECRET not in path.read_text()
