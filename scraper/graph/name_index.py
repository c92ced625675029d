"""Entity search by name or alias: an in-memory index of every label, built from the store.

A SPARQL ``CONTAINS`` filter reads every label of the store for each keystroke (seconds on
100,000 entities); this index answers in milliseconds: names starting with the text come
from a sorted list (bisect), names containing it from one joined string (``str.find``).
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

_END = "\U0010ffff"


@dataclass(frozen=True)
class IndexedEntity:
    iri: str
    name: str  # the canonical name
    types: tuple[str, ...]  # ``schema:Person``, …


class NameIndex:
    """Labels (names and aliases) of entities, searchable by prefix and substring."""

    def __init__(self, entities: Iterable[IndexedEntity], labels: Iterable[tuple[str, str]]):
        """``labels`` are (entity IRI, label) pairs; labels of unknown IRIs are ignored."""
        self.entities = {e.iri: e for e in entities}
        pairs = sorted(
            {(label.lower(), label, iri) for iri, label in labels if iri in self.entities}
        )
        self._lower = [p[0] for p in pairs]
        self._labels = [p[1] for p in pairs]
        self._owners = [p[2] for p in pairs]
        self._lengths = [len(low) for low in self._lower]
        # One string of every label, each after a newline: str.find scans it in C.
        self._starts: list[int] = []
        position = 0
        for low in self._lower:
            self._starts.append(position + 1)
            position += len(low) + 1
        self._joined = "".join("\n" + low for low in self._lower)

    def __len__(self) -> int:
        return len(self.entities)

    def search(
        self, text: str, *, entity_type: str | None = None, limit: int = 20
    ) -> list[dict[str, Any]]:
        """Entities one label of which contains ``text`` (case aside): names starting with it
        first (shorter first), then the others; ``entity_type`` (``schema:Person``) keeps
        that class only. Each: ``id``, ``name``, ``types``, the ``match``ing label."""
        needle = text.strip().lower().replace("\n", " ")
        if not needle or limit <= 0:
            return []
        found: dict[str, str] = {}
        for index in self._ranked(self._prefixed(needle, entity_type), limit):
            found.setdefault(self._owners[index], self._labels[index])
            if len(found) >= limit:
                break
        if len(found) < limit:
            for index in self._containing(needle):
                owner = self._owners[index]
                if owner not in found and self._typed(owner, entity_type):
                    found[owner] = self._labels[index]
                    if len(found) >= limit:
                        break
        return [
            {
                "id": iri,
                "name": self.entities[iri].name or label,
                "types": list(self.entities[iri].types),
                "match": label,
            }
            for iri, label in found.items()
        ]

    def _typed(self, iri: str, entity_type: str | None) -> bool:
        return entity_type is None or entity_type in self.entities[iri].types

    def _prefixed(self, needle: str, entity_type: str | None) -> Iterable[int]:
        lo = bisect_left(self._lower, needle)
        hi = bisect_right(self._lower, needle + _END, lo)
        if entity_type is None:
            return range(lo, hi)
        return (i for i in range(lo, hi) if self._typed(self._owners[i], entity_type))

    def _ranked(self, indices: Iterable[int], limit: int) -> list[int]:
        """The shortest labels first, ties in label order (several labels may belong to one
        entity, hence more than ``limit``)."""
        return heapq.nsmallest(limit * 4, indices, key=self._lengths.__getitem__)

    def _containing(self, needle: str) -> Iterator[int]:
        """Labels containing ``needle`` but not starting with it, in label order."""
        position = self._joined.find(needle)
        while position != -1:
            index = bisect_right(self._starts, position) - 1
            if position != self._starts[index]:
                yield index
            # Go on after this label: one hit per label.
            following = self._starts[index + 1] if index + 1 < len(self._starts) else None
            if following is None:
                return
            position = self._joined.find(needle, following)
