"""The public Python API: each stage in one call, no Scrapy, typed results.

    page = clean_page(html, url)                      # Markdown, metadata, structured data
    chunks = chunk_markdown(page.markdown)            # token-counted chunks
    facts = await extract_page(page, client=client)   # PageFacts (LLM + structured data)
    with open_store("kg") as store:
        store_page(store, url, facts, page=page)      # the page's named graph, replaced
        rows = query(store, "SELECT ...")

and ``scrape(url_or_html, schema=...)``, all of it for one page in one synchronous call.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

import openai
import urllib3
from pydantic import BaseModel
from pyoxigraph import QueryBoolean, QuerySolutions

from prompts import DEFAULT_PROMPT, load_prompt
from schemas import load_schema
from scraper import settings as defaults
from scraper.chunk import Chunk, chunk_markdown
from scraper.clean import PageContent, clean_page
from scraper.extract import Extractor
from scraper.extract.llm import (
    CostMeter,
    LLMCache,
    LLMSettings,
    StructuredLLM,
    llm_configured,
    make_openai_client,
    price_table,
)
from scraper.facts import PageFacts
from scraper.fetch.addresses import AddressPolicy, AddressRefused, system_lookup
from scraper.fetch.decoding import decode_html
from scraper.graph import GraphStore, PageProvenance, ReplaceResult
from scraper.graph import open_store as _open_store
from scraper.graph.browse import entity_views, page_facts, search_entities
from scraper.graph.queries import run_query

__all__ = [
    "FetchError",
    "ScrapeResult",
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

REDIRECT_MAX_TIMES = 10


class FetchError(Exception):
    """A page that could not be fetched, with a message meant for users."""


@dataclass
class ScrapeResult:
    """What :func:`scrape` found in one page."""

    url: str  # after redirects (the given URL for HTML)
    page: PageContent  # Markdown, metadata, structured data, content hash
    facts: PageFacts  # entities, relations and how they were extracted

    @property
    def markdown(self) -> str:
        return self.page.markdown


def _schema(schema: type[BaseModel] | str | None) -> type[BaseModel]:
    if schema is None:
        return load_schema(defaults.EXTRACTION_SCHEMA)
    return load_schema(schema) if isinstance(schema, str) else schema


async def extract_page(
    page: PageContent | str,
    *,
    url: str = "",
    structured_data: Mapping[str, Any] | None = None,
    chunks: list[Chunk] | None = None,
    schema: type[BaseModel] | str | None = None,
    client: openai.AsyncOpenAI | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    model: str | None = None,
    prompt_version: str = DEFAULT_PROMPT,
    chunk_size: int = defaults.CHUNK_SIZE_TOKENS,
    chunk_overlap: int = defaults.CHUNK_OVERLAP_TOKENS,
    cache_dir: str | Path | None = None,
    max_tokens: int = defaults.LLM_MAX_TOKENS,
    timeout: float = defaults.LLM_TIMEOUT,
    llm_settings: LLMSettings | None = None,
) -> PageFacts:
    """The facts of one cleaned page (or of Markdown with its ``structured_data``).

    The LLM is ``client`` (any ``openai.AsyncOpenAI``-compatible client), else one made
    for ``base_url``/``api_key``, else one from ``OPENAI_API_KEY``/``OPENAI_BASE_URL``;
    with none of them only the structured data is used (``structured_data_only``).
    ``llm_settings`` gives every call setting at once (``model``, ``timeout`` and
    ``max_tokens`` are its shorthands). The
    page is chunked here unless ``chunks`` (from :func:`chunk_markdown`) are given.
    Never raises for LLM trouble: a failed extraction has ``status`` ``failed`` and a
    ``failure_reason``, and still holds the structured data.
    """
    if isinstance(page, PageContent):
        markdown, data = page.markdown, dict(page.structured_data)
        url = url or page.source_url or page.canonical_url or ""
    else:
        markdown, data = page, dict(structured_data or {})
    if chunks is None:
        chunks = chunk_markdown(markdown, chunk_size, chunk_overlap)
    own_client = None
    if llm_settings is None:
        llm_settings = LLMSettings(
            model=model or defaults.LLM_MODEL, timeout=timeout, max_tokens=max_tokens
        )
    if client is None and (base_url or api_key or llm_configured()):
        client = own_client = make_openai_client(
            llm_settings.timeout, api_key=api_key, base_url=base_url
        )
    llm = None
    if client is not None:
        llm = StructuredLLM(
            client, llm_settings, prices=price_table(), meter=CostMeter(), on_stat=_no_stat
        )
    cache = LLMCache(Path(cache_dir)) if cache_dir is not None and llm is not None else None
    extractor = Extractor(
        schema=_schema(schema),
        prompt=load_prompt(prompt_version),
        llm=llm,
        cache=cache,
        on_stat=_no_stat,
    )
    try:
        outcome = await extractor.extract_page(
            url=url, markdown=markdown, chunks=chunks, structured_data=data
        )
    finally:
        if own_client is not None:
            await own_client.close()
        if cache is not None:
            cache.close()
    return outcome.result


def _no_stat(key: str, value: float) -> None:
    pass


def open_store(location: str | Path = defaults.GRAPH_STORE, *, write: bool = True) -> GraphStore:
    """The graph store at ``location``: a folder (embedded pyoxigraph) or a SPARQL endpoint URL.

    Use it as a context manager (or call ``close()``); ``write=False`` opens a folder read-only.
    """
    return _open_store(str(location), write=write)


def store_page(
    store: GraphStore,
    url: str,
    facts: PageFacts,
    *,
    page: PageContent | None = None,
    fetched_at: str | None = None,
) -> ReplaceResult:
    """Store a page's facts in its named graph (``url``), replacing what it had."""
    provenance = PageProvenance(
        url=url,
        fetched_at=fetched_at or datetime.now(UTC).isoformat(timespec="seconds"),
        content_hash=page.content_hash if page is not None else None,
        model=facts.model,
        prompt_version=facts.prompt_version,
        canonical_url=page.canonical_url if page is not None else None,
        extraction_status=facts.status.value,
        schema=facts.schema,
    )
    return store.replace_page(provenance, facts)


