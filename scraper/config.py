"""Scrapy settings turned into stage objects: the one reader of LLM_, CHUNK_, GRAPH_ settings.

The stages take plain objects (LLMSettings, chunk sizes, store options) whose defaults are the
settings' own defaults (scraper/settings.py), so a stage used from Python without Scrapy
behaves as a crawl with default settings does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scrapy.settings import BaseSettings

from scraper import settings as defaults
from scraper.clean.pool import CleanPool, default_workers
from scraper.extract.llm import LLMSettings, parse_mode, price_table
from scraper.fetch.addresses import AddressPolicy
from scraper.fetch.frontier import FrontierLimits
from scraper.graph import GraphStore, open_store, write_refusal
from scraper.graph.live import LiveGraph
from scraper.paths import project_dir, project_path
from scraper.spiders.arguments import argument, at_least


def _optional_float(value: object) -> float | None:
    return None if value in (None, "", "None") else float(value)  # type: ignore[arg-type]


def _setting(settings: BaseSettings, name: str) -> object:
    """A setting's value, else its default in scraper/settings.py (settings made without the
    project's, as Scrapy's test crawlers and the Python API make them)."""
    value = settings.get(name)
    return getattr(defaults, name) if value is None else value


def _count(settings: BaseSettings, name: str, minimum: int = 1) -> int:
    """A setting that counts something (calls, tokens, pages): a whole number >= ``minimum``,
    else an ArgumentError naming it (a 0 is never quietly taken for a 1)."""
    value = _setting(settings, name)
    return argument(name, value, at_least(minimum), f"a whole number >= {minimum}")


def _seconds(settings: BaseSettings, name: str) -> float:
    """A setting in seconds that may be 0; a negative one is an ArgumentError naming it."""
    return argument(name, _setting(settings, name), _not_negative, "seconds >= 0")


def address_policy(settings: BaseSettings) -> AddressPolicy:
    """Which addresses requests, the browser and fetch_html may reach (ALLOW_PRIVATE_*)."""
    try:
        return AddressPolicy.from_entries(
            settings.getbool("ALLOW_PRIVATE_ADDRESSES"), settings.getlist("ALLOWED_PRIVATE_HOSTS")
        )
    except ValueError as exc:
        raise ValueError(f"ALLOWED_PRIVATE_HOSTS: {exc}") from None


def llm_settings(settings: BaseSettings) -> LLMSettings:
    """How to call the model (LLM_* settings)."""
    return LLMSettings(
        model=settings.get("LLM_MODEL"),
        concurrency=_count(settings, "LLM_CONCURRENCY"),
        timeout=settings.getfloat("LLM_TIMEOUT"),
        max_retries=_count(settings, "LLM_MAX_RETRIES", 0),
        backoff_initial=settings.getfloat("LLM_BACKOFF_INITIAL"),
        backoff_max=settings.getfloat("LLM_BACKOFF_MAX"),
        max_reasks=_count(settings, "LLM_MAX_REASKS", 0),
        max_tokens=_count(settings, "LLM_MAX_TOKENS"),
        temperature=_optional_float(settings.get("LLM_TEMPERATURE")),
        response_format=parse_mode(settings.get("LLM_RESPONSE_FORMAT")),
        fail_fast_after=_count(settings, "LLM_FAIL_FAST_AFTER"),
        loop_penalty=settings.getfloat("LLM_LOOP_PENALTY"),
    )


@dataclass(frozen=True)
class ExtractionConfig:
    """What the extraction stage needs besides the call settings."""

    llm: LLMSettings
    prompt_version: str
    schema: str
    prices: dict[str, tuple[float, float]]
    budget_usd: float | None
    cache_dir: Path | None  # None: no answer cache
    audit_log: Path | None
    failures_file: Path
    max_chunks: int  # CHUNK_MAX_PER_PAGE: a page with more is not sent to the LLM


def extraction_config(settings: BaseSettings) -> ExtractionConfig:
    """The extraction stage's configuration (LLM_*, EXTRACTION_SCHEMA, FAILURES_FILE)."""
    audit = settings.get("LLM_AUDIT_LOG")
    return ExtractionConfig(
        llm=llm_settings(settings),
        prompt_version=settings.get("LLM_PROMPT_VERSION"),
        schema=settings.get("EXTRACTION_SCHEMA"),
        prices=price_table(settings.getdict("LLM_PRICES")),
        budget_usd=_optional_float(settings.get("LLM_BUDGET_USD")),
        cache_dir=(
            project_path(settings.get("LLM_CACHE_DIR"))
            if settings.getbool("LLM_CACHE_ENABLED")
            else None
        ),
        audit_log=project_path(audit) if audit else None,
        failures_file=project_path(settings.get("FAILURES_FILE")),
        max_chunks=_count(settings, "CHUNK_MAX_PER_PAGE"),
    )


@dataclass(frozen=True)
class ChunkConfig:
    size: int
    overlap: int
    encoding: str
    max_per_page: int  # CHUNK_MAX_PER_PAGE: chunking stops one chunk past it


