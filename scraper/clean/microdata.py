"""Microdata as RDF, per the W3C Microdata to RDF mapping, in expanded JSON-LD form.

extruct finds the items and their properties (``itemscope``, ``itemprop``, ``itemref``, nested
items); the values are read the way the mapping reads them, not as extruct's plain strings:

* ``href``/``src``/``data`` of ``a``, ``area``, ``link``, ``img``, ``audio``, ``video``, ``embed``,
  ``iframe``, ``source``, ``track``, ``object`` are IRIs (resolved against the page URL; a
  ``content`` attribute stands in for a missing one, and with neither there is no value);
* ``<time datetime>`` (or ``content``, or its text) is typed by its lexical form: ``xsd:date``,
  ``xsd:dateTime``, ``xsd:time``, ``xsd:duration``, ``xsd:gYear``, ``xsd:gYearMonth``;
* ``<meta content>``, ``<data value>``, ``<meter value>`` and text are plain literals (typing
  them by their property's range is the extract stage's job, for every syntax alike);
* ``itemid`` is the item's IRI; ``itemtype`` gives its classes and the vocabulary its
  property names belong to (``https://schema.org/Product`` → ``https://schema.org/name``).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin

from extruct.w3cmicrodata import LxmlMicrodataExtractor
from lxml import etree
from w3lib.html import strip_html5_whitespace

XSD = "http://www.w3.org/2001/XMLSchema#"
# An ISO 8601 duration in XML Schema's form (P1DT2H30M).
DURATION = (
    r"-?P(?=\d|T\d)(?:\d+Y)?(?:\d+M)?(?:\d+D)?(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?"
)

_IRI_ATTRIBUTES = {
    **dict.fromkeys(["a", "area", "link"], "href"),
    **dict.fromkeys(["audio", "embed", "iframe", "img", "source", "track", "video"], "src"),
    "object": "data",
}
# The mapping's datatypes of a <time> value, tried in this order.
_TIME_TYPES = (
    ("date", re.compile(r"-?\d{4,}-\d{2}-\d{2}")),
    ("time", re.compile(r"\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?")),
    (
        "dateTime",
        re.compile(r"-?\d{4,}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"),
    ),
    ("duration", re.compile(DURATION)),
    ("gYear", re.compile(r"-?\d{4,}")),
    ("gYearMonth", re.compile(r"-?\d{4,}-\d{2}")),
)


def _time_value(text: str) -> dict[str, str]:
    for datatype, lexical in _TIME_TYPES:
        if lexical.fullmatch(text):
            return {"@value": text, "@type": XSD + datatype}
    return {"@value": text}


class _TypedValues(LxmlMicrodataExtractor):
    """extruct's item walk, with property values as JSON-LD value objects."""

    def _extract_property_value(
        self, node: Any, items_seen: Any, base_url: Any, itemids: Any, force: bool = False
    ) -> Any:
        if (not force and node.get("itemscope") is not None) or node.tag not in (
            *_IRI_ATTRIBUTES,
            "time",
        ):
            value = super()._extract_property_value(node, items_seen, base_url, itemids, force)
            return value if isinstance(value, dict) else {"@value": value}
        # A machine-readable value where the page gives one: the element's own attribute,
        # else a content= attribute (schema.org's examples and real pages write
        # <time content=…> and <link content=…>; extruct reads content= on any element).
        if node.tag == "time":
            text = node.get("datetime", node.get("content"))
            return _time_value((text if text is not None else node.xpath("string()")).strip())
        target = node.get(_IRI_ATTRIBUTES[node.tag], node.get("content"))
        if target is None or not target.strip():
            return {"@value": None}  # no IRI at all: not the page's own URL
        return {"@id": urljoin(base_url or "", strip_html5_whitespace(target))}


def _vocabulary(types: list[str], inherited: str | None) -> str | None:
    """The namespace property names are in: the first type's, up to its last ``#`` or ``/``."""
    if not types:
        return inherited
    first = types[0]
    cut = first.rfind("#") if "#" in first else first.rfind("/")
    return first[: cut + 1] if cut > 0 else inherited


def _node(item: dict[str, Any], base_url: str, vocabulary: str | None) -> dict[str, Any]:
    types = item.get("type") or []
    types = [types] if isinstance(types, str) else list(types)
    vocabulary = _vocabulary(types, vocabulary)
    node: dict[str, Any] = {}
    if item.get("id"):
        node["@id"] = urljoin(base_url, item["id"])
    if types:
        node["@type"] = types
    for name, values in (item.get("properties") or {}).items():
        prop = name if ":" in name else (vocabulary + name if vocabulary else None)
        if prop is None:
            continue  # an untyped item's relative property names mean nothing in RDF
        values = values if isinstance(values, list) else [values]
        node.setdefault(prop, []).extend(_value(v, base_url, vocabulary) for v in values)
    return node


def _value(value: Any, base_url: str, vocabulary: str | None) -> Any:
    if isinstance(value, dict) and ("properties" in value or "type" in value or "value" in value):
        return _node(value, base_url, vocabulary)
    return value


def microdata_items(root: etree._Element, base_url: str) -> list[dict[str, Any]]:
    """The page's top-level microdata items as expanded JSON-LD nodes."""
    items = _TypedValues().extract_items(root, base_url)
    return [_node(item, base_url, None) for item in items]
