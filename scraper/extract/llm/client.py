"""Structured Chat Completions through the official ``openai`` SDK (public contract 1).

:class:`StructuredLLM` sends one chat and validates the JSON answer against a
Pydantic model item by item (:mod:`scraper.extract.llm.answers`), re-asking with the
errors (bounded) only when nothing usable is left. It finds the best structured-
output mode the server takes (:mod:`scraper.extract.llm.formats`), retries 429, 5xx,
timeouts and connection errors with exponential backoff and jitter honouring
Retry-After (the SDK's own retries are off so the counts are ours), stops every
call once the server will not answer (:mod:`scraper.extract.llm.breaker`), bounds the
calls in flight with a semaphore and counts tokens of every attempt.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2
import openai
from pydantic import BaseModel
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from scraper import settings as defaults
from scraper.chunk.tokens import count_tokens
from scraper.extract.llm.answers import ParsedAnswer, parse_answer
from scraper.extract.llm.audit import AuditLog
from scraper.extract.llm.breaker import Breaker, Outage
from scraper.extract.llm.cost import CostMeter, Usage, call_cost, paid_stats
from scraper.extract.llm.formats import (
    MODES,
    ResponseFormat,
    next_mode,
    rejects_format,
    response_format,
)
from scraper.redaction import redact

logger = logging.getLogger(__name__)

# Local servers (vLLM, Ollama, llama.cpp, LM Studio) need no key but the SDK demands one.
PLACEHOLDER_API_KEY = "no-key-required"
_RETRYABLE_STATUS = {408, 409, 429}

StatSink = Callable[[str, float], None]
# A cut answer whose last characters stand 3 times in it is a decoding loop, not a long answer.
_LOOP_TAIL_CHARS = 100
_LOOP_REPEATS = 3


@dataclass
class _Call:
    """One chat request as the retry, adaptation and accounting layers see it."""

    messages: list[dict[str, str]]
    schema: type[BaseModel]
    schema_json: dict[str, Any]
    usage: Usage
    max_tokens: int
    frequency_penalty: float | None = None


def repeats_itself(content: str) -> bool:
    """True when the end of ``content`` repeats at least three times: the model loops."""
    tail = content[-_LOOP_TAIL_CHARS:]
    return len(content) >= _LOOP_REPEATS * _LOOP_TAIL_CHARS and content.count(tail) >= _LOOP_REPEATS


@dataclass(frozen=True)
class LLMSettings:
    """How to call the model; the defaults are the ``LLM_*`` settings' (scraper/settings.py)."""

    model: str = defaults.LLM_MODEL
    concurrency: int = defaults.LLM_CONCURRENCY
    timeout: float = defaults.LLM_TIMEOUT
    max_retries: int = defaults.LLM_MAX_RETRIES
    backoff_initial: float = defaults.LLM_BACKOFF_INITIAL
    backoff_max: float = defaults.LLM_BACKOFF_MAX
    max_reasks: int = defaults.LLM_MAX_REASKS
    max_tokens: int = defaults.LLM_MAX_TOKENS
    temperature: float | None = defaults.LLM_TEMPERATURE
    response_format: ResponseFormat | None = None  # None: negotiate (LLM_RESPONSE_FORMAT=auto)
    fail_fast_after: int = defaults.LLM_FAIL_FAST_AFTER
    loop_penalty: float = defaults.LLM_LOOP_PENALTY


class LLMError(Exception):
    """An LLM call that failed for good; ``reason`` is a short stable code, ``detail`` redacted."""

    def __init__(self, reason: str, detail: str = "") -> None:
        detail = redact(detail)
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


