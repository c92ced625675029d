"""How faithfully the pipeline turns schema.org markup into RDF, against standard processors.

    python bench/schemaorg_fidelity.py [--examples PATH] [--half tune|held-out|all]
        [--limit N] [--show-misses K] [--misses-file PATH] [--strict-microdata]
        [--shared-store]

Data (third-party, never copied into the repo): schema.org's own examples, release 30.0::

    git clone https://github.com/schemaorg/schemaorg
    # data/releases/30.0/schemaorg-all-examples.txt      (--examples)
    # data/releases/30.0/schemaorgcontext.jsonld         (--context; beside --examples)
    # data/releases/30.0/schemaorg-current-https.jsonld  (--vocabulary; beside --examples)

The context and the vocabulary default to the gzipped copies production ships in
``scraper/extract/data/`` when this checkout has them, else to the files beside
``--examples``. The ``scraper`` package is this
checkout's, unless ``PYTHONPATH`` names a folder holding one (``PYTHONPATH=/work/main``
measures that checkout's code with this bench).

Every example block (``TYPES: #eg-NNNN``) has up to three markups of the same data: JSON-LD
(put in ``<head>``), microdata and RDFa (put in ``<body>``; a section that is a whole
document is used as it is, one that has its own ``<body vocab=...>`` is the body: nesting it
would leave its attributes to each HTML parser's repair of a second ``<body>``). Each one
becomes a page ``http://examples.test/eg-NNNN/<syntax>`` (relative IRIs resolve against
it). ``--half tune`` takes the even example numbers, ``held-out`` the odd ones, ``all``
(the default) both, printed as two tables.

Reference RDF, from standard processors, never from the network:

* JSON-LD: pyoxigraph's JSON-LD 1.1 parser (pyld when pyoxigraph has none; production uses
  pyld, so the reference stays independent), with schema.org's context inlined wherever a
  ``@context`` names schema.org; any other remote context is refused (a failed page).
* RDFa: pyRdfa (the ``pyRdfa3`` package extruct installs), vocabulary expansion off.
* Microdata: pyMicrodata, Ivan Herman's implementation of the W3C Microdata to RDF note, as
  rdflib 4.2.2's wheel ships it (``rdflib/plugins/parsers/pyMicrodata``). The bench unpacks
  it once into ``~/.cache/semantic-scraper-bench/`` (the wheel comes from ``--rdflib-wheel``
  or ``pip download``, checked against its sha256) and imports it against the installed
  rdflib. It needs no change to run on Python 3.11 / rdflib 7. Three fidelity patches
  (``PYMICRODATA_PATCHES``): a relative ``itemid`` is resolved against the page, as the
  microdata spec and pyMicrodata 2.x do (the 2012 code made it a blank node); relative
  ``href``/``src`` values are resolved with ``urljoin`` as written (the 2012 code
  percent-encoded them first, so ``href="#book1"`` became ``.../%23book1``); and a
  ``content`` attribute gives the value of any element, not only of ``<meta>``: the HTML
  spec reads it on ``<meta>`` only, but schema.org's examples put it on ``<span>`` and the
  like 138 times, meaning it as the machine-readable value, and extruct and Google read it
  so. ``--strict-microdata`` turns that last one off (the W3C mapping as written).

Ours: ``clean_page`` → ``extract_page`` (no LLM: ``OPENAI_*`` unset, so structured data only)
→ ``store_page`` into one temporary embedded store, then the quads of the page's named graph
(the provenance graphs are not facts). The store is emptied (``DROP ALL``) before each page:
the three pages of an example describe the same things, and a page resolved against the
others (the microdata page's "RBS" taking the JSON-LD page's ``@id``, an item becoming a
link to itself) would measure cross-page resolution, not the markup's RDF.
``--shared-store`` keeps them all, as a crawl would.

Normalisation, both sides: ``http://schema.org/`` becomes ``https://schema.org/`` (and RDFa's
``vocab="https://schema.org"``, which concatenates to ``https://schema.orgname``, counts as
the schema.org vocabulary it means); only triples with a schema.org predicate, or
``rdf:type`` with a schema.org class, are facts (pyRdfa's ``rel="stylesheet"`` and other
HTML link types it puts in the vocabulary are not); ``owl:sameAs`` on our nodes is an
identity link, not a fact; an RDF list (pyMicrodata's registry orders a few
http://schema.org/ properties) counts as its members; datatypes ``schema:Date`` and
``schema:DateTime`` count as ``xsd:date`` and ``xsd:dateTime``, language-tagged strings as
plain strings.

Node keys (node IRIs differ between the two sides): a node with a ``schema:name`` literal is
``Classes "name"`` (sorted schema.org classes, smallest name, whitespace collapsed); another
node is keyed by where it hangs: ``Classes (property of <referrer's key>)``, taking the
smallest such path from named nodes, or ``Classes (top)`` for a node nothing refers to (an
unnamed cycle: ``Classes (cycle)``). Paths rather than a hash of the node's content, so one
missing property costs that fact only, not every fact of the node and of its unnamed parents.

Facts (sets, per page) and metrics (summed over pages, per syntax and overall):

* typed nodes ``(key, class)``; literal facts ``(key, property, value)``, compared without
  whitespace (text content glues ``<p>`` blocks a renderer would break), empty values left
  out, numbers compared numerically (``"15.00"`` matches ``15``),
  date-times, times and durations by value (``21:30`` matches ``21:30:00``, ``PT178M``
  matches ``PT2H58M``), true/false in any case;
  node-to-node facts ``(key, property, key)``; IRI-valued facts ``(key, property, IRI)``
  for IRIs that are not nodes of the graph. Precision / recall / F1 of each.
* typed values: of matched literal facts, the fraction whose datatype (any of ours for that
  fact) is the expected one. Expected, from the property's ``schema:rangeIncludes`` in the
  vocabulary and the reference's lexical form: range Number/Float → ``xsd:integer`` for an
  integer, ``xsd:decimal`` for a decimal, ``xsd:double`` with an exponent; Integer →
  ``xsd:integer``; Date or DateTime → ``xsd:date`` for YYYY-MM-DD, ``xsd:dateTime`` for an
  ISO date-time (seconds and zone optional), and (beyond the issue's list, so that a year
  is typed alike in every syntax: pyRdfa types ``<time>1954</time>`` so)
  ``xsd:gYear``/``xsd:gYearMonth`` for YYYY/YYYY-MM; Time → ``xsd:time``; Boolean →
  ``xsd:boolean`` for true/false (any case); Duration → ``xsd:duration`` for an ISO 8601
  duration in XSD's lexical space (P…, no weeks). When no range matches the lexical form,
  or the range is Text only, the reference processor's datatype is expected (a plain
  string unless the markup typed it: JSON numbers and booleans, microdata
  ``<time>``/``<data>``, RDFa ``datatype``), unless the value does not fit that datatype
  (schema.org's context coerces ``"May 2015"`` to ``schema:Date``): then a plain string.
* real properties: the fraction of our facts (every triple of the page graph) whose
  predicate is a schema.org property of the vocabulary, ``rdf:type`` or ``owl:sameAs``.
* IRIs turned into names/nodes: of the reference's IRI-valued facts, the fraction that ours
  has as a literal (the IRI, or a relative form resolving to it) or as a node (one whose
  ``owl:sameAs`` or a value is that IRI, or a link the reference lacks from the same node
  and property) instead of as the IRI; matched by property and IRI wherever the subject
  went.
* identities kept: of reference nodes named by an IRI the page gave (``@id``, ``itemid``,
  RDFa ``about``/``resource``; not blank nodes, and not the page URL, which RDFa gives as
  the implicit subject of top-level properties: that is the page, not an identity the
  markup states), the fraction whose IRI is our same-key node's IRI or one of its
  ``owl:sameAs``.

A page whose reference processor fails or gives no facts is counted and reported, and left
out of the metrics (there is nothing to measure against); a page our pipeline fails on counts
with no facts. Progress goes to stderr; ``--show-misses K`` prints K pages' diffs and
``--misses-file`` writes every page's diff as JSON lines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as dt_time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urljoin, urlsplit

REPO = Path(__file__).resolve().parent.parent


def _scraper_on_path() -> None:
    """Put this checkout first, unless PYTHONPATH names a folder with its own ``scraper``.

    The venv may hold another checkout as an editable install, so "importable" is not enough:
    only an explicit PYTHONPATH overrides the checkout the bench lives in.
    """
    explicit = [
        entry
        for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep)
        if entry and (Path(entry) / "scraper" / "__init__.py").is_file()
    ]
    if not explicit:
        sys.path.insert(0, str(REPO))


_scraper_on_path()

import html5lib  # noqa: E402  (pyRdfa's and pyMicrodata's own HTML parser)
import pyoxigraph  # noqa: E402
import rdflib  # noqa: E402
from lxml import html as lxml_html  # noqa: E402

import scraper  # noqa: E402

DATA = Path("/work/data/schemaorg")
EXAMPLES = DATA / "schemaorg-all-examples.txt"
SHIPPED = REPO / "scraper" / "extract" / "data"
SHIPPED_CONTEXT = SHIPPED / "schemaorgcontext.jsonld.gz"
SHIPPED_VOCABULARY = SHIPPED / "schemaorg-current-https.jsonld.gz"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "semantic-scraper-bench"
RDFLIB_WHEEL = "rdflib-4.2.2-py3-none-any.whl"
RDFLIB_WHEEL_SHA256 = "58d5994610105a457cff7fdfe3d683d87786c5028a45ae032982498a7e913d6f"
SITE = "http://examples.test/"

SCHEMA = "https://schema.org/"
# http or https, and the slash RDFa's vocab="https://schema.org" leaves out (schema.orgname)
_SCHEMA_IRI = re.compile(r"https?://schema\.org(?=[/A-Za-z]|$)/?")
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDF_TYPE = RDF + "type"
XSD = "http://www.w3.org/2001/XMLSchema#"
OWL_SAME_AS = "http://www.w3.org/2002/07/owl#sameAs"
XSD_STRING = XSD + "string"
DATATYPE_ALIASES = {
    SCHEMA + "Date": XSD + "date",
    SCHEMA + "DateTime": XSD + "dateTime",
    SCHEMA + "Time": XSD + "time",
    RDF + "langString": XSD_STRING,
    RDF + "PlainLiteral": XSD_STRING,
}
# HTML link types: pyRdfa turns rel="stylesheet" and the like into vocabulary terms.
HTML_LINK_TYPES = frozenset(
    ["alternate", "apple-touch-icon", "bookmark", "canonical", "dns-prefetch", "external",
     "help", "icon", "manifest", "modulepreload", "next", "nofollow", "noopener", "noreferrer",
     "opener", "pingback", "preconnect", "prefetch", "preload", "prerender", "prev", "search",
     "shortcut", "shortlink", "stylesheet", "tag"]
)  # fmt: skip

SYNTAXES = ("jsonld", "microdata", "rdfa")
SYNTAX_NAMES = {"jsonld": "JSON-LD", "microdata": "microdata", "rdfa": "RDFa"}
SECTIONS = {"JSON": "jsonld", "MICRODATA": "microdata", "RDFA": "rdfa"}

_BLOCK = re.compile(r"^TYPES:", re.M)
_LABEL = re.compile(r"\s*#(?:eg-)?(\d+)([a-z]?)")
_SECTION = re.compile(r"^(PRE-MARKUP|MICRODATA|RDFA|JSON):[ \t]*$", re.M)
_WHOLE_DOCUMENT = re.compile(r"<html[\s>]", re.I)
_BODY = re.compile(r"<body[\s>]", re.I)
_LD_JSON = "application/ld+json"
_COMMENT = re.compile(r"<!--.*?-->", re.S)

_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(\d+\.\d*|\.\d+)")
_DOUBLE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)[eE][+-]?\d+")
_DATE = re.compile(r"-?\d{4,}-\d{2}-\d{2}(Z|[+-]\d{2}:\d{2})?")
_DATETIME = re.compile(r"-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")
_TIME = re.compile(r"\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?")
_GYEAR = re.compile(r"-?\d{4,}(Z|[+-]\d{2}:\d{2})?")
_GYEARMONTH = re.compile(r"-?\d{4,}-\d{2}(Z|[+-]\d{2}:\d{2})?")
_BOOLEAN = re.compile(r"true|false", re.I)  # schema.org writes True/False too
_DURATION_PARTS = re.compile(
    r"(-?)P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?"
)
_DURATION = re.compile(r"-?P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?")

METRIC_NAMES = {
    "typed": "typed-node F1",
    "literals": "literal F1",
    "links": "node-to-node F1",
    "typed_values": "typed values",
    "real_properties": "real properties",
    "iris_damaged": "IRIs turned into names/nodes",
    "identities": "identities kept",
    "links_per_syntax": "node-to-node F1 per syntax",
}
BARS = {  # metric -> (comparison, bar), from the issue
    "typed": (">=", 0.95),
    "literals": (">=", 0.95),
    "links": (">=", 0.95),
    "typed_values": (">=", 0.95),
    "real_properties": (">=", 0.99),
    "iris_damaged": ("<=", 0.005),
    "identities": (">=", 0.9),
    "links_per_syntax": (">=", 0.9),
}


# --- the examples ---------------------------------------------------------------------------


@dataclass
class Example:
    label: str  # eg-0382, eg-3617a
    number: int
    markup: dict[str, str]  # syntax -> the section's markup, for sections that have some
    no_markup: list[str]  # syntaxes whose section is empty, TODO. or prose


def parse_examples(text: str) -> list[Example]:
    """The example blocks of schema.org's examples file, in file order."""
    examples = []
    for block in _BLOCK.split(text)[1:]:
        match = _LABEL.match(block)
        if match is None:
            continue
        parts = _SECTION.split(block)
        sections = dict(zip(parts[1::2], parts[2::2], strict=True))
        markup: dict[str, str] = {}
        no_markup: list[str] = []
        for section, syntax in SECTIONS.items():
            body = section_markup(syntax, sections.get(section, ""))
            if body is None:
                no_markup.append(syntax)
            else:
                markup[syntax] = body
        label = f"eg-{match.group(1)}{match.group(2)}"
        examples.append(Example(label, int(match.group(1)), markup, no_markup))
    return examples


