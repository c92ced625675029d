"""Decide whether a page's static HTML lacks the main content a browser would render.

Today's sites often serve their menus, footer and consent banner as static HTML and fill
the main content in with JavaScript, so the whole page's text says nothing: what counts is
the main content the cleaner finds in the static page. A page is rendered only when that is
(almost) empty and the page runs scripts; a render costs a browser page, so a page whose
content is already there is never rendered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree
from lxml.html import HtmlElement

from scraper.clean.chrome import remove_overlays, visible_length
from scraper.clean.dom import class_words, parse_html
from scraper.clean.hidden import remove_hidden
from scraper.clean.main_content import dom_markdown, trafilatura_markdown
from scraper.clean.page import PageContent, clean_parsed_page

# Fewer words of main content than this, in a page that runs scripts, is no content.
MIN_MAIN_WORDS = 20
# With a sign of what the scripts fill in (an empty mount point, a skeleton, a noscript
# notice), a heading and a line of intro are no content either.
MIN_MAIN_WORDS_WITH_SIGN = 50
# Script types a browser runs (a JSON-LD or template block runs nothing).
_RUNNABLE_SCRIPT_TYPES = frozenset(
    {"", "text/javascript", "application/javascript", "module", "text/ecmascript"}
)
# Ids and attributes of the elements single-page-app frameworks mount into.
_MOUNT_ID = re.compile(
    r"^(root|app|__next|__nuxt|___gatsby|svelte|main-app|react-root|app-root|ember\d*)$", re.I
)
_MOUNT_ATTRIBUTES = ("data-reactroot", "data-v-app", "ng-app", "ng-version", "data-server-rendered")
_MOUNT_TAGS = ("app-root",)  # Angular's default root component
# Class/id words of loading placeholders shown until the scripts have fetched the content.
_SKELETON_WORDS = frozenset(
    {"skeleton", "shimmer", "placeholder", "spinner", "loader", "loading", "preloader"}
)
_ENABLE_JS = re.compile(
    r"enable\s+javascript|requires?\s+javascript|javascript\s+(is\s+)?(disabled|required|"
    r"must\s+be\s+enabled)|turn\s+on\s+javascript|without\s+javascript",
    re.I,
)


_WORD = re.compile(r"\w+")
_FURNITURE = ("nav", "header", "footer", "aside")
# Page furniture never holds this share of the page's text.
_MAX_FURNITURE_SHARE = 0.5


@dataclass(frozen=True)
class RenderReason:
    """Why a static page is rendered: a stable ``code`` and a ``detail`` for people."""

    code: str  # no_main_content, empty_mount_point, skeleton or noscript_notice
    detail: str


def _runs_scripts(root: HtmlElement) -> int:
    """How many scripts of ``root`` a browser would run."""
    return sum(
        (script.get("type") or "").strip().lower() in _RUNNABLE_SCRIPT_TYPES
        for script in root.iter("script")
    )


def _is_empty(el: HtmlElement) -> bool:
    return not "".join(el.itertext()).strip()


def _empty_mount_point(root: HtmlElement) -> str | None:
    """``#id`` (or tag) of an empty element a JavaScript framework mounts into, if any."""
    for el in root.iter(etree.Element):
        if el.tag in ("script", "noscript", "template", "style"):
            continue
        mount = (
            _MOUNT_ID.match(el.get("id", ""))
            or el.tag in _MOUNT_TAGS
            or any(el.get(a) is not None for a in _MOUNT_ATTRIBUTES)
        )
        if mount and _is_empty(el):
            return f"#{el.get('id')}" if el.get("id") else f"<{el.tag}>"
    return None


def _skeleton(root: HtmlElement) -> str | None:
    """A loading placeholder of ``root`` (class words or ``aria-busy``), if any."""
    body = root.find("body")
    for el in (body if body is not None else root).iter(etree.Element):
        if el.tag in ("script", "style", "template"):
            continue
        words = class_words(el) & _SKELETON_WORDS
        if words or el.get("aria-busy", "").lower() == "true":
            return f"<{el.tag}> {'class ' + sorted(words)[0] if words else 'aria-busy'}"
    return None


