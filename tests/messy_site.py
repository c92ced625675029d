"""A seeded realistic site with its gold facts, and a fake LLM that answers them in messy shapes.

:func:`build_site` writes a small business directory (companies, people, products, news
articles and listing pages, all with fictional names) whose visible text states facts in
plain sentences, some pages with JSON-LD; it returns the HTML of every page and the gold
entities and relations each page states. :func:`gold_responder` makes a ``responder`` for
:class:`tests.fake_llm.FakeLLM` that answers, for any chunk of page text, exactly the gold
facts found in it: as clean JSON (:func:`perfect`) or written the ways real models write
(:func:`messy`: fences, thinking, prose, trailing commas, single quotes, nulls, other
spellings of types and relation types, wrappers, invalid items, a hallucination).

The shapes are written here from how model answers look, independently of the corpus in
``tests/answer_shapes/`` that the parser was tuned on: this is the held-out check.
:func:`graph_facts` and :func:`score` read a crawl's graph back and compare it with the gold.
"""

from __future__ import annotations

import hashlib
import html
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from scraper.graph.names import normalise_name
from tests.fake_llm import Reply, page_text

# --- Fictional name pools (disjoint words, so no name is part of another) ---------------

COMPANY_STEMS = [
    "Acme", "Borealis", "Calder", "Dunmore", "Everly", "Fenwick", "Galloway", "Halvorsen",
    "Ivorine", "Juniper", "Kestrel", "Larkspur", "Meridian", "Northwind", "Orchard",
    "Pemberton", "Quillon", "Ravenna", "Sorrel", "Tamarind", "Umbrel", "Veridian", "Wexford",
    "Yarrow", "Zephyr", "Ashcombe", "Brackwater", "Corvane", "Delmont", "Elsworth",
]  # fmt: skip
SECTORS = [
    "Robotics", "Foods", "Analytics", "Motors", "Textiles", "Biotech", "Aerospace", "Optics",
    "Logistics", "Energy", "Marine", "Acoustics",
]  # fmt: skip
SUFFIXES = ["Inc.", "GmbH", "Ltd", "Corp.", "B.V.", "S.A.", "LLC", "AG"]
FIRST_NAMES = [
    "Amara", "Bastian", "Corinne", "Dario", "Elif", "Florian", "Greta", "Hugo", "Ines",
    "Jonas", "Kaia", "Lorenzo", "Mirela", "Niko", "Odile", "Pavel", "Quinn", "Rosalind",
    "Soren", "Talia", "Ulrich", "Vesna", "Wim", "Xenia", "Yusuf", "Zora", "Annika", "Bruno",
    "Celeste", "Dmitri", "Esme", "Fabian",
]  # fmt: skip
LAST_NAMES = [
    "Abernathy", "Brandvold", "Castellanos", "Drummond", "Eskildsen", "Farrow", "Gunderson",
    "Hollister", "Ingram", "Jablonski", "Kovacic", "Lindqvist", "Marchetti", "Novak",
    "Okonkwo", "Pellegrini", "Quartermaine", "Rasmussen", "Szabo", "Thorsen", "Underhill",
    "Valdivia", "Whitcombe", "Yilmaz", "Zamora", "O'Hara", "Achterberg", "Bellamy",
    "Cordeiro", "Delacroix", "Engstrom", "Fairbairn",
]  # fmt: skip
CITIES = [
    "Port Alder", "Vellmar Bay", "Kestonbury", "Norhaven", "Brightwater", "Eastmere",
    "Calloway Falls", "Saltmarsh", "Redfern", "Ostrova", "Glimmerdale", "Thornwick",
]  # fmt: skip
PRODUCT_LINES = [
    "Rover", "Falcon", "Nimbus", "Atlas", "Pulse", "Vertex", "Cobalt", "Tundra", "Lumen",
    "Quasar", "Orbit", "Helix", "Cinder", "Summit", "Zenith", "Ember", "Drift", "Sable",
    "Vista", "Glacier", "Monsoon", "Talon", "Ridge", "Harbor", "Jet", "Koda",
]  # fmt: skip
PRODUCT_CODES = ["X2", "300", "Mini", "Pro", "S7", "Max", "One", "Air", "9", "Duo", "GT", "Lite"]
UNIVERSITIES = [
    "Halloran Institute of Technology",
    "Marwick College",
    "Stenholm University",
    "Bexley Polytechnic",
]
EVENTS = ["Tidewater Expo", "Innovate Summitry", "Cascadia Makers Fair", "Ironbridge Forum"]
WORKS = [
    "Silent Gears", "The Quiet Harvest", "Notes on Lattices", "Beyond the Tidewall",
    "Copper and Salt", "A Field Guide to Drones", "Lanterns of Industry", "Open Ledgers",
]  # fmt: skip
JOB_TITLES = [
    "chief executive", "chief engineer", "head of sales", "product designer",
    "research scientist", "operations manager", "chief financial officer", "data analyst",
]  # fmt: skip
# Names that occur on no page: what a hallucinating model adds.
HALLUCINATIONS = [
    ("Person", "Thaddeus Morgenstern"), ("Organization", "Vanterpool Dynamics Inc."),
    ("Place", "Lake Orvandel"), ("Product", "Quorra 5000"), ("Person", "Ysolde Brackenridge"),
    ("Organization", "Krellwick Holdings Ltd"), ("Event", "Pellucid Conference"),
]  # fmt: skip