def section_markup(syntax: str, body: str) -> str | None:
    """A section's markup, or None when it has none (empty, ``TODO.``, prose)."""
    body = body.strip()
    if "<" not in _COMMENT.sub("", body) and syntax != "jsonld":
        return None  # empty, "TODO", "No RDFa", or only <!-- JSON-LD only example -->
    if syntax != "jsonld":
        return body
    if "<script" in body.lower():
        return body
    # A few JSON sections are bare JSON; others are prose ("No JSON-LD", "See ...").
    try:
        json.loads(body)
    except ValueError:
        return None
    return f'<script type="application/ld+json">\n{body}\n</script>'


@dataclass
class Page:
    """One syntax of one example as a web page."""

    example: Example
    syntax: str

    @property
    def url(self) -> str:
        return f"{SITE}{self.example.label}/{self.syntax}"

    @property
    def html(self) -> str:
        """JSON-LD in ``<head>``, other markup as the ``<body>`` (or the whole document)."""
        markup = self.example.markup[self.syntax]
        head = f'<head>\n<meta charset="utf-8">\n<title>{self.example.label}</title>\n'
        if self.syntax == "jsonld":
            return f"<!DOCTYPE html>\n<html>\n{head}{markup}\n</head>\n<body>\n</body>\n</html>\n"
        if _WHOLE_DOCUMENT.search(markup):
            return markup
        if not _BODY.search(markup):  # a <body vocab=...> section is the body itself
            markup = f"<body>\n{markup}\n</body>"
        return f"<!DOCTYPE html>\n<html>\n{head}</head>\n{markup}\n</html>\n"