def _noscript_notice(root: HtmlElement) -> bool:
    return any(_ENABLE_JS.search(" ".join(n.itertext())) for n in root.iter("noscript"))


def _dom_words(tree: HtmlElement) -> int:
    """Words of main content the DOM extractor finds in ``tree`` (modified), overlays
    removed first (a static consent banner is no content), and hidden text."""
    remove_hidden(tree)
    remove_overlays(tree)
    return len(_WORD.findall(dom_markdown(tree)))


def _trafilatura_words(html: str) -> int:
    """Words of main content trafilatura finds in ``html`` without its overlays and page
    furniture (nav, header, footer, aside: on a page with no content of its own,
    trafilatura returns the footer)."""
    tree = parse_html(html)
    if tree is None:
        return 0
    remove_hidden(tree)
    remove_overlays(tree)
    page_length = visible_length(tree)
    for el in list(tree.iter(*_FURNITURE)):
        # Unclosed tags make a <header> of the whole page on some sites.
        attached = any(a is tree for a in el.iterancestors())
        if attached and visible_length(el) < _MAX_FURNITURE_SHARE * page_length:
            el.drop_tree()
    return len(_WORD.findall(trafilatura_markdown(tree)))


def _signs(root: HtmlElement) -> list[tuple[str, str]]:
    """(code, detail) of each sign of what the scripts would fill in, the most specific
    first; read before the extractor prunes the tree."""
    signs: list[tuple[str, str]] = []
    if mount := _empty_mount_point(root):
        signs.append(("empty_mount_point", f"empty mount point {mount}"))
    if skeleton := _skeleton(root):
        signs.append(("skeleton", f"loading placeholder {skeleton}"))
    if _noscript_notice(root):
        signs.append(("noscript_notice", "a <noscript> notice asks for JavaScript"))
    return signs


def _decision(
    html: str, scripts: int, signs: list[tuple[str, str]], words: int
) -> RenderReason | None:
    """The render decision on a page of ``scripts`` runnable scripts, ``signs`` and ``words``
    of main content found by the DOM extractor."""
    needed = MIN_MAIN_WORDS_WITH_SIGN if signs else MIN_MAIN_WORDS
    if words < needed:
        # The DOM extractor misses what trafilatura finds on a few articles (a content
        # column whose class names mark chrome). Asked only then: most pages stop above.
        words = max(words, _trafilatura_words(html))
    if words >= needed:
        return None
    code = signs[0][0] if signs else "no_main_content"
    detail = [f"{words} words of main content", f"{scripts} script(s)"]
    return RenderReason(code, ", ".join(detail + [sign for _, sign in signs]))


def render_reason(html: str) -> RenderReason | None:
    """Why ``html`` needs a browser to show its main content, or None when it does not.

    The main content is what the cleaner's DOM extractor finds, or trafilatura when that
    is next to nothing; signs of what the scripts would fill in
    name the reason: an empty mount point (``<div id="root"></div>``), a loading skeleton,
    a ``<noscript>`` notice asking for JavaScript.
    """
    tree = parse_html(html)
    if tree is None:
        return None
    scripts = _runs_scripts(tree)
    if not scripts:
        return None  # nothing in the page would change in a browser
    signs = _signs(tree)
    return _decision(html, scripts, signs, _dom_words(tree))


def clean_unless_rendered(
    html: str, url: str, max_structured_bytes: int
) -> RenderReason | PageContent:
    """Why ``html`` (fetched from ``url``) needs a browser, or else its cleaned content:
    one call of a worker process, so the page's HTML goes there once.

    :func:`render_reason` then :func:`~scraper.clean.page.clean_page`, from one parse: the
    decision counts the words of the DOM extractor's Markdown that cleaning makes (a page
    that is rendered is cleaned for nothing, a page that is not is not read twice).
    """
    tree = parse_html(html)
    scripts = _runs_scripts(tree) if tree is not None else 0
    signs = _signs(tree) if tree is not None and scripts else []
    content, plain_dom = clean_parsed_page(tree, url, max_structured_bytes, plain_dom=scripts > 0)
    if scripts and (reason := _decision(html, scripts, signs, len(_WORD.findall(plain_dom)))):
        return reason
    return content
