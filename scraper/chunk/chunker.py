"""Split Markdown into token-bounded, overlapping chunks at its structure.

Split points are tried from the coarsest to the finest: headings, paragraphs,
lines, sentences, words. A chunk is always a contiguous slice of the Markdown,
so ``start``/``end`` locate it exactly; only a single "word" longer than a
whole chunk is ever cut inside, at a token boundary.
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass

from scraper import settings as defaults
from scraper.chunk.tokens import DEFAULT_ENCODING, count_tokens, encode, get_encoding

# Each pattern matches the position where a new piece starts.
_SPLIT_LEVELS = (
    re.compile(r"(?m)^(?=#{1,6}\s)"),  # before a heading
    re.compile(r"\n[ \t]*\n\s*"),  # after a blank line
    re.compile(r"\n"),  # after a line break
    re.compile(r"(?<=[.!?\u3002\uff01\uff1f])[\"')\]]*\s+"),  # after a sentence
    re.compile(r"\s+"),  # after a word
)


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    tokens: int
    start: int  # character offset in the Markdown
    end: int


def _cut_points(text: str, pattern: re.Pattern[str]) -> list[int]:
    """Offsets in ``text`` where ``pattern`` starts a new piece (not 0, not len)."""
    return sorted({m.end() for m in pattern.finditer(text) if 0 < m.end() < len(text)})


def _hard_cuts(text: str, size: int, encoding: str) -> list[int]:
    """Offsets that cut an unbreakable run of text every ``size`` tokens."""
    enc = get_encoding(encoding)
    tokens = encode(text, encoding)
    cuts, offset = [], 0
    for i in range(0, len(tokens) - size, size):
        offset += len(enc.decode(tokens[i : i + size]))
        cuts.append(offset)
    return [c for c in cuts if 0 < c < len(text)]


def _units(text: str, start: int, size: int, level: int, encoding: str) -> list[tuple[int, int]]:
    """Spans ``(start, end)`` covering ``text``, each of at most ``size`` tokens."""
    if count_tokens(text, encoding) <= size:
        return [(start, start + len(text))]
    if level < len(_SPLIT_LEVELS):
        cuts = _cut_points(text, _SPLIT_LEVELS[level])
    else:
        cuts = _hard_cuts(text, size, encoding)
    if not cuts:
        return _units(text, start, size, level + 1, encoding)
    bounds = [0, *cuts, len(text)]
    spans = []
    for a, b in itertools.pairwise(bounds):
        spans.extend(_units(text[a:b], start + a, size, level + 1, encoding))
    return spans


def _is_heading(text: str, offset: int) -> bool:
    """True when a Markdown heading line starts at ``offset``."""
    return (offset == 0 or text[offset - 1] == "\n") and bool(_SPLIT_LEVELS[0].match(text, offset))


def _overlap_start(text: str, chunk_start: int, chunk_end: int, overlap: int, encoding: str) -> int:
    """The earliest word start in the chunk whose tail to ``chunk_end`` fits ``overlap`` tokens."""
    if overlap <= 0:
        return chunk_end
    words = [m.start() for m in re.finditer(r"(?<=\s)\S", text[chunk_start:chunk_end])]
    starts = [chunk_start + w for w in words]
    # Tokens of the tail shrink as its start moves right: binary-search the first that fits.
    lo = bisect.bisect_left(
        range(len(starts)),
        True,
        key=lambda i: count_tokens(text[starts[i] : chunk_end], encoding) <= overlap,
    )
    return starts[lo] if lo < len(starts) else chunk_end


def chunk_markdown(
    markdown: str,
    size: int = defaults.CHUNK_SIZE_TOKENS,
    overlap: int = defaults.CHUNK_OVERLAP_TOKENS,
    encoding: str = DEFAULT_ENCODING,
    limit: int | None = None,
) -> list[Chunk]:
    """Chunks of at most ``size`` tokens, each repeating up to ``overlap`` tokens of the last;
    with ``limit``, the first ``limit`` chunks only (a page past CHUNK_MAX_PER_PAGE gets one
    more than the cap, and no work is spent on the rest)."""
    if size <= 0 or not 0 <= overlap < size:
        raise ValueError(f"need size > 0 and 0 <= overlap < size, got {size=} {overlap=}")
    if not markdown.strip():
        return []
    units = _units(markdown, 0, size - overlap, 0, encoding)
    chunks: list[Chunk] = []
    i = 0
    start = 0
    while i < len(units) and (limit is None or len(chunks) < limit):
        end = units[i][1]
        i += 1
        # Grow the chunk unit by unit while the real token count of the slice fits,
        # ending it early at a heading once it is half full so sections stay whole.
        while i < len(units) and count_tokens(markdown[start : units[i][1]], encoding) <= size:
            if (
                _is_heading(markdown, units[i][0])
                and count_tokens(markdown[start:end], encoding) >= size // 2
            ):
                break
            end = units[i][1]
            i += 1
        text = markdown[start:end]
        if text.strip():
            chunks.append(Chunk(len(chunks), text, count_tokens(text, encoding), start, end))
        if i < len(units):
            # A new section starts clean; otherwise repeat the tail of this chunk.
            next_start = units[i][0]
            if not _is_heading(markdown, next_start):
                next_start = min(
                    next_start, _overlap_start(markdown, start, end, overlap, encoding)
                )
            start = next_start
    return chunks
