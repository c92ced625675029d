"""Merge extraction results: chunk answers into one page answer, entities into one per thing."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from scraper.extract.vocabulary import kinds_differ, vocabulary
from scraper.facts import Entity, Origin, Relation
from scraper.graph.names import normalise_name


def merge_models(first: BaseModel, second: BaseModel) -> BaseModel:
    """One model from two answers of the same schema.

    Lists are concatenated (exact repeats dropped), nested models merged
    field by field, dicts merged key by key, and for other values the first
    answer's non-empty value wins.
    """
    merged = {
        name: _merge_values(getattr(first, name), getattr(second, name))
        for name in type(first).model_fields
    }
    return type(first).model_construct(**merged)


def _merge_values(first: Any, second: Any) -> Any:
    if isinstance(first, BaseModel) and isinstance(second, BaseModel):
        return merge_models(first, second) if type(first) is type(second) else first
    if isinstance(first, list) and isinstance(second, list):
        seen = [_comparable(item) for item in first]
        extra = []
        for item in second:
            if _comparable(item) not in seen:
                seen.append(_comparable(item))
                extra.append(item)
        return first + extra
    if isinstance(first, dict) and isinstance(second, dict):
        return {**second, **first}
    return first if first not in (None, "") else second


def _comparable(item: Any) -> Any:
    return item.model_dump() if isinstance(item, BaseModel) else item


def merge_entities(entities: Iterable[Entity]) -> tuple[list[Entity], dict[str, str]]:
    """Entities merged by (type, normalised name or alias), and the canonical end of each
    relation end: a normalised name's canonical name, a merged node's ``ref`` its survivor's.

    Names are normalised for their type, as in cross-page resolution: "ACME Corp." and
    "Acme Corporation" are one organisation (the other spelling is kept as an alias).
    The first mention of an entity gives its canonical name and origin; aliases,
    identifiers and attributes are unioned (the first value of an attribute wins).
    A ``Thing`` merges into a typed entity of the same name. Nodes without a name never
    merge here, nor do two nodes whose identifiers are disjoint (as in resolution).
    """
    merged: list[Entity] = []
    by_key: dict[tuple[str, str], Entity] = {}
    by_name: dict[str, Entity] = {}  # for Things, whose type says nothing
    refs: dict[str, str] = {}
    # Per merged entity (by id): its normalised names, and the type its names are indexed
    # under, so a mention adds only its new names (an entity named on every line of a long
    # page costs each mention the same).
    known: dict[int, set[str]] = {}
    indexed_as: dict[int, str] = {}
    for entity in entities:
        names = [entity.name, *entity.aliases]
        target = _find(entity.type, names, by_key, by_name)
        if target is not None and _distinct(target, entity):
            target = None
        if target is None:
            target = _copy_entity(entity)
            merged.append(target)
            known[id(target)] = {normalise_name(n) for n in [target.name, *target.aliases]}
            added = [target.name, *target.aliases]
        else:
            added = _absorb(target, entity, known[id(target)])
        if entity.ref:
            # Refs hold a ":" ("_:b0", an IRI); normalised names never do: one dict serves both.
            refs[entity.ref] = target.ref or entity.ref
        if indexed_as.get(id(target)) != target.type:  # new, or a Thing that got a type
            indexed_as[id(target)] = target.type
            added = [target.name, *target.aliases]
        for name in added:
            by_key.setdefault((target.type, normalise_name(name, target.type)), target)
            by_name.setdefault(normalise_name(name), target)
    canonical = {
        normalise_name(name): entity.name
        for entity in reversed(merged)
        for name in [entity.name, *entity.aliases]
    }
    return merged, {**canonical, **refs}


def _distinct(target: Entity, entity: Entity) -> bool:
    """Two mentions the page itself tells apart: two nodes of its markup that are values
    (two offers, two property values called "price") or different kinds of thing (a
    recording and the composition it records, both "Back in the U.S.S.R."), or two whose
    identifiers are disjoint."""
    if target.origin == entity.origin == Origin.STRUCTURED_DATA and target.ref and entity.ref:
        if not (target.resolve_by_name and entity.resolve_by_name):
            return True
        if kinds_differ(target.classes or [target.type], entity.classes or [entity.type]):
            return True
    return bool(target.identifiers and entity.identifiers) and not set(target.identifiers) & set(
        entity.identifiers
    )


def _find(
    type_: str,
    names: list[str],
    by_key: dict[tuple[str, str], Entity],
    by_name: dict[str, Entity],
) -> Entity | None:
    """The merged entity these names denote: same type, or Thing on either side.

    A Thing's type says nothing, so Things are compared by names normalised without a type.
    """
    for key in [k for n in names if (k := normalise_name(n, type_))]:
        if (type_, key) in by_key:
            return by_key[(type_, key)]
    for key in [k for n in names if (k := normalise_name(n))]:
        if type_ == "Thing" and key in by_name:
            return by_name[key]
        target = by_key.get(("Thing", key))
        if target is not None and target.type == "Thing":
            target.type = type_
            return target
    return None


def _copy_entity(entity: Entity) -> Entity:
    copy = dataclasses.replace(
        entity,
        aliases=[],
        description=entity.description or "",
        attributes=dict(entity.attributes or {}),
        identifiers=list(entity.identifiers or []),
        classes=None if entity.classes is None else list(entity.classes),
    )
    _add_aliases(copy, entity.aliases or [])
    return copy


def _absorb(target: Entity, entity: Entity, known: set[str]) -> list[str]:
    """Add a mention to its merged entity; returns the aliases it added."""
    added = _add_aliases(target, [entity.name, *(entity.aliases or [])], known)
    if entity.classes:
        _add_classes(target, entity.classes)
    target.iri = target.iri or entity.iri
    if not target.description:
        target.description = entity.description or ""
    for key, value in (entity.attributes or {}).items():
        target.attributes.setdefault(key, value)
    for identifier in entity.identifiers or []:
        if identifier not in target.identifiers:
            target.identifiers.append(identifier)
    return added


def _add_classes(target: Entity, classes: Iterable[str]) -> None:
    """The mention's classes that say more than the target's (a LocalBusiness mention adds
    LocalBusiness to an Organization; an Organization mention adds nothing to a Restaurant)."""
    words = vocabulary()
    own = list(target.classes) if target.classes is not None else [target.type]
    for name in classes:
        if not any(name in words.ancestors(c) for c in own):
            own = [c for c in own if c not in words.ancestors(name)] + [name]
    target.classes = own


def _add_aliases(target: Entity, names: Iterable[str], known: set[str] | None = None) -> list[str]:
    """Add the names not yet known (``known``: the target's normalised names, kept up to
    date); returns them."""
    if known is None:
        known = {normalise_name(n) for n in [target.name, *target.aliases]}
    added = []
    for name in names:
        key = normalise_name(name)
        if key and key not in known:
            known.add(key)
            target.aliases.append(name)
            added.append(name)
    return added


def merge_relations(relations: Iterable[Relation], canonical: dict[str, str]) -> list[Relation]:
    """Relations with canonical endpoint names, one per (source, type, target)."""
    merged: dict[tuple[str, str, str], Relation] = {}
    for relation in relations:
        source, target = _end(relation.source, canonical), _end(relation.target, canonical)
        key = (_end_key(source), relation.type, _end_key(target))
        if key in merged:
            if not merged[key].evidence:
                merged[key].evidence = relation.evidence or ""
            continue
        merged[key] = dataclasses.replace(
            relation, source=source, target=target, evidence=relation.evidence or ""
        )
    return list(merged.values())


def _end(end: str, canonical: dict[str, str]) -> str:
    return canonical.get(end) or canonical.get(normalise_name(end), end)


def _end_key(end: str) -> str:
    return end if ":" in end else normalise_name(end)