# --- RDF terms, normalised --------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    kind: str  # "iri", "bnode" or "literal"
    value: str
    datatype: str = ""  # literals only

    def show(self) -> str:
        if self.kind == "literal":
            datatype = self.datatype.replace(XSD, "xsd:").replace(SCHEMA, "schema:")
            return f"{json.dumps(self.value, ensure_ascii=False)}^^{datatype}"
        return f"<{self.value}>" if self.kind == "iri" else f"_:{self.value}"


Triple = tuple[Term, str, Term]


def https(iri: str) -> str:
    """schema.org IRIs in one form: ``https://schema.org/`` (also for ``vocab="https://schema.org"``)."""
    match = _SCHEMA_IRI.match(iri)
    return SCHEMA + iri[match.end() :] if match else iri


def term(kind: str, value: str, datatype: str = "") -> Term:
    if kind == "literal":
        datatype = https(datatype or XSD_STRING)
        return Term(kind, value, DATATYPE_ALIASES.get(datatype, datatype))
    return Term(kind, https(value) if kind == "iri" else value)


def from_rdflib(node: Any) -> Term:
    if isinstance(node, rdflib.Literal):
        return term("literal", str(node), str(node.datatype or ""))
    return term("bnode" if isinstance(node, rdflib.BNode) else "iri", str(node))


def from_oxigraph(node: Any) -> Term:
    if isinstance(node, pyoxigraph.Literal):
        return term("literal", node.value, node.datatype.value)
    return term("bnode" if isinstance(node, pyoxigraph.BlankNode) else "iri", node.value)


def expand_lists(triples: list[Triple]) -> list[Triple]:
    """Triples whose object is an RDF list, once per member (schema.org values are unordered)."""
    first = {s: o for s, p, o in triples if p == RDF + "first"}
    rest = {s: o for s, p, o in triples if p == RDF + "rest"}
    if not first:
        return triples
    expanded = []
    for s, p, o in triples:
        if o not in first or p in (RDF + "first", RDF + "rest"):
            expanded.append((s, p, o))
            continue
        seen = set()
        while o in first and o not in seen:
            seen.add(o)
            expanded.append((s, p, first[o]))
            o = rest.get(o, Term("iri", RDF + "nil"))
    return expanded


# --- the vocabulary ---------------------------------------------------------------------------


@dataclass
class Vocabulary:
    properties: frozenset[str]  # full IRIs
    ranges: dict[str, frozenset[str]]  # property IRI -> local names of its rangeIncludes

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        graph = read_json(path)["@graph"]
        properties, ranges = set(), {}
        for node in graph:
            types = node.get("@type")
            types = types if isinstance(types, list) else [types]
            if "rdf:Property" not in types:
                continue
            iri = _vocabulary_iri(node["@id"])
            properties.add(iri)
            values = node.get("schema:rangeIncludes") or []
            values = values if isinstance(values, list) else [values]
            ranges[iri] = frozenset(_vocabulary_iri(v["@id"])[len(SCHEMA) :] for v in values)
        return cls(frozenset(properties), ranges)

    def is_real(self, predicate: str) -> bool:
        return predicate in self.properties or predicate in (RDF_TYPE, OWL_SAME_AS)


def _vocabulary_iri(curie: str) -> str:
    return SCHEMA + curie[len("schema:") :] if curie.startswith("schema:") else https(curie)


# (range names, lexical form, datatype), tried in order; a range admits the forms of its group
DATATYPE_RULES = (
    ({"Number", "Float", "Integer"}, _INTEGER, "integer"),
    ({"Number", "Float"}, _DECIMAL, "decimal"),
    ({"Number", "Float"}, _DOUBLE, "double"),
    ({"Date", "DateTime"}, _DATE, "date"),
    ({"Date", "DateTime"}, _DATETIME, "dateTime"),
    ({"Date", "DateTime"}, _GYEAR, "gYear"),
    ({"Date", "DateTime"}, _GYEARMONTH, "gYearMonth"),
    ({"Time"}, _TIME, "time"),
    ({"Duration"}, _DURATION, "duration"),
    ({"Boolean"}, _BOOLEAN, "boolean"),
)
# What a reference datatype's lexical form must look like for the datatype to stand.
LEXICAL_FORMS = {XSD + datatype: pattern for _, pattern, datatype in DATATYPE_RULES}


def expected_datatype(vocabulary: Vocabulary, predicate: str, reference: Term) -> str:
    """The datatype a literal value should have (see the module docstring)."""
    ranges = vocabulary.ranges.get(predicate, frozenset())
    lexical = reference.value.strip()
    for names, pattern, datatype in DATATYPE_RULES:
        if ranges & names and pattern.fullmatch(lexical):
            return XSD + datatype
    form = LEXICAL_FORMS.get(reference.datatype)
    if form is not None and not form.fullmatch(lexical):
        # schema.org's context coerces every startDate to schema:Date, "1954" and "May 2015"
        # alike: a datatype the value does not fit is no typing, so a plain string is expected
        return XSD_STRING
    return reference.datatype


# --- reference processors ---------------------------------------------------------------------


class ReferenceFailed(Exception):
    """The standard processor could not read the page's markup."""


def names_schemaorg(value: str) -> bool:
    host = urlsplit(value if "//" in value else "//" + value).hostname
    return host in ("schema.org", "www.schema.org")


def inline_contexts(value: Any, context: dict[str, Any]) -> Any:
    """``value`` with every ``@context`` naming schema.org replaced by the context itself."""
    if isinstance(value, list):
        return [inline_contexts(item, context) for item in value]
    if not isinstance(value, dict):
        return value
    result = {}
    for key, item in value.items():
        if key == "@context":
            items = item if isinstance(item, list) else [item]
            items = [context if isinstance(i, str) and names_schemaorg(i) else i for i in items]
            result[key] = items if isinstance(item, list) else items[0]
        else:
            result[key] = inline_contexts(item, context)
    return result


