"""Remove overlays from a parsed page before any extractor reads it.

Consent and cookie banners, dialogs, newsletter pop-ups and other modals sit over the page
rather than in it. Left in the tree, an article extractor such as trafilatura keeps their
text when it sits next to the content, so they go first, for every extractor.

Signals are general, not site lists: the ``<dialog>`` element, ``role=dialog|alertdialog``,
``aria-modal``, whole class/id words (``cookie-banner``, ``ConsentDialog``, but not
``cookierecipe``), and inline fixed-position overlays. Class names that layout frameworks
use for content too (``fixed``, Adobe's ``cmp-`` components, ``lightbox`` galleries) are
no signal: they cost content on the WCXB pages. An element that holds the page's
``<main>`` or an ``<article>`` is never removed (some sites open articles in a modal).
"""

from __future__ import annotations

import re

from lxml import etree
from lxml.html import HtmlElement

from scraper.clean.dom import class_words

_OVERLAY_ROLES = frozenset({"dialog", "alertdialog"})
# Whole class/id words of consent managers ("cookie-banner" → cookie, banner). Their
# preference centres can be long, and on a short page hold most of its text.
CONSENT_WORDS = frozenset({"cookie", "cookies", "consent", "gdpr", "ccpa"})
# Whole class/id words of pop-ups, which are short: an element with more text is content
# that a site's markup happens to name so (a "modal-content" wrapper of a product page).
POPUP_WORDS = frozenset({"popup", "modal", "dialog", "interstitial"})
POPUP_MAX_CHARS = 5000
# A newsletter sign-up box is shorter still; a longer "newsletter" element is an issue.
NEWSLETTER_WORDS = frozenset({"newsletter"})
NEWSLETTER_MAX_CHARS = 1000
_FIXED_STYLE = re.compile(r"position\s*:\s*fixed", re.I)
# Dialog semantics and consent words are reliable; pop-up words and fixed positions are
# worn by content too, so an element they mark that holds this share of the page's visible
# text and this many characters is content (a page shown in a modal).
_WEAK_KINDS = frozenset({"popup", "newsletter", "fixed"})
CONTENT_SHARE = 0.5
CONTENT_MIN_CHARS = 1500
# A parsed script or style holds text only, so its text's parent is it: a test of the parent,
# not of every ancestor (half the cost), and plain strings, not lxml's "smart" ones.
_VISIBLE_TEXT = etree.XPath(
    ".//text()[not(parent::script) and not(parent::style)]", smart_strings=False
)
_MAIN_CONTAINERS = etree.XPath(".//main|.//article|.//*[@role='main']")


def visible_length(el: HtmlElement) -> int:
    """Characters of text under ``el`` outside scripts and styles (whitespace ignored)."""
    return sum(len(t.strip()) for t in _VISIBLE_TEXT(el))


def overlay_kind(el: HtmlElement) -> str | None:
    """ "dialog", "consent", "popup" or "fixed" when ``el`` looks like a dialog, banner or
    pop-up laid over the page, else None."""
    if (
        el.tag == "dialog"
        or el.get("role", "").strip().lower() in _OVERLAY_ROLES
        or el.get("aria-modal", "").strip().lower() == "true"
    ):
        return "dialog"
    words = class_words(el)
    if words & CONSENT_WORDS:
        return "consent"
    if words & POPUP_WORDS:
        return "popup"
    if words & NEWSLETTER_WORDS:
        return "newsletter"
    if _FIXED_STYLE.search(el.get("style", "")):
        return "fixed"
    return None


def remove_overlays(root: HtmlElement) -> None:
    """Remove consent banners, dialogs, pop-ups and fixed overlays from ``root`` in place
    (the text after each removed element stays)."""
    page_length = visible_length(root)
    for el in list(root.iter(etree.Element)):
        if el.tag in ("html", "body", "main", "article") or not (kind := overlay_kind(el)):
            continue
        if el.getparent() is None or not any(a is root for a in el.iterancestors()):
            continue  # already gone with an overlay around it
        if _MAIN_CONTAINERS(el) or (kind in _WEAK_KINDS and _is_content(el, kind, page_length)):
            continue
        el.drop_tree()


def _is_content(el: HtmlElement, kind: str, page_length: int) -> bool:
    """Whether ``el``, marked only by a pop-up word or a fixed position (``kind``), holds
    content: more text than such a pop-up has, or most of a page's long text (a page shown
    in a modal)."""
    length = visible_length(el)
    longest = NEWSLETTER_MAX_CHARS if kind == "newsletter" else POPUP_MAX_CHARS
    return length > longest or (
        length >= CONTENT_SHARE * page_length and length >= CONTENT_MIN_CHARS
    )