# Sentences that name nothing, so pages read like pages (and chunks carry some bulk).
FILLER = {
    "company": [
        "The firm invests a large share of its revenue in research and development.",
        "Its customers range from small workshops to national retailers.",
        "The company publishes an annual report on energy use and waste.",
        "Most of its staff work in engineering, support and logistics.",
        "A new training programme for apprentices started this spring.",
        "The board meets four times a year and publishes its minutes online.",
    ],
    "person": [
        "Colleagues describe a calm and methodical manager who listens first.",
        "Outside work, sailing and long-distance running fill the weekends.",
        "Three languages, a patent on a cooling valve and a habit of early meetings.",
        "Former students still ask for advice on their first business plans.",
        "A keynote at a regional conference last year drew a full hall.",
    ],
    "product": [
        "The device ships with a two-year warranty and a printed manual.",
        "A firmware update last spring improved battery life by a fifth.",
        "Spare parts are available from authorised dealers in most regions.",
        "Reviewers liked the quiet motor but found the app slow to pair.",
        "The housing is made from recycled aluminium and can be repaired.",
    ],
    "news": [
        "Shares rose slightly after the announcement.",
        "A spokesperson declined to give further details about the timeline.",
        "The move follows a year of steady growth across the region.",
        "Industry observers said the decision had been expected for months.",
        "Local suppliers welcomed the news and hope for new contracts.",
    ],
}

RELATION_TYPES = (
    "worksFor", "founder", "location", "manufacturer", "brand", "parentOrganization",
    "homeLocation", "alumniOf", "author", "organizer",
)  # fmt: skip


# --- The site and its gold --------------------------------------------------------------


@dataclass(frozen=True)
class GoldEntity:
    name: str
    type: str  # a contract-2 type
    aliases: tuple[str, ...] = ()
    attributes: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class GoldRelation:
    source: str
    type: str
    target: str
    evidence: str  # the sentence of the page that states it


@dataclass
class PageGold:
    text: str  # the page's visible main text
    entities: list[GoldEntity] = field(default_factory=list)
    relations: list[GoldRelation] = field(default_factory=list)


@dataclass
class MessySite:
    pages: dict[str, str]  # path -> HTML
    gold: dict[str, PageGold]  # path -> facts the page states
    catalogue: dict[str, GoldEntity]  # name -> entity
    relations: list[GoldRelation]  # every relation a page states (with its evidence)
    hallucinations: list[tuple[str, str]]  # (type, name) stated on no page

    def entity_keys(self) -> set[tuple[str, str]]:
        return {entity_key(e.name, e.type) for g in self.gold.values() for e in g.entities}

    def relation_keys(self) -> set[tuple[str, str, str]]:
        types = {name: e.type for name, e in self.catalogue.items()}
        return {
            relation_key(r.source, types[r.source], r.type, r.target, types[r.target])
            for g in self.gold.values()
            for r in g.relations
        }


def entity_key(name: str, entity_type: str) -> tuple[str, str]:
    return normalise_name(name, entity_type), entity_type


def relation_key(
    source: str, source_type: str, kind: str, target: str, target_type: str
) -> tuple[str, str, str]:
    return normalise_name(source, source_type), kind, normalise_name(target, target_type)


class _Writer:
    """Collects a page's sentences and the relations each states."""

    def __init__(self) -> None:
        self.blocks: list[str] = []  # HTML blocks of <main>
        self.texts: list[str] = []  # their visible text
        self.relations: list[GoldRelation] = []

    def sentence(self, text: str, *facts: tuple[str, str, str]) -> str:
        text = text.replace("..", ".")  # a name ending with "Inc." ends the sentence
        for source, kind, target in facts:
            assert kind in RELATION_TYPES, kind
            assert source in text and target in text, (text, source, target)
            self.relations.append(GoldRelation(source, kind, target, text))
        return text

    def paragraph(self, *sentences: str) -> None:
        text = " ".join(sentences)
        self.blocks.append(f"<p>{html.escape(text, quote=False)}</p>")
        self.texts.append(text)

    def heading(self, text: str, level: int = 1) -> None:
        self.blocks.append(f"<h{level}>{html.escape(text, quote=False)}</h{level}>")
        self.texts.append(text)

    def links(self, title: str, items: Iterable[tuple[str, str]]) -> None:
        items = list(items)
        if not items:
            return
        lis = "".join(
            f"<li><a href='{href}'>{html.escape(label, quote=False)}</a></li>"
            for href, label in items
        )
        self.blocks.append(f"<h2>{title}</h2><ul>{lis}</ul>")
        self.texts += [title, *(label for _, label in items)]