def jsonld_blocks(html: str) -> list[str]:
    scripts = lxml_html.document_fromstring(html).iter("script")
    return [s.text or "" for s in scripts if s.get("type", "").strip().lower() == _LD_JSON]


def jsonld_reference(html: str, url: str, context: dict[str, Any]) -> list[Triple]:
    triples: list[Triple] = []
    for number, text in enumerate(jsonld_blocks(html), 1):
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise ReferenceFailed(f"block {number} is not JSON: {exc}") from None
        try:
            triples += jsonld_triples(inline_contexts(document, context), url, context)
        except Exception as exc:  # the processors raise SyntaxError, JsonLdError, ...
            raise ReferenceFailed(f"block {number}: {type(exc).__name__}: {exc}") from None
    return triples


def jsonld_triples(document: Any, url: str, context: dict[str, Any]) -> list[Triple]:
    """JSON-LD 1.1 toRdf of one document whose schema.org contexts are inlined."""
    if hasattr(pyoxigraph.RdfFormat, "JSON_LD"):
        # pyoxigraph has no document loader set, so any remaining remote context fails.
        quads = pyoxigraph.parse(
            json.dumps(document), format=pyoxigraph.RdfFormat.JSON_LD, base_iri=url
        )
        return [
            (from_oxigraph(q.subject), https(q.predicate.value), from_oxigraph(q.object))
            for q in quads
        ]
    from pyld import jsonld  # only when this pyoxigraph cannot read JSON-LD

    def loader(iri: str, options: dict[str, Any]) -> dict[str, Any]:
        if names_schemaorg(iri):
            return {"contextUrl": None, "documentUrl": iri, "document": {"@context": context}}
        raise jsonld.JsonLdError("refused: the bench never fetches", "loading document failed")

    nquads = jsonld.to_rdf(
        document, {"base": url, "format": "application/n-quads", "documentLoader": loader}
    )
    quads = pyoxigraph.parse(nquads, format=pyoxigraph.RdfFormat.N_QUADS)
    return [
        (from_oxigraph(q.subject), https(q.predicate.value), from_oxigraph(q.object)) for q in quads
    ]


@dataclass
class References:
    """The standard processors, one per syntax."""

    context: dict[str, Any]  # schema.org's JSON-LD context
    microdata: ModuleType  # pyMicrodata's microdata module

    def triples(self, page: Page) -> list[Triple]:
        if page.syntax == "jsonld":
            return jsonld_reference(page.html, page.url, self.context)
        if page.syntax == "rdfa":
            return rdfa_reference(page.html, page.url)
        return microdata_reference(page.html, page.url, self.microdata)


def html5_dom(html: str) -> Any:
    return html5lib.HTMLParser(tree=html5lib.treebuilders.getTreeBuilder("dom")).parse(html)


def rdfa_reference(html: str, url: str) -> list[Triple]:
    from pyRdfa import Options, pyRdfa

    options = Options(
        embedded_rdf=False, vocab_expansion=False, vocab_cache=False, output_processor_graph=False
    )
    processor = pyRdfa(options, base=url, media_type="text/html")
    graph = processor.graph_from_DOM(html5_dom(html), graph=rdflib.Graph())
    return [(from_rdflib(s), https(str(p)), from_rdflib(o)) for s, p, o in graph]


def microdata_reference(html: str, url: str, microdata: ModuleType) -> list[Triple]:
    graph = rdflib.Graph()
    microdata.MicrodataConversion(html5_dom(html).documentElement, graph, base=url).convert()
    return [(from_rdflib(s), https(str(p)), from_rdflib(o)) for s, p, o in graph]


# The fidelity patches to rdflib 4.2.2's pyMicrodata: (file, original, replacement).
PYMICRODATA_PATCHES = (
    (
        "microdata.py",
        'if item.hasAttribute("itemid") and is_absolute_URI( item.getAttribute("itemid") ):\n'
        '\t\t\t\tsubject = URIRef( item.getAttribute("itemid").strip() )',
        'if item.hasAttribute("itemid") and item.getAttribute("itemid").strip() :\n'
        "\t\t\t\tsubject = URIRef( generate_URI( self.base, "
        'item.getAttribute("itemid").strip() ) )',
    ),
    (
        "microdata.py",
        "\t\telse :\n\t\t\tif lang :\n\t\t\t\treturn Literal( get_Literal(node), lang = lang )\n"
        "\t\t\telse :\n\t\t\t\treturn Literal( get_Literal(node) )\n",
        "\t\telse :\n\t\t\ttext = get_Literal(node)\n"
        '\t\t\tif CONTENT_ANYWHERE and node.hasAttribute("content") :\n'
        '\t\t\t\ttext = node.getAttribute("content")\n'
        "\t\t\tif lang :\n\t\t\t\treturn Literal( text, lang = lang )\n"
        "\t\t\telse :\n\t\t\t\treturn Literal( text )\n",
    ),
    (
        "microdata.py",
        'MD_VOCAB   = "http://www.w3.org/ns/md#"\n',
        'MD_VOCAB   = "http://www.w3.org/ns/md#"\nCONTENT_ANYWHERE = True\n',
    ),
    (
        "utils.py",
        "\t\tv = fragment_escape(v.strip())\n\t\tjoined = urljoin(base, v)",
        "\t\tv = v.strip()\n\t\tjoined = urljoin(base, v)",
    ),
)


def load_pymicrodata(wheel: Path | None) -> ModuleType:
    """rdflib 4.2.2's pyMicrodata, unpacked (and patched) once into the cache."""
    home = CACHE / f"pymicrodata-rdflib-4.2.2-{_patches_digest()}"
    if not (home / "pyMicrodata" / "microdata.py").is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        wheel = wheel or rdflib_wheel()
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != RDFLIB_WHEEL_SHA256:
            sys.exit(f"{wheel}: sha256 {digest}, expected {RDFLIB_WHEEL_SHA256}")
        staging = Path(tempfile.mkdtemp(dir=CACHE, prefix=".staging-"))
        prefix = "rdflib/plugins/parsers/pyMicrodata/"
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if name.startswith(prefix) and name.endswith(".py"):
                    target = staging / "pyMicrodata" / name[len(prefix) :]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(archive.read(name))
        for filename, original, replacement in PYMICRODATA_PATCHES:
            path = staging / "pyMicrodata" / filename
            source = path.read_text(encoding="utf-8")
            if source.count(original) != 1:
                sys.exit(f"pyMicrodata patch does not apply to {filename}: {original[:60]!r}")
            path.write_text(source.replace(original, replacement), encoding="utf-8")
        shutil.rmtree(home, ignore_errors=True)
        staging.rename(home)
    sys.path.insert(0, str(home))
    import pyMicrodata.microdata

    return pyMicrodata.microdata


def _patches_digest() -> str:
    """Names the unpacked copy after its patches, so a changed patch unpacks afresh."""
    return hashlib.sha256(repr(PYMICRODATA_PATCHES).encode()).hexdigest()[:10]


