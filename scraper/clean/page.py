"""Clean one fetched page: main-content Markdown, metadata, structured data, content hash."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from scraper.clean.dom import parse_html
from scraper.clean.main_content import CleanedPage, clean_tree
from scraper.clean.structured_data import structured_data_of


@dataclass
class PageContent(CleanedPage):
    """Everything later stages read of a page, and the hash that says when it changed."""

    structured_data: dict[str, list[Any]] = field(default_factory=dict)
    content_hash: str = ""
    source_url: str = ""  # the URL it was cleaned for: relative IRIs in its markup resolve here
    # Structured data blocks left out as unsafe to read: "reason_code: what and why" each.
    skipped: list[str] = field(default_factory=list)


def content_hash(markdown: str, structured_data: dict[str, Any]) -> str:
    """sha256 of what later stages consume: the Markdown and the structured data."""
    digest = hashlib.sha256(markdown.encode("utf-8"))
    digest.update(json.dumps(structured_data, sort_keys=True, default=str).encode("utf-8"))
    return digest.hexdigest()


def clean_page(html: str, url: str) -> PageContent:
    """The content of ``html`` fetched from ``url``; never raises on bad markup.

    The page is parsed once. Cleaning prunes the tree (the head goes) and extruct's RDFa pass
    changes the tree it reads, so the structured data is read from a copy (a third of the
    parse's cost).
    """
    tree = parse_html(html)
    skipped: list[str] = []
    structured = structured_data_of(copy.deepcopy(tree), url, skipped)
    cleaned = clean_tree(tree, url)
    return PageContent(
        **dataclasses.asdict(cleaned),
        structured_data=structured,
        content_hash=content_hash(cleaned.markdown, structured),
        source_url=url,
        skipped=skipped,
    )
