"""Structured-output modes of OpenAI-compatible servers, best first, and how a server says no.

Servers differ in what ``response_format`` they accept: OpenAI, vLLM, Ollama and LM Studio take
a JSON schema; llama.cpp's ``llama-server`` and llama-cpp-python take ``json_object`` with a
``schema`` (a grammar built from it) and reject ``json_schema``; some take ``json_object`` alone;
some take nothing. A server rejects a mode with a 4xx or, like llama-cpp-python, a 500 whose
body names what it could not take; the client then steps down one mode and remembers it.
The schema is always in the prompt too, so every mode can be validated the same way.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

import openai


class ResponseFormat(StrEnum):
    """What the request asks of the answer's shape (setting ``LLM_RESPONSE_FORMAT``)."""

    JSON_SCHEMA = "json_schema"  # {"type": "json_schema", "json_schema": {...}}
    JSON_OBJECT_SCHEMA = "json_object_schema"  # {"type": "json_object", "schema": {...}}
    JSON_OBJECT = "json_object"  # {"type": "json_object"}
    PROMPT = "prompt"  # no response_format: the prompt alone asks for JSON


MODES = tuple(ResponseFormat)
AUTO = "auto"

# Statuses that say something else than "this request shape is not supported".
_NOT_A_SHAPE_REJECTION = {401, 403, 404, 408, 409, 429}
_NAMES_THE_FORMAT = re.compile(r"response_format|json_schema|json_object|schema|grammar", re.I)


def parse_mode(value: str) -> ResponseFormat | None:
    """The mode a ``LLM_RESPONSE_FORMAT`` value pins, None for ``auto`` (negotiate)."""
    value = value.strip().lower()
    if value == AUTO:
        return None
    try:
        return ResponseFormat(value)
    except ValueError:
        choices = ", ".join([AUTO, *MODES])
        raise ValueError(f"LLM_RESPONSE_FORMAT must be one of {choices}, not {value!r}") from None


def next_mode(mode: ResponseFormat) -> ResponseFormat | None:
    """The next weaker mode, None after the last."""
    index = MODES.index(mode)
    return MODES[index + 1] if index + 1 < len(MODES) else None


def response_format(
    mode: ResponseFormat, name: str, schema: dict[str, Any]
) -> dict[str, Any] | None:
    """The ``response_format`` request field of ``mode`` (None: leave the field out)."""
    if mode is ResponseFormat.JSON_SCHEMA:
        safe_name = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64]
        return {
            "type": "json_schema",
            "json_schema": {"name": safe_name, "schema": schema, "strict": False},
        }
    if mode is ResponseFormat.JSON_OBJECT_SCHEMA:
        return {"type": "json_object", "schema": schema}
    if mode is ResponseFormat.JSON_OBJECT:
        return {"type": "json_object"}
    return None


def rejects_format(exc: openai.APIStatusError) -> bool:
    """True when the server refused the request's ``response_format`` (a 4xx or 5xx naming it)."""
    if exc.status_code in _NOT_A_SHAPE_REJECTION:
        return False
    return bool(_NAMES_THE_FORMAT.search(f"{exc.message} {_body_text(exc)}"))


def _body_text(exc: openai.APIStatusError) -> str:
    try:
        return exc.response.text
    except Exception:  # a streamed or closed body: the message is all there is
        return ""
