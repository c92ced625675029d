"""Entity resolution: normalised names, identifiers, aliases, conflicts and unmerge rules."""

from __future__ import annotations

import pytest

from scraper.graph.names import normalise_name
from scraper.graph.resolution import KnownNode, MentionKeys, Resolver, normalise_identifier


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Acme Corporation", "acme"),
        ("ACME Corp.", "acme"),
        ("  acme,   inc ", "acme"),
        ("The Acme Company, Ltd.", "acme"),
        ("Acme GmbH & Co. KG", "acme"),
        ("Müller Holding GmbH", "muller holding"),
        ("Société Générale S.A.", "societe generale"),
        ("Smith-Jones LLC", "smith jones"),
        ("McDonald's", "mcdonalds"),
        ("Corp", "corp"),  # a suffix alone is a name, not a suffix
    ],
)
def test_organisation_names_normalise(name, expected):
    assert normalise_name(name, "Organization") == expected


def test_legal_suffixes_are_only_stripped_from_organisations():
    assert normalise_name("Sam Co", "Person") == "sam co"
    assert normalise_name("  Zoë   Ångström ", "Person") == "zoe angstrom"


@pytest.mark.parametrize(
    ("iri", "expected"),
    [
        ("http://Example.COM/About/", "https://example.com/About"),
        ("https://example.com:443/x?a=1#org", "https://example.com/x?a=1#org"),
        ("https://www.wikidata.org/wiki/Q95", "https://www.wikidata.org/wiki/Q95"),
        ("urn:isbn:0451450523", "urn:isbn:0451450523"),
        ("not an iri", None),
        ("/relative/path", None),
    ],
)
def test_identifiers_normalise(iri, expected):
    assert normalise_identifier(iri) == expected


def org(name, aliases=(), ids=()):
    return MentionKeys.of("Organization", name, aliases, ids)


def test_name_variants_and_an_alias_become_one_node():
    resolver = Resolver([])
    first = resolver.resolve(org("Acme Corporation"))
    second = resolver.resolve(org("ACME Corp."))
    third = resolver.resolve(org("Acme Holdings", aliases=["Acme"]))
    assert first.matched_by == "new"
    assert second.iri == third.iri == first.iri
    assert (second.matched_by, third.matched_by) == ("name", "alias")
    assert second.matched_key == third.matched_key == "Organization|acme"


def test_same_name_with_different_same_as_stays_apart():
    resolver = Resolver([])
    one = resolver.resolve(org("Acme", ids=["https://www.wikidata.org/entity/Q1"]))
    two = resolver.resolve(org("Acme", ids=["https://www.wikidata.org/entity/Q2"]))
    again = resolver.resolve(org("ACME Inc.", ids=["http://www.wikidata.org/entity/Q2/"]))
    assert one.iri != two.iri
    assert again.iri == two.iri and again.matched_by == "identifier"


def test_an_identifier_joins_a_renamed_entity_that_keeps_its_old_name_as_an_alias():
    resolver = Resolver([])
    site = "https://acme.example/"
    first = resolver.resolve(org("Acme", ids=[site]))
    renamed = resolver.resolve(
        org("Wile E. Industries", aliases=["Acme"], ids=["http://acme.example"])
    )
    assert renamed.iri == first.iri and renamed.matched_by == "identifier"


def test_another_entitys_identifier_joins_only_when_the_names_agree():
    resolver = Resolver([])
    acme = resolver.resolve(org("Acme", ids=["https://acme.example/"]))
    claim = resolver.resolve(org("Evil Ltd", ids=["https://acme.example/"]))
    assert claim.iri != acme.iri and claim.matched_by == "new"
    assert resolver.resolve(org("ACME Inc.", ids=["https://acme.example/"])).iri == acme.iri
    bare = MentionKeys.of("Organization", "", [], ["https://acme.example"])
    assert resolver.resolve(bare).iri == acme.iri


@pytest.mark.parametrize("own_iri", ["", "https://acme.example/#org"])
def test_a_claim_made_first_does_not_become_the_real_entity(own_iri):
    ids = [] if own_iri else ["https://acme.example/#org"]
    resolver = Resolver([])
    claim = resolver.resolve(MentionKeys.of("Organization", "Evil", [], ids, own_iri=own_iri))
    real = resolver.resolve(MentionKeys.of("Organization", "Acme", [], ids, own_iri=own_iri))
    assert real.iri != claim.iri and real.matched_by == "new"
    again = resolver.resolve(MentionKeys.of("Organization", "Acme Inc", [], ids, own_iri=own_iri))
    assert again.iri == real.iri


def test_ambiguous_name_joins_no_identified_node():
    known = [
        KnownNode("urn:a", ids={"https://x/Q1"}, name_keys={"Organization|acme"}),
        KnownNode("urn:b", ids={"https://x/Q2"}, name_keys={"Organization|acme"}),
    ]
    resolution = Resolver(known).resolve(org("Acme"))
    assert resolution.matched_by == "new" and resolution.iri not in {"urn:a", "urn:b"}


def test_types_keep_same_names_apart():
    resolver = Resolver([])
    person = resolver.resolve(MentionKeys.of("Person", "Jordan", [], []))
    place = resolver.resolve(MentionKeys.of("Place", "Jordan", [], []))
    assert person.iri != place.iri


def test_node_iris_are_stable_and_order_independent_for_new_nodes():
    a = Resolver([]).resolve(org("Acme Corporation"))
    b = Resolver([]).resolve(org("ACME corp"))
    assert a.iri == b.iri  # minted from the key, not from the spelling or page


def test_ambiguous_name_prefers_the_node_minted_from_it():
    natural = Resolver([]).resolve(org("Acme")).iri
    known = [
        KnownNode(natural, ids={"https://x/Q1"}, name_keys={"Organization|acme"}),
        KnownNode("urn:b", ids={"https://x/Q2"}, name_keys={"Organization|acme"}),
    ]
    assert Resolver(known).resolve(org("Acme Inc")).iri == natural


def test_kept_apart_names_do_not_merge_and_share_one_split_node():
    natural = Resolver([]).resolve(org("Acme Corporation")).iri
    known = KnownNode(natural, name_keys={"Organization|acme"}, kept_apart={"acme corp."})
    resolver = Resolver([known])
    split = resolver.resolve(org("ACME Corp."))
    other = resolver.resolve(org("Acme Corporation"))
    assert split.iri != natural and other.iri == natural
    assert Resolver([known]).resolve(org("acme corp.")).iri == split.iri
