"""Structured data embedded in a page: JSON-LD, microdata, RDFa and OpenGraph.

Output shape (every key always present, each a list of dicts):

- ``json-ld``: the page's JSON-LD objects as written (a block holding a list
  contributes its members); a block that is not valid JSON, even after removing
  comments and trailing commas, or that nests deeper than 64 levels, is skipped and the
  others kept. Lone surrogates (``"\\ud800"``) become U+FFFD.
- ``microdata``: the items as RDF (W3C Microdata to RDF, :mod:`scraper.clean.microdata`)
  in expanded JSON-LD: ``@id`` (``itemid``), ``@type``, full property IRIs, values as
  ``{"@value": …}`` (typed ``<time>`` values with ``@type``) or ``{"@id": …}`` (links, images).
- ``opengraph``: extruct's uniform form: one dict per OpenGraph namespace set,
  ``og:type`` as ``@type``, other properties as ``"og:title": "..."`` keys.
- ``rdfa``: pyRdfa's RDF (through extruct, read as HTML5+RDFa), expanded JSON-LD (``@id``
  plus full property IRIs), blank nodes labelled `_:b0`, `_:b1`, … in an order that depends
  only on the page (pyRdfa's own labels are random), so the content hash is stable; link
  previews, the head's links and ARIA roles are left out (:func:`prune_to_rdfa`).

What one page may bring is bounded (``STRUCTURED_DATA_MAX_BYTES`` of JSON): 2.9 MB of JSON-LD
took minutes and gigabytes to clean and turn into entities, so blocks and items past the
bound are left out, and listed, and the page goes on with the others.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import extruct
import jstyleson  # extruct's own tolerant JSON reader (comments, trailing commas)
from extruct.rdfa import RDFaExtractor
from lxml import etree
from pyRdfa import Options
from pyRdfa import pyRdfa as PyRdfa
from pyRdfa.host import HostLanguage
from rdflib import Graph

from scraper import settings as defaults
from scraper.clean.dom import parse_html
from scraper.clean.microdata import microdata_items
from scraper.safe_json import TooDeep, load_json

logger = logging.getLogger(__name__)

SYNTAXES = ("json-ld", "microdata", "rdfa", "opengraph")
MAX_BYTES = defaults.STRUCTURED_DATA_MAX_BYTES
_JSONLD_XPATH = etree.XPath("//script[@type='application/ld+json']")
# Elements that make RDFa triples or carry a hanging one (RDFa Core 1.1, section 7.5), and
# <base> wherever it is (pyRdfa takes the first one in the document); every other element
# only passes on its subject, which matters to its RDFa descendants alone. (@role is read
# by no one: prune_to_rdfa removes it.)
_RDFA_ATTRIBUTES = (
    "property", "typeof", "about", "resource", "vocab", "prefix", "rel", "rev", "datatype",
    "inlist",
)  # fmt: skip
_RDFA_XPATH = etree.XPath(
    "//base | //*[" + " or ".join(f"@{name}" for name in _RDFA_ATTRIBUTES) + "]"
)
# Whose whole subtree counts: @property takes its text (or markup) as the value, and a
# hanging @rel/@rev is completed by any descendant with an @href or @src.
_RDFA_WHOLE = ("property", "rel", "rev")
_ROLE_XPATH = etree.XPath("//*[@role]")
_VOCAB_XPATH = etree.XPath("//*[@vocab]")
# The terms a @rel or @rev value may use without a vocabulary (RDFa 1.1's initial context).
_INITIAL_TERMS = frozenset({"describedby", "license", "role"})
_SCHEMA_TERM = re.compile(r"(?:schema:|https?://schema\.org/)", re.I)
_WRAPPERS = re.compile(r"^\s*(?:<!--|<!\[CDATA\[)|(?:-->|\]\]>)\s*$")


def _load_jsonld(text: str) -> Any:
    """The JSON value of one JSON-LD block; ``None`` when it is not JSON.

    Raises :class:`~scraper.safe_json.TooDeep` for a block nested too deep.
    """
    try:
        return load_json(text, strict=False)
    except TooDeep:
        raise
    except ValueError:
        pass
    try:
        return load_json(jstyleson.dispose(_WRAPPERS.sub("", text)), strict=False)
    except TooDeep:
        raise
    except ValueError:
        return None


def parse_jsonld(root: etree._Element, skipped: list[str] | None = None) -> list[dict[str, Any]]:
    """JSON-LD objects of the parsed page ``root``, skipping blocks that are not JSON.

    A block nested deeper than :data:`~scraper.safe_json.MAX_DEPTH` is skipped too, and
    said in ``skipped`` (one line per block); the page's other blocks are kept.
    """
    items: list[dict[str, Any]] = []
    for number, script in enumerate(_JSONLD_XPATH(root), 1):
        try:
            data = _load_jsonld(script.xpath("string()"))
        except TooDeep as exc:
            if skipped is not None:
                skipped.append(f"jsonld_too_deep: JSON-LD block {number} {exc}, skipped")
            continue
        if data is None:
            logger.debug("skipping a JSON-LD block that is not valid JSON")
        items.extend(x for x in (data if isinstance(data, list) else [data]) if isinstance(x, dict))
    return items


@dataclass(frozen=True)
class SkippedData:
    """Structured data of one syntax left out of a page, past the page's bound."""

    syntax: str  # json-ld | microdata | rdfa | opengraph
    items: int  # <script> blocks for JSON-LD, top-level items for the others
    bytes: int  # their size as JSON (0 for items nested too deep to write as JSON)
    reason: str = "too_large"