def rdflib_wheel() -> Path:
    """rdflib 4.2.2's wheel, from the cache or else from PyPI with ``pip download``."""
    CACHE.mkdir(parents=True, exist_ok=True)
    wheel = CACHE / RDFLIB_WHEEL
    if not wheel.is_file():
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "rdflib==4.2.2"]
        subprocess.run([*command, "-d", str(CACHE)], check=True)
    return wheel


# --- our pipeline ------------------------------------------------------------------------------


def our_triples(store: Any, html: str, url: str, *, shared: bool = False) -> list[Triple]:
    """The facts graph our pipeline stores for the page (structured data only, no LLM).

    The store is emptied first unless ``shared``: the three syntaxes of an example describe
    the same things, and resolving one page against another (the microdata page's "RBS"
    taking the JSON-LD page's ``@id``) would measure resolution, not the page's markup.
    """
    if not shared:
        store.update("DROP ALL")
    page = scraper.clean_page(html, url)
    facts = asyncio.run(scraper.extract_page(page, url=url))
    scraper.store_page(store, url, facts, page=page)
    rows = store.query(f"SELECT ?s ?p ?o WHERE {{ GRAPH <{url}> {{ ?s ?p ?o }} }}")
    return [(from_oxigraph(r["s"]), https(r["p"].value), from_oxigraph(r["o"])) for r in rows]


