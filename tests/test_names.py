"""The one name normaliser shared by merging, grounding and resolution."""

from __future__ import annotations

import pytest

from scraper.extract import PageText, ground, merge_entities
from scraper.facts import Entity
from scraper.graph.names import drop_possessives, normalise_name
from scraper.graph.resolution import name_key


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("McDonald's", "mcdonalds"),
        ("O\u2019Brien", "obrien"),  # a typographic apostrophe joins too
        ("Jones' shop", "jones shop"),  # an apostrophe outside a word separates
        ("\u2018Acme\u2019 Widgets", "acme widgets"),  # quotes are not apostrophes
        ("Zoë Ångström", "zoe angstrom"),
        ("Crème Brûlée", "creme brulee"),
        ("\uff21\uff23\uff2d\uff25", "acme"),  # full-width letters
        ("Smith-Jones", "smith jones"),
        ("Rhône\u2013Alpes", "rhone alpes"),  # en dash
        ("Input/Output", "input output"),
        ("snake_case", "snake case"),
        ("U.S. Steel", "us steel"),  # the dots of an initialism join
        ("acme.com", "acme com"),  # other dots separate
        ("AT&T", "at t"),
        ("  Acme ,  Widgets\n", "acme widgets"),
    ],
)
def test_names_become_comparable_words(name, expected):
    assert normalise_name(name) == expected


@pytest.mark.parametrize(
    ("name", "organisation", "other"),
    [
        ("ACME Corp.", "acme", "acme corp"),
        ("The Acme Company, Ltd.", "acme", "the acme company ltd"),
        ("Société Générale S.A.", "societe generale", "societe generale sa"),
        ("Ferrari S.p.A.", "ferrari", "ferrari spa"),
        ("Sam Co", "sam", "sam co"),
        ("The Hague Group", "hague group", "the hague group"),
    ],
)
def test_legal_suffixes_and_the_go_only_for_organisations(name, organisation, other):
    assert normalise_name(name, "Organization") == organisation
    for entity_type in (None, "Thing", "Person", "Place"):
        assert normalise_name(name, entity_type) == other


@pytest.mark.parametrize(
    ("name", "entity_type", "expected"),
    [
        ("", None, ""),
        ("   ", None, ""),
        ("!!! — ???", None, ""),
        ("\u0301\u0308", None, ""),  # only combining marks
        ("Corp.", "Organization", "corp"),  # a suffix alone is a name, not a suffix
        ("The", "Organization", "the"),
        ("The Inc", "Organization", "inc"),
    ],
)
def test_what_is_left_when_little_is_left(name, entity_type, expected):
    assert normalise_name(name, entity_type) == expected


def test_resolution_keys_use_the_shared_normaliser():
    assert name_key("Organization", "The ACME Corp.") == "Organization|acme"
    assert name_key("Person", "Zoë-Ann O'Neil") == "Person|zoe ann oneil"
    assert name_key("Organization", "?!") is None


def test_possessives_are_dropped_from_text():
    assert drop_possessives("Acme's and ACME\u2019S prices, Jones' shop") == (
        "Acme and ACME prices, Jones' shop"
    )


@pytest.mark.parametrize(
    ("text", "phrase", "mentioned"),
    [
        ("Acme's prices rose.", "Acme", True),
        ("Acme\u2019s prices rose.", "acme", True),
        ("Lunch at McDonald's today.", "McDonald's", True),
        ("Lunch at McDonald's today.", "McDonalds", True),
        ("Lunch at McDonald's today.", "McDonald", True),
        ("Acmes are sold here.", "Acme", False),  # a plural is another word
        ("Visit acme.com for more.", "Acme", True),
        ("Made in the U.S. by Zoë.", "US", True),
        ("Made in the U.S. by Zoë.", "zoe", True),
        ("Acme makes widgets.", "!!!", False),  # nothing comparable is never mentioned
    ],
)
def test_page_text_finds_names_as_whole_words(text, phrase, mentioned):
    assert PageText(text).mentions(phrase) is mentioned


def entity(name, type_="Thing", aliases=()):
    return Entity(name=name, type=type_, aliases=list(aliases), origin="llm")


def test_a_page_merges_organisation_spellings_as_resolution_does():
    merged, canonical = merge_entities(
        [
            entity("ACME Corp.", "Organization"),  # from one chunk
            entity("Acme Corporation", "Organization"),  # from another
            entity("Sam Co", "Person"),
            entity("Sam", "Person"),  # a person's "Co" is part of the name
            entity("!!!", "Organization"),
            entity("???", "Organization"),  # nothing comparable: no merge
        ]
    )
    assert [(e.name, e.aliases) for e in merged] == [
        ("ACME Corp.", ["Acme Corporation"]),
        ("Sam Co", []),
        ("Sam", []),
        ("!!!", []),
        ("???", []),
    ]
    assert canonical["acme corporation"] == "ACME Corp."


def test_grounding_keeps_an_organisation_named_in_the_possessive():
    kept, _, dropped = ground(
        [entity("Acme Corporation", "Organization", ["Acme", "ACME Corp."])],
        [],
        "Acme's new plant opened in Zürich.",
    )
    assert [(e.name, e.aliases) for e in kept] == [("Acme Corporation", ["Acme"])]
    assert dropped == 0
