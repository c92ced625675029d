"""The schema.org vocabulary, offline: classes, properties, their ranges, and typed values.

``data/`` holds schema.org's own release files (release 30.0, gzipped, unmodified; licence
CC BY-SA 3.0): ``schemaorg-current-https.jsonld``, the vocabulary, and
``schemaorgcontext.jsonld``, the JSON-LD context that ``https://schema.org/`` serves. Nothing
is fetched at run time.

Values are typed the way schema.org's ranges say, from their lexical form: a ``price``
(range Number) of ``"15.00"`` is ``xsd:decimal``, a ``startDate`` (Date or DateTime) of
``"2026-05-01T19:30"`` is ``xsd:dateTime``, ``cookTime`` (Duration) ``"PT1H"`` is
``xsd:duration``; a value that does not fit its range stays text.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib.resources import files
from typing import Any

from scraper.clean.microdata import DURATION, XSD

SCHEMA = "https://schema.org/"
# RDFa's vocab="https://schema.org" (no slash) makes https://schema.orgname: the same terms.
SCHEMA_NAMESPACES = (
    "https://schema.org/",
    "http://schema.org/",
    "https://schema.org",
    "http://schema.org",
)
# The coarse types of the default schema (public contract 2), most specific reading first:
# a LocalBusiness is an Organization and a Place; it is filed as an Organization.
COARSE_TYPES = ("Person", "Organization", "Product", "Event", "CreativeWork", "Place")

# A value as the facts carry it: JSON scalars, or JSON-LD value objects for typed and
# language-tagged literals ({"@value": "15.00", "@type": XSD + "decimal"}) and IRIs ({"@id": …}).
Value = str | int | float | bool | dict[str, str]


_TERM = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")  # what a schema.org term looks like


def schema_local(iri: str) -> str | None:
    """``Recipe`` for ``https://schema.org/Recipe`` (or ``http://``), None for other IRIs."""
    for namespace in SCHEMA_NAMESPACES:
        if iri.startswith(namespace):
            local = iri[len(namespace) :]
            return local if _TERM.fullmatch(local) else None
    return None


def _data(name: str) -> Any:
    resource = files("scraper.extract").joinpath("data", name)
    return json.loads(gzip.decompress(resource.read_bytes()))


@cache
def jsonld_context() -> dict[str, Any]:
    """The schema.org JSON-LD context document (``{"@context": {...}}``)."""
    context: dict[str, Any] = _data("schemaorgcontext.jsonld.gz")
    return context


