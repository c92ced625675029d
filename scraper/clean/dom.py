"""DOM-based main-content extraction: parse, drop boilerplate, keep the main container.

Recall-oriented where article extractors are not: product grids, listings, forum
threads and multi-section service pages keep all their sections. Chrome is removed
by tag, ARIA role, class/id words and link density.
"""

from __future__ import annotations

import functools
import re

from extruct.xmldom import DomHtmlMixin
from lxml import etree
from lxml.html import (
    FormElement,
    HtmlComment,
    HtmlElement,
    HtmlEntity,
    HTMLParser,
    HtmlProcessingInstruction,
    InputElement,
    LabelElement,
    SelectElement,
    TextareaElement,
    document_fromstring,
)


def _dom_class(html_class: type) -> type:
    """``html_class`` with the DOM API pyRdfa reads (extruct's ``DomHtmlMixin``)."""
    return type("Dom" + html_class.__name__, (html_class, DomHtmlMixin), {})


def _dom_class_lookup() -> etree.ElementNamespaceClassLookup:
    """extruct's ``XmlDomHTMLParser`` classes (lxml.html's, with the DOM API), looked up in C.

    extruct's own lookup is Python called for every element proxy, makes new classes for
    every parsed document and keeps each document in its cache: a worker's memory grew by
    every page it cleaned.
    """
    lookup = etree.ElementNamespaceClassLookup(
        etree.ElementDefaultClassLookup(
            element=_dom_class(HtmlElement),
            comment=_dom_class(HtmlComment),
            pi=_dom_class(HtmlProcessingInstruction),
            entity=_dom_class(HtmlEntity),
        )
    )
    special = lookup.get_namespace(None)  # lxml.html's classes of form elements
    for tag, html_class in (
        ("form", FormElement),
        ("input", InputElement),
        ("label", LabelElement),
        ("select", SelectElement),
        ("textarea", TextareaElement),
    ):
        special[tag] = _dom_class(html_class)
    return lookup


# Its elements are HtmlElements that also carry the DOM API pyRdfa reads (namespaces, xmlns
# attributes), so one parse of a page serves cleaning and structured data.
_PARSER = HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, huge_tree=True)
_PARSER.set_element_class_lookup(_dom_class_lookup())

# Never content: removed before anything is measured.
_NON_CONTENT_TAGS = (
    "script", "style", "template", "svg", "canvas", "iframe", "object", "embed", "head",
    "button", "select", "textarea", "input",
)  # fmt: skip
# Dialogs, consent banners and pop-ups are gone already (``chrome.remove_overlays``).
_DROP_TAGS = frozenset({"nav", "aside", "footer", "form", "menu"})
_DROP_ROLES = (
    "navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar",
    "toolbar", "tablist",
)  # fmt: skip
# Words in class/id that mark chrome wherever they occur.
_CHROME_WORDS = frozenset(
    {"nav", "navbar", "navigation", "breadcrumb", "breadcrumbs", "advert", "advertisement",
     "ads", "ad", "adsense", "sponsored", "skip", "pagination", "pager", "offcanvas",
     "masthead", "topbar", "sidebar", "share", "sharing", "social", "subscribe", "signup",
     "login", "signature", "extras", "userinfo"}
)  # fmt: skip
# Words that mark chrome only on link-heavy elements ("card-header" holds a title).
_LINKY_CHROME_WORDS = frozenset({"header", "footer", "menu", "related", "recommended", "widget"})
# Ids naming the page's own header and footer (ids are unique, unlike "card-header").
_PAGE_REGION_IDS = frozenset(
    {"header", "footer", "site-header", "site-footer", "page-header", "page-footer"}
)
_CLASS_SPLIT = re.compile(r"[\s_-]+|(?<=[a-z])(?=[A-Z])")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
# Class/id words of disclosure widgets (tabs, accordions): on product pages their hidden
# panels hold the description and specifications.
_PANEL_WORDS = frozenset(
    {"accordion", "collapse", "collapsible", "tab", "tabs", "tabpanel", "disclosure",
     "expandable", "expander"}
)  # fmt: skip
_PANEL_ROLES = frozenset({"tabpanel", "region"})
_MAX_HIDDEN_SHARE = 0.25
# An element holding more than this share of the page text is never dropped as chrome.
_MAX_CHROME_SHARE = 0.5
_LINKY = 0.5
_MAIN_MIN_SHARE = 0.3
_REVIEW_WORDS = frozenset({"review", "reviews", "rating", "ratings", "stars"})
_REVIEW_TITLES = re.compile(r"\b(reviews?|ratings?)\b", re.IGNORECASE)
_HEADING_TAGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_MAX_TITLE_CHARS = 60
_LINK_BLOCK_TAGS = ("div", "section", "ul", "ol", "table", "dl", "p", "span")
_LINK_BLOCK_MIN_LINKS = 3
_LINK_BLOCK_DENSITY = 0.7
_LINK_BLOCK_MAX_CHARS_PER_LINK = 20
_REPEATED_BLOCK_TAGS = frozenset({"div", "article", "section", "li"})
REPEATED_BLOCK_MIN_CHARS = 100
REPEATED_BLOCK_MIN_COUNT = 4