def drop_oversized_jsonld(root: etree._Element, max_bytes: int) -> tuple[int, SkippedData | None]:
    """Remove from ``root`` the JSON-LD blocks past ``max_bytes`` of text, in page order (a
    block that does not fit is removed, smaller ones after it still fit), so that neither
    the structured data nor the cleaner's metadata readers spend time on them; returns the
    bytes left for the other syntaxes and what was removed."""
    left, removed, removed_bytes = max_bytes, 0, 0
    for script in _JSONLD_XPATH(root):
        size = len(script.xpath("string()").encode("utf-8", "replace"))
        if size <= left:
            left -= size
            continue
        removed, removed_bytes = removed + 1, removed_bytes + size
        script.getparent().remove(script)  # a <script>'s tail is whitespace of the <head>
    return left, SkippedData("json-ld", removed, removed_bytes) if removed else None


def _json_size(item: Any) -> int | None:
    """Bytes of ``item`` as JSON; None when it is nested too deep to write."""
    try:
        return len(json.dumps(item, ensure_ascii=False, default=str).encode("utf-8"))
    except RecursionError:
        return None


def bound_items(data: dict[str, list], max_bytes: int) -> tuple[dict[str, list], list[SkippedData]]:
    """``data`` without the microdata, RDFa and OpenGraph items past ``max_bytes`` of JSON
    (JSON-LD, bounded by :func:`drop_oversized_jsonld`, is kept as it is), and what was left
    out. Items are taken in syntax and page order; one that does not fit is skipped and
    smaller ones after it still fit; one nested too deep to write as JSON is skipped."""
    kept: dict[str, list] = {"json-ld": data.get("json-ld", [])}
    skipped: list[SkippedData] = []
    left = max_bytes
    for syntax, items in data.items():
        if syntax == "json-ld":
            continue
        kept[syntax], count, total = [], 0, 0
        for item in items:
            size = _json_size(item)
            if size is None or size > left:
                count, total = count + 1, total + (size or 0)
                continue
            left -= size
            kept[syntax].append(item)
        if count:
            skipped.append(SkippedData(syntax, count, total))
    return kept, skipped


def extract_structured_data(html: str, url: str) -> dict[str, list]:
    """JSON-LD, microdata, RDFa and OpenGraph of ``html``; never raises on broken markup."""
    return structured_data_of(parse_html(html), url)