def query(
    store: GraphStore, sparql: str, *, allow_service: bool = False, limit: int | None = None
) -> list[dict[str, str]] | bool | list[str]:
    """Run SPARQL (prefixes ``schema:``, ``rdf:``, ``xsd:``, ``owl:``, ``ss:`` predeclared)
    over the union of the page graphs (``GRAPH ?g`` reaches every graph).

    SELECT gives rows of ``{variable: value}`` (IRIs and literals as strings, unbound
    variables left out), ASK a bool, CONSTRUCT/DESCRIBE N-Triples lines; ``limit`` keeps
    the first rows (or lines) only, reading no more. Updates, and a federated query
    (``SERVICE``) unless ``allow_service``, raise ``GraphStoreError``.
    """
    result = run_query(store, sparql, allow_service=allow_service)
    if isinstance(result, QueryBoolean):
        return bool(result)
    if isinstance(result, QuerySolutions):
        names = [v.value for v in result.variables]
        rows = itertools.islice(result, limit)
        return [{n: row[n].value for n in names if row[n] is not None} for row in rows]
    return [f"{t.subject} {t.predicate} {t.object} ." for t in itertools.islice(result, limit)]


def describe_entity(store: GraphStore, name: str, limit: int | None = None) -> list[dict[str, Any]]:
    """Every entity called ``name`` (name, alias, an identity a page gave it, or its IRI):
    types, names, aliases, attributes, relations in and out with their pages, how each
    mention was resolved (LLM or structured data), and ``sources``: each page's fetch time,
    content hash, model and prompt version. ``limit`` lists at most that many pages per
    entity (their relations and mentions; ``counts``: pages and mentions in all). Raises
    ``GraphStoreError`` (with similar names) when there is none."""
    return entity_views(store, name, limit)


