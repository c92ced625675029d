"""Extraction quality survives messy answers: real crawls of a generated site, clean vs messy.

The held-out check of the lenient answer parser (``scraper/extract/llm/answers.py``): the answers'
shapes come from ``tests/messy_site.py``, written apart from ``tests/answer_shapes/``.
``bench/answer_shapes.py`` runs the same on a bigger site, with a budget scenario.
"""

from __future__ import annotations

from tests.crawling import run_crawl
from tests.fake_llm import FakeLLM, serve_fake_llm
from tests.messy_site import (
    SHAPES,
    build_site,
    gold_responder,
    graph_facts,
    hallucinated,
    perfect,
    resolution_errors,
    score,
    shape_counts,
    very_messy,
)
from tests.sites import serve

FAST_LLM = {"LLM_BACKOFF_INITIAL": "0.01", "LLM_BACKOFF_MAX": "0.05", "LLM_TIMEOUT": "10"}
SEED = 7


def test_messy_answers_keep_the_quality_of_clean_ones_and_no_hallucination(tmp_path):
    site = build_site(pages=20, seed=SEED)
    runs = {}
    with serve(site.pages) as running:
        for name, chooser in (("perfect", perfect), ("messy", very_messy)):
            responder = gold_responder(site, chooser, SEED)
            with serve_fake_llm(FakeLLM(responder)) as fake:
                result = run_crawl(
                    tmp_path / name, {"url": running.url, "render": "never"}, FAST_LLM,
                    {"OPENAI_BASE_URL": fake.base_url},
                )  # fmt: skip
            assert result.returncode == 0, result.log[-3000:]
            assert len(result.records) == len(site.pages)
            assert {r["extraction"]["status"] for r in result.records} == {"ok"}
            facts = graph_facts(str(tmp_path / name / "graph"))
            duplicates, over_merged = resolution_errors(facts, site)
            assert duplicates == [] and over_merged == [], (name, duplicates, over_merged)
            runs[name] = (
                score(facts.entities, site.entity_keys()),
                score(facts.relations, site.relation_keys()),
                hallucinated(facts.names, site),
                responder,
                result,
            )
    clean_entities, clean_relations, clean_hallucinated, _, _ = runs["perfect"]
    entities, relations, names, responder, result = runs["messy"]
    # The clean run is near perfect (the site's graph, JSON-LD nodes and all), or the
    # comparison would measure nothing.
    assert clean_entities.f1 >= 0.98, (clean_entities.missing, clean_entities.extra)
    assert clean_relations.f1 >= 0.98, (clean_relations.missing, clean_relations.extra)
    assert entities.f1 >= 0.98 * clean_entities.f1, (entities.missing, entities.extra)
    assert relations.f1 >= 0.98 * clean_relations.f1, (relations.missing, relations.extra)
    assert clean_hallucinated == [] and names == []
    # Every shape was exercised, and the invalid and hallucinated items were left out.
    used = shape_counts(responder)
    assert set(SHAPES) <= set(used), set(SHAPES) - set(used)
    dropped_invalid = sum(r["extraction"]["dropped_invalid"] for r in result.records)
    dropped_ungrounded = sum(r["extraction"]["dropped_ungrounded"] for r in result.records)
    assert dropped_invalid >= 2 * used["invalid_items"]  # an entity and a relation each
    assert dropped_ungrounded >= 2 * used["hallucination"]
