"""schema.org structured data (JSON-LD, microdata) to entities and relations, with no LLM.

A node with a name becomes an entity typed with its contract-2 type; its
scalar properties become attributes, and properties holding other named nodes
become relations named after the property (schema.org's direction). Nodes
without a name (offers, ratings, addresses) are folded into their parent's
attributes as ``property.subproperty``. Page furniture (WebPage, WebSite,
BreadcrumbList, ...) is not an entity, but the nodes it holds are visited.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urljoin, urlsplit

from scraper.facts import Entity, Origin, Relation

# schema.org class (local name) -> contract-2 entity type; other named classes are Thing.
TYPE_BUCKETS: dict[str, str] = {
    **dict.fromkeys(["Person", "Patient"], "Person"),
    **dict.fromkeys(
        [
            "Organization",
            "Corporation",
            "LocalBusiness",
            "OnlineBusiness",
            "OnlineStore",
            "Store",
            "Restaurant",
            "NGO",
            "EducationalOrganization",
            "CollegeOrUniversity",
            "School",
            "GovernmentOrganization",
            "NewsMediaOrganization",
            "SportsTeam",
            "SportsOrganization",
            "MedicalOrganization",
            "Hospital",
            "Airline",
            "Brand",
            "ProfessionalService",
            "FinancialService",
            "LegalService",
            "MusicGroup",
            "PerformingGroup",
            "Consortium",
            "ResearchOrganization",
            "PoliticalParty",
            "WorkersUnion",
            "Project",
            "FundingScheme",
            "LibrarySystem",
            "Hotel",
        ],
        "Organization",
    ),
    **dict.fromkeys(
        [
            "Product",
            "ProductModel",
            "ProductGroup",
            "IndividualProduct",
            "SomeProducts",
            "Vehicle",
            "Car",
            "Motorcycle",
            "DietarySupplement",
            "Drug",
        ],
        "Product",
    ),
    **dict.fromkeys(
        [
            "Place",
            "City",
            "Country",
            "State",
            "AdministrativeArea",
            "Continent",
            "LandmarksOrHistoricalBuildings",
            "TouristAttraction",
            "TouristDestination",
            "Airport",
            "Park",
            "Museum",
            "CivicStructure",
            "Residence",
            "Accommodation",
            "Mountain",
            "BodyOfWater",
            "Landform",
            "Venue",
            "StadiumOrArena",
        ],
        "Place",
    ),
    **dict.fromkeys(
        [
            "Event",
            "BusinessEvent",
            "MusicEvent",
            "SportsEvent",
            "EducationEvent",
            "Festival",
            "ExhibitionEvent",
            "SocialEvent",
            "TheaterEvent",
            "ScreeningEvent",
            "EventSeries",
            "ChildrensEvent",
            "ComedyEvent",
            "DanceEvent",
            "FoodEvent",
            "LiteraryEvent",
            "SaleEvent",
            "CourseInstance",
            "PublicationEvent",
            "Hackathon",
        ],
        "Event",
    ),
    **dict.fromkeys(
        [
            "CreativeWork",
            "Article",
            "NewsArticle",
            "BlogPosting",
            "Report",
            "ScholarlyArticle",
            "TechArticle",
            "Book",
            "Movie",
            "MusicRecording",
            "MusicAlbum",
            "Recipe",
            "Review",
            "VideoObject",
            "Dataset",
            "SoftwareApplication",
            "WebApplication",
            "MobileApplication",
            "SoftwareSourceCode",
            "Course",
            "HowTo",
            "PodcastSeries",
            "PodcastEpisode",
            "Episode",
            "TVSeries",
            "Game",
            "VideoGame",
            "Photograph",
            "Painting",
            "Thesis",
            "Chapter",
            "Periodical",
            "Play",
        ],
        "CreativeWork",
    ),
    "Thing": "Thing",
}

# Page furniture: never an entity itself.
IGNORED_TYPES = frozenset(
    [
        "WebPage", "WebSite", "AboutPage", "ContactPage", "CollectionPage", "ItemPage",
        "ProfilePage", "SearchResultsPage", "FAQPage", "QAPage", "CheckoutPage", "MedicalWebPage",
        "RealEstateListing", "BreadcrumbList", "ItemList", "ListItem", "OfferCatalog",
        "SearchAction", "ReadAction", "ViewAction", "EntryPoint", "ImageObject", "MediaObject",
        "SiteNavigationElement", "WPHeader", "WPFooter", "WPSideBar", "WebPageElement",
    ]
)  # fmt: skip

# Properties whose plain-text or untyped values are entities of a known type.
PROPERTY_RANGES: dict[str, str] = {
    **dict.fromkeys(
        ["author", "creator", "founder", "employee", "performer", "actor", "director",
         "editor", "contributor", "alumni", "member", "spouse", "colleague"],
        "Person",
    ),
    **dict.fromkeys(
        ["brand", "manufacturer", "publisher", "worksFor", "hiringOrganization", "organizer",
         "parentOrganization", "subOrganization", "memberOf", "affiliation", "alumniOf",
         "seller", "sponsor", "funder", "provider"],
        "Organization",
    ),
    **dict.fromkeys(
        ["location", "jobLocation", "birthPlace", "deathPlace", "homeLocation",
         "containedInPlace", "areaServed", "foundingLocation"],
        "Place",
    ),
}  # fmt: skip

_NAME_KEYS = ("name", "headline", "title", "legalName")
_HANDLED_KEYS = frozenset(
    ["@context", "@type", "@id", "@graph", "@language", "@reverse", "alternateName",
     "description", "sameAs", "url", *_NAME_KEYS]
)  # fmt: skip


def local_name(term: str) -> str:
    """``Product`` from ``https://schema.org/Product``, ``schema:Product`` or ``Product``."""
    return re.split(r"[/#:]", term.rstrip("/"))[-1]