NAV = (
    "<header><nav><a href='/'>Home</a> | <a href='/companies/'>Companies</a> | "
    "<a href='/people/'>People</a> | <a href='/products/'>Products</a> | "
    "<a href='/news/'>News</a></nav></header>"
)
FOOTER = "<footer><p>Harbourline Directory. All listings are updated weekly.</p></footer>"


def _html(title: str, writer: _Writer, json_ld: dict[str, Any] | None = None) -> str:
    head = f"<title>{html.escape(title, quote=False)} | Harbourline Directory</title>"
    if json_ld is not None:
        data = json.dumps({"@context": "https://schema.org", **json_ld})
        head += f"<script type='application/ld+json'>{data}</script>"
    body = "".join(writer.blocks)
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>{head}</head><body>"
        f"{NAV}<main><article>{body}</article></main>{FOOTER}</body></html>"
    )


def _slug(name: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", normalise_name(name)))


def _counts(pages: int) -> dict[str, int]:
    """How many pages of each kind make about ``pages`` pages (home + 4 listings + the rest)."""
    rest = max(pages - 5, 8)
    companies = max(2, round(rest * 0.24))
    people = max(3, round(rest * 0.32))
    products = max(2, round(rest * 0.24))
    return {
        "companies": companies,
        "people": people,
        "products": products,
        "news": max(1, rest - companies - people - products),
    }


def build_site(pages: int = 80, seed: int = 7) -> MessySite:
    """About ``pages`` pages of a fictional business directory, and what each states."""
    rng = random.Random(seed)
    counts = _counts(pages)
    cities = rng.sample(CITIES, min(len(CITIES), max(4, counts["companies"] // 2 + 2)))
    universities = rng.sample(UNIVERSITIES, min(len(UNIVERSITIES), 1 + counts["people"] // 8))
    works = rng.sample(WORKS, min(len(WORKS), max(1, counts["people"] // 4)))
    events = rng.sample(EVENTS, min(len(EVENTS), max(1, counts["news"] // 3)))

    stems = rng.sample(COMPANY_STEMS, counts["companies"])
    companies = []
    for stem in stems:
        name = f"{stem} {rng.choice(SECTORS)} {rng.choice(SUFFIXES)}"
        companies.append(
            {
                "name": name,
                "alias": stem,
                "city": rng.choice(cities),
                "founded": rng.randint(1952, 2019),
                "employees": rng.choice([12, 45, 120, 340, 800, 2500, 7200]),
                "parent": None,
                "founders": [],
            }
        )
    for company in companies[len(companies) // 2 :]:
        if rng.random() < 0.5:
            company["parent"] = rng.choice(companies[: len(companies) // 2])["name"]

    people_names = [
        f"{first} {last}"
        for first, last in zip(
            rng.sample(FIRST_NAMES, counts["people"]),
            rng.sample(LAST_NAMES, counts["people"]),
            strict=True,
        )
    ]
    people = []
    for index, name in enumerate(people_names):
        employer = companies[index % len(companies)]
        person = {
            "name": name,
            "employer": employer["name"],
            "title": rng.choice(JOB_TITLES),
            "home": rng.choice(cities),
            "alma": rng.choice(universities) if rng.random() < 0.6 else None,
            "work": None,
        }
        if index < len(companies) and rng.random() < 0.7:
            employer["founders"].append(name)
            person["title"] = "chief executive"
        people.append(person)
    for work, person in zip(works, rng.sample(people, len(works)), strict=False):
        person["work"] = work

    lines = rng.sample(PRODUCT_LINES, counts["products"])
    products = []
    for line in lines:
        maker = rng.choice(companies)
        brand = maker["parent"] or maker["name"]
        products.append(
            {
                "name": f"{line} {rng.choice(PRODUCT_CODES)}",
                "maker": maker["name"],
                "brand": brand,
                "price": rng.choice([49, 129, 299, 499, 1250, 8900]),
                "year": rng.randint(2015, 2024),
            }
        )

    catalogue: dict[str, GoldEntity] = {}
    for company in companies:
        catalogue[company["name"]] = GoldEntity(
            company["name"],
            "Organization",
            (company["alias"],),
            (
                ("foundingDate", str(company["founded"])),
                ("numberOfEmployees", company["employees"]),
            ),
        )
    for person in people:
        catalogue[person["name"]] = GoldEntity(
            person["name"], "Person", (), (("jobTitle", person["title"]),)
        )
    for product in products:
        catalogue[product["name"]] = GoldEntity(
            product["name"],
            "Product",
            (),
            (("price", f"{product['price']} EUR"), ("releaseYear", product["year"])),
        )
    for city in cities:
        catalogue[city] = GoldEntity(city, "Place")
    for university in universities:
        catalogue[university] = GoldEntity(university, "Organization")
    for work in works:
        catalogue[work] = GoldEntity(work, "CreativeWork")
    for event in events:
        catalogue[event] = GoldEntity(event, "Event")

    by_name = {c["name"]: c for c in companies}
    people_at = {c["name"]: [p for p in people if p["employer"] == c["name"]] for c in companies}
    made_by = {c["name"]: [p for p in products if p["maker"] == c["name"]] for c in companies}
    site: dict[str, str] = {}
    writers: dict[str, _Writer] = {}

    def company_path(name: str) -> str:
        return f"/companies/{_slug(name)}"

    def person_path(name: str) -> str:
        return f"/people/{_slug(name)}"

    def product_path(name: str) -> str:
        return f"/products/{_slug(name)}"

    for company in companies:
        w = _Writer()
        name, city = company["name"], company["city"]
        w.heading(name)
        w.paragraph(
            w.sentence(
                f"{name} ({company['alias']}) is a company based in {city}.",
                (name, "location", city),
            ),
            f"It was established in {company['founded']} and employs "
            f"{company['employees']} people.",
        )
        if company["founders"]:
            founders = " and ".join(company["founders"])
            w.paragraph(
                w.sentence(
                    f"{name} was founded by {founders}.",
                    *((name, "founder", f) for f in company["founders"]),
                )
            )
        if company["parent"]:
            w.paragraph(
                w.sentence(
                    f"Since {rng.randint(2005, 2023)}, {name} has been a subsidiary of "
                    f"{company['parent']}.",
                    (name, "parentOrganization", company["parent"]),
                )
            )
        staff = [p for p in people_at[name] if p["name"] not in company["founders"]]
        for person in staff[:2]:
            w.paragraph(
                w.sentence(
                    f"{person['name']} is the {person['title']} of {name}.",
                    (person["name"], "worksFor", name),
                )
            )
        goods = made_by[name]
        if goods:
            listed = ", ".join(p["name"] for p in goods)
            w.paragraph(
                w.sentence(
                    f"The products of {name} include the {listed}.",
                    *((p["name"], "manufacturer", name) for p in goods),
                )
            )
        w.paragraph(*rng.sample(FILLER["company"], 3))
        w.links(
            "See also",
            [(person_path(p["name"]), p["name"]) for p in people_at[name]]
            + [(product_path(p["name"]), p["name"]) for p in goods],
        )
        json_ld = None
        if rng.random() < 0.4:
            json_ld = {"@type": "Organization", "name": name}
            if company["founders"]:
                json_ld["founder"] = [{"@type": "Person", "name": f} for f in company["founders"]]
        site[company_path(name)] = _html(name, w, json_ld)
        writers[company_path(name)] = w

    for person in people:
        w = _Writer()
        name, employer = person["name"], person["employer"]
        w.heading(name)
        first = name.split()[0]
        w.paragraph(
            w.sentence(
                f"{name} works for {employer} as {person['title']}.", (name, "worksFor", employer)
            ),
            w.sentence(
                f"{name} lives in {person['home']}.", (name, "homeLocation", person["home"])
            ),
        )
        if name in by_name[employer]["founders"]:
            w.paragraph(
                w.sentence(
                    f"In {by_name[employer]['founded']}, {name} founded {employer}.",
                    (employer, "founder", name),
                ),
                f"{first}'s first workshop was a rented garage.",
            )
        if person["alma"]:
            w.paragraph(
                w.sentence(
                    f"{name} studied at {person['alma']}.", (name, "alumniOf", person["alma"])
                )
            )
        if person["work"]:
            w.paragraph(
                w.sentence(
                    f"{name} is the author of the book {person['work']}.",
                    (person["work"], "author", name),
                ),
                "Reviewers called it a careful and readable account.",
            )
        w.paragraph(*rng.sample(FILLER["person"], 2))
        w.links("See also", [(company_path(employer), employer)])
        site[person_path(name)] = _html(name, w)
        writers[person_path(name)] = w

    for product in products:
        w = _Writer()
        name, maker, brand = product["name"], product["maker"], product["brand"]
        w.heading(name)
        w.paragraph(
            w.sentence(f"The {name} is made by {maker}.", (name, "manufacturer", maker)),
            w.sentence(f"The {name} is sold under the {brand} brand.", (name, "brand", brand)),
        )
        w.paragraph(
            f"It was released in {product['year']} and costs {product['price']} euros.",
            "Customers praise its build quality and its long warranty.",
        )
        w.paragraph(*rng.sample(FILLER["product"], 2))
        w.links("See also", [(company_path(maker), maker)])
        json_ld = None
        if rng.random() < 0.4:
            json_ld = {
                "@type": "Product",
                "name": name,
                "manufacturer": {"@type": "Organization", "name": maker},
                "brand": {"@type": "Organization", "name": brand},
            }
        site[product_path(name)] = _html(name, w, json_ld)
        writers[product_path(name)] = w

    for number in range(counts["news"]):
        w = _Writer()
        company = rng.choice(companies)
        name = company["name"]
        kind = number % 3
        if kind == 0:
            event = events[number // 3 % len(events)]
            host = rng.choice([c for c in companies if c is not company] or companies)["name"]
            city = rng.choice(cities)
            title = f"{name} at the {event}"
            w.heading(title)
            w.paragraph(
                w.sentence(
                    f"The {event} took place in {city} and was organised by {host}.",
                    (event, "location", city),
                    (event, "organizer", host),
                ),
            )
            goods = made_by[name][:1]
            if goods:
                w.paragraph(f"{name} showed the {goods[0]['name']} to visitors.")
        elif kind == 1:
            person = rng.choice(people_at[name] or people)
            title = f"{name} names a new {person['title']}"
            w.heading(title)
            w.paragraph(
                w.sentence(
                    f"{person['name']} has joined {person['employer']} as {person['title']}.",
                    (person["name"], "worksFor", person["employer"]),
                ),
                f"The appointment was announced in {company['city']}.",
            )
        else:
            title = f"{name} reports a record year"
            w.heading(title)
            w.paragraph(
                w.sentence(
                    f"{name}, headquartered in {company['city']}, reported record sales.",
                    (name, "location", company["city"]),
                ),
                "Analysts expect further growth next year.",
            )
            if company["parent"]:
                w.paragraph(
                    w.sentence(
                        f"{company['parent']} owns {name} through a holding.",
                        (name, "parentOrganization", company["parent"]),
                    )
                )
        w.paragraph(*rng.sample(FILLER["news"], 3))
        w.paragraph("Our newsroom will follow the story.")
        w.links("Related", [(company_path(name), name)])
        path = f"/news/{number + 1}-{_slug(title)}"
        site[path] = _html(title, w)
        writers[path] = w

    for path, title, prefix in (
        ("/companies/", "Companies", "/companies/"),
        ("/people/", "People", "/people/"),
        ("/products/", "Products", "/products/"),
        ("/news/", "News", "/news/"),
    ):
        w = _Writer()
        w.heading(title)
        w.paragraph(f"Every entry of the directory under {title.lower()}, in order.")
        entries = [p for p in list(site) if p.startswith(prefix) and p != path]
        labels = {p: writers[p].texts[0] for p in entries}
        w.links("Entries", [(p, labels[p]) for p in entries])
        site[path] = _html(title, w)
        writers[path] = w
    w = _Writer()
    w.heading("Harbourline Directory")
    w.paragraph("The directory of firms, people and products of the coast.")
    w.links(
        "Sections",
        [(f"/{part.lower()}/", part) for part in ("Companies", "People", "Products", "News")],
    )
    site["/"] = _html("Home", w)
    writers["/"] = w

    matcher = NameMatcher(catalogue)
    gold = {}
    for path, w in writers.items():
        text = "\n".join(w.texts)
        gold[path] = PageGold(text, matcher.entities_in(text), list(w.relations))
        for relation in w.relations:
            names = {e.name for e in gold[path].entities}
            assert {relation.source, relation.target} <= names, (path, relation)
    relations = [r for g in gold.values() for r in g.relations]
    for _, name in HALLUCINATIONS:
        assert not any(NameMatcher.occurs(name, g.text) for g in gold.values()), name
    return MessySite(site, gold, catalogue, relations, list(HALLUCINATIONS))


class NameMatcher:
    """Which catalogue names a text mentions (whole words, compared as ``normalise_name``)."""

    def __init__(self, catalogue: dict[str, GoldEntity]) -> None:
        self.catalogue = catalogue
        names = [normalise_name(n) for n in catalogue]
        for name in names:  # no name may be found inside another one
            inside = [o for o in names if o != name and f" {name} " in f" {o} "]
            assert not inside, (name, inside)

    @staticmethod
    def occurs(name: str, text: str) -> bool:
        return f" {normalise_name(name)} " in f" {normalise_name(text)} "

    def entities_in(self, text: str) -> list[GoldEntity]:
        padded = f" {normalise_name(text)} "
        found = [(padded.find(f" {normalise_name(n)} "), e) for n, e in self.catalogue.items()]
        return [e for at, e in sorted(found, key=lambda pair: pair[0]) if at >= 0]


# --- Answer shapes ----------------------------------------------------------------------

SHAPES = (
    "fence_json",  # ```json ... ```
    "fence_bare",  # ``` ... ```
    "think",  # <think>...</think> before the JSON
    "prose_before",
    "prose_after",
    "trailing_commas",
    "single_quotes",
    "nulls",  # null for description, aliases, attributes, evidence
    "type_style",  # "organization", "ORGANIZATION", "creative_work", "Creative Work"
    "relation_style",  # works_for, works for, WorksFor, works-for
    "extra_keys",
    "attribute_numbers",  # numbers as strings, numeric strings as numbers
    "aliases_string",  # "aliases": "Acme"
    "endpoint_objects",  # "source": {"name": ...}
    "wrapper",  # {"result": {...}}
    "invalid_items",  # an entity typed "Banana" or with no name, a relation with no target
    "hallucination",  # an entity and a relation whose name is not in the page text
)

ShapeChooser = Callable[[random.Random], list[str]]


def perfect(rng: random.Random) -> list[str]:
    """Clean JSON, every time."""
    return []


def messy(rng: random.Random) -> list[str]:
    """One to four shapes, each shape as likely as any other."""
    return rng.sample(SHAPES, rng.choice((1, 2, 3, 4)))


def very_messy(rng: random.Random) -> list[str]:
    """Three to six shapes at once: small sites still see every shape, and in combination."""
    return rng.sample(SHAPES, rng.randint(3, 6))


class GoldResponder:
    """A FakeLLM responder answering the gold facts found in the request's page text.

    ``used`` maps each page text answered to the shapes of its answers (one list per call),
    ``replies`` to the answers themselves.
    """

    def __init__(self, site: MessySite, shape_chooser: ShapeChooser, seed: int = 0) -> None:
        self.site = site
        self.choose = shape_chooser
        self.seed = seed
        self.matcher = NameMatcher(site.catalogue)
        self.used: dict[str, list[list[str]]] = {}
        self.replies: dict[str, list[str]] = {}

    def __call__(self, body: dict[str, Any]) -> Reply:
        text = page_text(body)
        attempt = len(body.get("messages", []))  # a re-ask carries the earlier exchange
        digest = hashlib.sha256(text.encode()).hexdigest()
        rng = random.Random(f"{self.seed}|{digest}|{attempt}")
        shapes = self.choose(rng)
        content = render_answer(self.answer(text), shapes, rng, text)
        self.used.setdefault(text, []).append(shapes)
        self.replies.setdefault(text, []).append(content)
        return Reply(content)

    def answer(self, text: str) -> dict[str, Any]:
        """The clean answer: gold entities named in ``text``, relations whose sentence it has."""
        entities = []
        for entity in self.matcher.entities_in(text):
            entities.append(
                {
                    "name": entity.name,
                    "type": entity.type,
                    "aliases": [a for a in entity.aliases if NameMatcher.occurs(a, text)],
                    "description": _sentence_with(entity.name, text),
                    "attributes": dict(entity.attributes),
                }
            )
        flat = " ".join(text.split())
        relations = [
            {"source": r.source, "type": r.type, "target": r.target, "evidence": r.evidence}
            for r in dict.fromkeys(self.site.relations)
            if r.evidence in flat
        ]
        return {"entities": entities, "relations": relations}


def gold_responder(site: MessySite, shape_chooser: ShapeChooser, seed: int = 0) -> GoldResponder:
    return GoldResponder(site, shape_chooser, seed)


def _sentence_with(name: str, text: str) -> str:
    """The first line of ``text`` naming ``name`` (a paragraph of the page), as a description."""
    for line in text.splitlines():
        if name in line and line.strip() != name:
            return line.strip()[:300]
    return ""


_TYPE_STYLES = (
    str.lower,
    str.upper,
    lambda t: re.sub(r"(?<=[a-z])(?=[A-Z])", "_", t).lower(),  # creative_work
    lambda t: re.sub(r"(?<=[a-z])(?=[A-Z])", " ", t),  # Creative Work
)
_RELATION_STYLES = (
    lambda r: re.sub(r"(?<=[a-z])(?=[A-Z])", "_", r).lower(),  # works_for
    lambda r: re.sub(r"(?<=[a-z])(?=[A-Z])", " ", r).lower(),  # works for
    lambda r: r[0].upper() + r[1:],  # WorksFor
    lambda r: re.sub(r"(?<=[a-z])(?=[A-Z])", "-", r).lower(),  # works-for
)
_WRAPPERS = ("result", "data", "output", "knowledge_graph", "response")
_THOUGHTS = (
    "The page is about {first}. I should list the entities with their types and then the "
    "relations, using schema.org property names.",
    "Let me look for people, organisations and products. {first} is clearly named. I will "
    'answer with an object like {{"entities": [...], "relations": [...]}}.',
    "Okay. Entities first: {first}, and the others. Relations need a source, a type and a "
    "target. Double-check the names are written as in the text.",
)
_BEFORE = (
    "Here is the extracted knowledge graph:",
    "Sure! Below are the entities and relations I found in the page text.",
    "Based on the page text, the JSON is:",
)
_AFTER = (
    "Let me know if you need anything else.",
    "Note: I only included facts stated in the text.",
    "I hope this helps! (All names are written exactly as in the page.)",
)


def render_answer(answer: dict[str, Any], shapes: list[str], rng: random.Random, text: str) -> str:
    """``answer`` written in ``shapes``: the data reshaped, then the text around it."""
    data = json.loads(json.dumps(answer))  # a copy to reshape
    entities, relations = data["entities"], data["relations"]
    for shape in (s for s in SHAPES if s in shapes):  # the added invalid items come last
        if shape == "nulls":
            for entity in entities:
                for key in ("description", "aliases", "attributes"):
                    if not entity[key] or rng.random() < 0.3:
                        entity[key] = None
            for relation in relations:
                if rng.random() < 0.6:
                    relation["evidence"] = None
        elif shape == "type_style":
            for entity in entities:
                entity["type"] = rng.choice(_TYPE_STYLES)(entity["type"])
        elif shape == "relation_style":
            for relation in relations:
                relation["type"] = rng.choice(_RELATION_STYLES)(relation["type"])
        elif shape == "extra_keys":
            for number, entity in enumerate(entities):
                entity["confidence"] = round(rng.uniform(0.6, 0.99), 2)
                entity["id"] = f"e{number + 1}"
            for relation in relations:
                relation["confidence"] = round(rng.uniform(0.5, 0.99), 2)
            data["language"] = "en"
        elif shape == "attribute_numbers":
            for entity in entities:
                attributes = entity["attributes"] or {}
                for key, value in list(attributes.items()):
                    if isinstance(value, int):
                        attributes[key] = str(value)
                    elif isinstance(value, str) and value.isdigit():
                        attributes[key] = int(value)
                if entity["type"] == "Product" and rng.random() < 0.5:
                    attributes["awardYears"] = [2021, 2023]
        elif shape == "aliases_string":
            for entity in entities:
                if isinstance(entity["aliases"], list):
                    entity["aliases"] = entity["aliases"][0] if entity["aliases"] else ""
        elif shape == "endpoint_objects":
            types = {e["name"]: e["type"] for e in entities}
            for relation in relations:
                for end in ("source", "target"):
                    node: dict[str, Any] = {"name": relation[end]}
                    if rng.random() < 0.5 and relation[end] in types:
                        node["type"] = types[relation[end]]
                    relation[end] = node
        elif shape == "invalid_items":
            real = rng.choice(entities)["name"] if entities else "Unknown"
            bad = rng.choice(
                [
                    {"name": real, "type": "Banana"},
                    {"type": "Organization", "description": "A company named in the text."},
                ]
            )
            entities.insert(rng.randint(0, len(entities)), bad)
            relations.insert(rng.randint(0, len(relations)), {"source": real, "type": "knows"})
        elif shape == "hallucination":
            kind, name = rng.choice(_hallucinations_for(text))
            entities.insert(
                rng.randint(0, len(entities)),
                {"name": name, "type": kind, "aliases": [], "description": "", "attributes": {}},
            )
            if entities:
                named = [e for e in entities if e.get("name") and e["name"] != name]
                source = rng.choice(named or entities)
                relations.append(
                    {"source": source["name"], "type": "knowsAbout", "target": name,
                     "evidence": f"{source['name']} works with {name}."}
                )  # fmt: skip
    if "wrapper" in shapes:
        data = {rng.choice(_WRAPPERS): data}
    quote = '"'
    if "single_quotes" in shapes:  # JavaScript style escapes a quote; Python's repr switches
        quote = rng.choice(("'", "repr"))
    content = _dumps(
        data,
        quote=quote,
        trailing=("trailing_commas" in shapes),
        indent=rng.choice((None, 2)),
    )
    if "fence_json" in shapes:
        content = f"```{rng.choice(('json', 'JSON'))}\n{content}\n```"
    elif "fence_bare" in shapes:
        content = f"```\n{content}\n```"
    if "prose_before" in shapes:
        content = f"{rng.choice(_BEFORE)}\n\n{content}"
    if "prose_after" in shapes:
        content = f"{content}\n\n{rng.choice(_AFTER)}"
    if "think" in shapes:
        first = entities[0]["name"] if entities and entities[0].get("name") else "the page"
        thought = rng.choice(_THOUGHTS).format(first=first)
        content = f"<think>\n{thought}\n</think>\n\n{content}"
    return content


def _hallucinations_for(text: str) -> list[tuple[str, str]]:
    """The hallucinations this text does not happen to mention."""
    return [(k, n) for k, n in HALLUCINATIONS if not NameMatcher.occurs(n, text)]


def _dumps(value: Any, *, quote: str, trailing: bool, indent: int | None, depth: int = 0) -> str:
    """JSON text with a choice of string quote and trailing commas (what models write)."""
    pad = "" if indent is None else "\n" + " " * (indent * (depth + 1))
    end_pad = "" if indent is None else "\n" + " " * (indent * depth)
    comma = "," if trailing else ""
    sep = ", " if indent is None else ","
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [
            f"{pad}{_string(str(k), quote)}: "
            f"{_dumps(v, quote=quote, trailing=trailing, indent=indent, depth=depth + 1)}"
            for k, v in value.items()
        ]
        return "{" + sep.join(items) + comma + end_pad + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        items = [
            pad + _dumps(v, quote=quote, trailing=trailing, indent=indent, depth=depth + 1)
            for v in value
        ]
        return "[" + sep.join(items) + comma + end_pad + "]"
    if isinstance(value, str):
        return _string(value, quote)
    return json.dumps(value)


def _string(text: str, quote: str) -> str:
    encoded = json.dumps(text, ensure_ascii=False)
    if quote == '"' or (quote == "repr" and "'" in text and '"' not in text):
        return encoded
    inner = encoded[1:-1].replace('\\"', '"').replace("'", "\\'")
    return f"'{inner}'"


# --- Reading a crawl's graph back and scoring it ----------------------------------------

_CONTRACT_TYPES = ("Person", "Organization", "Product", "Place", "Event", "CreativeWork", "Thing")


@dataclass
class GraphFacts:
    entities: set[tuple[str, str]]  # (normalised name, type)
    relations: set[tuple[str, str, str]]  # (normalised source, type, normalised target)
    names: set[str]  # every name and alternate name stored
    node_names: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # node -> keys


def graph_facts(store_path: str) -> GraphFacts:
    """The entities and relations of the graph stored at ``store_path``."""
    from scraper.graph import open_store
    from scraper.graph.queries import entity_lines

    with open_store(store_path, write=False) as store:
        lines = list(entity_lines(store))
    nodes = {}
    for line in lines:
        types = [t.removeprefix("schema:") for t in line["types"]]
        kind = next((t for t in _CONTRACT_TYPES if t in types), "Thing")
        nodes[line["id"]] = (line["name"] or "", kind)
    entities = {entity_key(name, kind) for name, kind in nodes.values()}
    relations = set()
    for line in lines:
        source, source_type = nodes[line["id"]]
        for relation in line["relations"]:
            target, target_type = nodes.get(relation["target"], (relation["targetName"], "Thing"))
            relations.add(
                relation_key(source, source_type, relation["type"], target or "", target_type)
            )
    names = {n for line in lines for n in [line["name"] or "", *line["alternateNames"]]}
    node_names = {
        line["id"]: {
            entity_key(n, nodes[line["id"]][1])
            for n in [line["name"] or "", *line["alternateNames"]]
        }
        for line in lines
    }
    return GraphFacts(entities, relations, names, node_names)


def resolution_errors(facts: GraphFacts, site: MessySite) -> tuple[list[Any], list[Any]]:
    """(gold entities stored as several nodes, nodes holding several gold entities)."""
    gold = site.entity_keys()
    nodes_of: dict[tuple[str, str], set[str]] = {}
    over_merged = []
    for node, keys in facts.node_names.items():
        held = keys & gold
        for key in held:
            nodes_of.setdefault(key, set()).add(node)
        if len(held) > 1:
            over_merged.append((node, sorted(held)))
    duplicates = sorted((key, sorted(n)) for key, n in nodes_of.items() if len(n) > 1)
    return duplicates, over_merged


@dataclass
class Score:
    precision: float
    recall: float
    f1: float
    missing: list[Any]
    extra: list[Any]


def score(predicted: set[Any], gold: set[Any]) -> Score:
    hits = len(predicted & gold)
    precision = hits / len(predicted) if predicted else 0.0
    recall = hits / len(gold) if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(precision, recall, f1, sorted(gold - predicted), sorted(predicted - gold))


def hallucinated(names: Iterable[str], site: MessySite) -> list[str]:
    """Stored names that occur in the visible text of no page."""
    texts = [f" {normalise_name(g.text)} " for g in site.gold.values()]
    return sorted(
        name for name in names if not any(f" {normalise_name(name)} " in t for t in texts)
    )


def shape_counts(responder: GoldResponder) -> Counter:
    """How many answers used each shape."""
    return Counter(shape for answers in responder.used.values() for s in answers for shape in s)
