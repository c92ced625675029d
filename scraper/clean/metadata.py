"""Page metadata: title, language, canonical URL, dates and author.

Explicit signals first (``<link rel=canonical>``, ``<html lang>``, ``article:*`` meta
tags, JSON-LD, microdata and ``<time>`` in the article), then trafilatura's metadata
extraction for the title and author, and htmldate for a date the page does not declare (a
bare year it falls back to is dropped).
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from urllib.parse import unquote, urljoin

from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura.metadata import (
    examine_meta,
    extract_author,
    extract_meta_json,
    extract_title,
    extract_url,
)
from trafilatura.settings import Document, set_date_params

from scraper.clean.dom import parse_html
from scraper.clean.structured_data import parse_jsonld

logger = logging.getLogger(__name__)

_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")
_MODIFIED_META = (
    "article:modified_time", "og:updated_time", "dateModified", "last-modified",
    "dc.date.modified", "dcterms.modified",
)  # fmt: skip
_PUBLISHED_META = (
    "article:published_time", "datePublished", "dc.date.issued", "dcterms.created",
    "date", "pubdate", "publish-date",
)  # fmt: skip


_PRODUCT_OG_TYPES = frozenset({"product", "og:product", "product.item"})
_PRODUCT_TYPES = frozenset({"Product", "ProductGroup"})
# Threads: forum topics and question-and-answer pages (JSON-LD or microdata).
_DISCUSSION_TYPES = frozenset({"DiscussionForumPosting", "QAPage", "SocialMediaPosting"})
_ARTICLE_TYPES = frozenset(
    {"Article", "NewsArticle", "BlogPosting", "Report", "OpinionNewsArticle",
     "ReportageNewsArticle", "AnalysisNewsArticle", "LiveBlogPosting"}
)  # fmt: skip


@dataclass
class Metadata:
    title: str | None = None
    language: str | None = None
    canonical_url: str | None = None
    published: str | None = None
    modified: str | None = None
    author: str | None = None


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value or None


def _meta_content(root: HtmlElement, names: tuple[str, ...]) -> str | None:
    """First non-empty ``<meta>`` content whose name, property or itemprop is in ``names``."""
    wanted = {n.lower() for n in names}
    for meta in root.iter("meta"):
        key = meta.get("property") or meta.get("name") or meta.get("itemprop") or ""
        if key.lower() in wanted and (value := _clean(meta.get("content"))):
            return value
    return None


def jsonld_nodes(root: HtmlElement) -> list[dict]:
    """Top-level JSON-LD objects, ``@graph`` members included; broken blocks are skipped."""
    nodes: list[dict] = []
    for item in parse_jsonld(root):
        nodes.append(item)
        graph = item.get("@graph")
        if isinstance(graph, list):
            nodes.extend(n for n in graph if isinstance(n, dict))
    return nodes


def _jsonld_value(nodes: list[dict], key: str) -> str | None:
    for node in nodes:
        if value := _clean(node.get(key)):
            return value
    return None


def _types(node: dict) -> list[str]:
    value = node.get("@type")
    return [str(t) for t in (value if isinstance(value, list) else [value]) if t]


def _microdata_types(root: HtmlElement, top_level: bool = False) -> list[set[str]]:
    """Local names of the ``itemtype`` URLs of each of the page's microdata items;
    ``top_level``: only items that are no property of another (the page's subjects)."""
    path = "//*[not(@itemprop)]/@itemtype" if top_level else "//@itemtype"
    return [
        {url.rstrip("/").rsplit("/", 1)[-1] for url in str(value).split()}
        for value in root.xpath(path)
    ]


def page_kind(root: HtmlElement, nodes: list[dict]) -> str | None:
    """What the page declares itself to be: "product", "discussion" (a forum thread or
    Q&A page), "article" or ``None`` (unknown).

    From ``og:type``, the JSON-LD types and microdata item types; a page listing several
    products is no product page. ``nodes`` are the page's ``jsonld_nodes``.
    """
    og_type = (_meta_content(root, ("og:type",)) or "").lower()
    types = [set(_types(node)) for node in nodes]
    # JSON-LD first; microdata items count only on pages without JSON-LD products.
    products = sum(bool(_PRODUCT_TYPES & t) for t in types) or sum(
        bool(_PRODUCT_TYPES & t) for t in _microdata_types(root, top_level=True)
    )
    if og_type in _PRODUCT_OG_TYPES or products == 1:
        return "product"
    if _DISCUSSION_TYPES & set().union(*types, *_microdata_types(root)):
        return "discussion"
    if og_type == "article" or any(_ARTICLE_TYPES & t for t in types):
        return "article"
    return None


def product_description(nodes: list[dict]) -> str | None:
    """The JSON-LD ``Product`` description (of the page's ``jsonld_nodes``) as plain text,
    HTML markup and entities removed."""
    for node in nodes:
        if _PRODUCT_TYPES & set(_types(node)) and isinstance(node.get("description"), str):
            text = html.unescape(node["description"])
            if "%20" in text and " " not in text:  # some shops percent-encode it
                text = unquote(text)
            if "<" in text:
                fragment = parse_html(f"<div>{text}</div>")
                text = fragment.text_content() if fragment is not None else text
            return _clean(text)
    return None


def _language(root: HtmlElement) -> str | None:
    candidates: list[str | None] = [
        root.get("lang"),
        root.get("{http://www.w3.org/XML/1998/namespace}lang"),
        _meta_content(root, ("content-language", "og:locale", "language", "dc.language")),
    ]
    for meta in root.iter("meta"):
        if (meta.get("http-equiv") or "").lower() == "content-language":
            candidates.append(meta.get("content"))
    for value in candidates:
        value = (value or "").split(",")[0].strip()
        if _LANGUAGE.match(value):
            parts = value.replace("_", "-").split("-")
            return "-".join(
                [parts[0].lower(), *(p.upper() if len(p) == 2 else p for p in parts[1:])]
            )
    return None


def _canonical(root: HtmlElement, url: str) -> str | None:
    for link in root.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        if "canonical" in rels and (href := _clean(link.get("href"))):
            return urljoin(url, href)
    og_url = _meta_content(root, ("og:url",))
    return urljoin(url, og_url) if og_url else None


def _text_date(value: str | None) -> str | None:
    """htmldate's date of the page, unless it is the 1 January its last resorts make of a
    bare year: a copyright line ("© 2026" in a footer) or a year alone is no publication
    date."""
    value = _clean(value)
    return None if value is None or value.endswith("-01-01") else value


def _article_date(root: HtmlElement) -> str | None:
    """The publication date the page's markup gives its article: a microdata
    ``datePublished`` (on any element, as ``datetime`` or ``content``), else the first
    ``<time datetime>`` inside the ``<article>``."""
    for el in root.xpath("//*[@itemprop='datePublished']"):
        if value := _clean(el.get("datetime") or el.get("content") or el.text_content()):
            return value
    for el in root.xpath("//article//time[@datetime]"):
        if value := _clean(el.get("datetime")):
            return value
    return None


def trafilatura_fields(root: HtmlElement, url: str, with_date: bool) -> Document:
    """trafilatura's title and author of ``root``, and with ``with_date`` htmldate's date:
    the steps of ``trafilatura.extract_metadata`` this stage reads, in its order.

    That function also finds the site name, categories, tags and license, and always
    searches for a date (half its cost), which a page declaring its publication date does
    not need: together a tenth of what cleaning a page costs.
    """
    document = examine_meta(root)
    if document.author and " " not in document.author:
        document.author = None  # as trafilatura does: a one-word author is a handle
    try:
        document = extract_meta_json(root, document)
    except Exception as exc:  # trafilatura's JSON-LD reader is not robust to every block
        logger.debug("trafilatura JSON-LD metadata failed for %s: %s", url, exc)
    document.title = document.title or extract_title(root)
    document.author = document.author or extract_author(root)
    document.date = None
    if with_date:
        document.url = document.url or extract_url(root, url)
        document.date = find_date(root, **set_date_params(), url=document.url)
    document.clean_and_trim()
    return document


def extract_metadata(root: HtmlElement, url: str, nodes: list[dict]) -> Metadata:
    """Metadata of the parsed page ``root`` fetched from ``url`` (``nodes``: its JSON-LD)."""
    meta = Metadata(
        language=_language(root),
        canonical_url=_canonical(root, url),
        published=_meta_content(root, _PUBLISHED_META)
        or _jsonld_value(nodes, "datePublished")
        or _article_date(root),
        modified=_meta_content(root, _MODIFIED_META) or _jsonld_value(nodes, "dateModified"),
    )
    try:
        document = trafilatura_fields(root, url, with_date=meta.published is None)
    except Exception as exc:  # trafilatura's heuristics are not robust to every page
        logger.debug("trafilatura metadata failed for %s: %s", url, exc)
        document = None
    if document is not None:
        meta.title = _clean(document.title)
        meta.author = _clean(document.author)
        meta.published = meta.published or _text_date(document.date)
    if meta.title is None:
        meta.title = _clean(root.findtext(".//title"))
    return meta