def entity_type(schema_types: Iterable[str], default: str = "Thing") -> str:
    """The contract-2 type of a node with these schema.org types."""
    for schema_type in schema_types:
        if schema_type in TYPE_BUCKETS:
            return TYPE_BUCKETS[schema_type]
    return default


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str | None:
    """A string value, unwrapping ``{"@value": ...}`` and taking the first of a list."""
    for item in _as_list(value):
        if isinstance(item, dict):
            item = item.get("@value")
        if isinstance(item, str | int | float) and not isinstance(item, bool):
            text = str(item).strip()
            if text:
                return text
    return None


def _scalar(value: Any) -> str | int | float | bool | None:
    if isinstance(value, dict) and set(value) <= {"@value", "@type", "@language"}:
        value = value.get("@value")
    if isinstance(value, str):
        return value.strip() or None
    return value if isinstance(value, int | float | bool) else None


def _put(attributes: dict[str, Any], key: str, value: str | int | float | bool) -> None:
    """Set an attribute; a repeated key becomes a list of strings."""
    if key not in attributes:
        attributes[key] = value
        return
    existing = attributes[key]
    values = existing if isinstance(existing, list) else [str(existing)]
    if str(value) not in values:
        attributes[key] = [*values, str(value)]


def _absolute_iri(value: str, base_url: str | None) -> str | None:
    if value.startswith("_:"):
        return None  # blank node: not an identifier outside this document
    iri = urljoin(base_url, value) if base_url else value
    parts = urlsplit(iri)
    if parts.scheme in ("http", "https") and parts.netloc:
        return iri
    return iri if parts.scheme in ("urn", "did") else None


