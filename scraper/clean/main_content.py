"""Clean stage: HTML → main-content Markdown plus page metadata.

Two extractors run on every page: trafilatura (precise on articles) and a
DOM-based extractor (keeps product grids, listings, forum threads, multi-section
pages). Which output is kept depends on what the page declares itself to be:
articles take trafilatura's, product pages and discussion threads take the DOM
extractor's without the short lines trafilatura did not keep (prices widgets,
buttons, vote counts), other pages take trafilatura's unless the DOM extractor
found clearly more text, which is how article extractors fail on listings.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import re
from dataclasses import dataclass

import trafilatura
from lxml.html import HtmlElement

from scraper.clean.chrome import remove_overlays
from scraper.clean.dom import (
    drop_reviews,
    drop_titled_sections,
    main_container,
    parse_html,
    prune_link_lists,
    repeated_block_share,
    strip_boilerplate,
)
from scraper.clean.hidden import remove_hidden
from scraper.clean.markdown import code_block, to_markdown
from scraper.clean.metadata import (
    Metadata,
    extract_metadata,
    jsonld_nodes,
    page_kind,
    product_description,
)

logger = logging.getLogger(__name__)


class _NoEmptyResultWarning(logging.Filter):
    """Drops trafilatura's warning on every page where it finds nothing ("discarding data:
    None"): an empty result is an outcome the clean stage handles, and the render decision
    asks trafilatura about pages that are empty on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("discarding data")


logging.getLogger("trafilatura.core").addFilter(_NoEmptyResultWarning())

__all__ = ["CleanedPage", "clean_html"]

