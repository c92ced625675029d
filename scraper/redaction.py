"""Secrets out of everything written: records, the failures file, the graph, logs, the audit log.

One helper, :func:`redact`, replaces what looks like a credential with ``[REDACTED]``: the
configured key (``OPENAI_API_KEY``, whatever its shape), ``sk-…`` keys, ``Bearer``/``Basic``
credentials, the user and password of a URL (``https://user:pass@host``), and the values of
``api_key=``-like query parameters and fields. Dicts lose the values of secret-named keys
(``Authorization``, ``api-key``, ``Cookie``…). :func:`install_log_redaction` applies it to
every log record.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

REDACTED = "[REDACTED]"
# Environment variables whose values are secrets wherever they appear.
SECRET_VARIABLES = ("OPENAI_API_KEY",)
_SECRET_KEYS = re.compile(
    r"^(authorization|proxy-authorization|api[-_]?key|x-api-key|openai[-_]api[-_]key|cookie|"
    r"set-cookie|password|passwd|secret|token|access[-_]token)$",
    re.I,
)
_PATTERNS = (
    # sk-… keys (OpenAI's sk-proj-…, Anthropic's sk-ant-…), masked or not
    (re.compile(r"\bsk-[A-Za-z0-9_-]{6,}"), REDACTED),
    # HTTP credentials: "Bearer abc", "Basic dXNlcjpwYXNz"
    (re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]+", re.I), r"\1 " + REDACTED),
    # URL userinfo: scheme://user:pass@host
    (re.compile(r"\b([a-z][a-z0-9+.-]*://)[^/?#\s@]+@", re.I), r"\1" + REDACTED + "@"),
    # api_key=…, "access_token": "…", password: … (query parameters, JSON, headers)
    (
        re.compile(
            r"\b((?:api[-_]?key|access[-_]?token|auth[-_]?token|token|secret|password|passwd)"
            r"""["']?\s*[:=]\s*["']?)[^"'\s&,;#}]+""",
            re.I,
        ),
        r"\1" + REDACTED,
    ),
)
_MIN_SECRET = 8  # shorter "keys" (placeholders like "none") are not secrets to hunt for


def _configured_secrets() -> list[str]:
    """The values of SECRET_VARIABLES set in this process, longest first."""
    values = (os.environ.get(name, "").strip() for name in SECRET_VARIABLES)
    return sorted((v for v in values if len(v) >= _MIN_SECRET), key=len, reverse=True)


def redact_text(text: str) -> str:
    """``text`` with every credential in it replaced by ``[REDACTED]``."""
    for secret in _configured_secrets():
        text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact(value: Any) -> Any:
    """``value`` (text, or JSON-like dicts and lists) with its secrets replaced."""
    if isinstance(value, dict):
        return {
            key: REDACTED if _SECRET_KEYS.match(str(key)) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def _written(record: logging.LogRecord) -> bool:
    """Whether a handler would take ``record`` (as ``Logger.callHandlers`` finds them)."""
    logger: logging.Logger | None = logging.getLogger(record.name)
    found = False
    while logger is not None:
        for handler in logger.handlers:
            found = True
            if record.levelno >= handler.level:
                return True
        logger = logger.parent if logger.propagate else None
    last_resort = logging.lastResort
    return not found and last_resort is not None and record.levelno >= last_resort.level


def _redacted_record(record: logging.LogRecord) -> logging.LogRecord:
    """``record`` with its message and traceback redacted (formatted here, once), unless no
    handler takes it: Scrapy's DEBUG line of every scraped record (the whole page) is not
    written at LOG_LEVEL=INFO, and redacting it cost the crawl's loop 20 ms a page."""
    if not _written(record):
        return record
    message = record.getMessage()
    redacted = redact_text(message)
    if redacted != message:
        record.msg, record.args = redacted, ()
    if record.exc_info:
        record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
    return record


def install_log_redaction() -> None:
    """Redact every log record this process makes, whichever handler writes it.

    Done in the record factory, not a handler filter: Scrapy replaces its root handler
    while a crawl starts. Installing it again changes nothing.
    """
    factory = logging.getLogRecordFactory()
    if getattr(factory, "redacts", False):
        return

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return _redacted_record(factory(*args, **kwargs))

    make_record.redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make_record)