def parse_html(html: str) -> HtmlElement | None:
    """Parse ``html`` leniently; ``None`` when there is no document to parse."""
    if not html or not html.strip():
        return None
    try:
        root = document_fromstring(html.encode("utf-8", "replace"), parser=_PARSER)
    except (etree.ParserError, ValueError):
        return None
    return root if isinstance(root, HtmlElement) else None


def text_length(el: HtmlElement) -> int:
    """Characters of visible-ish text under ``el`` (whitespace ignored)."""
    return sum(len(t.strip()) for t in el.itertext())


def link_density(el: HtmlElement, length: int | None = None) -> float:
    """Share of the text of ``el`` that sits inside links."""
    length = text_length(el) if length is None else length
    if not length:
        return 0.0
    return sum(text_length(a) for a in el.iter("a")) / length


def class_words(el: HtmlElement) -> frozenset[str]:
    """The lowercased words of ``el``'s class and id ("cookie-banner" → cookie, banner)."""
    return _words_of(f"{el.get('class', '')} {el.get('id', '')}")


@functools.lru_cache(maxsize=8192)
def _words_of(attrs: str) -> frozenset[str]:
    # Cached: every pass over a page reads every element's words, and a page (a site's pages)
    # repeats its class names.
    return frozenset(w.lower() for w in _CLASS_SPLIT.split(attrs) if w)


def _holds_main(el: HtmlElement) -> bool:
    return el.tag in ("main", "article", "body", "html") or bool(
        el.xpath(".//main|.//article|.//*[@role='main']")
    )


def panel_ids(root: HtmlElement) -> set[str]:
    """Ids of the panels that tab and accordion buttons control."""
    return {
        panel_id
        for el in root.xpath("//*[@aria-controls]")
        for panel_id in el.get("aria-controls", "").split()
    }


def is_panel(el: HtmlElement, panel_ids: set[str]) -> bool:
    """Whether ``el`` is a tab or accordion panel (or the body of a ``<details>``)."""
    parent = el.getparent()
    return (
        (parent is not None and parent.tag == "details")
        or el.get("role", "").lower() in _PANEL_ROLES
        or el.get("id") in panel_ids
        or bool(class_words(el) & _PANEL_WORDS)
    )


def _is_chrome(el: HtmlElement, page_length: int, panel_ids: set[str] | None = None) -> bool:
    """Whether ``el`` is navigation, banner, ad or similar page furniture.

    With ``panel_ids`` (product pages), hidden tab and accordion panels are content.
    """
    if el.tag == "form":
        # Some forums wrap the whole thread in a form (moderation checkboxes).
        return not _holds_main(el) and text_length(el) < _MAX_CHROME_SHARE * page_length
    if el.tag in _DROP_TAGS or el.get("role", "").lower() in _DROP_ROLES:
        return True
    hidden = el.get("hidden") is not None or _HIDDEN_STYLE.search(el.get("style", ""))
    if hidden and not (panel_ids is not None and is_panel(el, panel_ids)):
        # Small hidden parts are menus and dialogs; large ones are content revealed by script.
        return text_length(el) < _MAX_HIDDEN_SHARE * page_length
    words = class_words(el)
    chrome = bool(words & _CHROME_WORDS) or el.get("id", "").lower() in _PAGE_REGION_IDS
    if not chrome and words & _LINKY_CHROME_WORDS:
        chrome = link_density(el) > _LINKY
    if not chrome or _holds_main(el):
        return False
    return text_length(el) < _MAX_CHROME_SHARE * page_length


def strip_boilerplate(root: HtmlElement, keep_panels: bool = False) -> None:
    """Remove page chrome from ``root`` in place (keeps the tails of removed elements).

    ``keep_panels`` keeps hidden tab and accordion panels (product descriptions, specs).
    """
    panels = panel_ids(root) if keep_panels else None
    etree.strip_elements(root, *_NON_CONTENT_TAGS, with_tail=False)
    _resolve_noscript(root)
    page_length = text_length(root)
    for el in list(root.iter(etree.Element)):
        if el.getparent() is None or not isinstance(el.tag, str):
            continue
        if _is_chrome(el, page_length, panels) and _attached(el, root):
            el.drop_tree()


def _normalised_text(el: HtmlElement) -> str:
    return " ".join(" ".join(el.itertext()).split())


