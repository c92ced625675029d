"""Re-crawl policy: what a fetched page's record means for the facts the store holds.

A page whose content and extraction settings did not change keeps its facts; a page whose LLM
extraction failed still brings its structured data unless the stored facts came from the same
content; failed attempts are remembered for retry.
"""

from __future__ import annotations

from scraper.facts import ExtractionStatus, Stage
from scraper.graph.mapping import PageProvenance
from scraper.graph.store import PageState
from scraper.items import PageRecord
from scraper.urls import with_valid_percent_encoding

STORED_STATUSES = (ExtractionStatus.OK, ExtractionStatus.STRUCTURED_DATA_ONLY)


def page_provenance(record: PageRecord) -> PageProvenance:
    """Provenance of a record's facts; the graph is named after the URL after redirects
    (validly percent-encoded, as the store names it)."""
    facts = record.extraction
    return PageProvenance(
        url=with_valid_percent_encoding(record.final_url or record.url),
        fetched_at=record.fetched_at,
        content_hash=record.content_hash,
        model=facts.model if facts else None,
        prompt_version=facts.prompt_version if facts else None,
        etag=record.etag,
        last_modified=record.last_modified,
        requested_url=record.url,
        canonical_url=record.canonical_url,
        extraction_status=facts.status.value if facts else None,
        schema=facts.schema if facts else None,
    )


def attempt_failures(record: PageRecord) -> list[tuple[str, str, str]]:
    """Why a record brought no facts to store, as (stage, reason, detail) triples."""
    failures: list[tuple[str, str, str]] = [(f.stage, f.reason, f.detail) for f in record.failures]
    facts = record.extraction
    failed = facts is not None and facts.status is ExtractionStatus.FAILED
    if facts is not None and failed and not any(f[0] == Stage.EXTRACT for f in failures):
        failures.append((Stage.EXTRACT, facts.failure_reason or "extraction_failed", ""))
    return failures


def brings_new_facts(
    status: ExtractionStatus | None, previous: PageState | None, provenance: PageProvenance
) -> bool:
    """True when the record's facts should replace what the store holds for the page.

    A page whose LLM extraction failed still brings its structured data, unless the
    stored facts came from this very content (an LLM outage must not wipe them).
    """
    if status in STORED_STATUSES:
        return not _same_content(previous, provenance)
    return status is ExtractionStatus.FAILED and (
        previous is None or previous.content_hash != provenance.content_hash
    )


def _same_content(previous: PageState | None, provenance: PageProvenance) -> bool:
    """True when the stored facts came from this content with these extraction settings."""
    return previous is not None and all(
        getattr(previous, name) == getattr(provenance, name)
        for name in ("content_hash", "model", "prompt_version", "schema", "extraction_status")
    )
