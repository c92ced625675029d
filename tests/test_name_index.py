"""The explorer's name index: prefix matches first, substrings next, types, odd labels."""

from __future__ import annotations

from scraper.graph.name_index import IndexedEntity, NameIndex

ENTITIES = [
    IndexedEntity("urn:e:acme", "Acme Corporation", ("schema:Organization",)),
    IndexedEntity("urn:e:jane", "Jane Doe", ("schema:Person",)),
    IndexedEntity("urn:e:pacman", "Pacman Arcade", ("schema:Product",)),
    IndexedEntity("urn:e:ac", "AC", ("schema:Organization",)),
    IndexedEntity("urn:e:odd", "two\nlines <b>", ("schema:Thing",)),
]
LABELS = [
    ("urn:e:acme", "Acme Corporation"),
    ("urn:e:acme", "ACME Corp."),
    ("urn:e:acme", "Acme"),
    ("urn:e:jane", "Jane Doe"),
    ("urn:e:jane", "J. Doe of Acme"),
    ("urn:e:pacman", "Pacman Arcade"),
    ("urn:e:ac", "AC"),
    ("urn:e:odd", "two\nlines <b>"),
    ("urn:e:unknown", "Acme Ghost"),  # not an indexed entity: ignored
]


def index() -> NameIndex:
    return NameIndex(ENTITIES, LABELS)


def test_names_starting_with_the_text_come_first_shortest_first_one_row_per_entity():
    found = index().search("ac")
    # Then labels containing it, in label order.
    assert [r["id"] for r in found] == ["urn:e:ac", "urn:e:acme", "urn:e:jane", "urn:e:pacman"]
    acme = found[1]
    assert acme == {
        "id": "urn:e:acme",
        "name": "Acme Corporation",
        "types": ["schema:Organization"],
        "match": "Acme",  # the shortest label that matched
    }
    assert found[2]["match"] == "J. Doe of Acme"  # an alias containing the text


def test_type_filter_limit_and_empty_text():
    assert [r["id"] for r in index().search("ac", entity_type="schema:Person")] == ["urn:e:jane"]
    assert len(index().search("a", limit=2)) == 2
    assert index().search("   ") == [] and index().search("zzz") == []
    assert len(index()) == 5


def test_labels_with_newlines_and_markup_are_found_as_written():
    (odd,) = index().search("lines <b")
    assert odd["match"] == "two\nlines <b>"
    assert index().search("o\nl") == []  # a newline in the text is a space, matches nothing
    assert [r["id"] for r in index().search("TWO")] == ["urn:e:odd"]
