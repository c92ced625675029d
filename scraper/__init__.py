"""semantic-scraper: websites into a queryable knowledge graph.

The public Python API (no Scrapy needed)::

    from scraper import scrape
    result = scrape("https://example.com/", schema="schemas.product:Product")
    result.markdown, result.facts.status, result.facts.entities

Each stage is one call too: :func:`clean_page`, :func:`chunk_markdown`,
:func:`extract_page` (async), :func:`open_store`, :func:`store_page`, :func:`query`,
and the graph's lookups :func:`search_entities`, :func:`describe_entity`, :func:`page_facts`.
Names are loaded on first use, so ``scrapy`` commands do not pay for the ones they
do not need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "Chunk",
    "Entity",
    "ExtractionStatus",
    "FetchError",
    "Origin",
    "PageContent",
    "PageFacts",
    "Relation",
    "ScrapeResult",
    "Stage",
    "chunk_markdown",
    "clean_page",
    "describe_entity",
    "extract_page",
    "fetch_html",
    "open_store",
    "page_facts",
    "query",
    "scrape",
    "search_entities",
    "store_page",
]

_HOMES = {
    **dict.fromkeys(
        ["Chunk", "Entity", "ExtractionStatus", "Origin", "PageFacts", "Relation", "Stage"],
        "scraper.facts",
    ),
    "PageContent": "scraper.clean",
}

if TYPE_CHECKING:
    from scraper.api import (
        FetchError,
        ScrapeResult,
        chunk_markdown,
        clean_page,
        describe_entity,
        extract_page,
        fetch_html,
        open_store,
        page_facts,
        query,
        scrape,
        search_entities,
        store_page,
    )
    from scraper.clean import PageContent
    from scraper.facts import Chunk, Entity, ExtractionStatus, Origin, PageFacts, Relation, Stage


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'scraper' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES.get(name, "scraper.api")), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