@contextlib.contextmanager
def no_network() -> Iterator[None]:
    """Refuse every outgoing TCP connection: nothing here may fetch or call an API."""
    connect = socket.socket.connect

    def refuse(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise ConnectionRefusedError(f"the bench never connects ({address})")
        connect(self, address)

    socket.socket.connect = refuse  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.socket.connect = connect  # type: ignore[method-assign]


# --- facts -------------------------------------------------------------------------------------


@dataclass
class Graph:
    """One side's normalised page graph."""

    triples: list[Triple]  # facts only (see the module docstring)
    same_as: dict[Term, set[str]]  # node -> owl:sameAs IRIs
    all_predicates: list[str]  # of every triple, for real properties


def normalise(triples: list[Triple], vocabulary: Vocabulary) -> Graph:
    triples = expand_lists(triples)
    same_as: dict[Term, set[str]] = defaultdict(set)
    facts = []
    for s, p, o in triples:
        if p == OWL_SAME_AS and o.kind == "iri":
            same_as[s].add(o.value)
        elif p == RDF_TYPE:
            if o.kind == "iri" and o.value.startswith(SCHEMA):
                facts.append((s, p, o))
        elif p.startswith(SCHEMA):
            local = p[len(SCHEMA) :]
            if local in HTML_LINK_TYPES and p not in vocabulary.properties:
                continue  # rel="stylesheet" under a schema.org vocab, not markup data
            facts.append((s, p, o))
    return Graph(list(dict.fromkeys(facts)), dict(same_as), [p for _, p, _ in triples])


def short(iri: str) -> str:
    return iri[len(SCHEMA) :] if iri.startswith(SCHEMA) else f"<{iri}>"


def collapse(text: str) -> str:
    return " ".join(text.split())


def literal_value(lexical: str) -> str:
    """The compared form of a literal: no whitespace, numbers, times and durations canonical.

    Without any whitespace, not collapsed: microdata's value is the text content, which
    glues ``<p>fee</p><p>- You</p>`` into ``fee- You`` where a renderer writes ``fee\n- You``.
    """
    text = "".join(lexical.split())
    if _INTEGER.fullmatch(text) or _DECIMAL.fullmatch(text) or _DOUBLE.fullmatch(text):
        try:
            number = Decimal(text).normalize()
        except InvalidOperation:
            return text
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and abs(exponent) < 40:
            return format(number, "f")
    elif _DATETIME.fullmatch(text) or _TIME.fullmatch(text):
        # xsd:dateTime needs seconds: "2014-10-12T21:30" and "2014-10-12T21:30:00" are one value
        parse = datetime.fromisoformat if "T" in text else dt_time.fromisoformat
        with contextlib.suppress(ValueError):
            return parse(text).isoformat()
    elif _DURATION.fullmatch(text):
        return duration_value(text)
    elif _BOOLEAN.fullmatch(text):
        return text.lower()
    return text


def duration_value(text: str) -> str:
    """A duration as (months, seconds): PT178M and PT2H58M are one value."""
    match = _DURATION_PARTS.fullmatch(text)
    if match is None:
        return text
    sign, years, months, days, hours, minutes, seconds = match.groups()
    total_months = int(years or 0) * 12 + int(months or 0)
    total = Decimal(days or 0) * 86400 + Decimal(hours or 0) * 3600 + Decimal(minutes or 0) * 60
    total += Decimal(seconds or 0)
    return f"{sign}P{total_months}M{format(total.normalize(), 'f')}S"


def node_keys(graph: Graph) -> dict[Term, str]:
    """An IRI-independent key for every node (see the module docstring)."""
    nodes = {s for s, _, _ in graph.triples}
    nodes |= {o for _, p, o in graph.triples if o.kind == "bnode" and p != RDF_TYPE}
    classes: dict[Term, list[str]] = defaultdict(list)
    names: dict[Term, list[str]] = defaultdict(list)
    referrers: dict[Term, list[tuple[Term, str]]] = defaultdict(list)
    for s, p, o in graph.triples:
        if p == RDF_TYPE:
            classes[s].append(short(o.value))
        elif p == SCHEMA + "name" and o.kind == "literal" and collapse(o.value):
            names[s].append(collapse(o.value))
        elif o in nodes and o != s:
            referrers[o].append((s, short(p)))

    def kind(node: Term) -> str:
        return "|".join(sorted(set(classes[node]))) or "-"

    keys = {
        n: f"{kind(n)} {json.dumps(min(names[n]), ensure_ascii=False)}" for n in nodes if names[n]
    }
    keys |= {n: f"{kind(n)} (top)" for n in nodes if not names[n] and not referrers[n]}
    while True:  # level by level from the anchors, so the result never depends on order
        found = {}
        for node in nodes - keys.keys():
            paths = [f"{p} of {keys[s]}" for s, p in referrers[node] if s in keys]
            if paths:
                found[node] = f"{kind(node)} ({min(paths)})"
        if not found:
            break
        keys |= found
    keys |= {n: f"{kind(n)} (cycle)" for n in nodes - keys.keys()}
    return keys


@dataclass
class Facts:
    typed: set[tuple[str, str]] = field(default_factory=set)
    literals: dict[tuple[str, str, str], set[Term]] = field(default_factory=dict)
    links: set[tuple[str, str, str]] = field(default_factory=set)
    iris: set[tuple[str, str, str]] = field(default_factory=set)
    # key -> IRIs naming that node (its own IRI and owl:sameAs)
    identities: dict[str, set[str]] = field(default_factory=dict)
    # key -> every value of the node (IRIs, literals), to spot an IRI turned into a node
    values: dict[str, set[str]] = field(default_factory=dict)
    # IRI object (not a node) -> its owl:sameAs: a minted IRI standing for a page's IRI
    object_same_as: dict[str, set[str]] = field(default_factory=dict)
    # (key, IRI) of nodes named by an IRI from the page
    page_identities: set[tuple[str, str]] = field(default_factory=set)


def graph_facts(graph: Graph, url: str) -> Facts:
    keys = node_keys(graph)
    facts = Facts()
    for s, p, o in graph.triples:
        key, prop = keys[s], short(p)
        if p == RDF_TYPE:
            facts.typed.add((key, short(o.value)))
        elif o.kind == "literal":
            if not o.value.strip():
                continue  # an empty value (<img src="">) states nothing
            facts.literals.setdefault((key, prop, literal_value(o.value)), set()).add(o)
            facts.values.setdefault(key, set()).add(collapse(o.value))
        elif o in keys:
            facts.links.add((key, prop, keys[o]))
        else:  # an IRI that no triple describes (a blank node object always is a node)
            facts.iris.add((key, prop, o.value))
            facts.values.setdefault(key, set()).add(o.value)
            if o in graph.same_as:
                facts.object_same_as[o.value] = graph.same_as[o]
    for node, key in keys.items():
        names = facts.identities.setdefault(key, set())
        names |= graph.same_as.get(node, set())
        if node.kind == "iri":
            names.add(node.value)
            if node.value != url:
                facts.page_identities.add((key, node.value))
    return facts


# --- comparison --------------------------------------------------------------------------------


@dataclass
class Tally:
    """Counts for one syntax of one half, summed over pages."""

    counts: Counter[str] = field(default_factory=Counter)
    missed: Counter[str] = field(default_factory=Counter)  # predicate -> reference facts we lack
    extra: Counter[str] = field(default_factory=Counter)  # predicate -> our facts not in reference
    notes: list[str] = field(default_factory=list)  # reference failures and empty pages

    def add(self, other: Tally) -> None:
        self.counts.update(other.counts)
        self.missed.update(other.missed)
        self.extra.update(other.extra)
        self.notes += other.notes

    def prf(self, name: str) -> tuple[float | None, float | None, float | None]:
        """(precision, recall, F1); None where undefined (nothing predicted, nothing to find)."""
        tp, fp, fn = (self.counts[f"{name}_{k}"] for k in ("tp", "fp", "fn"))
        precision = tp / (tp + fp) if tp + fp else None
        recall = tp / (tp + fn) if tp + fn else None
        f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None
        return precision, recall, f1

    def ratio(self, good: str, total: str) -> float | None:
        return self.counts[good] / self.counts[total] if self.counts[total] else None


@dataclass
class PageDiff:
    label: str
    syntax: str
    missing: list[str]
    extra: list[str]


def compare_sets(tally: Tally, name: str, ref: set, ours: set) -> tuple[set, set]:
    tally.counts[f"{name}_tp"] += len(ref & ours)
    tally.counts[f"{name}_fn"] += len(ref - ours)
    tally.counts[f"{name}_fp"] += len(ours - ref)
    for fact in ref - ours:
        tally.missed[fact[1] if len(fact) == 3 else "rdf:type"] += 1
    for fact in ours - ref:
        tally.extra[fact[1] if len(fact) == 3 else "rdf:type"] += 1
    return ref - ours, ours - ref


def compare(
    tally: Tally,
    ref: Facts,
    ours: Facts,
    our_graph: Graph,
    url: str,
    vocabulary: Vocabulary,
) -> tuple[list[str], list[str]]:
    """Add one page's comparison to ``tally``; (missing, extra) facts, shown."""
    missing: list[str] = []
    extra: list[str] = []
    for name, ref_set, our_set, show in (
        ("typed", ref.typed, ours.typed, lambda f, _: f"{f[0]}  a {f[1]}"),
        ("literals", set(ref.literals), set(ours.literals), show_literal),
        ("links", ref.links, ours.links, lambda f, _: f"{f[0]}  {f[1]} -> {f[2]}"),
        ("iris", ref.iris, ours.iris, lambda f, _: f"{f[0]}  {f[1]} -> <{f[2]}>"),
    ):
        lost, added = compare_sets(tally, name, ref_set, our_set)
        missing += sorted(show(f, ref) for f in lost)
        extra += sorted(show(f, ours) for f in added)
    typed_values(tally, ref, ours, vocabulary, missing)
    tally.counts["predicates"] += len(our_graph.all_predicates)
    tally.counts["real_predicates"] += sum(map(vocabulary.is_real, our_graph.all_predicates))
    damaged_iris(tally, ref, ours, url)
    anywhere = set().union(*ours.identities.values())
    for key, iri in ref.page_identities:
        tally.counts["identities"] += 1
        tally.counts["identities_anywhere"] += iri in anywhere
        if iri in ours.identities.get(key, set()):
            tally.counts["identities_kept"] += 1
        else:
            missing.append(f"{key}  identity <{iri}>")
    return missing, extra


def show_literal(fact: tuple[str, str, str], facts: Facts) -> str:
    shown = ", ".join(sorted(t.show() for t in facts.literals[fact]))
    return f"{fact[0]}  {fact[1]} = {shown}"


def typed_values(
    tally: Tally, ref: Facts, ours: Facts, vocabulary: Vocabulary, missing: list[str]
) -> None:
    for fact in ref.literals.keys() & ours.literals.keys():
        reference = min(ref.literals[fact], key=lambda t: (t.value, t.datatype))
        expected = expected_datatype(vocabulary, SCHEMA + fact[1], reference)
        ours_types = {t.datatype for t in ours.literals[fact]}
        tally.counts["typed_values"] += 1
        if expected in ours_types:
            tally.counts["typed_values_ok"] += 1
        else:
            got = ", ".join(sorted(d.replace(XSD, "xsd:") for d in ours_types))
            missing.append(
                f"{fact[0]}  {fact[1]} = {reference.show()}: ours typed {got}, expected "
                + expected.replace(XSD, "xsd:")
            )


def damaged_iris(tally: Tally, ref: Facts, ours: Facts, url: str) -> None:
    """Classify every reference IRI-valued fact: kept, literal, node or lost.

    By property and IRI, wherever ours put the subject: a node with other classes (another
    key) still shows whether its IRI values stayed IRIs.
    """
    kept = {(prop, iri) for _, prop, iri in ours.iris}
    aliased = {(p, alias) for _, p, iri in ours.iris for alias in ours.object_same_as.get(iri, ())}
    literals: dict[str, set[str]] = defaultdict(set)
    for (_, prop, _), terms in ours.literals.items():
        literals[prop] |= {t.value.strip() for t in terms}
    targets: dict[str, set[str]] = defaultdict(set)
    new_links: set[tuple[str, str]] = set()  # (key, property) with a link the reference lacks
    for key, prop, target in ours.links:
        targets[prop].add(target)
        if (key, prop, target) not in ref.links:
            new_links.add((key, prop))
    for key, prop, iri in ref.iris:
        tally.counts["iris_ref"] += 1
        if (prop, iri) in kept:
            tally.counts["iris_kept"] += 1
        elif any(v == iri or urljoin(url, v) == iri for v in literals[prop]):
            tally.counts["iris_literal"] += 1
        elif (
            (prop, iri) in aliased
            or (key, prop) in new_links
            or any(
                iri in ours.identities.get(t, set()) | ours.values.get(t, set())
                for t in targets[prop]
            )
        ):
            tally.counts["iris_node"] += 1
        else:
            tally.counts["iris_lost"] += 1


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Run:
    tallies: dict[tuple[str, str], Tally]  # (half, syntax) -> tally
    diffs: dict[str, list[PageDiff]]  # half -> pages with differences
    pages: int
    seconds: float


def half_of(example: Example) -> str:
    return "tune" if example.number % 2 == 0 else "held-out"


def run(
    examples: list[Example], references: References, vocabulary: Vocabulary, shared: bool
) -> Run:
    tallies: dict[tuple[str, str], Tally] = defaultdict(Tally)
    diffs: dict[str, list[PageDiff]] = defaultdict(list)
    total = sum(len(e.markup) for e in examples)
    done = 0
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="schemaorg-fidelity-") as folder,
        no_network(),
        scraper.open_store(Path(folder) / "graph") as store,
    ):
        for example in examples:
            half = half_of(example)
            for syntax in example.no_markup:
                tallies[(half, syntax)].counts["no_markup"] += 1
            for syntax in example.markup:
                page = Page(example, syntax)
                tally = tallies[(half, syntax)]
                diff = run_page(store, page, references, vocabulary, tally, shared)
                if diff is not None:
                    diffs[half].append(diff)
                done += 1
                progress(done, total)
    return Run(dict(tallies), dict(diffs), total, time.monotonic() - started)


