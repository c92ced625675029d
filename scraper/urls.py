"""Page URLs in one form for requests, records and the graph store."""

from __future__ import annotations

import re

_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def with_valid_percent_encoding(url: str) -> str:
    """``url`` with each ``%`` that does not start a percent-escape written ``%25``.

    ``/p%zzq`` and ``/100%`` are not valid URIs (nor IRIs, so no graph can be named after
    them); ``/p%25zzq`` and ``/100%25`` are the same paths validly encoded, as RFC 3986 says
    a literal ``%`` is written. Valid URLs are returned unchanged.
    """
    return _STRAY_PERCENT.sub("%25", url)