def _ids(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [
        item["@id"].removeprefix("schema:")
        for item in items
        if isinstance(item, dict) and str(item.get("@id", "")).startswith("schema:")
    ]


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """schema.org's classes (with their superclasses) and properties (with their ranges)."""

    superclasses: dict[str, tuple[str, ...]]
    ranges: dict[str, tuple[str, ...]]
    members: dict[str, str]  # enumeration member -> its enumeration ("InStock" -> ItemAvailability)

    def is_class(self, name: str) -> bool:
        return name in self.superclasses

    def ancestors(self, name: str) -> frozenset[str]:
        """``name`` and every class above it (worked out once per class: every node of every
        page asks, for its coarse type, its resolution and its merges)."""
        return _ancestors(name)

    def range_of(self, prop: str) -> frozenset[str]:
        """The classes a property's values may have (``schema:rangeIncludes``)."""
        return frozenset(self.ranges.get(prop, ()))


@cache
def _ancestors(name: str) -> frozenset[str]:
    superclasses = vocabulary().superclasses
    seen = {name}
    todo = [name]
    while todo:
        for parent in superclasses.get(todo.pop(), ()):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return frozenset(seen)


@cache
def vocabulary() -> Vocabulary:
    """The shipped schema.org release, read once."""
    superclasses: dict[str, tuple[str, ...]] = {}
    ranges: dict[str, tuple[str, ...]] = {}
    members: dict[str, str] = {}
    for term in _data("schemaorg-current-https.jsonld.gz")["@graph"]:
        name = str(term.get("@id", "")).removeprefix("schema:")
        kinds = term.get("@type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if "rdfs:Class" in kinds:
            superclasses[name] = tuple(_ids(term.get("rdfs:subClassOf")))
        elif "rdf:Property" in kinds:
            ranges[name] = tuple(_ids(term.get("schema:rangeIncludes")))
        elif enumerations := _ids([{"@id": kind} for kind in kinds if isinstance(kind, str)]):
            members[name] = enumerations[0]  # typed with its enumeration: a member
    return Vocabulary(superclasses, ranges, members)


def coarse_type(classes: Iterable[str]) -> str:
    """The contract-2 type of a node with these schema.org classes (``Thing`` if none fits)."""
    words = vocabulary()
    reach = set().union(*(words.ancestors(c) for c in classes))
    return next((coarse for coarse in COARSE_TYPES if coarse in reach), "Thing")


# Classes whose nodes are values of the thing that holds them, not things known by a name:
# two list items called "Dresses", two offers, two ratings, two "Home" pages are not one.
_VALUE_ROOTS = frozenset(
    ["StructuredValue", "ListItem", "Rating", "Action", "EntryPoint", "WebPageElement",
     "Offer", "Demand", "WebPage", "WebSite", "PropertyValueSpecification", "DataFeedItem"]
)  # fmt: skip


def is_value_class(classes: Iterable[str]) -> bool:
    """Whether nodes of these classes are values (resolved by identifier only, not by name)."""
    words = vocabulary()
    return bool(classes) and all(words.ancestors(c) & _VALUE_ROOTS for c in classes)


def kinds_differ(first: Iterable[str], second: Iterable[str]) -> bool:
    """Whether nodes of these classes are different kinds of thing: no class of one is a
    class of the other or above it (a MusicRecording is no MusicComposition; a Restaurant
    is an Organization)."""
    words = vocabulary()
    first, second = list(first), list(second)
    return bool(first and second) and not any(
        a in words.ancestors(b) or b in words.ancestors(a) for a in first for b in second
    )


def schema_class(name: str) -> str | None:
    """The schema.org class ``name`` denotes (``Recipe``, ``recipe``), or None."""
    words = vocabulary()
    if words.is_class(name):
        return name
    upper = name[:1].upper() + name[1:]
    return upper if words.is_class(upper) else None


# Lexical forms (XML Schema) of the typed values schema.org's data types stand for.
_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)")
_DOUBLE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_YEAR = re.compile(r"\d{4}")
_YEAR_MONTH = re.compile(r"\d{4}-(?:0[1-9]|1[0-2])")
_DATETIME = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(:\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")
_TIME = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?")
_DURATION = re.compile(DURATION)
_BOOLEAN = {"true": "true", "false": "false"}
_ABSOLUTE_URL = re.compile(r"https?://[^\s/]+\S*\Z")
_NUMBER_TYPES = frozenset(["Number", "Float", "Integer"])


def _typed(value: str, datatype: str) -> dict[str, str]:
    return {"@value": value, "@type": XSD + datatype}


def _number(text: str, integer_only: bool) -> dict[str, str] | None:
    if _INTEGER.fullmatch(text):
        return _typed(text, "integer")
    if integer_only:
        return None
    if _DECIMAL.fullmatch(text):
        return _typed(text, "decimal")
    return _typed(text, "double") if _DOUBLE.fullmatch(text) else None


def _date_or_time(text: str, kinds: frozenset[str]) -> dict[str, str] | None:
    if "Date" in kinds and _DATE.fullmatch(text):
        try:
            date.fromisoformat(text)
        except ValueError:
            return None
        return _typed(text, "date")
    match = _DATETIME.fullmatch(text)
    if match and kinds & {"Date", "DateTime"}:
        # xsd:dateTime needs seconds; "19:30" is written "19:30:00".
        head, seconds, zone = match.groups()
        lexical = head + (seconds or ":00") + (zone or "")
        try:
            datetime.fromisoformat(lexical.replace("Z", "+00:00"))
        except ValueError:
            return None
        return _typed(lexical, "dateTime")
    if "Date" in kinds and _YEAR.fullmatch(text):
        return _typed(text, "gYear")  # "1954" for a birthDate: a year, as XML Schema writes it
    if "Date" in kinds and _YEAR_MONTH.fullmatch(text):
        return _typed(text, "gYearMonth")
    if "Time" in kinds and _TIME.fullmatch(text):
        return _typed(text if text.count(":") == 2 else text[:5] + ":00" + text[5:], "time")
    return None


def typed_text(prop: str, text: str, *, iris: bool = False) -> Value:
    """A text value of ``prop`` typed by the property's schema.org range, when it fits one.

    With ``iris``, for text a model wrote (markup's own processors already told IRIs from
    text), an absolute URL where the range is URLs, not text, is an IRI, and an enumeration
    member's name where the range is that enumeration (``availability: "InStock"``) is
    the member's IRI.
    """
    words = vocabulary()
    kinds = words.range_of(prop)
    stripped = text.strip()
    if not kinds or not stripped:
        return text
    if iris and "URL" in kinds and "Text" not in kinds and _ABSOLUTE_URL.match(stripped):
        return {"@id": stripped}
    member = schema_local(stripped) or stripped
    if iris and words.members.get(member) in kinds:
        return {"@id": SCHEMA + member}
    if kinds & _NUMBER_TYPES and (
        number := _number(stripped, "Integer" in kinds and not kinds & {"Number", "Float"})
    ):
        return number
    if kinds & {"Date", "DateTime", "Time"} and (moment := _date_or_time(stripped, kinds)):
        return moment
    if "Duration" in kinds and _DURATION.fullmatch(stripped):
        return _typed(stripped, "duration")
    if "Boolean" in kinds and (boolean := _BOOLEAN.get(stripped.lower())):
        return _typed(boolean, "boolean")
    return text


def typed_value(prop: str, value: Any, datatype: str | None = None) -> Value | None:
    """A JSON-LD value of ``prop`` (with its ``@type``, if any) as the facts carry it.

    JSON numbers and booleans keep their type (a fraction is ``xsd:decimal`` where the range
    is a Number, as prices are, else ``xsd:double``); ``schema:Date``/``DateTime`` values
    (typed so by the schema.org context) become ``xsd:date``/``xsd:dateTime``; other typed
    values keep their datatype; text is typed by :func:`typed_text`.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        kinds = vocabulary().range_of(prop)
        if kinds & _NUMBER_TYPES and value.is_integer() and "Integer" in kinds:
            return int(value)
        decimal = kinds & _NUMBER_TYPES and "e" not in repr(value)
        return _typed(repr(value), "decimal" if decimal else "double")
    if not isinstance(value, str):
        return None
    local = schema_local(datatype) if datatype else None
    if local in ("Date", "DateTime", "Time"):
        return (
            _date_or_time(
                value.strip(), frozenset([local, "Date"] if local == "DateTime" else [local])
            )
            or value
        )
    if datatype and local is None:
        return {"@value": value, "@type": datatype}
    return typed_text(prop, value)
