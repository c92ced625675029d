"""Extract one page: cached, schema-validated LLM answers per chunk, merged, grounded,
and combined with the page's structured data."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from prompts import PromptTemplate
from schemas import schema_name
from schemas.knowledge_graph import ENTITY_TYPES, KnowledgeGraph
from scraper import settings as defaults
from scraper.extract.grounding import ground
from scraper.extract.llm import (
    AnswerCache,
    DroppedItem,
    LLMError,
    ParsedAnswer,
    StructuredLLM,
    TruncatedError,
    Usage,
    cache_key,
)
from scraper.extract.mapping import graph_from_model
from scraper.extract.merge import merge_entities, merge_models, merge_relations
from scraper.extract.schemaorg import structured_data_graph
from scraper.facts import Chunk, Entity, ExtractionStatus, PageFacts, Relation

logger = logging.getLogger(__name__)

# A truncated answer is retried on the two halves of its text, at most this deep
# (a chunk becomes at most 2**MAX_SPLIT_DEPTH pieces) ...
MAX_SPLIT_DEPTH = 2
# The failure of an unchanged page whose last extraction failed: not retried by a re-crawl
# (an unchanged site costs no LLM call), but by `scrapy retry_failed`.
NOT_RETRIED = "llm_not_retried"
# ... while a half keeps at least this many characters; past that, one retry
# with twice the answer budget, then the chunk fails as llm_truncated.
MIN_SPLIT_CHARS = 200
# Seconds between looks at the cache while another worker pays for the same text.
CLAIM_POLL_SECONDS = 0.05
# A page with more chunks than the extractor's max_chunks costs no LLM call: it fails so.
TOO_MANY_CHUNKS = "too_many_chunks"


def split_text(text: str) -> tuple[str, str] | None:
    """``text`` cut in two near its middle at a paragraph, line, sentence or word end."""
    if len(text) < 2 * MIN_SPLIT_CHARS:
        return None
    middle = len(text) // 2
    for separator in ("\n\n", "\n", ". ", " "):
        before = text.rfind(separator, MIN_SPLIT_CHARS, middle + 1)
        after = text.find(separator, middle, len(text) - MIN_SPLIT_CHARS)
        cuts = [c for c in (before, after) if c != -1]
        if cuts:
            cut = min(cuts, key=lambda c: abs(c - middle)) + len(separator)
            return text[:cut], text[cut:]
    return text[:middle], text[middle:]


@dataclass
class PageExtraction:
    result: PageFacts  # the PageRecord.extraction contract
    failure: LLMError | None  # set when result.status is ExtractionStatus.FAILED


class Extractor:
    """Turns a page's chunks and structured data into its facts (``PageRecord.extraction``).

    ``llm`` None means no LLM is configured: only structured data is used. A page of more
    than ``max_chunks`` chunks (CHUNK_MAX_PER_PAGE) is not sent to the LLM at all: it fails
    as ``too_many_chunks``, with its structured data.
    """

    def __init__(
        self,
        *,
        schema: type[BaseModel],
        prompt: PromptTemplate,
        llm: StructuredLLM | None,
        cache: AnswerCache | None,
        on_stat: Callable[[str, float], None],
        max_chunks: int = defaults.CHUNK_MAX_PER_PAGE,
    ) -> None:
        if max_chunks < 1:
            raise ValueError(f"CHUNK_MAX_PER_PAGE must be at least 1, not {max_chunks}")
        self.max_chunks = max_chunks
        self.schema = schema
        self.prompt = prompt
        self.llm = llm
        self.cache = cache
        self.on_stat = on_stat
        self.schema_json = schema.model_json_schema()
        self._schema_text = json.dumps(self.schema_json, sort_keys=True)

    @property
    def model(self) -> str | None:
        return self.llm.settings.model if self.llm else None

    async def extract_page(
        self,
        *,
        url: str,
        markdown: str,
        chunks: list[Chunk],
        structured_data: dict[str, Any],
        cached_only: bool = False,
    ) -> PageExtraction:
        """The extraction result of one page and, when it failed, why (never raises).

        The page's structured data is in the result whatever becomes of the LLM calls.
        ``cached_only``: answer from the LLM cache, never call the LLM (a page whose content
        did not change since its last extraction); a chunk the cache lacks fails the page
        as ``llm_not_retried``.
        """
        usage = Usage()
        try:
            entities, relations = structured_data_graph(structured_data, base_url=url)
        except Exception as exc:
            error = _as_llm_error(exc)
            result = self._result(ExtractionStatus.FAILED, failure_reason=error.reason)
            result.usage = usage.as_dict()
            return PageExtraction(result, error)
        result = self._result(ExtractionStatus.STRUCTURED_DATA_ONLY)
        failure: LLMError | None = None
        texts = [chunk.text for chunk in chunks if chunk.text.strip()]
        if self.llm is not None and not texts:
            result.status = ExtractionStatus.SKIPPED
        elif self.llm is not None and len(texts) > self.max_chunks:
            self.on_stat(f"llm/skipped/{TOO_MANY_CHUNKS}", 1)
            failure = LLMError(
                TOO_MANY_CHUNKS,
                f"more than CHUNK_MAX_PER_PAGE={self.max_chunks} chunks: no LLM call made "
                "(raise the setting, then run scrapy retry_failed, to extract the page)",
            )
            result.status = ExtractionStatus.FAILED
            result.failure_reason = failure.reason
        elif self.llm is not None:
            try:
                llm_entities, llm_relations = await self._llm_graph(
                    texts, markdown, usage, result, cached_only
                )
            except Exception as exc:
                # Successful chunks are cached: a retry pays only for the failed ones.
                failure = _as_llm_error(exc)
                result.status = ExtractionStatus.FAILED
                result.failure_reason = failure.reason
            else:
                entities += llm_entities
                relations += llm_relations
                result.status = ExtractionStatus.OK
        entities, canonical = merge_entities(entities)
        result.entities = entities
        result.relations = merge_relations(relations, canonical)
        result.usage = usage.as_dict()
        return PageExtraction(result, failure)

    async def _llm_graph(
        self, texts: list[str], markdown: str, usage: Usage, result: PageFacts, cached_only: bool
    ) -> tuple[list[Entity], list[Relation]]:
        """The grounded entities and relations the LLM finds in ``texts``; counts in ``result``."""
        self.on_stat("llm/chunks", len(texts))
        dropped: list[DroppedItem] = []
        answers = await asyncio.gather(
            *(self._chunk_answer(text, usage, dropped, cached_only=cached_only) for text in texts),
            return_exceptions=True,
        )
        models = []
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
            models.append(answer)
        merged = functools.reduce(merge_models, models)
        entities, relations = graph_from_model(merged)
        entities, relations, ungrounded = ground(entities, relations, markdown)
        result.dropped_ungrounded = ungrounded
        result.dropped_invalid = len(dropped)
        if ungrounded:
            self.on_stat("llm/dropped_ungrounded", ungrounded)
        if not isinstance(merged, KnowledgeGraph):
            result.data = merged.model_dump(mode="json")
        return entities, relations

    def _result(self, status: ExtractionStatus, failure_reason: str | None = None) -> PageFacts:
        """A page's facts with no entities yet: status, schema, model, prompt version."""
        return PageFacts(
            status=status,
            schema=schema_name(self.schema),
            model=self.model,
            prompt_version=self.prompt.version if self.llm else None,
            failure_reason=failure_reason,
        )

    async def _chunk_answer(
        self,
        text: str,
        usage: Usage,
        dropped: list[DroppedItem],
        depth: int = 0,
        cached_only: bool = False,
    ) -> BaseModel:
        """The validated answer for one piece of text, from the cache or the LLM.

        What the LLM answered but did not validate is added to ``dropped``.
        """
        key = cache_key(self.model or "", self.prompt.version, self._schema_text, text)
        cached = await self._cached_answer(key)
        if cached is not None:
            usage.cache_hits += 1
            self.on_stat("llm/cache_hits", 1)
            return cached
        self.on_stat("llm/cache_misses", 1)
        try:
            if cached_only:
                raise LLMError(
                    NOT_RETRIED,
                    "the page did not change since its extraction failed: "
                    "run `scrapy retry_failed` to extract it again",
                )
            try:
                parsed = await self._ask(text, usage)
            except TruncatedError:
                answer = await self._answer_truncated(text, usage, dropped, depth)
            else:
                dropped.extend(parsed.dropped)
                answer = parsed.model
        except BaseException:
            if self.cache is not None:
                self.cache.release(key)
            raise
        if self.cache is not None:
            self.cache.put(key, answer.model_dump_json())
        return answer

    async def _cached_answer(self, key: str) -> BaseModel | None:
        """The cached answer of ``key``; None once this process may pay for it (its claim),
        after waiting while another worker of a fleet pays for the same text. A value that no
        longer validates (edited, torn, from an older schema) is a miss, replaced by the next
        answer."""
        if self.cache is None:
            return None
        while True:
            cached = self.cache.get(key)
            if cached is not None:
                try:
                    return self.schema.model_validate_json(cached)
                except ValueError as exc:  # pydantic's ValidationError is a ValueError
                    self.on_stat("llm/cache_invalid", 1)
                    logger.warning("An LLM cache entry does not read as an answer: %s", exc)
            if self.cache.claim(key):
                return None
            await asyncio.sleep(CLAIM_POLL_SECONDS)

    async def _answer_truncated(
        self, text: str, usage: Usage, dropped: list[DroppedItem], depth: int
    ) -> BaseModel:
        """The answer for a text whose answer was cut: its halves merged, or a bigger budget."""
        assert self.llm is not None
        halves = split_text(text) if depth < MAX_SPLIT_DEPTH else None
        if halves is None:
            parsed = await self._ask(text, usage, max_tokens=2 * self.llm.settings.max_tokens)
            dropped.extend(parsed.dropped)
            return parsed.model
        self.on_stat("llm/splits", 1)
        first, second = await asyncio.gather(
            *(self._chunk_answer(half, usage, dropped, depth + 1) for half in halves)
        )
        return merge_models(first, second)

    async def _ask(self, text: str, usage: Usage, max_tokens: int | None = None) -> ParsedAnswer:
        # The delimiter id derives from the text, so the text cannot contain its own end marker
        # (it would have to contain its own hash) and identical text gives identical prompts.
        delimiter_id = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        system = self.prompt.system.substitute(
            delimiter_id=delimiter_id,
            entity_types=", ".join(ENTITY_TYPES),
            schema_name=self.schema.__name__,
            schema_json=self._schema_text,
        )
        user = self.prompt.user.substitute(delimiter_id=delimiter_id, page_text=text)
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]

        def reask(errors: str) -> str:
            return self.prompt.reask.substitute(errors=errors, schema_name=self.schema.__name__)

        assert self.llm is not None
        return await self.llm.generate(
            messages, self.schema, self.schema_json, reask, usage, max_tokens=max_tokens
        )


def _as_llm_error(exc: BaseException) -> LLMError:
    if isinstance(exc, LLMError):
        return exc
    # A bug, not an LLM failure: keep the traceback in the log, the page as a failure.
    logger.error("extraction error", exc_info=exc)
    return LLMError("extract_error", f"{type(exc).__name__}: {exc}")
