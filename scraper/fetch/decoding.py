"""Turn response bytes into text when the declared charset may be wrong or missing, and
tell text from binary data served as HTML."""

from __future__ import annotations

import codecs
import re

import charset_normalizer

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Single-byte charsets decode any bytes, so a wrong declaration never fails to decode.
_CHAOS_TOLERANCE = 0.1
_SINGLE_BYTE = {"latin-1", "iso8859-1", "cp1252", "ascii"}
# Characters no text document is made of: C0 controls other than whitespace, DEL, C1
# controls, U+FFFD (bytes the charset could not decode), surrogates and noncharacters.
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufffd\ud800-\udfff\ufffe\uffff]")
# Random bytes decode to an eighth (as cp1252) to a half (as UTF-8) of such characters; a
# page of text holds next to none, even when its charset was guessed wrong.
NOT_TEXT_SHARE = 0.05


def _codec(name: str | None) -> str | None:
    """The Python codec name for a charset label, or None when unknown."""
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().lower()).name
    except LookupError:
        return None


def declared_charset(body: bytes, header_charset: str | None) -> str | None:
    """The charset the server or the page itself declares (header first, then <meta>)."""
    if header_charset:
        return header_charset
    match = _META_CHARSET.search(body[:4096])
    return match.group(1).decode("ascii", "replace") if match else None


def _detect(body: bytes) -> str | None:
    """The most likely charset of ``body``.

    Detection on short pages cannot tell Western codepages apart, so UTF-8 and
    then windows-1252 (the web's default) win over any candidate that reads
    only slightly less chaotic.
    """
    matches = list(charset_normalizer.from_bytes(body))
    if not matches:
        return None
    least_chaos = min(m.chaos for m in matches)
    close = {_codec(m.encoding) for m in matches if m.chaos <= least_chaos + _CHAOS_TOLERANCE}
    for preferred in ("utf-8", "cp1252"):
        if preferred in close:
            return preferred
    return _codec(matches[0].encoding)


def decode_html(body: bytes, header_charset: str | None = None) -> tuple[str, str, bool]:
    """Decode an HTML body: BOM, then the declared charset, then detection.

    Returns ``(text, charset_used, declared_was_wrong)``. A declared single-byte
    charset on a body that is valid UTF-8 with non-ASCII bytes is taken as a
    wrong declaration, since such bytes almost never form valid UTF-8 by chance.
    """
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body.decode(name, "replace"), name, False
    declared = _codec(declared_charset(body, header_charset))
    if declared and declared not in _SINGLE_BYTE:
        try:
            return body.decode(declared), declared, False
        except UnicodeDecodeError:
            pass
    elif declared:
        if not body.isascii():
            try:
                return body.decode("utf-8"), "utf-8", True
            except UnicodeDecodeError:
                pass
        # cp1252 leaves five byte values undefined: binary data declared so must not raise.
        return body.decode(declared, "replace"), declared, False
    charset = _detect(body) or "utf-8"
    return body.decode(charset, "replace"), charset, declared is not None


def not_text_share(text: str) -> float:
    """Share of the characters of ``text`` that no text document is made of (0 when empty):
    above NOT_TEXT_SHARE, the body is binary data, whatever its Content-Type says."""
    return len(_NOT_TEXT.findall(text)) / len(text) if text else 0.0
