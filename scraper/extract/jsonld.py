"""A page's structured data as one flattened JSON-LD graph, by a JSON-LD 1.1 processor (pyld).

Each JSON-LD block is expanded against its own context; schema.org's context comes from
the shipped release (:func:`~scraper.extract.vocabulary.jsonld_context`) and no other
remote context is ever fetched. Microdata and RDFa arrive already expanded (the clean stage
maps them). All of it is then flattened together, so one page is one graph: blank nodes
get labels (``_:b0``…) unique in the page, and a node described in several blocks or syntaxes
under one ``@id`` is one node.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from pyld import jsonld

from scraper.extract.vocabulary import jsonld_context

logger = logging.getLogger(__name__)

SCHEMA_CONTEXT = "https://schema.org/"
_SCHEMA_HOSTS = frozenset(["schema.org", "www.schema.org"])


class RemoteContextRefused(Exception):
    """A JSON-LD block names a context other than schema.org's (never fetched)."""


def _is_schema_context(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and parts.hostname in _SCHEMA_HOSTS


def _load_document(url: str, options: Any = None) -> dict[str, Any]:
    """pyld's document loader: schema.org's context from the package, nothing else.

    Tagged ``static`` (it never changes): pyld then keeps the context resolved and processed
    for later calls, where an untagged one is loaded, canonicalised and processed again for
    every block (a fifth of a crawl's main-thread CPU without an LLM)."""
    if not _is_schema_context(url):
        raise RemoteContextRefused(url)
    return {"contextUrl": None, "documentUrl": url, "document": jsonld_context(), "tag": "static"}


def _with_schema_context(block: dict[str, Any]) -> dict[str, Any]:
    """The block read with schema.org's context (for blocks whose own context is missing
    or cannot be loaded: most such blocks on real sites mean schema.org)."""
    return {**block, "@context": SCHEMA_CONTEXT}


def expand(block: dict[str, Any], base_url: str | None) -> list[Any]:
    """One JSON-LD block in expanded form; ``[]`` when it cannot be read at all."""
    # No base: relative IRIs stay relative and are dropped (pyld's own default base would
    # invent http://example.org/base/ IRIs).
    options = {"base": base_url or None, "documentLoader": _load_document}
    # Its own context first, then schema.org's (the only one, for a block naming none).
    readings = [_with_schema_context(block)]
    if "@context" in block:
        readings.insert(0, block)
    for reading in readings:
        try:
            expanded: list[Any] = jsonld.expand(reading, options)
            return expanded
        except jsonld.JsonLdError as exc:
            logger.debug(
                "a JSON-LD block unreadable with context %.80r: %s", reading["@context"], exc
            )
    return []


def flatten(expanded: list[Any]) -> list[dict[str, Any]]:
    """Node objects of expanded JSON-LD, flattened into one graph (named graphs merged)."""
    if not expanded:
        return []
    try:
        nodes: list[dict[str, Any]] = jsonld.flatten(
            expanded, None, {"documentLoader": _load_document}
        )
    except jsonld.JsonLdError as exc:
        logger.debug("structured data that cannot be flattened: %s", exc)
        return []
    return [node for node in nodes if isinstance(node, dict)]
