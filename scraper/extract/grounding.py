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
    (aliases that do not occur are removed). A node without a name (a recipe's nutrition,
    a nested model) has nothing to look up: it stays when a relation links it to a node
    that stays. A relation stays when both its ends occur or are kept entities. Relation
    ends named by no entity yet become ``Thing`` entities so every edge has its nodes.
    """
    page = PageText(text)
    kept_entities = []
    for entity in entities:
        aliases = [alias for alias in entity.aliases if page.mentions(alias)]
        if aliases or page.mentions(entity.name):
            kept_entities.append(dataclasses.replace(entity, aliases=aliases))
    kept_refs = {e.ref for e in kept_entities if e.ref}
    unnamed = {e.ref: e for e in entities if e.ref and not e.name}
    grew = True
    while grew:  # nodes without a name join through their links, however deeply nested
        grew = False
        for r in relations:
            for near, far in ((r.source, r.target), (r.target, r.source)):
                if near in kept_refs and far in unnamed and far not in kept_refs:
                    kept_refs.add(far)
                    kept_entities.append(unnamed[far])
                    grew = True
    known = {normalise_name(n) for e in kept_entities for n in [e.name, *e.aliases]}

    def grounded(end: str) -> bool:
        return end in kept_refs or normalise_name(end) in known or page.mentions(end)

    kept_relations = [r for r in relations if grounded(r.source) and grounded(r.target)]
    dropped = len(entities) - len(kept_entities) + len(relations) - len(kept_relations)
    for relation in kept_relations:
        for end in (relation.source, relation.target):
            if end not in kept_refs and normalise_name(end) not in known:
                known.add(normalise_name(end))
                kept_entities.append(Entity(name=end, type="Thing", origin=relation.origin))
    return kept_entities, kept_relations, dropped
