"""Structured Chat Completions through the official ``openai`` SDK (public contract 1).

:class:`StructuredLLM` sends one chat, validates the JSON answer against a
Pydantic model, re-asks with the validation errors (bounded), retries 429, 5xx,
timeouts and connection errors with exponential backoff and jitter honouring
Retry-After (the SDK's own retries are off so the counts are ours), bounds the
calls in flight with a semaphore, counts tokens of every attempt and adapts
once to servers that reject ``response_format`` JSON schemas.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import openai
from pydantic import BaseModel, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from scraper.llm.audit import AuditLog
from scraper.llm.cost import CostMeter, Usage, call_cost
from scraper.tokens import count_tokens

logger = logging.getLogger(__name__)

# Local servers (vLLM, Ollama, llama.cpp, LM Studio) need no key but the SDK demands one.
PLACEHOLDER_API_KEY = "no-key-required"
_RETRYABLE_STATUS = {408, 409, 429}
_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*?)\n?```\s*$", re.S)

StatSink = Callable[[str, float], None]


@dataclass(frozen=True)
class LLMSettings:
    """How to call the model (settings ``LLM_*``)."""

    model: str
    concurrency: int = 16
    timeout: float = 60.0
    max_retries: int = 4
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    max_reasks: int = 2
    max_tokens: int = 4096
    temperature: float | None = 0.0


class LLMError(Exception):
    """An LLM call that failed for good; ``reason`` is a short stable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class TruncatedError(LLMError):
    """The answer hit the token limit (``finish_reason == "length"``)."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("llm_truncated", detail)


class BudgetExceeded(LLMError):
    """The crawl's LLM budget is spent: no new call is made."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("llm_budget_exceeded", detail)


def llm_configured(environ: Mapping[str, str] = os.environ) -> bool:
    """True when ``OPENAI_API_KEY`` or ``OPENAI_BASE_URL`` is set."""
    return bool(environ.get("OPENAI_API_KEY") or environ.get("OPENAI_BASE_URL"))


def make_openai_client(
    timeout: float,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    environ: Mapping[str, str] = os.environ,
) -> openai.AsyncOpenAI:
    """An ``AsyncOpenAI`` reading ``OPENAI_*`` like the SDK does, with its retries off.

    With a base URL and no key, a placeholder key is used.
    """
    if not (api_key or environ.get("OPENAI_API_KEY")) and (
        base_url or environ.get("OPENAI_BASE_URL")
    ):
        api_key = PLACEHOLDER_API_KEY
    return openai.AsyncOpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0)


def retry_after_seconds(exc: BaseException) -> float | None:
    """The server's requested wait (``retry-after-ms`` or ``Retry-After``), if any."""
    response = getattr(exc, "response", None)
    if response is None:
        return None
    headers = response.headers
    try:
        if "retry-after-ms" in headers:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        return max(0.0, float(value))
    except ValueError:
        date = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, date.timestamp() - time.time()) if date else None


def is_retryable(exc: BaseException) -> bool:
    """429, 408, 409, 5xx, timeouts and connection errors."""
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in _RETRYABLE_STATUS or exc.status_code >= 500
    return False


def _error_reason(exc: BaseException) -> str:
    if isinstance(exc, openai.APITimeoutError):
        return "llm_timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "llm_connection_error"
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code == 429:
            return "llm_rate_limited"
        if exc.status_code >= 500:
            return "llm_server_error"
        if exc.status_code in (401, 403):
            return "llm_auth_error"
        return f"llm_http_{exc.status_code}"
    return "llm_error"


def _validation_summary(exc: ValidationError, limit: int = 10) -> str:
    """The validation errors as short lines the model can act on."""
    lines = []
    for error in exc.errors(include_url=False)[:limit]:
        where = ".".join(str(part) for part in error["loc"]) or "(root)"
        lines.append(f"{where}: {error['msg']}")
    more = exc.error_count() - limit
    return "; ".join(lines) + (f"; and {more} more" if more > 0 else "")


def parse_answer(content: str, schema: type[BaseModel]) -> BaseModel:
    """The model's answer validated against ``schema`` (a Markdown code fence is tolerated)."""
    fenced = _FENCE.match(content)
    return schema.model_validate_json(fenced.group(1) if fenced else content)


