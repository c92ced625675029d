"""Comparable names: one normal form for merging, grounding and resolving entity names."""

from __future__ import annotations

import re
import unicodedata

LEGAL_SUFFIXES = frozenset(
    {
        *("inc", "incorporated", "corp", "corporation", "co", "company", "cos"),
        *("ltd", "limited", "llc", "llp", "lp", "plc", "pllc", "gmbh", "mbh", "ag", "kg"),
        *("kgaa", "ohg", "ug", "se", "sa", "sas", "sarl", "srl", "spa", "bv", "nv", "oy"),
        *("oyj", "ab", "asa", "pty", "pte", "kk", "lda", "sl"),
    }
)
_APOSTROPHES = "'\u2019\u2018\u02bc"
# Apostrophes inside a word ("McDonald's", "O'Brien") and the dots of an initialism ("S.A.",
# "U.S.") join; other dots separate, so "acme.com" still contains the word "acme".
_JOINER = re.compile(rf"(?<=\w)[{_APOSTROPHES}](?=\w)|(?<=\b\w)\.(?=\w)")
_POSSESSIVE = re.compile(rf"(?<=\w)[{_APOSTROPHES}]s\b", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+")


def normalise_name(name: str, entity_type: str | None = None) -> str:
    """The comparable words of ``name`` (or of a whole text), joined by single spaces.

    Case and diacritics are ignored, apostrophes inside a word and the dots of an
    initialism are dropped, any other character that is not a letter or digit separates
    words. For an ``Organization`` a leading "the" and trailing legal suffixes go too
    (unless nothing else would be left): ``"ACME Corp."``, ``"The Acme Corporation"`` → ``"acme"``.
    """
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    words = _WORD.findall(_JOINER.sub("", plain))
    if entity_type == "Organization":
        if len(words) > 1 and words[0] == "the":
            words = words[1:]
        while len(words) > 1 and words[-1] in LEGAL_SUFFIXES:
            words = words[:-1]
    return " ".join(words)


def drop_possessives(text: str) -> str:
    """``text`` without possessive endings: ``"Acme's prices"`` → ``"Acme prices"``."""
    return _POSSESSIVE.sub("", text)