# trafilatura's output is kept when it has at least this share of the DOM extractor's
# words, by the kind of page the page declares (JSON-LD / og:type / microdata).
# Articles trust trafilatura; undeclared pages take the DOM extractor's output only
# when it found clearly more (a list of items trafilatura cut). Chosen on the odd half
# of the WCXB dev split (bench/cleaning.py reports both halves).
TRAFILATURA_MIN_SHARE: dict[str | None, float] = {"article": 0.1, None: 0.7}
# An "article" whose main content is mostly a run of sibling posts or cards of one kind
# (``dom.repeated_block_share``) is a thread or a listing (forums and shops declare
# og:type=article too): it is treated as undeclared. Plain demotion of og:type=article
# cost AEB articles; those with such runs have them under 40 % of their text.
REPEATED_POSTS_SHARE = 0.5
# Page kinds whose content is the DOM extractor's, short lines checked against trafilatura.
CONFIRMED_DOM_KINDS = frozenset({"product", "discussion"})
# On those pages a DOM line with fewer words is kept only if trafilatura kept it too.
SHORT_LINE_WORDS = 8
# The JSON-LD product description is added unless this share of its 4-word runs is found.
DESCRIPTION_PRESENT_SHARE = 0.2
_WORD = re.compile(r"\w+")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+\.)\s+")
_BLANK_LINES = re.compile(r"\n{3,}")
# A price is a product fact even on a short line ("€129.00", "129,00 EUR"); the first one
# is the page's product, later ones trafilatura did not keep are cross-sell cards.
_PRICE = re.compile(r"[$€£¥₹]\s?\d|\d\s?(?:[$€£¥₹]|\b(?:USD|EUR|GBP|CHF|JPY)\b)")
# A line that is only the address of an image file (a gallery's thumbnails written out as
# text, a lazy-loading placeholder) is no content on any page.
_IMAGE_URL_LINE = re.compile(
    r"^[ \t]*(?:[-*+][ \t]+)?<?https?://\S+?\.(?:jpe?g|png|gif|webp|avif|svg|bmp|tiff?)"
    r"(?:[?#]\S*)?>?[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
# trafilatura's Markdown keeps some inline HTML (underlined links, sub/superscripts).
_INLINE_HTML = re.compile(r"</?(?:u|sub|sup|del|ins|mark|small|span)>", re.IGNORECASE)
# Headings of sections that point elsewhere: recommendations, not content.
RELATED_TITLES = re.compile(
    r"\b(related|recommended|similar|recently viewed|more from|more stories|"
    r"read next|more (topics|threads|posts|articles)|(you|customers|people) (may|might|also|who)|"
    r"also (like|bought|viewed)|featured products|frequently bought|bought together|"
    r"complete the (look|set)|shop the look)\b",
    re.IGNORECASE,
)
# Shop policy and checkout chrome around a product: cookie banners, shipping and returns
# offers, financing, stock status, sale badges, account links, sales contacts and phone
# numbers. Dropped on product pages from lines shorter than SHOP_POLICY_MAX_WORDS
# (longer lines are descriptions that mention them).
SHOP_POLICY = re.compile(
    r"\b(cookies?|privacy|free shipping|financing|apr|in stock|out of stock|orders? over|"
    r"checkout|per month|returns?|sales?|account|log ?in|sign ?in)\b"
    r"|\(?\b\d{3}\)?[ .-]\d{3}[ .-]\d{4}\b",
    re.IGNORECASE,
)
SHOP_POLICY_MAX_WORDS = 30


@dataclass
class CleanedPage(Metadata):
    """A page's main content as Markdown, with its metadata."""

    markdown: str = ""


def _word_count(text: str) -> int:
    return len(text.split())


def trafilatura_markdown(tree) -> str:
    """trafilatura's main content of ``tree`` as Markdown, tables and comments kept."""
    try:
        text = trafilatura.extract(
            copy.deepcopy(tree),
            output_format="markdown",
            include_tables=True,
            include_comments=True,
        )
    except Exception as exc:  # trafilatura's heuristics are not robust to every page
        logger.debug("trafilatura failed: %s", exc)
        return ""
    return _INLINE_HTML.sub("", text or "")


def _code_lines(line: str) -> str:
    """A line of trafilatura's Markdown as code text: stripped, without inline backticks."""
    line = line.strip()
    return line[1:-1] if len(line) > 1 and line[0] == line[-1] == "`" else line


def _code_run_end(lines: list[str], start: int, code: list[str]) -> int | None:
    """End (exclusive) of the run of ``lines`` from ``start`` that holds the non-blank
    lines ``code`` and nothing else (a fence trafilatura wrote around them included)."""
    end = start
    fenced = lines[start].strip().startswith("```")
    if fenced:
        end += 1
    matched = 0
    while matched < len(code) and end < len(lines):
        line = lines[end].strip()
        if line and _code_lines(line) != code[matched]:
            return None
        matched += bool(line)
        end += 1
    if matched < len(code):
        return None
    if fenced:
        if end >= len(lines) or not lines[end].strip().startswith("```"):
            return None
        end += 1
    return end


def fence_code_blocks(markdown: str, blocks: list[str]) -> str:
    """``markdown`` (trafilatura's) with the page's code ``blocks`` (fenced Markdown of each
    ``<pre>``, in page order) fenced as the page wrote them.

    trafilatura writes a one-line ``<pre><code>`` as inline code, a ``<pre>`` without
    ``<code>`` as paragraphs, drops blank lines inside code and glues the text after a
    fence to it. A block whose lines are not found as a run is left as trafilatura wrote it.
    """
    lines = markdown.split("\n")
    cursor = 0
    for block in blocks:
        code = [line.strip() for line in block.split("\n")[1:-1] if line.strip()]
        for start in range(cursor, len(lines)):
            first = _code_lines(lines[start])
            if first != code[0] and not lines[start].strip().startswith("```"):
                continue
            end = _code_run_end(lines, start, code)
            if end is not None:
                lines[start:end] = ["", *block.split("\n"), ""]
                cursor = start + block.count("\n") + 3
                break
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def dom_markdown(tree, product_page: bool = False) -> str:
    """The DOM extractor's main content of ``tree`` as Markdown (modifies ``tree``)."""
    strip_boilerplate(tree, keep_panels=product_page)
    root = main_container(tree)
    drop_titled_sections(root, RELATED_TITLES)
    if product_page:
        drop_reviews(root)
    prune_link_lists(root)
    return to_markdown(root)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def drop_unconfirmed_short_lines(from_dom: str, from_trafilatura: str) -> str:
    """``from_dom`` without its short lines that trafilatura did not keep.

    Headings, table rows, code and the first price are kept. Other short lines found
    only by the DOM extractor are mostly commerce and thread chrome: "In stock", "Add
    to cart", financing offers, prices of other products, vote counts, "Reply", "Share".
    """
    confirmed = f" {' '.join(_words(from_trafilatura))} "
    kept: list[str] = []
    in_code = False
    price_seen = False
    for line in from_dom.split("\n"):
        if line.startswith("```"):
            in_code = not in_code
        words = _words(_LIST_MARKER.sub("", line))
        short = len(words) < SHORT_LINE_WORDS
        if short and _PRICE.search(line) and not in_code:
            if price_seen and f" {' '.join(words)} " not in confirmed:
                continue
            price_seen = True
        if (
            in_code
            or not words
            or line.startswith("```")
            or not short
            or line.lstrip().startswith(("#", "|"))
            or _PRICE.search(line)
            or f" {' '.join(words)} " in confirmed
        ):
            kept.append(line)
    return _BLANK_LINES.sub("\n\n", "\n".join(kept))


def drop_shop_policy_lines(markdown: str) -> str:
    """``markdown`` (a product page's) without short lines about shop policies: shipping,
    returns, financing, stock, checkout, cookies."""
    kept: list[str] = []
    in_code = False
    for line in markdown.split("\n"):
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and len(_words(line)) < SHOP_POLICY_MAX_WORDS and SHOP_POLICY.search(line):
            continue
        kept.append(line)
    return _BLANK_LINES.sub("\n\n", "\n".join(kept))


def _shingles(words: list[str], size: int = 4) -> list[str]:
    return [" ".join(words[i : i + size]) for i in range(max(1, len(words) - size + 1))]


def add_missing_description(markdown: str, description: str | None) -> str:
    """``markdown`` with the page's declared product ``description`` appended when the
    extracted text lacks it (descriptions often sit in script-filled or hidden widgets)."""
    if not description or not (words := _words(description)):
        return markdown
    present = f" {' '.join(_words(markdown))} "
    shingles = _shingles(words)
    if sum(f" {s} " in present for s in shingles) >= DESCRIPTION_PRESENT_SHARE * len(shingles):
        return markdown
    return f"{markdown.rstrip()}\n\n{description}" if markdown.strip() else description


def drop_image_urls(markdown: str) -> str:
    """``markdown`` without lines that are only an image file's URL."""
    return _BLANK_LINES.sub("\n\n", _IMAGE_URL_LINE.sub("", markdown))


def choose_markdown(from_trafilatura: str, from_dom: str, kind: str | None) -> str:
    """The Markdown kept for a page of ``kind`` from the two extractors' outputs.

    On product pages and threads one extractor's short lines count only when the other
    found them too; when the DOM extractor found nothing, trafilatura's output is held to
    the same rule with nothing to confirm it (what is left of a shop page there is "Sold
    & shipped by", a search box's placeholder, financing offers).
    """
    dom_words = _word_count(from_dom)
    if kind in CONFIRMED_DOM_KINDS:
        kept, confirmed = (from_dom, from_trafilatura) if dom_words else (from_trafilatura, "")
        kept = drop_unconfirmed_short_lines(kept, confirmed)
        return drop_shop_policy_lines(kept) if kind == "product" else kept
    if not dom_words:
        return from_trafilatura
    if _word_count(from_trafilatura) >= TRAFILATURA_MIN_SHARE[kind] * dom_words:
        return from_trafilatura
    return from_dom


def clean_html(html: str, url: str) -> CleanedPage:
    """Main content of ``html`` (fetched from ``url``) as Markdown, with page metadata.

    Never raises on bad markup; ``markdown`` is empty when the page has no content.
    """
    return clean_tree(parse_html(html), url)


def clean_tree(tree: HtmlElement | None, url: str) -> CleanedPage:
    """:func:`clean_html` of a page parsed by :func:`~scraper.clean.dom.parse_html`."""
    return clean_tree_for_render(tree, url, plain_dom=False)[0]


def clean_tree_for_render(
    tree: HtmlElement | None, url: str, plain_dom: bool
) -> tuple[CleanedPage, str]:
    """:func:`clean_tree`, and with ``plain_dom`` the DOM extractor's Markdown of the page read
    as a page of no declared kind (what the render decision counts), else ``""``.

    On all but product pages that is the Markdown cleaning makes anyway: the render decision
    costs no second parse, hidden-text and overlay removal or DOM extraction.
    """
    if tree is None:
        return CleanedPage(markdown=""), ""
    # Before any extractor: trafilatura keeps a consent banner that sits by the content, and
    # text no reader sees is where pages hide instructions for the LLM.
    remove_hidden(tree)
    remove_overlays(tree)
    nodes = jsonld_nodes(tree)  # parsed once: metadata, page kind and description read it
    meta = extract_metadata(tree, url, nodes)
    code = [block for pre in tree.iter("pre") if (block := code_block(pre))]
    from_trafilatura = fence_code_blocks(trafilatura_markdown(tree), code)
    kind = page_kind(tree, nodes)
    description = product_description(nodes) if kind == "product" else None
    product_page = kind == "product"
    plain = dom_markdown(copy.deepcopy(tree)) if plain_dom and product_page else ""
    from_dom = dom_markdown(tree, product_page=product_page)
    if plain_dom and not product_page:
        plain = from_dom
    if kind == "article" and repeated_block_share(main_container(tree)) >= REPEATED_POSTS_SHARE:
        kind = None  # a thread or listing that calls itself an article: both outputs compete
    markdown = choose_markdown(from_trafilatura, from_dom, kind)
    markdown = drop_image_urls(add_missing_description(markdown, description))
    return CleanedPage(markdown=markdown.strip(), **dataclasses.asdict(meta)), plain