class StructuredLLM:
    """JSON answers validated against a Pydantic model, with retries, re-asks and accounting."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        settings: LLMSettings,
        *,
        prices: Mapping[str, tuple[float, float]],
        meter: CostMeter,
        on_stat: StatSink,
        audit: AuditLog | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.prices = prices
        self.meter = meter
        self.on_stat = on_stat
        self.audit = audit
        self._semaphore = asyncio.Semaphore(settings.concurrency)
        self._backoff = wait_exponential_jitter(
            multiplier=settings.backoff_initial, max=settings.backoff_max
        )
        # Request options some servers reject; each is adapted once, for every later call.
        self._json_schema_supported = True
        self._max_tokens_param = "max_tokens"
        self._send_temperature = settings.temperature is not None
        self._price_warned = False

    async def generate(
        self,
        messages: list[dict[str, str]],
        schema: type[BaseModel],
        schema_json: dict[str, Any],
        reask_message: Callable[[str], str],
        usage: Usage,
        *,
        max_tokens: int | None = None,
    ) -> BaseModel:
        """The answer to ``messages`` as a valid ``schema`` instance.

        Invalid answers are re-asked up to ``max_reasks`` times with the
        validation errors. Every attempt's usage is added to ``usage``.
        Raises :class:`LLMError` (``llm_invalid_output`` after the re-asks),
        :class:`TruncatedError` or :class:`BudgetExceeded`.
        """
        conversation = list(messages)
        errors = ""
        for attempt in range(self.settings.max_reasks + 1):
            if attempt:
                self.on_stat("llm/reasks", 1)
            completion = await self._complete_with_retries(
                conversation, schema, schema_json, usage, max_tokens or self.settings.max_tokens
            )
            choice = completion.choices[0]
            content = choice.message.content or ""
            if choice.finish_reason == "length":
                self.on_stat("llm/truncated", 1)
                raise TruncatedError(f"answer cut at {len(content)} characters")
            if choice.finish_reason == "content_filter" or getattr(choice.message, "refusal", None):
                raise LLMError("llm_refused", str(getattr(choice.message, "refusal", "") or ""))
            try:
                return parse_answer(content, schema)
            except ValidationError as exc:
                errors = _validation_summary(exc)
                self.on_stat("llm/invalid_answers", 1)
            conversation += [
                {"role": "assistant", "content": content},
                {"role": "user", "content": reask_message(errors)},
            ]
        raise LLMError("llm_invalid_output", errors)

    async def _complete_with_retries(
        self,
        messages: list[dict[str, str]],
        schema: type[BaseModel],
        schema_json: dict[str, Any],
        usage: Usage,
        max_tokens: int,
    ) -> Any:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.settings.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception(is_retryable),
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._complete_adapting(
                        messages, schema, schema_json, usage, max_tokens
                    )
        except openai.APIError as exc:
            reason = _error_reason(exc)
            self.on_stat(f"llm/errors/{reason}", 1)
            raise LLMError(reason, str(exc)[:300]) from exc
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        requested = retry_after_seconds(exc) if exc else None
        if requested is not None:
            return min(requested, self.settings.backoff_max)
        return self._backoff(state)

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        self.on_stat("llm/retries", 1)
        self.on_stat(f"llm/retries/{_error_reason(exc) if exc else 'unknown'}", 1)

    async def _complete_adapting(
        self,
        messages: list[dict[str, str]],
        schema: type[BaseModel],
        schema_json: dict[str, Any],
        usage: Usage,
        max_tokens: int,
    ) -> Any:
        """One call; a request option the server rejects is adapted once and the call re-sent."""
        while True:
            try:
                return await self._complete_once(messages, schema, schema_json, usage, max_tokens)
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                if not self._adapt_to_rejection(exc):
                    raise

    def _adapt_to_rejection(self, exc: openai.APIStatusError) -> bool:
        """Drop the request option ``exc`` complains about; False when there is none."""
        message = str(exc).lower()
        rejects_schema = "response_format" in message or "json_schema" in message
        if self._json_schema_supported and rejects_schema:
            self._json_schema_supported = False
            self.on_stat("llm/json_mode_fallback", 1)
            logger.warning(
                "The LLM server rejected a JSON-schema response_format (%s); "
                "falling back to JSON mode (the schema stays in the prompt).",
                str(exc)[:200],
            )
            return True
        if self._max_tokens_param == "max_tokens" and "max_completion_tokens" in message:
            self._max_tokens_param = "max_completion_tokens"
            logger.warning("The LLM server wants max_completion_tokens instead of max_tokens.")
            return True
        if self._send_temperature and "temperature" in message:
            self._send_temperature = False
            logger.warning("The LLM server rejected temperature; using the model's default.")
            return True
        return False

    def _request(
        self,
        messages: list[dict[str, str]],
        schema: type[BaseModel],
        schema_json: dict[str, Any],
        max_tokens: int,
    ) -> dict[str, Any]:
        if self._json_schema_supported:
            response_format: dict[str, Any] = {
                "type": "json_schema",
                "json_schema": {
                    "name": re.sub(r"[^A-Za-z0-9_-]", "_", schema.__name__)[:64],
                    "schema": schema_json,
                    "strict": False,
                },
            }
        else:
            response_format = {"type": "json_object"}
        request: dict[str, Any] = {
            "model": self.settings.model,
            "messages": messages,
            "response_format": response_format,
            self._max_tokens_param: max_tokens,
        }
        if self._send_temperature:
            request["temperature"] = self.settings.temperature
        return request

    async def _complete_once(
        self,
        messages: list[dict[str, str]],
        schema: type[BaseModel],
        schema_json: dict[str, Any],
        usage: Usage,
        max_tokens: int,
    ) -> Any:
        if self.meter.exhausted:
            raise BudgetExceeded(f"spent ${self.meter.total.cost_usd:.4f}")
        request = self._request(messages, schema, schema_json, max_tokens)
        async with self._semaphore:
            if self.audit:
                self.audit.write("request", base_url=str(self.client.base_url), **request)
            try:
                completion = await self.client.chat.completions.create(
                    **request, timeout=self.settings.timeout
                )
            except openai.APIError as exc:
                self._account(usage, Usage(calls=1))
                if self.audit:
                    self._audit_error(exc)
                raise
        self._account(usage, self._completion_usage(messages, completion))
        if self.audit:
            self.audit.write(
                "response",
                model=completion.model,
                finish_reason=completion.choices[0].finish_reason,
                content=completion.choices[0].message.content,
                usage=completion.usage.model_dump() if completion.usage else None,
            )
        return completion

    def _audit_error(self, exc: openai.APIError) -> None:
        response = getattr(exc, "response", None)
        self.audit.write(  # type: ignore[union-attr]
            "error",
            error=type(exc).__name__,
            status_code=getattr(exc, "status_code", None),
            message=str(exc)[:1000],
            headers=dict(response.headers) if response is not None else None,
        )

    def _completion_usage(self, messages: list[dict[str, str]], completion: Any) -> Usage:
        """Tokens of one answered attempt: the server's count, else the local tokenizer's."""
        if completion.usage is not None:
            prompt_tokens = completion.usage.prompt_tokens or 0
            completion_tokens = completion.usage.completion_tokens or 0
        else:
            prompt_tokens = sum(count_tokens(m["content"]) for m in messages)
            completion_tokens = count_tokens(completion.choices[0].message.content or "")
        cost = call_cost(self.settings.model, prompt_tokens, completion_tokens, self.prices)
        if cost is None:
            self.on_stat("llm/unpriced_calls", 1)
        if cost is None and not self._price_warned:
            self._price_warned = True
            logger.warning(
                "No price for model %r: tokens are counted but cost is unknown and "
                "LLM_BUDGET_USD cannot stop the crawl. Add it to LLM_PRICES "
                "(e.g. -s 'LLM_PRICES={\"%s\": [0.15, 0.60]}', USD per 1M input/output tokens).",
                self.settings.model,
                self.settings.model,
            )
        return Usage(
            calls=1,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=cost,
        )

    def _account(self, usage: Usage, attempt: Usage) -> None:
        usage.add(attempt)
        self.meter.add(attempt)
        self.on_stat("llm/calls", attempt.calls)
        self.on_stat("llm/prompt_tokens", attempt.prompt_tokens)
        self.on_stat("llm/completion_tokens", attempt.completion_tokens)
        if attempt.cost_usd:
            self.on_stat("llm/cost_usd", attempt.cost_usd)