class LLMUnavailable(LLMError):
    """The LLM server will not answer (bad key, unknown model, down): no call is made."""

    def __init__(self, outage: Outage) -> None:
        super().__init__(outage.reason, outage.message)
        self.outage = outage


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
    # Idle connections are dropped after 2 s, before the server's own idle timeout (uvicorn,
    # which llama.cpp's and vLLM's servers run on, closes them after 5 s: the SDK's default of
    # 5 s races it, and a request sent on a connection the server is closing fails and is retried).
    http_client = openai.DefaultAsyncHttpxClient(
        limits=httpx2.Limits(
            max_connections=1000, max_keepalive_connections=100, keepalive_expiry=2.0
        )
    )
    return openai.AsyncOpenAI(
        api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0,
        http_client=http_client,
    )  # fmt: skip


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
        self.breaker = Breaker(
            settings.fail_fast_after, base_url=str(client.base_url), model=settings.model
        )
        self._semaphore = asyncio.Semaphore(settings.concurrency)
        # Until a first answer, calls go one at a time: a server that rejects the response
        # format or the key then costs one call, not one per call in flight.
        self._probing = asyncio.Lock()
        self._answered = asyncio.Event()
        self._backoff = wait_exponential_jitter(
            multiplier=settings.backoff_initial, max=settings.backoff_max
        )
        # Request options some servers reject; each is adapted once, for every later call.
        self.mode = settings.response_format or MODES[0]
        self._max_tokens_param = "max_tokens"
        self._send_temperature = settings.temperature is not None
        self._send_frequency_penalty = True
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
    ) -> ParsedAnswer:
        """The usable answer to ``messages``: a valid ``schema`` instance and what was dropped.

        An answer with nothing usable left is re-asked up to ``max_reasks`` times
        with the errors. Every attempt's usage is added to ``usage``. Raises
        :class:`LLMError` (``llm_invalid_output`` after the re-asks),
        :class:`TruncatedError`, :class:`BudgetExceeded` or :class:`LLMUnavailable`.
        """
        call = _Call(messages, schema, schema_json, usage, max_tokens or self.settings.max_tokens)
        error = ""
        for attempt in range(self.settings.max_reasks + 1):
            if attempt:
                self.on_stat("llm/reasks", 1)
            content = await self._content(call)
            parsed = parse_answer(content, schema)
            for repair in parsed.repairs:
                self.on_stat(f"llm/repairs/{repair}", 1)
            if parsed.dropped:
                self.on_stat("llm/dropped_invalid", len(parsed.dropped))
            if parsed.usable:
                return parsed
            error = parsed.error
            self.on_stat("llm/invalid_answers", 1)
            call.messages = [
                *call.messages,
                {"role": "assistant", "content": content},
                {"role": "user", "content": reask_message(error)},
            ]
        raise LLMError("llm_invalid_output", error)

    async def _content(self, call: _Call) -> str:
        """The text of the answer to ``call``; a looping answer is asked again, penalised."""
        choice = (await self._complete(call)).choices[0]
        if choice.finish_reason == "length" and repeats_itself(choice.message.content or ""):
            # Greedy decoding in a loop never ends by itself; a frequency penalty breaks it
            # (keys and punctuation repeat in any JSON, so it is not sent unless needed).
            self.on_stat("llm/loops", 1)
            penalised = dataclasses.replace(call, frequency_penalty=self.settings.loop_penalty)
            choice = (await self._complete(penalised)).choices[0]
        content = choice.message.content or ""
        if choice.finish_reason == "length":
            self.on_stat("llm/truncated", 1)
            raise TruncatedError(f"answer cut at {len(content)} characters")
        if choice.finish_reason == "content_filter" or getattr(choice.message, "refusal", None):
            raise LLMError("llm_refused", str(getattr(choice.message, "refusal", "") or ""))
        return content

    async def _complete(self, call: _Call) -> Any:
        if not self._answered.is_set():
            async with self._probing:
                if not self._answered.is_set():
                    return await self._complete_with_retries(call)
        return await self._complete_with_retries(call)

    async def _complete_with_retries(self, call: _Call) -> Any:
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
                    return await self._attempt(call)
        except openai.APIError as exc:
            reason = _error_reason(exc)
            self.on_stat(f"llm/errors/{reason}", 1)
            raise LLMError(reason, redact(str(exc))[:300]) from exc
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

    async def _attempt(self, call: _Call) -> Any:
        """One attempt; a server that will not answer trips the breaker."""
        try:
            completion = await self._complete_adapting(call)
        except openai.APIError as exc:
            outage = self.breaker.failure(exc)
            if outage is not None:
                raise self._stopped(outage) from exc
            raise
        self.breaker.success()
        self._answered.set()
        return completion

    async def _complete_adapting(self, call: _Call) -> Any:
        """One call; a request shape the server rejects is adapted once and the call re-sent."""
        while True:
            mode = self.mode
            try:
                return await self._complete_once(call, mode)
            except openai.APIStatusError as exc:
                if self._adapt_to_rejection(exc, mode):
                    continue
                if mode is not ResponseFormat.PROMPT and rejects_format(exc):
                    raise self._stopped(self._format_outage(exc, mode)) from exc
                raise

    def _format_outage(self, exc: openai.APIStatusError, mode: ResponseFormat) -> Outage:
        detail = redact(" ".join(exc.message.split()))[:200]
        fix = "LLM_RESPONSE_FORMAT=auto" if self.settings.response_format else "LLM_MODEL"
        return Outage(
            "llm_format_rejected",
            f"the LLM server {self.client.base_url} rejects response_format {mode.value} "
            f"(HTTP {exc.status_code}: {detail}); set {fix} "
            "(see 'Use a local model' in the README)",
        )

    def _stopped(self, outage: Outage) -> LLMUnavailable:
        """Stop every call from now on, for ``outage``; the error to raise."""
        self.breaker.trip(outage)
        self.on_stat(f"llm/stopped/{outage.reason}", 1)
        return LLMUnavailable(outage)

    def _adapt_to_rejection(self, exc: openai.APIStatusError, mode: ResponseFormat) -> bool:
        """Drop or weaken the request option ``exc`` complains about; False when there is none."""
        if mode is not self.mode:
            return True  # another call already adapted: send again as it now does
        negotiating = self.settings.response_format is None
        weaker = next_mode(mode)
        if negotiating and weaker is not None and rejects_format(exc):
            self.mode = weaker
            self.on_stat("llm/format_rejections", 1)
            logger.warning(
                "The LLM server rejected response_format %s (HTTP %d: %s); using %s for the "
                "rest of the crawl (pin one with LLM_RESPONSE_FORMAT).",
                mode.value,
                exc.status_code,
                redact(" ".join(exc.message.split()))[:200],
                weaker.value,
            )
            return True
        if not isinstance(exc, openai.BadRequestError | openai.UnprocessableEntityError):
            return False
        message = str(exc).lower()
        if self._max_tokens_param == "max_tokens" and "max_completion_tokens" in message:
            self._max_tokens_param = "max_completion_tokens"
            logger.warning("The LLM server wants max_completion_tokens instead of max_tokens.")
            return True
        if self._send_temperature and "temperature" in message:
            self._send_temperature = False
            logger.warning("The LLM server rejected temperature; using the model's default.")
            return True
        if self._send_frequency_penalty and "frequency_penalty" in message:
            self._send_frequency_penalty = False
            logger.warning("The LLM server rejected frequency_penalty; looping answers stay cut.")
            return True
        return False

    def _request(self, call: _Call, mode: ResponseFormat) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.settings.model,
            "messages": call.messages,
            self._max_tokens_param: call.max_tokens,
        }
        requested_format = response_format(mode, call.schema.__name__, call.schema_json)
        if requested_format is not None:
            request["response_format"] = requested_format
        if self._send_temperature:
            request["temperature"] = self.settings.temperature
        if call.frequency_penalty is not None and self._send_frequency_penalty:
            request["frequency_penalty"] = call.frequency_penalty
        return request

    async def _complete_once(self, call: _Call, mode: ResponseFormat) -> Any:
        request = self._request(call, mode)
        async with self._semaphore:
            # Checked with the slot held: a call that waited for it sees what the calls
            # before it spent and whether they stopped the LLM, not the state when it queued.
            if self.breaker.outage is not None:
                raise LLMUnavailable(self.breaker.outage)
            if self.meter.exhausted:
                raise BudgetExceeded(f"spent ${self.meter.spent_usd or 0:.4f}")
            if self.audit:
                self.audit.write("request", base_url=str(self.client.base_url), **request)
            try:
                completion = await self.client.chat.completions.create(
                    **request, timeout=self.settings.timeout
                )
            except openai.APIError as exc:
                self._account(call.usage, Usage(calls=1))
                if self.audit:
                    self._audit_error(exc)
                raise
        self._account(call.usage, self._completion_usage(call.messages, completion))
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
        for name, value in paid_stats(attempt).items():
            self.on_stat(name, value)
