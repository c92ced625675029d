"""Stop calling an LLM server that will not answer: a bad key, an unknown model, a server down.

Retrying such errors only wastes calls and time, page after page. Some say so at once (401 or
403, 404, an exhausted quota): the first one stops every call. Others may pass (a refused
connection, an unknown host, a 5xx): a run of failed attempts with no success in between
stops the calls. Errors of one request (a prompt too long, a 400) and timeouts and rate limits
(a slow or busy server) never stop the calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import openai

from scraper.redaction import redact


@dataclass(frozen=True)
class Outage:
    """Why the LLM calls stopped: a stable reason and one line with the cause and the fix."""

    reason: str
    message: str


def _detail(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return redact(" ".join(str(text).split()))[:200]


def permanent_outage(exc: BaseException, base_url: str, model: str) -> Outage | None:
    """The outage ``exc`` shows on its own, None when it may be one request's problem."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    status, detail = exc.status_code, _detail(exc)
    if status in (401, 403):
        return Outage(
            "llm_auth_error",
            f"the LLM server {base_url} refused the API key (HTTP {status}: {detail}); "
            "set OPENAI_API_KEY to a key it accepts (a local server needs only OPENAI_BASE_URL)",
        )
    if status == 404:
        return Outage(
            "llm_model_not_found",
            f"the LLM server {base_url} answered HTTP 404 for model {model!r} ({detail}); "
            "set LLM_MODEL to a model the server serves, and OPENAI_BASE_URL to its API root "
            "(usually ending in /v1)",
        )
    if status == 429 and "insufficient_quota" in f"{getattr(exc, 'code', '')} {detail}":
        return Outage(
            "llm_quota_exceeded",
            f"the account of OPENAI_API_KEY has no quota left at {base_url} (HTTP 429: {detail}); "
            "add credit or use another key",
        )
    return None


def _may_be_outage(exc: BaseException) -> bool:
    """A refused connection, an unknown host or a 5xx; a timeout is a slow model, not a gone one."""
    if isinstance(exc, openai.APITimeoutError):
        return False
    if isinstance(exc, openai.APIConnectionError):
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code >= 500


def _transient_outage(exc: BaseException, base_url: str, run: int) -> Outage:
    if isinstance(exc, openai.APIStatusError):
        return Outage(
            "llm_server_error",
            f"the LLM server {base_url} failed {run} attempts in a row "
            f"(HTTP {exc.status_code}: {_detail(exc)}); see the server's log",
        )
    cause = _detail(exc.__cause__) if exc.__cause__ else _detail(exc)
    return Outage(
        "llm_unreachable",
        f"cannot connect to the LLM server {base_url} ({cause}; {run} attempts in a row); "
        "start it, or set OPENAI_BASE_URL to where it listens",
    )


class Breaker:
    """Counts failed attempts; once it trips, :attr:`outage` says why and no call is made."""

    def __init__(self, threshold: int, *, base_url: str, model: str) -> None:
        if threshold < 1:
            raise ValueError(f"LLM_FAIL_FAST_AFTER must be a whole number >= 1, not {threshold}")
        self.threshold = threshold
        self.base_url = base_url
        self.model = model
        self.outage: Outage | None = None
        self._run = 0  # failed attempts since the last success

    def success(self) -> None:
        self._run = 0

    def failure(self, exc: BaseException) -> Outage | None:
        """Count one failed attempt; the outage it shows, if any (:meth:`trip` stops the calls)."""
        if self.outage is not None:
            return None
        outage = permanent_outage(exc, self.base_url, self.model)
        if outage is None and _may_be_outage(exc):
            self._run += 1
            if self._run >= self.threshold:
                outage = _transient_outage(exc, self.base_url, self._run)
        return outage

    def trip(self, outage: Outage) -> None:
        """No call from now on; the first outage is the one that stays."""
        self.outage = self.outage or outage