class GraphBuilder:
    """Walks JSON-LD-shaped nodes and collects entities and relations."""

    def __init__(
        self,
        *,
        base_url: str | None,
        origin: Origin,
        evidence: str,
        with_identifiers: bool = True,
    ) -> None:
        self.base_url = base_url
        self.origin = origin
        self.evidence = evidence
        self.with_identifiers = with_identifiers
        self.entities: list[Entity] = []
        self.relations: list[Relation] = []
        self._by_id: dict[str, dict[str, Any]] = {}
        self._visited: dict[int, tuple[Entity | None, dict[str, Any]]] = {}

    def add(self, nodes: Iterable[Any]) -> None:
        """Visit top-level nodes (``@graph`` lists are unpacked, ``@id`` references resolved)."""
        roots = [node for node in _flatten_graphs(nodes) if isinstance(node, dict)]
        for root in roots:
            self._index_ids(root)
        for root in roots:
            self._visit(root)

    def _index_ids(self, node: Any) -> None:
        for item in _as_list(node):
            if not isinstance(item, dict):
                continue
            node_id = item.get("@id")
            if isinstance(node_id, str) and len(item) > 1:
                self._by_id.setdefault(node_id, item)
            for value in item.values():
                if isinstance(value, dict | list):
                    self._index_ids(value)

    def _visit(
        self, node: dict[str, Any], range_type: str = "Thing"
    ) -> tuple[Entity | None, dict[str, Any]]:
        """(the node's entity or None, its attributes)."""
        if set(node) == {"@id"}:
            referenced = self._by_id.get(node["@id"]) if isinstance(node["@id"], str) else None
            if referenced is None:
                return None, {}
            node = referenced
        if id(node) in self._visited:
            return self._visited[id(node)]
        schema_types = [local_name(t) for t in _as_list(node.get("@type")) if isinstance(t, str)]
        ignored = bool(schema_types) and all(t in IGNORED_TYPES for t in schema_types)
        name = next((n for key in _NAME_KEYS if (n := _text(node.get(key)))), None)
        attributes: dict[str, Any] = {}
        entity = None
        if name and not ignored:
            entity = self._entity(node, name, entity_type(schema_types, range_type), attributes)
        self._visited[id(node)] = (entity, attributes)
        for raw_key, value in node.items():
            key = local_name(raw_key) if not raw_key.startswith("@") else raw_key
            if key in _HANDLED_KEYS:
                continue
            for item in _as_list(value):
                self._property(entity, attributes, key, item, ignored)
        if entity is not None:
            self.entities.append(entity)
        return entity, attributes

    def _entity(
        self, node: dict[str, Any], name: str, type_: str, attributes: dict[str, Any]
    ) -> Entity:
        aliases = [a for v in _as_list(node.get("alternateName")) if (a := _text(v)) and a != name]
        identifiers = self._identifiers(node) if self.with_identifiers else []
        if not self.with_identifiers and (url := _text(node.get("url"))) is not None:
            attributes["url"] = url
        return Entity(
            name=name,
            type=type_,
            aliases=aliases,
            description=_text(node.get("description")) or "",
            attributes=attributes,
            identifiers=identifiers,
            origin=self.origin,
        )

    def _identifiers(self, node: dict[str, Any]) -> list[str]:
        """Absolute IRIs of ``@id``, ``sameAs`` and ``url``."""
        identifiers: list[str] = []
        for value in [node.get("@id"), *_as_list(node.get("sameAs")), *_as_list(node.get("url"))]:
            text = _text(value.get("@id")) if isinstance(value, dict) else _text(value)
            iri = _absolute_iri(text, self.base_url) if text else None
            if iri and iri not in identifiers:
                identifiers.append(iri)
        return identifiers

    def _property(
        self,
        entity: Entity | None,
        attributes: dict[str, Any],
        key: str,
        value: Any,
        ignored: bool,
    ) -> None:
        range_type = PROPERTY_RANGES.get(key)
        if isinstance(value, dict) and not (set(value) <= {"@value", "@type", "@language"}):
            child, child_attributes = self._visit(value, range_type or "Thing")
            if child is not None:
                if entity is not None:
                    self._relate(entity, key, child)
            elif not ignored:
                for child_key, child_value in child_attributes.items():
                    for item in _as_list(child_value):
                        _put(attributes, f"{key}.{child_key}", item)
            return
        scalar = _scalar(value)
        if scalar is None or ignored:
            return
        if range_type and isinstance(scalar, str) and entity is not None:
            child = self._named_entity(scalar, range_type)
            self._relate(entity, key, child)
            return
        _put(attributes, key, scalar)

    def _named_entity(self, name: str, type_: str) -> Entity:
        entity = self._entity({}, name, type_, {})
        self.entities.append(entity)
        return entity

    def _relate(self, source: Entity, key: str, target: Entity) -> None:
        self.relations.append(
            Relation(
                source=source.name,
                type=key,
                target=target.name,
                evidence=self.evidence,
                origin=self.origin,
            )
        )


def _flatten_graphs(nodes: Iterable[Any]) -> list[Any]:
    flat: list[Any] = []
    for node in nodes:
        if isinstance(node, list):
            flat.extend(_flatten_graphs(node))
        elif isinstance(node, dict) and "@graph" in node:
            flat.extend(_flatten_graphs(_as_list(node["@graph"])))
        else:
            flat.append(node)
    return flat


def microdata_to_jsonld(item: Any) -> Any:
    """An extruct microdata item (``type``/``properties``/``id``) as a JSON-LD node."""
    if isinstance(item, list):
        return [microdata_to_jsonld(i) for i in item]
    if not (isinstance(item, dict) and "properties" in item):
        return item
    node: dict[str, Any] = {"@type": [local_name(t) for t in _as_list(item.get("type") or [])]}
    if item.get("id"):
        node["@id"] = item["id"]
    for key, value in item["properties"].items():
        node[key] = microdata_to_jsonld(value)
    return node


def structured_data_graph(
    structured_data: dict[str, Any], base_url: str | None
) -> tuple[list[Entity], list[Relation]]:
    """Entities and relations of a page's JSON-LD and microdata (extruct's output per syntax)."""
    entities: list[Entity] = []
    relations: list[Relation] = []
    for syntax, nodes in (
        ("json-ld", structured_data.get("json-ld") or []),
        ("microdata", microdata_to_jsonld(structured_data.get("microdata") or [])),
    ):
        builder = GraphBuilder(base_url=base_url, origin=Origin.STRUCTURED_DATA, evidence=syntax)
        builder.add(nodes)
        entities += builder.entities
        relations += builder.relations
    return entities, relations
