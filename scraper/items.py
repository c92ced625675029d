"""The page record: one per page request, exported as one JSON line.

Every page request the spider schedules ends as exactly one ``PageRecord``:
a processed page, or a page whose ``failures`` say why it was not (fully)
processed. Stages fill their own fields and append to ``failures``; none
drops a record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scraper.facts import Chunk, PageFacts, Stage, facts_as_json
from scraper.redaction import redact_text

if TYPE_CHECKING:
    from scraper.clean.page import PageContent


@dataclass
class Failure:
    """Why a stage could not finish a page: ``reason`` is a short stable code.

    ``detail`` is redacted (keys, credentials): it is written to the feed, the failures
    file and the graph.
    """

    stage: Stage
    reason: str  # e.g. http_404, non_html, too_large, llm_invalid_output
    detail: str = ""

    def __post_init__(self) -> None:
        self.stage = Stage(self.stage)
        self.detail = redact_text(self.detail)


@dataclass
class PageRecord:
    url: str  # the URL that was requested
    final_url: str | None = None  # after redirects
    status: int | None = None  # HTTP status, None when no response arrived
    fetched_at: str | None = None  # ISO 8601, UTC
    rendered: bool = False
    render_reason: str | None = None  # why the page was (re)rendered in a browser
    content_type: str | None = None
    charset: str | None = None
    etag: str | None = None  # validators for conditional re-crawls
    last_modified: str | None = None
    # new | changed | unchanged | removed | moved, when the store knew the page before
    change: str | None = None
    content_hash: str | None = None  # sha256 of markdown + structured data
    title: str | None = None
    language: str | None = None
    canonical_url: str | None = None
    published: str | None = None
    modified: str | None = None
    author: str | None = None
    markdown: str | None = None
    structured_data: dict[str, Any] = field(default_factory=dict)
    # Items left out of structured_data, past STRUCTURED_DATA_MAX_BYTES of JSON per page:
    # [{"syntax": "json-ld", "items": 1, "bytes": 2900000, "reason": "too_large"}]
    structured_data_skipped: list[dict[str, Any]] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    # Filled by the extraction stage; exported in the JSON form of PageFacts.as_dict().
    extraction: PageFacts | None = field(default=None, metadata={"serializer": facts_as_json})
    failures: list[Failure] = field(default_factory=list)
    html: str | None = None  # dropped before export unless EXPORT_HTML is on
    # The cleaned page when the render decision made it in the same worker call (one
    # transfer of the HTML); the cleaning pipeline takes it. Never exported.
    cleaned: PageContent | None = field(default=None, repr=False, metadata={"internal": True})

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, stage: Stage, reason: str, detail: str = "") -> None:
        self.failures.append(Failure(stage, reason, detail))
