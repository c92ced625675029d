"""IRIs of the graph: vocabularies, minted node IRIs, page and provenance graph names."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import quote

from pyoxigraph import NamedNode

from scraper.urls import with_valid_percent_encoding

SCHEMA = "https://schema.org/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XSD = "http://www.w3.org/2001/XMLSchema#"
# Our own small vocabulary for provenance, resolution keys and merge records.
SS = "https://w3id.org/semantic-scraper/ns#"
ENTITY_PREFIX = "urn:semantic-scraper:entity:"
PROVENANCE_PREFIX = "urn:semantic-scraper:provenance:"
# SPARQL filter keeping ?g to page graphs (provenance and curation graphs are ours).
FACT_GRAPH_FILTER = 'FILTER(!STRSTARTS(STR(?g), "urn:semantic-scraper:"))'
# The writer lease of a shared (SPARQL endpoint) store.
LEASE_GRAPH = NamedNode("urn:semantic-scraper:lease")
# User decisions about resolution (unmerges) live outside every page graph.
CURATION_GRAPH = NamedNode("urn:semantic-scraper:curation")
# The resolution-key index: per (node, key kind, key) how many pages assert it, so resolving
# a mention reads a popular node's few keys, not one copy per page that names it.
KEY_INDEX_GRAPH = NamedNode("urn:semantic-scraper:keys")
KEY_ENTRY_PREFIX = "urn:semantic-scraper:key:"

OWL = "http://www.w3.org/2002/07/owl#"
# Nodes of one page only (an offer, an address: no name, no identifier), named by the page.
PAGE_NODE_PREFIX = "urn:semantic-scraper:node:"
PAGE_NODE = "page"  # Resolution.matched_by of such a node

RDF_TYPE = NamedNode(RDF + "type")
OWL_SAME_AS = NamedNode(OWL + "sameAs")
RDF_SUBJECT = NamedNode(RDF + "subject")
RDF_PREDICATE = NamedNode(RDF + "predicate")
RDF_OBJECT = NamedNode(RDF + "object")

ENTITY_TYPES = ("Person", "Organization", "Product", "Place", "Event", "CreativeWork", "Thing")

PREFIXES = {"schema": SCHEMA, "rdf": RDF, "xsd": XSD, "owl": OWL, "ss": SS}
SPARQL_PREFIXES = "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in PREFIXES.items())

# Characters kept as they are when a URL is turned into an IRI (RFC 3986 reserved + unreserved).
_IRI_SAFE = "!#$&'()*+,/:;=?@[]~-._%"
_WORD = re.compile(r"[A-Za-z0-9]+")


def schema(local: str) -> NamedNode:
    """``schema:<local>``."""
    return NamedNode(SCHEMA + local)


def ss(local: str) -> NamedNode:
    """``ss:<local>`` (this project's vocabulary)."""
    return NamedNode(SS + local)


def to_iri(url: str) -> NamedNode:
    """``url`` as an IRI node: characters unsafe in IRIs (spaces, quotes, a stray ``%``, ...)
    percent-encoded.

    Raises ``ValueError`` when the result is still not an absolute IRI.
    """
    url = with_valid_percent_encoding(url.strip())
    if ":" not in url:
        raise ValueError(f"not an absolute IRI: {url!r}")
    return NamedNode(quote(url, safe=_IRI_SAFE))


def node_iri(text: str) -> NamedNode:
    """``text`` as an IRI node exactly as written (a node's IRI is never re-encoded).

    Raises ``ValueError`` naming ``text`` when it is not an absolute IRI.
    """
    try:
        return NamedNode(text)
    except ValueError as exc:
        raise ValueError(f"not an absolute IRI: {text!r} ({exc})") from None


def _digest(text: str, size: int = 16) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:size]


def local_name(text: str, *, lower_first: bool = True) -> str:
    """A lowerCamelCase (or UpperCamelCase) ASCII local name for a property or class.

    ``"founded year"`` → ``foundedYear``; ``"worksFor"`` stays ``worksFor``.
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = _WORD.findall(ascii_text)
    if not words:
        return "property" if lower_first else "Thing"
    head, *rest = words
    name = (head[0].lower() if lower_first else head[0].upper()) + head[1:]
    name += "".join(w[0].upper() + w[1:] for w in rest)
    return name if name[0].isalpha() else "p" + name


def entity_iri(key: str, entity_type: str) -> NamedNode:
    """A stable node IRI minted from a resolution key: a readable slug plus the key's digest.

    ``Organization|acme`` → ``urn:semantic-scraper:entity:organization:acme-<digest>``; an
    identifier key takes its slug from the identifier's last path segment.
    """
    readable = key.split("|", 1)[1] if "|" in key else key.rstrip("/#").rsplit("/", 1)[-1]
    slug = "-".join(_WORD.findall(unicodedata.normalize("NFKD", readable).lower()))[:48]
    slug = slug.strip("-") or "entity"
    return NamedNode(f"{ENTITY_PREFIX}{entity_type.lower()}:{slug}-{_digest(key, 12)}")


def is_node(variable: str) -> str:
    """SPARQL test: ``variable`` is a node of the graph, not an IRI value (a URL, an image):
    an entity (some page's mention resolved to it) or a page's own node."""
    return (
        f'(isIRI({variable}) && (STRSTARTS(STR({variable}), "{PAGE_NODE_PREFIX}") || '
        f"{is_entity(variable)}))"
    )


def is_entity(variable: str) -> str:
    """SPARQL test: ``variable`` is an entity (a node resolved across pages)."""
    return f"EXISTS {{ GRAPH ?mentions {{ ?mention <{SS}node> {variable} }} }}"


def page_node_iri(page: NamedNode, index: int) -> NamedNode:
    """The IRI of a page's ``index``-th node that is the page's alone (stable while the page
    is unchanged, so an unchanged re-crawl rewrites the same facts)."""
    return NamedNode(f"{PAGE_NODE_PREFIX}{_digest(page.value, 24)}-{index}")


def provenance_graph(page: NamedNode) -> NamedNode:
    """Name of the graph holding a page's provenance, resolution keys and fact origins."""
    return NamedNode(PROVENANCE_PREFIX + _digest(page.value, 32))


def key_entry_iri(node: str, kind: str, key: str) -> NamedNode:
    """The key index's entry of one (node, key kind, key); :func:`key_entry_sparql` is the
    same IRI computed in SPARQL (the two must stay alike)."""
    text = f"{node}\n{kind}\n{key}"
    return NamedNode(KEY_ENTRY_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest())


def key_entry_sparql(node: str, kind: str, key: str) -> str:
    """SPARQL expression of :func:`key_entry_iri` for the variables ``node``, ``kind``, ``key``."""
    text = f'CONCAT(STR({node}), "\\n", STR({kind}), "\\n", STR({key}))'
    return f'IRI(CONCAT("{KEY_ENTRY_PREFIX}", SHA256({text})))'