def progress(done: int, total: int) -> None:
    """Pages done, on stderr: one line rewritten on a terminal, a line per 100 pages otherwise."""
    if sys.stderr.isatty():
        end = "\n" if done == total else ""
        print(f"\rpages {done}/{total}", end=end, file=sys.stderr, flush=True)
    elif done % 100 == 0 or done == total:
        print(f"pages {done}/{total}", file=sys.stderr, flush=True)


def run_page(
    store: Any,
    page: Page,
    references: References,
    vocabulary: Vocabulary,
    tally: Tally,
    shared: bool,
) -> PageDiff | None:
    """Compare one page's RDF, ours against the reference; its diff when they differ."""
    tally.counts["pages"] += 1
    where = f"{page.example.label} {SYNTAX_NAMES[page.syntax]}"
    try:
        ref_graph = normalise(references.triples(page), vocabulary)
    except Exception as exc:  # a standard processor failing is a result, not a crash
        tally.counts["ref_failed"] += 1
        tally.notes.append(f"{where}: reference failed: {exc}")
        return None
    if not ref_graph.triples:
        tally.counts["ref_empty"] += 1
        tally.notes.append(f"{where}: reference has no facts")
        return None
    try:
        our_graph = normalise(our_triples(store, page.html, page.url, shared=shared), vocabulary)
    except Exception as exc:  # our failure counts: no facts for this page
        tally.counts["ours_failed"] += 1
        tally.notes.append(f"{where}: ours failed: {exc!r}")
        our_graph = Graph([], {}, [])
    tally.counts["evaluated"] += 1
    ref, ours = graph_facts(ref_graph, page.url), graph_facts(our_graph, page.url)
    tally.counts["ref_facts"] += len(ref.typed) + len(ref.literals) + len(ref.links) + len(ref.iris)
    missing, extra = compare(tally, ref, ours, our_graph, page.url, vocabulary)
    if missing or extra:
        return PageDiff(page.example.label, page.syntax, missing, extra)
    return None


# --- the report --------------------------------------------------------------------------------


def fmt(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.2f}%" if percent else f"{value:.3f}"


def meets(metric: str, value: float | None) -> str:
    if value is None:
        return ""
    comparison, bar = BARS[metric]
    ok = value >= bar if comparison == ">=" else value <= bar
    return "ok" if ok else "MISS"


def bar_text(metric: str) -> str:
    comparison, bar = BARS[metric]
    sign = "≥" if comparison == ">=" else "≤"
    return f"{sign} {100 * bar:g}%" if metric == "iris_damaged" else f"{sign} {bar:g}"


def iris_damaged(tally: Tally) -> float | None:
    damaged = tally.counts["iris_literal"] + tally.counts["iris_node"]
    return damaged / tally.counts["iris_ref"] if tally.counts["iris_ref"] else None


def half_tallies(result: Run, half: str) -> dict[str, Tally]:
    columns = {syntax: result.tallies.get((half, syntax), Tally()) for syntax in SYNTAXES}
    overall = Tally()
    for tally in columns.values():
        overall.add(tally)
    return {"all": overall, **columns}


COLUMNS = (("all", 9), ("jsonld", 10), ("microdata", 11), ("rdfa", 9))
PRF_ROWS = (
    ("typed", "typed nodes"),
    ("literals", "literal facts"),
    ("links", "node-to-node facts"),
    ("iris", "IRI-valued facts"),  # not barred: IRIs kept is
)
COUNT_ROWS = (
    ("pages", "pages"),
    ("evaluated", "  evaluated"),
    ("ref_failed", "  reference failed (left out)"),
    ("ref_empty", "  reference without facts (left out)"),
    ("ours_failed", "  ours failed (no facts)"),
    ("no_markup", "sections without markup"),
    ("ref_facts", "reference facts"),
    ("iris_ref", "reference IRI facts"),
    ("iris_literal", "  ... as literals in ours"),
    ("iris_node", "  ... as nodes in ours"),
    ("iris_lost", "  ... lost in ours"),
    ("identities", "reference page identities"),
    ("identities_anywhere", "  ... on any node of ours"),
)
MAX_NOTES = 20


def ratios(columns: dict[str, Tally], metric: str) -> dict[str, float | None]:
    """A ratio metric of every column."""
    if metric == "iris_damaged":
        return {c: iris_damaged(t) for c, t in columns.items()}
    good, total = {
        "typed_values": ("typed_values_ok", "typed_values"),
        "real_properties": ("real_predicates", "predicates"),
        "identities": ("identities_kept", "identities"),
    }[metric]
    return {c: t.ratio(good, total) for c, t in columns.items()}


def table(result: Run, half: str) -> tuple[str, dict[str, str]]:
    """The half's table, and each barred metric's verdict (for the summary)."""
    columns = half_tallies(result, half)
    header = f"{'':36}{'all':>9}{'JSON-LD':>10}{'microdata':>11}{'RDFa':>9}   bar"
    lines = [header, "-" * len(header)]
    verdicts: dict[str, str] = {}

    def row(label: str, values: dict[str, Any], metric: str | None = None, pct: bool = False):
        cells = "".join(
            f"{values[c] if isinstance(values[c], int) else fmt(values[c], pct):>{width}}"
            for c, width in COLUMNS
        )
        if metric:
            verdicts[metric] = meets(metric, values["all"])
            cells += f"   {bar_text(metric):<8} {verdicts[metric]}"
        lines.append(f"{label:36}{cells}")

    for name, label in PRF_ROWS:
        scores = {c: t.prf(name) for c, t in columns.items()}
        row(f"{label} F1", {c: s[2] for c, s in scores.items()}, None if name == "iris" else name)
        row("    precision", {c: s[0] for c, s in scores.items()})
        row("    recall", {c: s[1] for c, s in scores.items()})
    evaluated = [s for s in SYNTAXES if columns[s].counts["evaluated"]]
    f1s = [f1 for s in evaluated if (f1 := columns[s].prf("links")[2]) is not None]
    worst = min(f1s, default=None)
    verdicts["links_per_syntax"] = meets("links_per_syntax", worst)
    lines.append(
        f"{'node-to-node F1, worst syntax':36}{fmt(worst):>9}{'':30}"
        f"   {bar_text('links_per_syntax'):<8} {verdicts['links_per_syntax']}"
    )
    row("typed values", ratios(columns, "typed_values"), "typed_values")
    row("real properties", ratios(columns, "real_properties"), "real_properties")
    row("IRIs turned into names/nodes", ratios(columns, "iris_damaged"), "iris_damaged", True)
    row("identities kept", ratios(columns, "identities"), "identities")
    lines.append("-" * len(header))
    for count, label in COUNT_ROWS:
        row(label, {c: t.counts[count] for c, t in columns.items()})
    overall = columns["all"]
    for title, counter in (("most missed", overall.missed), ("most extra", overall.extra)):
        top = ", ".join(f"{p} {n}" for p, n in counter.most_common(8))
        lines.append(f"{title + ' (predicate: facts)':36}{top or '-'}")
    lines += [f"  note: {note[:160]}" for note in overall.notes[:MAX_NOTES]]
    if len(overall.notes) > MAX_NOTES:
        lines.append(f"  note: ... and {len(overall.notes) - MAX_NOTES} more")
    return "\n".join(lines), verdicts


