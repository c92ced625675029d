"""Token counting with a real BPE vocabulary that ships offline (``bpe-openai``)."""

from __future__ import annotations

from functools import cache

import bpe_openai

from scraper import settings as defaults

DEFAULT_ENCODING = defaults.CHUNK_ENCODING
# bpe-openai refuses inputs of 1,000,000 characters or more, and of more than 200,000
# tokens: dense markup can reach that in 500,000 characters, never in 100,000.
_MAX_PIECE_CHARS = 100_000


@cache
def get_encoding(name: str = DEFAULT_ENCODING) -> bpe_openai.Encoding:
    """The named encoding (``o200k_base`` or ``cl100k_base``), loaded once."""
    return bpe_openai.get_encoding(name)


def _pieces(text: str) -> list[str]:
    """Split ``text`` at whitespace into pieces the encoder accepts."""
    pieces = []
    while len(text) > _MAX_PIECE_CHARS:
        cut = text.rfind(" ", 0, _MAX_PIECE_CHARS)
        cut = cut if cut > 0 else _MAX_PIECE_CHARS
        pieces.append(text[:cut])
        text = text[cut:]
    pieces.append(text)
    return pieces


def encode(text: str, encoding: str = DEFAULT_ENCODING) -> list[int]:
    """Token ids of ``text``; special-token strings are encoded as plain text."""
    enc = get_encoding(encoding)
    return [t for piece in _pieces(text) for t in enc.encode_ordinary(piece)]


def count_tokens(text: str, encoding: str = DEFAULT_ENCODING) -> int:
    """Number of tokens in ``text``."""
    return len(encode(text, encoding))
