"""Clean one fetched page: main-content Markdown, metadata, structured data, content hash."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from lxml.html import HtmlElement

from scraper.clean.dom import parse_html
from scraper.clean.main_content import CleanedPage, clean_tree_for_render
from scraper.clean.structured_data import (
    MAX_BYTES,
    SkippedData,
    bound_items,
    drop_oversized_jsonld,
    structured_data_of,
)


@dataclass
class PageContent(CleanedPage):
    """Everything later stages read of a page, and the hash that says when it changed."""

    structured_data: dict[str, list[Any]] = field(default_factory=dict)
    # Items left out of structured_data: past the page's bound (STRUCTURED_DATA_MAX_BYTES).
    structured_data_skipped: list[SkippedData] = field(default_factory=list)
    content_hash: str = ""
    source_url: str = ""  # the URL it was cleaned for: relative IRIs in its markup resolve here
    # Structured data blocks left out as unsafe to read: "reason_code: what and why" each.
    skipped: list[str] = field(default_factory=list)


def content_hash(markdown: str, structured_data: dict[str, Any]) -> str:
    """sha256 of what later stages consume: the Markdown and the structured data."""
    digest = hashlib.sha256(markdown.encode("utf-8"))
    digest.update(json.dumps(structured_data, sort_keys=True, default=str).encode("utf-8"))
    return digest.hexdigest()


def clean_page(html: str, url: str, max_structured_bytes: int = MAX_BYTES) -> PageContent:
    """The content of ``html`` fetched from ``url``; never raises on bad markup.

    Structured data past ``max_structured_bytes`` of JSON is left out (and listed in
    ``structured_data_skipped``). The page is parsed once. Cleaning prunes the tree (the
    head goes) and extruct's RDFa pass changes the tree it reads, so the structured data is
    read from a copy (a third of the parse's cost).
    """
    return clean_parsed_page(parse_html(html), url, max_structured_bytes, plain_dom=False)[0]


def clean_parsed_page(
    tree: HtmlElement | None, url: str, max_structured_bytes: int, plain_dom: bool
) -> tuple[PageContent, str]:
    """:func:`clean_page` of a page parsed by :func:`~scraper.clean.dom.parse_html` (changed
    by it), and with ``plain_dom`` what the render decision counts (see
    :func:`~scraper.clean.main_content.clean_tree_for_render`)."""
    notes: list[str] = []  # blocks unsafe to read (too deep), said by the structured-data reader
    left, jsonld_skipped = (
        drop_oversized_jsonld(tree, max_structured_bytes) if tree is not None else (0, None)
    )
    structured, skipped = bound_items(structured_data_of(copy.deepcopy(tree), url, notes), left)
    if jsonld_skipped:
        skipped.insert(0, jsonld_skipped)
    cleaned, plain = clean_tree_for_render(tree, url, plain_dom)
    content = PageContent(
        **dataclasses.asdict(cleaned),
        structured_data=structured,
        structured_data_skipped=skipped,
        content_hash=content_hash(cleaned.markdown, structured),
        source_url=url,
        skipped=notes,
    )
    return content, plain
