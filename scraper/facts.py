"""The facts that travel between stages, typed: entities, relations and a page's facts.

One set of types for every stage and for the graph store (plain Python, no Scrapy):

* :class:`Entity` and :class:`Relation`, from the LLM or from the page's structured data
  (:class:`Origin`);
* :class:`PageFacts`, the extraction result of one page (``PageRecord.extraction``);
* chunks are the chunk stage's :class:`~scraper.chunk.chunker.Chunk`;
* :class:`Stage` and :class:`ExtractionStatus`, the names failures and results use.

The enums are ``StrEnum``: they compare equal to, and serialise as, the strings of the
JSON-lines records (``"extract"``, ``"ok"``...).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from scraper.chunk.chunker import Chunk

__all__ = ["Chunk", "Entity", "ExtractionStatus", "Origin", "PageFacts", "Relation", "Stage"]


class Stage(StrEnum):
    """The stage a failure happened in (``Failure.stage``)."""

    FETCH = "fetch"
    CLEAN = "clean"
    CHUNK = "chunk"
    EXTRACT = "extract"
    STORE = "store"


class ExtractionStatus(StrEnum):
    """How a page's extraction ended (``PageFacts.status``)."""

    OK = "ok"  # the LLM extracted the page (structured data merged in)
    FAILED = "failed"  # the LLM extraction failed; the structured data is still there
    STRUCTURED_DATA_ONLY = "structured_data_only"  # no LLM configured
    SKIPPED = "skipped"  # the LLM is on but the page has no text


class Origin(StrEnum):
    """Where a fact came from."""

    LLM = "llm"
    STRUCTURED_DATA = "structured_data"


@dataclass
class Entity:
    """One thing a page talks about: a node of the graph.

    ``attributes`` maps schema.org property names to values (or lists of values, in the
    page's order): JSON scalars, or JSON-LD value objects for typed literals
    (``{"@value": "15.00", "@type": "…XMLSchema#decimal"}``) and IRIs (``{"@id": "https://…"}``).
    A node without a name (an offer, an address) is a node of its page only; named nodes
    and nodes with ``identifiers`` are resolved across pages.
    """

    name: str
    type: str = "Thing"  # a contract-2 type: Person, Organization, Product, ...
    aliases: list[str] = field(default_factory=list)
    description: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    identifiers: list[str] = field(default_factory=list)  # resolution ids: @id, sameAs
    origin: Origin = Origin.LLM
    # Exact classes (schema.org local names like "Recipe", or full IRIs of other
    # vocabularies); None means just ``type``, [] no class at all (a bare @id reference).
    classes: list[str] | None = None
    ref: str = ""  # the node's reference in its page (blank node label or @id): relation ends
    iri: str = ""  # the IRI the page itself gives the node (@id, itemid): kept as owl:sameAs
    # Whether its name identifies it across pages: not for values such as a list item,
    # an offer, a rating or a web page ("Dresses" in two breadcrumbs is two list items).
    resolve_by_name: bool = True

    def __post_init__(self) -> None:
        self.origin = Origin(self.origin)

    def add(self, prop: str, value: Any) -> None:
        """Add a value of ``prop``; several values become a list, in the order they came
        (an exact repeat is one value: RDF values are a set)."""
        if prop not in self.attributes:
            self.attributes[prop] = value
            return
        existing = self.attributes[prop]
        values = existing if isinstance(existing, list) else [existing]
        if value not in values:
            self.attributes[prop] = [*values, value]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entity:
        return cls(**_known_fields(cls, data))


@dataclass
class Relation:
    """``source`` has property ``type`` whose value is ``target``: each end is an entity's
    ``ref`` (structured data) or its name (LLM answers)."""

    source: str
    type: str
    target: str
    evidence: str = ""
    origin: Origin = Origin.LLM

    def __post_init__(self) -> None:
        self.origin = Origin(self.origin)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Relation:
        return cls(**_known_fields(cls, data))


@dataclass
class PageFacts:
    """A page's extraction result: its facts and how they were obtained."""

    status: ExtractionStatus
    schema: str | None = None  # import path of the schema the LLM filled
    model: str | None = None
    prompt_version: str | None = None
    entities: list[Entity] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    data: dict[str, Any] | None = None  # the answer itself, with a schema other than the default
    dropped_ungrounded: int = 0  # entities/relations dropped by the hallucination guard
    dropped_invalid: int = 0  # answer items left out because they did not validate
    usage: dict[str, Any] = field(default_factory=dict)  # calls, cache_hits, tokens, cost_usd
    failure_reason: str | None = None

    def __post_init__(self) -> None:
        self.status = ExtractionStatus(self.status)

    def as_dict(self) -> dict[str, Any]:
        """The record's JSON form (``data`` only when there is one)."""
        result: dict[str, Any] = {
            "status": self.status,
            "schema": self.schema,
            "model": self.model,
            "prompt_version": self.prompt_version,
            "dropped_ungrounded": self.dropped_ungrounded,
            "dropped_invalid": self.dropped_invalid,
            "failure_reason": self.failure_reason,
        }
        if self.data is not None:
            result["data"] = self.data
        result["entities"] = [entity.as_dict() for entity in self.entities]
        result["relations"] = [relation.as_dict() for relation in self.relations]
        result["usage"] = dict(self.usage)
        return result

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PageFacts:
        """The facts of :meth:`as_dict`'s form (or the store's), e.g. read back from JSON."""
        known = _known_fields(cls, data)
        known["entities"] = [Entity.from_dict(e) for e in known.get("entities") or []]
        known["relations"] = [Relation.from_dict(r) for r in known.get("relations") or []]
        return cls(**known)


def _known_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {key: value for key, value in data.items() if key in names}


def facts_as_json(facts: PageFacts | None) -> dict[str, Any] | None:
    """Feed-export serializer of ``PageRecord.extraction``."""
    return None if facts is None else facts.as_dict()