def _pool(parts: SplitResult, policy: AddressPolicy, timeout: float) -> urllib3.HTTPConnectionPool:
    """A connection pool to the one checked address of ``parts``'s host (see AddressPolicy)."""
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        address = policy.address_to_connect(host, port, system_lookup)
    except AddressRefused as exc:
        raise FetchError(str(exc)) from None
    except OSError as exc:
        raise FetchError(f"cannot resolve {host}: {exc}") from None
    headers = {"User-Agent": defaults.USER_AGENT, "Host": parts.netloc.rpartition("@")[2]}
    if parts.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address,
            port,
            headers=headers,
            timeout=timeout,
            server_hostname=host,
            assert_hostname=host,
        )
    return urllib3.HTTPConnectionPool(address, port, headers=headers, timeout=timeout)


def fetch_html(
    url: str,
    *,
    allow_private_addresses: bool = False,
    allowed_private_hosts: Sequence[str] = (),
    timeout: float = defaults.DOWNLOAD_TIMEOUT,
    max_size: int = defaults.DOWNLOAD_MAXSIZE,
) -> tuple[str, str]:
    """(final URL, decoded HTML) of ``url``, following redirects; raises :class:`FetchError`.

    Every hop obeys the crawl's address policy: hosts resolving to private, loopback or
    link-local addresses are refused unless ``allow_private_addresses`` or named in
    ``allowed_private_hosts`` (``host`` or ``host:port``); each connection goes to the address
    that was checked.
    """
    try:
        policy = AddressPolicy.from_entries(allow_private_addresses, allowed_private_hosts)
    except ValueError as exc:
        raise FetchError(f"allowed_private_hosts: {exc}") from None
    for _ in range(REDIRECT_MAX_TIMES + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"not an http(s) URL: {url}")
        pool = _pool(parts, policy, timeout)
        target = urlunsplit(("", "", parts.path or "/", parts.query, ""))
        try:
            response = pool.urlopen(
                "GET", target, retries=False, redirect=False, preload_content=False
            )
        except urllib3.exceptions.HTTPError as exc:
            raise FetchError(f"cannot fetch {url}: {exc}") from None
        finally:
            pool.close()
        with response:
            location = response.headers.get("Location")
            if response.status in (301, 302, 303, 307, 308) and location:
                url = urljoin(url, location)
                continue
            if response.status >= 400:
                raise FetchError(f"{url} answered HTTP {response.status}")
            content_type = response.headers.get("Content-Type", "")
            if content_type and "html" not in content_type.lower():
                raise FetchError(f"{url} is not HTML ({content_type})")
            body = response.read(max_size + 1)
            if len(body) > max_size:
                raise FetchError(f"{url} is bigger than {max_size} bytes")
            charset = _charset(content_type)
            return url, decode_html(body, charset)[0]
    raise FetchError(f"{url}: more than {REDIRECT_MAX_TIMES} redirects")


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip("\"'")
    return None


def scrape(
    url_or_html: str,
    *,
    schema: type[BaseModel] | str | None = None,
    model: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    url: str | None = None,
    allow_private_addresses: bool = False,
    allowed_private_hosts: Sequence[str] = (),
    **options: Any,
) -> ScrapeResult:
    """Fetch (or take) one page, clean it and extract its facts, in one call.

    ``url_or_html`` is an http(s) URL, fetched with the crawl's address policy, or the
    page's HTML (``url`` then says where it came from, for relative links and identifiers).
    The LLM comes from ``base_url``/``api_key`` or ``OPENAI_BASE_URL``/``OPENAI_API_KEY``;
    without any, the page's structured data only (status ``structured_data_only``).
    ``options`` go to :func:`extract_page` (``chunk_size``, ``cache_dir``, ...).
    """
    text = url_or_html.strip()
    if urlsplit(text).scheme in ("http", "https") and not text.startswith("<"):
        final_url, html = fetch_html(
            text,
            allow_private_addresses=allow_private_addresses,
            allowed_private_hosts=allowed_private_hosts,
        )
    else:
        final_url, html = url or "", url_or_html
    page = clean_page(html, final_url)
    facts = asyncio.run(
        extract_page(
            page,
            url=final_url,
            schema=schema,
            model=model,
            base_url=base_url,
            api_key=api_key,
            **options,
        )
    )
    return ScrapeResult(url=final_url, page=page, facts=facts)
