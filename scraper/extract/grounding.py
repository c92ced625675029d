"""Hallucination guard: keep only entities and relations whose names occur in the page text."""

from __future__ import annotations

import dataclasses

from scraper.facts import Entity, Relation
from scraper.graph.names import drop_possessives, normalise_name


class PageText:
    """The page text in comparable words, for whole-word phrase look-ups."""

    def __init__(self, text: str) -> None:
        # Apostrophes join words ("McDonald's" → "mcdonalds"), so the text is also kept without
        # its possessives: "Acme's prices" mentions "Acme".
        self._forms = (f" {normalise_name(text)} ", f" {normalise_name(drop_possessives(text))} ")

    def mentions(self, phrase: str) -> bool:
        """True when ``phrase`` occurs in the text as whole words (case and accents ignored)."""
        words = normalise_name(phrase)
        return bool(words) and any(f" {words} " in form for form in self._forms)


def ground(
    entities: list[Entity], relations: list[Relation], text: str
) -> tuple[list[Entity], list[Relation], int]:
    """(grounded entities, grounded relations, number dropped).

    An entity stays when its name or one of its aliases occurs in ``text``
    (aliases that do not occur are removed); a relation stays when both its
    source and its target occur or name a kept entity. Relation endpoints that are not entities yet
    become ``Thing`` entities so every edge has its nodes.
    """
    page = PageText(text)
    kept_entities = []
    for entity in entities:
        aliases = [alias for alias in entity.aliases if page.mentions(alias)]
        if aliases or page.mentions(entity.name):
            kept_entities.append(dataclasses.replace(entity, aliases=aliases))
    known = {normalise_name(n) for e in kept_entities for n in [e.name, *e.aliases]}

    def grounded(name: str) -> bool:
        return normalise_name(name) in known or page.mentions(name)

    kept_relations = [r for r in relations if grounded(r.source) and grounded(r.target)]
    dropped = len(entities) - len(kept_entities) + len(relations) - len(kept_relations)
    for relation in kept_relations:
        for endpoint in (relation.source, relation.target):
            if normalise_name(endpoint) not in known:
                known.add(normalise_name(endpoint))
                kept_entities.append(Entity(name=endpoint, type="Thing", origin=relation.origin))
    return kept_entities, kept_relations, dropped