def drop_titled_sections(root: HtmlElement, title: re.Pattern[str]) -> None:
    """Drop sections whose heading matches ``title`` ("Related posts", "You may also like").

    The section is the largest ancestor of the heading that starts with it and holds
    less than half of the page text.
    """
    page_length = text_length(root)
    for heading in list(root.iter(*_HEADING_TAGS)):
        heading_text = _normalised_text(heading)
        if len(heading_text) > _MAX_TITLE_CHARS or not title.search(heading_text):
            continue
        section = None
        for ancestor in heading.iterancestors():
            if (
                ancestor.tag in ("body", "main", "article")
                or text_length(ancestor) >= _MAX_CHROME_SHARE * page_length
            ):
                break
            if not _normalised_text(ancestor).startswith(heading_text):
                break
            section = ancestor
        target = section if section is not None else heading
        if _attached(target, root):
            target.drop_tree()


def drop_reviews(root: HtmlElement) -> None:
    """Drop customer reviews and ratings (used on product pages: opinions, not product facts)."""
    page_length = text_length(root)
    for el in list(root.iter(etree.Element)):
        if (
            class_words(el) & _REVIEW_WORDS
            and _attached(el, root)
            and not _holds_main(el)
            and text_length(el) < _MAX_CHROME_SHARE * page_length
        ):
            el.drop_tree()
    drop_titled_sections(root, _REVIEW_TITLES)


def _text_stats(root: HtmlElement) -> dict[HtmlElement, tuple[int, int, int]]:
    """(text length, text length inside links, link count) of every element, in one pass."""
    stats: dict[HtmlElement, tuple[int, int, int]] = {}
    for el in reversed(list(root.iter(etree.Element))):  # children before their parents
        text = len((el.text or "").strip())
        linked = links = 0
        for child in el:
            if not isinstance(child.tag, str):
                text += len((child.tail or "").strip())
                continue
            child_text, child_linked, child_links = stats[child]
            text += child_text + len((child.tail or "").strip())
            linked += child_linked
            links += child_links
        if el.tag == "a":
            linked, links = text, links + 1
        stats[el] = (text, linked, links)
    return stats


def prune_link_lists(root: HtmlElement) -> None:
    """Drop blocks that are mostly short links: menus, tag clouds, "related" rails.

    Lists of longer links (product cards, article teasers) are kept: they are the
    content of listing and collection pages.
    """
    stats = _text_stats(root)
    for el in list(root.iter(*_LINK_BLOCK_TAGS)):
        text, linked, links = stats[el]
        if (
            links >= _LINK_BLOCK_MIN_LINKS
            and linked > _LINK_BLOCK_DENSITY * text
            and linked < _LINK_BLOCK_MAX_CHARS_PER_LINK * links
            and _attached(el, root)
        ):
            el.drop_tree()


def repeated_block_share(root: HtmlElement) -> float:
    """The largest share of the text of ``root`` held by one run of sibling blocks: at
    least ``REPEATED_BLOCK_MIN_COUNT`` children of one element that share their tag and
    class, each with ``REPEATED_BLOCK_MIN_CHARS`` characters of text or more (the posts of
    a thread, the answers of a Q&A page, the cards of a listing). Blocks without a class
    (an article's paragraphs) do not count."""
    total = text_length(root)
    largest = 0
    for parent in root.iter(etree.Element):
        groups: dict[tuple[str, str], tuple[int, int]] = {}
        for child in parent:
            if not isinstance(child.tag, str) or child.tag not in _REPEATED_BLOCK_TAGS:
                continue
            key = (child.tag, " ".join(sorted(child.get("class", "").split())))
            if key[1] and (length := text_length(child)) >= REPEATED_BLOCK_MIN_CHARS:
                count, chars = groups.get(key, (0, 0))
                groups[key] = (count + 1, chars + length)
        for count, chars in groups.values():
            if count >= REPEATED_BLOCK_MIN_COUNT:
                largest = max(largest, chars)
    return largest / total if total else 0.0


def _resolve_noscript(root: HtmlElement) -> None:
    """Drop ``<noscript>`` fallbacks, unless they hold the page (JavaScript apps such as
    Discourse serve their content to crawlers that way)."""
    inside = sum(text_length(el) for el in root.iter("noscript"))
    if inside > text_length(root) - inside:
        etree.strip_tags(root, "noscript")
    else:
        etree.strip_elements(root, "noscript", with_tail=False)


def _attached(el: HtmlElement, root: HtmlElement) -> bool:
    """Whether ``el`` is still in the tree (an ancestor may have been dropped already)."""
    return any(ancestor is root for ancestor in el.iterancestors())


def main_container(root: HtmlElement) -> HtmlElement:
    """The element holding the main content: the page's only ``<article>`` or its
    ``<main>`` when it holds enough of the text, else the body."""
    body = root.find("body")
    body = root if body is None else body
    total = text_length(body)
    articles = body.xpath(".//article[not(ancestor::article)]")
    mains = body.xpath(".//main|.//*[@role='main']")
    candidates = ([articles[0]] if len(articles) == 1 else []) + mains
    for candidate in candidates:
        if text_length(candidate) >= _MAIN_MIN_SHARE * total:
            return candidate
    return body