def show_misses(diffs: list[PageDiff], count: int, lines_per_page: int = 30) -> str:
    if not diffs or count <= 0:
        return ""
    step = max(1, len(diffs) // count)  # spread over the file: different kinds of examples
    out = []
    for diff in diffs[::step][:count]:
        out.append(
            f"== {diff.label} {SYNTAX_NAMES[diff.syntax]} ({SITE}{diff.label}/{diff.syntax})"
        )
        shown = [f"  - {m}" for m in diff.missing] + [f"  + {e}" for e in diff.extra]
        out += shown[:lines_per_page]
        if len(shown) > lines_per_page:
            out.append(f"  ... {len(shown) - lines_per_page} more")
    return "\n".join(out)


def summary(result: Run, verdicts: dict[str, dict[str, str]]) -> str:
    parts = []
    for half, marks in verdicts.items():
        met = [m for m, v in marks.items() if v == "ok"]
        failed = [m for m, v in marks.items() if v == "MISS"]
        overall = half_tallies(result, half)["all"]
        f1 = {name: fmt(overall.prf(name)[2]) for name in ("typed", "literals", "links")}
        parts.append(
            f"on the {half} half {len(met)} of {len(met) + len(failed)} bars are met"
            f" (F1: typed nodes {f1['typed']}, literals {f1['literals']},"
            f" node-to-node {f1['links']}; not met:"
            f" {', '.join(METRIC_NAMES[m] for m in failed) or 'none'};"
            f" {overall.counts['ref_failed']} pages with a failing reference and"
            f" {overall.counts['ref_empty']} without reference facts left out,"
            f" {overall.counts['ours_failed']} where ours failed)"
        )
    missed = Counter[str]()
    for half in verdicts:
        missed.update(half_tallies(result, half)["all"].missed)
    top = ", ".join(p for p, _ in missed.most_common(5))
    return (
        f"Summary: {result.pages} pages in {result.seconds:.0f} s; "
        + "; ".join(parts)
        + f". The predicates with the most missed facts are {top or 'none'}; see"
        " --show-misses for page diffs."
    )


# --- command line ------------------------------------------------------------------------------


def read_json(path: Path) -> Any:
    raw = path.read_bytes()
    return json.loads(gzip.decompress(raw) if path.suffix == ".gz" else raw)


def load_context(path: Path) -> dict[str, Any]:
    return read_json(path)["@context"]


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=Path, default=EXAMPLES)
    parser.add_argument("--context", type=Path, help="schema.org's JSON-LD context")
    parser.add_argument("--vocabulary", type=Path, help="schemaorg-current-https.jsonld")
    parser.add_argument("--half", choices=("tune", "held-out", "all"), default="all")
    parser.add_argument("--limit", type=int, help="the first N examples of the half only")
    parser.add_argument("--show-misses", type=int, default=0, metavar="K")
    parser.add_argument("--misses-file", type=Path, help="write every page's diff (JSON lines)")
    parser.add_argument("--rdflib-wheel", type=Path, help=f"a local {RDFLIB_WHEEL}")
    parser.add_argument(
        "--strict-microdata", action="store_true", help="microdata content= on <meta> only"
    )
    parser.add_argument(
        "--shared-store",
        action="store_true",
        help="keep every page in the store (pages resolve against earlier ones)",
    )
    args = parser.parse_args(list(argv) if argv is not None else None)

    for name in [n for n in os.environ if n.startswith("OPENAI_")]:
        del os.environ[name]  # no LLM: structured data only, and never a real API
    data_dir = args.examples.parent
    context_path = args.context or (
        SHIPPED_CONTEXT if SHIPPED_CONTEXT.is_file() else data_dir / "schemaorgcontext.jsonld"
    )
    vocabulary_path = args.vocabulary or (
        SHIPPED_VOCABULARY
        if SHIPPED_VOCABULARY.is_file()
        else data_dir / "schemaorg-current-https.jsonld"
    )
    examples = parse_examples(args.examples.read_text(encoding="utf-8"))
    if args.half != "all":
        examples = [e for e in examples if half_of(e) == args.half]
    if args.limit is not None:
        examples = examples[: args.limit]
    vocabulary = Vocabulary.load(vocabulary_path)
    context = load_context(context_path)
    microdata = load_pymicrodata(args.rdflib_wheel)
    microdata.CONTENT_ANYWHERE = not args.strict_microdata
    jsonld_processor = "pyoxigraph" if hasattr(pyoxigraph.RdfFormat, "JSON_LD") else "pyld"
    print(
        f"scraper from {Path(scraper.__file__).parent}; reference: {jsonld_processor} "
        f"{getattr(pyoxigraph, '__version__', '')} (JSON-LD, context {context_path}), "
        f"pyRdfa (RDFa), pyMicrodata {getattr(sys.modules['pyMicrodata'], '__version__', '?')}"
        f" (microdata){' strict' if args.strict_microdata else ''}; vocabulary"
        f" {vocabulary_path}; {len(examples)} examples;"
        f" {'one shared store' if args.shared_store else 'store emptied before each page'}",
        flush=True,
    )
    result = run(examples, References(context, microdata), vocabulary, args.shared_store)
    halves = ("tune", "held-out") if args.half == "all" else (args.half,)
    verdicts = {}
    for half in halves:
        parity = "even" if half == "tune" else "odd"
        count = sum(1 for e in examples if half_of(e) == half)
        print(f"\n{half} half ({parity} example numbers): {count} examples")
        text, verdicts[half] = table(result, half)
        print(text)
        misses = show_misses(result.diffs.get(half, []), args.show_misses)
        if misses:
            print(f"\nmisses, {half} half (- in the reference only, + in ours only):\n{misses}")
    if args.misses_file:
        with args.misses_file.open("w", encoding="utf-8") as out:
            for half in halves:
                for diff in result.diffs.get(half, []):
                    out.write(
                        json.dumps({"half": half, **diff.__dict__}, ensure_ascii=False) + "\n"
                    )
    print("\n" + summary(result, verdicts))


if __name__ == "__main__":
    main()