def structured_data_of(
    root: etree._Element | None, url: str, skipped: list[str] | None = None
) -> dict[str, list]:
    """The structured data of a page parsed by :func:`~scraper.clean.dom.parse_html`;
    blocks skipped as unsafe to read are said in ``skipped`` (see :func:`parse_jsonld`)."""
    result: dict[str, list] = {syntax: [] for syntax in SYNTAXES}
    if root is None:
        return result
    result["json-ld"] = parse_jsonld(root, skipped)
    try:
        result["microdata"] = microdata_items(root, url)
    except Exception as exc:  # extruct's item walk raises many kinds of errors on hostile markup
        logger.debug("microdata extraction failed for %s: %s", url, exc)
    try:
        found = extruct.extract(root, base_url=url, syntaxes=["opengraph"], uniform=True)
        result["opengraph"] = found.get("opengraph", [])
    except Exception as exc:  # extruct raises many kinds of errors on hostile markup
        logger.debug("opengraph extraction failed for %s: %s", url, exc)
    # Last: pruning for RDFa changes the tree.
    try:
        if prune_to_rdfa(root):
            result["rdfa"] = canonical_blank_nodes(_Html5RDFa().extract_items(root, base_url=url))
    except Exception as exc:  # pyRdfa raises many kinds of errors on hostile markup
        logger.debug("rdfa extraction failed for %s: %s", url, exc)
    return result


