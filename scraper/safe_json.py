"""JSON from the outside (a page's JSON-LD, an LLM's answer) read with bounds, as valid text.

JSON may hold what no record can: ``"\\ud800"`` decodes to a lone surrogate, which no UTF-8
writer (the feed, the failures file) accepts, and nesting thousands of levels deep overflows
the recursion of every later step (``json.loads`` itself at about 100,000 levels, a deep copy
or a JSON-LD processor at a few hundred). :func:`load_json` refuses a value nested deeper
than ``MAX_DEPTH`` (:class:`TooDeep`) and replaces lone surrogates with U+FFFD.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64  # schema.org markup and LLM answers nest a dozen levels at most
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class TooDeep(ValueError):
    """A JSON value nested deeper than the limit; the message says how deep it may be."""


def load_json(text: str, *, strict: bool = True, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads(text)``, nested at most ``max_depth`` levels, with valid text only.

    Raises ``ValueError`` for text that is not JSON and :class:`TooDeep` (a ``ValueError``
    too) for a value nested too deep.
    """
    try:
        value = json.loads(text, strict=strict)
    except RecursionError:
        raise TooDeep(f"nested deeper than {max_depth} levels") from None
    return bounded(value, text, max_depth)


def bounded(value: Any, text: str, max_depth: int = MAX_DEPTH) -> Any:
    """``value``, parsed from the JSON ``text``, checked for depth and made valid text (only
    walked for surrogates when ``text`` holds one, raw or escaped); see :func:`load_json`."""
    if nesting_depth(value, max_depth) > max_depth:
        raise TooDeep(f"nested deeper than {max_depth} levels")
    if _SURROGATE.search(text) or _SURROGATE_ESCAPE.search(text):
        return valid_text(value)
    return value


def nesting_depth(value: Any, stop_after: int) -> int:
    """How deep lists and dicts nest in ``value`` (a scalar is 0), counted up to
    ``stop_after + 1`` without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list) or not item:
            continue
        deepest = max(deepest, depth)
        if deepest > stop_after:
            return deepest
        stack.extend(
            (child, depth + 1) for child in (item.values() if isinstance(item, dict) else item)
        )
    return deepest


def valid_text(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings (dict keys too) replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {valid_text(key): valid_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [valid_text(item) for item in value]
    return value