def chunk_config(settings: BaseSettings) -> ChunkConfig:
    """Chunk sizes, tokenizer and the chunks a page may have (CHUNK_* settings)."""
    return ChunkConfig(
        size=_count(settings, "CHUNK_SIZE_TOKENS"),
        overlap=_count(settings, "CHUNK_OVERLAP_TOKENS", 0),
        encoding=settings.get("CHUNK_ENCODING"),
        max_per_page=_count(settings, "CHUNK_MAX_PER_PAGE"),
    )


def clean_pool(settings: BaseSettings) -> CleanPool:
    """The pool of worker processes for the render decision, cleaning and chunking
    (CLEAN_WORKERS: None for one per core, 0 inline; CLEAN_TIMEOUT; CLEAN_MAX_MEMORY_MB)."""
    workers = settings.get("CLEAN_WORKERS")
    return CleanPool(
        workers=(
            default_workers()
            if workers in (None, "", "None")
            else argument("CLEAN_WORKERS", workers, at_least(0), "a whole number >= 0 (0: inline)")
        ),
        timeout=argument("CLEAN_TIMEOUT", settings.get("CLEAN_TIMEOUT"), _positive, "seconds > 0"),
        max_memory_mb=argument(
            "CLEAN_MAX_MEMORY_MB",
            settings.get("CLEAN_MAX_MEMORY_MB"),
            at_least(0),
            "a whole number of megabytes >= 0 (0: no limit)",
        ),
    )


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError()
    return value


def _not_negative(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise ValueError()
    return value


def frontier_limits(settings: BaseSettings, max_pages: int | None = None) -> FrontierLimits:
    """The crawl's bounds: DEPTH_LIMIT, CRAWL_MAX_PAGES (``max_pages``, from ``-a max_pages``,
    wins), SITE_MAX_PAGES, URL_PATTERN_MAX_PAGES, URL_MAX_REPEATED_SEGMENTS (0: no bound).
    A value that is no whole number >= 0 is an ArgumentError naming the setting."""

    def get(name: str) -> int:
        return argument(name, settings.get(name), at_least(0), "a whole number >= 0 (0: none)")

    crawl_max = get("CRAWL_MAX_PAGES")
    return FrontierLimits(
        depth_limit=get("DEPTH_LIMIT"),
        max_pages=max_pages if max_pages is not None else (crawl_max or None),
        site_max_pages=get("SITE_MAX_PAGES"),
        pattern_max_pages=get("URL_PATTERN_MAX_PAGES"),
        max_repeats=get("URL_MAX_REPEATED_SEGMENTS"),
    )


def open_store_from_settings(settings: BaseSettings, *, write: bool) -> GraphStore:
    """The store GRAPH_STORE names, opened with the GRAPH_* settings."""
    return open_store(
        settings.get("GRAPH_STORE"),
        write=write,
        base_dir=project_dir(),
        update_url=settings.get("GRAPH_STORE_UPDATE_URL") or None,
        timeout=settings.getfloat("GRAPH_STORE_TIMEOUT"),
        lock_timeout=settings.getfloat("GRAPH_STORE_LOCK_TIMEOUT"),
        snapshot_interval=settings.getfloat("GRAPH_SNAPSHOT_INTERVAL"),
    )


def live_graph_from_settings(settings: BaseSettings) -> LiveGraph:
    """The store GRAPH_STORE names, for a long-running reader (``scrapy graph serve``)."""
    return LiveGraph(
        settings.get("GRAPH_STORE"),
        base_dir=project_dir(),
        update_url=settings.get("GRAPH_STORE_UPDATE_URL") or None,
        timeout=settings.getfloat("GRAPH_STORE_TIMEOUT"),
        index_refresh=settings.getfloat("EXPLORER_INDEX_REFRESH"),
    )


@dataclass(frozen=True)
class GraphWriteConfig:
    """How the crawl writes the store (GRAPH_STORE, GRAPH_* and KEEP_REMOVED_PAGES)."""

    location: str
    retry_times: int
    lease_seconds: float
    keep_removed: bool
    batch_pages: int
    batch_wait: float


def graph_write_config(settings: BaseSettings) -> GraphWriteConfig:
    return GraphWriteConfig(
        location=settings.get("GRAPH_STORE"),
        retry_times=_count(settings, "GRAPH_STORE_RETRY_TIMES", 0),
        lease_seconds=settings.getfloat("GRAPH_LEASE_SECONDS"),
        keep_removed=settings.getbool("KEEP_REMOVED_PAGES"),
        batch_pages=_count(settings, "GRAPH_WRITE_BATCH"),
        batch_wait=_seconds(settings, "GRAPH_WRITE_WAIT"),
    )


def check_crawl_settings(settings: BaseSettings) -> None:
    """Read every setting the crawl's stages take, as they will: a bad one is an error naming
    it (ArgumentError or ValueError, one line) before the crawl starts, not a traceback once
    it runs, nor a value quietly changed."""
    address_policy(settings)
    extraction_config(settings)
    chunk_config(settings)
    graph_write_config(settings)
    clean_pool(settings)


def store_write_refusal(settings: BaseSettings, holder: str | None = None) -> str | None:
    """Why a crawl could not write the store GRAPH_STORE names now, or None (a lease
    ``holder`` holds is no refusal)."""
    return write_refusal(
        settings.get("GRAPH_STORE"),
        base_dir=project_dir(),
        timeout=settings.getfloat("GRAPH_STORE_TIMEOUT"),
        holder=holder,
    )
