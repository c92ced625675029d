"""Clean one fetched page: main-content Markdown, metadata, structured data, content hash."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from scraper.clean.main_content import CleanedPage, clean_html
from scraper.clean.structured_data import extract_structured_data


@dataclass
class PageContent(CleanedPage):
    """Everything later stages read of a page, and the hash that says when it changed."""

    structured_data: dict[str, list[Any]] = field(default_factory=dict)
    content_hash: str = ""


def content_hash(markdown: str, structured_data: dict[str, Any]) -> str:
    """sha256 of what later stages consume: the Markdown and the structured data."""
    digest = hashlib.sha256(markdown.encode("utf-8"))
    digest.update(json.dumps(structured_data, sort_keys=True, default=str).encode("utf-8"))
    return digest.hexdigest()


def clean_page(html: str, url: str) -> PageContent:
    """The content of ``html`` fetched from ``url``; never raises on bad markup."""
    cleaned = clean_html(html, url)
    structured = extract_structured_data(html, url)
    return PageContent(
        **dataclasses.asdict(cleaned),
        structured_data=structured,
        content_hash=content_hash(cleaned.markdown, structured),
    )