def canonical_blank_nodes(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """RDFa items in an order and with blank-node labels (``_:b0``, ``_:b1``, …) that depend
    only on what the page says: pyRdfa names blank nodes at random and lists them in hash
    order, so without this the same page (a breadcrumb of blank list items) would give another
    content hash each time it is cleaned, and a re-crawl would see it changed."""

    def masked(value: Any) -> str:
        return _as_json(_relabel(value, lambda label: "_:"))

    ordered = sorted((_values_sorted(item, masked) for item in items), key=masked)
    labels: dict[str, str] = {}

    def label(old: str) -> str:
        return labels.setdefault(old, f"_:b{len(labels)}")

    for item in ordered:  # subjects first, in content order, then the blank nodes they name
        if str(item.get("@id", "")).startswith("_:"):
            label(item["@id"])
    # Sorted again once labelled: values that differ only by the blank nodes they name (a
    # breadcrumb's list items) tie under the mask, and kept pyRdfa's random order.
    relabelled = [_values_sorted(_relabel(item, label), _as_json) for item in ordered]
    return sorted(relabelled, key=_as_json)


def _as_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _values_sorted(item: dict[str, Any], key: Callable[[Any], str]) -> dict[str, Any]:
    """``item`` with each property's values sorted by ``key`` (an RDF property's values are a
    set)."""
    return {k: sorted(v, key=key) if isinstance(v, list) else v for k, v in item.items()}


def _relabel(value: Any, label: Callable[[str], str]) -> Any:
    """``value`` with every blank-node ``@id`` replaced by ``label(it)``."""
    if isinstance(value, list):
        return [_relabel(v, label) for v in value]
    if isinstance(value, dict):
        return {
            k: label(v)
            if k == "@id" and isinstance(v, str) and v.startswith("_:")
            else _relabel(v, label)
            for k, v in value.items()
        }
    return value


def _read_elsewhere_or_no_triple(el: etree._Element, vocabulary: bool) -> bool:
    """Whether ``el``'s RDFa is left out of the RDFa read (see :func:`prune_to_rdfa`)."""
    attributes = {name for name in _RDFA_ATTRIBUTES if el.get(name) is not None}
    if attributes == {"prefix"}:
        return True  # declares prefixes, makes no triple (kept where it is an ancestor)
    if el.tag == "meta" and attributes == {"property"}:
        terms = el.get("property", "").split()
        return not any(_SCHEMA_TERM.match(t) or (vocabulary and ":" not in t) for t in terms)
    parent = el.getparent()
    if el.tag == "link" and attributes == {"rel"} and parent is not None and parent.tag == "head":
        return True
    if vocabulary or not attributes or not attributes <= {"rel", "rev"}:
        return False
    terms = f"{el.get('rel', '')} {el.get('rev', '')}".lower().split()
    return not any(":" in term or term in _INITIAL_TERMS for term in terms)


def prune_to_rdfa(root: etree._Element) -> bool:
    """Cut from ``root`` what cannot change its RDFa graph, or is left out of it; False when
    nothing is left to read.

    pyRdfa builds a state object per element (half of a page's cleaning time went there), and
    most of a page is text, links, scripts and styles that make no triple. Kept: the
    ``<head>`` element, every element with an RDFa attribute and its ancestors (they give it
    its subject, base and language), and the whole subtree of a @property, @rel or @rev
    element. What goes has no RDFa attribute inside it and is not a value or a hanging
    triple's object, so the graph is the same.

    Left out, so that nearly every page needs no RDFa processor at all (pyRdfa cost 16 ms a
    page, and only 4 of 400 WCXB pages had schema.org RDFa): ``<meta property>`` in other
    vocabularies than schema.org's (link previews: OpenGraph's, which the ``opengraph``
    syntax holds, Facebook's, Twitter's, app links), the head's ``<link rel>`` (HTML's links
    of the document: stylesheets, icons, feeds, API endpoints) and ARIA ``role`` attributes
    (pyRdfa made an ``xhv:role`` triple of each). A @rel or @rev of HTML link types alone
    (``nofollow``) on a page without @vocab, and @prefix alone, make no triple.
    """
    for el in _ROLE_XPATH(root):
        del el.attrib["role"]
    vocabulary = bool(_VOCAB_XPATH(root))
    bearing = [el for el in _RDFA_XPATH(root) if not _read_elsewhere_or_no_triple(el, vocabulary)]
    if not bearing or all(el.tag == "base" for el in bearing):
        return False
    # The head itself stays (extruct orders property values by its <meta property> children).
    keep: set[etree._Element] = set(root.iterchildren("head"))
    whole: set[etree._Element] = set()
    for el in bearing:
        if any(el.get(name) is not None for name in _RDFA_WHOLE):
            whole.add(el)
        keep.add(el)
        keep.update(el.iterancestors())
    stack = [root]
    while stack:
        for child in list(stack.pop()):
            if child in whole:
                continue
            if child in keep:
                stack.append(child)
            else:
                child.getparent().remove(child)
    return True


class _GraphOnlyOptions(Options):
    """pyRdfa's options with no processor graph: its warnings (one per unknown ``@rel`` term
    of every ``<link>``) and errors became triples of a graph nobody reads, a tenth of a
    page's cleaning time. The page's own graph does not depend on them."""

    def add_warning(self, *args: Any, **kwargs: Any) -> None:
        return None

    def add_info(self, *args: Any, **kwargs: Any) -> None:
        return None

    def add_error(self, *args: Any, **kwargs: Any) -> None:
        return None


class _Html5RDFa(RDFaExtractor):
    """extruct's RDFa pass, with pyRdfa told the page is HTML5+RDFa.

    extruct leaves pyRdfa's default host language, XHTML, whose rules ignore HTML5's
    ``<time datetime>``: a ``datePublished`` came out as "Jul 3, 2010", not 2010-07-03.
    The options are extruct's own otherwise, without the processor graph it never returns.
    """

    def extract_items(self, document: Any, base_url: Any = None, expanded: bool = True) -> Any:
        options = _GraphOnlyOptions(
            output_processor_graph=False,
            embedded_rdf=False,
            space_preserve=True,
            vocab_expansion=False,
            vocab_cache=False,
            vocab_cache_report=False,
            refresh_vocab_cache=False,
            check_lite=False,
        )
        options.host_language = HostLanguage.html5
        graph = PyRdfa(options, base=base_url).graph_from_DOM(document, graph=Graph())
        text = graph.serialize(format="json-ld", auto_compact=not expanded)
        text = text if isinstance(text, str) else text.decode("utf-8")
        try:  # extruct's reordering of multi-valued properties fails on some graphs
            return self._fix_order(text, document)
        except Exception:
            return json.loads(text)
