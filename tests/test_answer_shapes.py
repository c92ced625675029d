"""Raw LLM answers in the shapes real models write them, parsed item by item.

Every ``tests/answer_shapes/*.txt`` is one model's answer about the same page and must
give the facts of ``expected.json``; ``products/`` does the same for a user schema.
"""

from __future__ import annotations

import json
import time
from enum import Enum
from pathlib import Path
from typing import Any, Literal

import json_repair
import pytest
from pydantic import BaseModel, ConfigDict, Field

from schemas.article import Article
from schemas.knowledge_graph import KnowledgeGraph
from schemas.organization import Organization
from schemas.product import ProductCatalog
from scraper.extract.llm.answers import DroppedItem, ParsedAnswer, parse_answer

SHAPES = Path(__file__).parent / "answer_shapes"
KG_SHAPES = sorted(SHAPES.glob("*.txt"))
PRODUCT_SHAPES = sorted((SHAPES / "products").glob("*.txt"))

# Shapes with extra invalid items: what must be left out (everything else must survive).
KG_DROPS = {
    "one_bad_entity.txt": ["entities[2]", "entities[5]", "relations[2]", "relations[6]"],
    "bad_attribute.txt": ["entities[0].attributes.address", "entities[1].attributes.knowsLanguage"],
    "small_model_combo.txt": ["entities[5]", "relations[5]"],
}
PRODUCT_DROPS = {"one_bad_product.txt": ["products[0].offers[1]", "products[1]"]}

# What each shape must be recorded as having needed (at least these codes).
KG_REPAIRS = {
    "clean.txt": set(),
    "fenced.txt": {"code_fence"},
    "fence_without_language.txt": {"code_fence"},
    "think_then_json.txt": {"think_block"},
    "think_unclosed.txt": {"think_block"},
    "prose_around.txt": {"surrounding_prose"},
    "trailing_commas.txt": {"json_repaired"},
    "single_quotes.txt": {"json_repaired", "null_dropped"},
    "python_literals.txt": {"json_repaired", "null_dropped"},
    "comments.txt": {"json_repaired"},
    "nulls.txt": {"null_dropped"},
    "enum_case.txt": {"enum_case"},
    "enum_snake_case.txt": {"enum_case"},
    "relation_type_spellings.txt": {"pattern_case"},
    "relation_type_more_spellings.txt": {"pattern_case", "whitespace"},
    "extra_keys.txt": {"unknown_key"},
    "numbers_for_strings.txt": {"number_to_string"},
    "wrapped.txt": {"unwrapped"},
    "wrapped_twice.txt": {"unwrapped"},
    "schema_filled_in.txt": {"unwrapped"},
    "scalar_aliases.txt": {"scalar_to_list"},
    "key_case.txt": {"key_case"},
    "name_objects.txt": {"name_object_to_string"},
    "whitespace.txt": {"whitespace"},
    "one_bad_entity.txt": set(),
    "bad_attribute.txt": set(),
    "synonym_keys_and_types.txt": set(),  # the default schema's own aliases and type synonyms
    "wrapped_single_quotes_prose.txt": {"json_repaired", "surrounding_prose", "unwrapped"},
    "small_model_combo.txt": {
        "think_block",
        "code_fence",
        "surrounding_prose",
        "json_repaired",
        "key_case",
        "enum_case",
        "scalar_to_list",
        "null_dropped",
        "unknown_key",
        "number_to_string",
        "pattern_case",
        "name_object_to_string",
    },
}


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def kg_facts(graph: KnowledgeGraph) -> tuple[set, set]:
    entities = {
        (
            entity.name,
            entity.type,
            tuple(sorted(entity.aliases)),
            tuple(sorted((key, _frozen(value)) for key, value in entity.attributes.items())),
        )
        for entity in graph.entities
    }
    relations = {(relation.source, relation.type, relation.target) for relation in graph.relations}
    return entities, relations


def product_facts(catalog: ProductCatalog) -> dict[str, Any]:
    return catalog.model_dump(exclude={"products": {"__all__": {"description"}}})


@pytest.fixture(scope="module")
def expected_kg() -> tuple[set, set]:
    data = json.loads((SHAPES / "expected.json").read_text())
    graph = KnowledgeGraph.model_validate(
        {"entities": data["entities"], "relations": data["relations"]}
    )
    return kg_facts(graph)


@pytest.fixture(scope="module")
def expected_products() -> dict[str, Any]:
    data = json.loads((SHAPES / "products" / "expected.json").read_text())
    return product_facts(ProductCatalog.model_validate(data))


def test_the_corpus_covers_the_shapes():
    assert len(KG_SHAPES) >= 20
    assert {path.name for path in KG_SHAPES} == set(KG_REPAIRS)
    assert len(PRODUCT_SHAPES) >= 4


@pytest.mark.parametrize("path", KG_SHAPES, ids=lambda path: path.stem)
def test_every_shape_gives_the_pages_facts(path, expected_kg):
    answer = parse_answer(path.read_text(), KnowledgeGraph)

    assert answer.usable, answer.error
    assert answer.error == ""
    assert isinstance(answer.value, KnowledgeGraph)
    assert kg_facts(answer.value) == expected_kg
    assert [item.path for item in answer.dropped] == KG_DROPS.get(path.name, [])
    assert KG_REPAIRS[path.name] <= set(answer.repairs)
    assert len(answer.repairs) == len(set(answer.repairs))


@pytest.mark.parametrize("path", PRODUCT_SHAPES, ids=lambda path: path.stem)
def test_every_product_shape_gives_the_catalogues_facts(path, expected_products):
    answer = parse_answer(path.read_text(), ProductCatalog)

    assert answer.usable, answer.error
    assert isinstance(answer.value, ProductCatalog)
    assert product_facts(answer.value) == expected_products
    assert [item.path for item in answer.dropped] == PRODUCT_DROPS.get(path.name, [])


def test_drop_reasons_name_the_field_and_the_bad_value():
    answer = parse_answer((SHAPES / "one_bad_entity.txt").read_text(), KnowledgeGraph)
    reasons = {item.path: item.reason for item in answer.dropped}

    assert reasons["entities[2]"].startswith("type: Input should be 'Person', 'Organization'")
    assert reasons["entities[2]"].endswith("(got 'Banana')")
    assert reasons["entities[5]"].startswith("name: String should have at least 1 character")
    assert reasons["relations[2]"] == "target: Field required"
    assert "pattern" in reasons["relations[6]"] and "'!!!'" in reasons["relations[6]"]
    assert all("\n" not in reason for reason in reasons.values())


def test_a_union_failure_is_one_reason_naming_its_members():
    answer = parse_answer((SHAPES / "bad_attribute.txt").read_text(), KnowledgeGraph)
    reason = answer.dropped[0].reason

    assert reason.startswith("matches none of str, int, float, bool, list[str] (got {")


def test_product_drop_reasons():
    answer = parse_answer((SHAPES / "products" / "one_bad_product.txt").read_text(), ProductCatalog)

    assert answer.dropped == (
        DroppedItem(
            "products[0].offers[1]",
            "Input should be a valid dictionary or instance of Offer "
            "(got 'see the shop for prices')",
        ),
        DroppedItem("products[1]", "name: Field required"),
    )
    assert {"code_fence", "json_repaired", "string_to_object", "scalar_to_list"} <= set(
        answer.repairs
    )


# --- Valid JSON is never repaired -----------------------------------------------------


@pytest.fixture
def no_repair_library(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("json_repair was called on valid JSON")

    monkeypatch.setattr(json_repair, "loads", refuse)
    monkeypatch.setattr(json_repair, "repair_json", refuse)


@pytest.mark.parametrize(
    "name",
    ["clean.txt", "fenced.txt", "think_then_json.txt", "prose_around.txt", "wrapped.txt"],
)
def test_valid_json_never_goes_through_repair(name, no_repair_library):
    answer = parse_answer((SHAPES / name).read_text(), KnowledgeGraph)

    assert answer.usable
    assert "json_repaired" not in answer.repairs


@pytest.mark.parametrize(
    ("path", "schema"),
    [(SHAPES / "clean.txt", KnowledgeGraph), (SHAPES / "products" / "clean.txt", ProductCatalog)],
)
def test_a_clean_answer_needs_no_repair_at_all(path, schema, no_repair_library):
    answer = parse_answer(path.read_text(), schema)

    assert answer == ParsedAnswer(schema.model_validate_json(path.read_text()), (), (), "")


def test_tags_and_fences_inside_valid_json_strings_are_data():
    content = json.dumps(
        {"entities": [{"name": "Qwen", "type": "Product", "description": "Writes <think> and ```"}]}
    )
    answer = parse_answer(content, KnowledgeGraph)

    assert answer.value.entities[0].description == "Writes <think> and ```"
    assert answer.repairs == ()


# --- Unusable answers -----------------------------------------------------------------


def test_prose_without_json_is_unusable():
    answer = parse_answer("I could not find any entities in this text, sorry.", KnowledgeGraph)

    assert answer.value is None
    assert not answer.usable
    assert "no JSON object" in answer.error


@pytest.mark.parametrize(
    "content",
    [
        json.dumps(KnowledgeGraph.model_json_schema()),
        "```json\n" + json.dumps(KnowledgeGraph.model_json_schema(), indent=2) + "\n```",
        json.dumps({"properties": KnowledgeGraph.model_json_schema()["properties"]}),
        json.dumps({"type": "object", "required": ["entities"], "$defs": {}}),
    ],
    ids=["schema", "fenced_schema", "properties_only", "bare_schema"],
)
def test_an_echoed_json_schema_is_unusable(content):
    answer = parse_answer(content, KnowledgeGraph)

    assert not answer.usable
    assert "JSON Schema" in answer.error


def test_everything_invalid_is_unusable_with_the_reasons():
    content = json.dumps(
        {
            "entities": [{"name": "Vacuum", "type": "Banana"}, {"type": "Person"}],
            "relations": [{"source": "Acme", "type": "makes"}],
        }
    )
    answer = parse_answer(content, KnowledgeGraph)

    assert not answer.usable
    assert answer.value == KnowledgeGraph()
    assert [item.path for item in answer.dropped] == ["entities[0]", "entities[1]", "relations[0]"]
    assert "Banana" in answer.error and "entities[1]: name: Field required" in answer.error


def test_the_error_stays_bounded():
    content = json.dumps({"entities": [{"name": f"E{i}", "type": "Fruit"} for i in range(30)]})
    answer = parse_answer(content, KnowledgeGraph)

    assert len(answer.dropped) == 30
    assert len(answer.error.splitlines()) <= 12
    assert "and 20 more" in answer.error


def test_keys_that_match_no_field_are_not_an_answer():
    answer = parse_answer('{"items": [{"name": "Acme"}], "count": 1}', KnowledgeGraph)

    assert answer.value is None
    assert "entities, relations" in answer.error and "items" in answer.error


def test_a_bare_array_goes_into_the_only_list_field_or_is_refused():
    products = parse_answer('[{"name": "RoboVac 3000"}]', ProductCatalog)
    graph = parse_answer('[{"name": "Acme", "type": "Organization"}]', KnowledgeGraph)

    assert [product.name for product in products.value.products] == ["RoboVac 3000"]
    assert "list_to_object" in products.repairs
    assert graph.value is None and "JSON array" in graph.error


def test_a_failing_required_top_level_field_leaves_nothing():
    answer = parse_answer('{"headline": null, "description": "x"}', Article)

    assert answer.value is None
    assert "headline" in answer.error


# --- Empty answers --------------------------------------------------------------------


@pytest.mark.parametrize("content", ['{"entities": [], "relations": []}', "{}", '{"entities": []}'])
def test_nothing_to_extract_is_a_real_answer(content):
    answer = parse_answer(content, KnowledgeGraph)

    assert answer.usable
    assert answer.value == KnowledgeGraph()
    assert answer.error == ""


# --- The mechanisms, one by one, on other schemas ---------------------------------------


@pytest.mark.parametrize(
    "spelling",
    ["works_for", "works for", "Works-For", "WorksFor", "WORKS_FOR", "worksFor", " worksFor "],
)
def test_relation_type_spellings(spelling):
    content = json.dumps({"relations": [{"source": "Jane", "type": spelling, "target": "Acme"}]})
    answer = parse_answer(content, KnowledgeGraph)

    assert [relation.type for relation in answer.value.relations] == ["worksFor"]
    assert answer.dropped == ()


def test_a_pattern_with_no_matching_spelling_drops_the_item():
    content = json.dumps({"relations": [{"source": "Jane", "type": "123", "target": "Acme"}]})
    answer = parse_answer(content, KnowledgeGraph)

    assert answer.value is not None and answer.value.relations == []
    assert [item.path for item in answer.dropped] == ["relations[0]"]
    assert "123" in answer.dropped[0].reason


class Colour(Enum):
    DARK_RED = "dark-red"
    SKY_BLUE = "sky-blue"


class Swatch(BaseModel):
    label: str
    colour: Colour
    finish: Literal["matte", "gloss", "Gloss"] = "matte"


class Palette(BaseModel):
    swatches: list[Swatch] = Field(default_factory=list)


def test_enum_values_and_names_in_other_spellings():
    content = json.dumps(
        {
            "swatches": [
                {"label": "a", "colour": "Dark Red"},
                {"label": "b", "colour": "SKY_BLUE"},
                {"label": "c", "colour": "dark-red"},
                {"label": "d", "colour": "purple"},
            ]
        }
    )
    answer = parse_answer(content, Palette)

    assert [swatch.colour for swatch in answer.value.swatches] == [
        Colour.DARK_RED,
        Colour.SKY_BLUE,
        Colour.DARK_RED,
    ]
    assert [item.path for item in answer.dropped] == ["swatches[3]"]
    assert "enum_case" in answer.repairs


def test_an_ambiguous_spelling_is_not_guessed_and_an_optional_field_is_dropped():
    content = json.dumps({"swatches": [{"label": "a", "colour": "sky-blue", "finish": "GLOSS"}]})
    answer = parse_answer(content, Palette)

    # "GLOSS" folds to both "gloss" and "Gloss": the default finish applies instead.
    assert answer.value.swatches == [Swatch(label="a", colour=Colour.SKY_BLUE)]
    assert [item.path for item in answer.dropped] == ["swatches[0].finish"]


class Listing(BaseModel):
    model_config = ConfigDict(extra="allow")

    item_name: str = Field(alias="itemName")
    tags: list[str] = Field(default_factory=list)


def test_aliases_name_spellings_and_allowed_extras():
    by_name = parse_answer('{"item_name": "Lamp", "tags": "desk", "colour": "red"}', Listing)
    by_variant = parse_answer('{"ItemName": "Lamp", "Tags": ["desk", null]}', Listing)

    assert by_name.value.item_name == "Lamp" and by_name.value.tags == ["desk"]
    assert by_name.value.model_extra == {"colour": "red"}
    assert "unknown_key" not in by_name.repairs
    assert by_variant.value.item_name == "Lamp" and by_variant.value.tags == ["desk"]
    assert {"key_case", "null_dropped"} <= set(by_variant.repairs)


def test_camel_case_fields_from_snake_case_keys():
    content = json.dumps(
        {
            "Headline": "Acme opens a Berlin lab",
            "date_published": "2024-05-01",
            "author": ["Jane Doe", {"name": "John Roe", "job_title": "Editor"}],
            "publisher": "Acme News",
            "mentions": [{"name": "Acme", "type": "organization"}, {"name": "Berlin"}],
        }
    )
    answer = parse_answer(content, Article)

    article = answer.value
    assert article.headline == "Acme opens a Berlin lab"
    assert article.datePublished == "2024-05-01"
    assert [(p.name, p.jobTitle) for p in article.author] == [
        ("Jane Doe", None),
        ("John Roe", "Editor"),
    ]
    assert article.publisher.name == "Acme News"
    assert [(e.name, e.type) for e in article.mentions] == [("Acme", "Organization")]
    assert [item.path for item in answer.dropped] == ["mentions[1]"]
    assert {"key_case", "string_to_object", "enum_case"} <= set(answer.repairs)


def test_an_invalid_optional_nested_object_is_dropped_alone():
    content = json.dumps(
        {
            "name": "Acme Robotics",
            "numberOfEmployees": " 250 ",
            "founder": [{"name": "Jane Doe"}, {"jobTitle": "CTO"}],
            "parentOrganization": {"url": "https://holding.example"},
            "address": {"addressLocality": "Berlin", "postalCode": 10115},
        }
    )
    answer = parse_answer(content, Organization)

    organization = answer.value
    assert organization.numberOfEmployees == 250
    assert [person.name for person in organization.founder] == ["Jane Doe"]
    assert organization.parentOrganization is None
    assert organization.address.postalCode == "10115"
    assert [item.path for item in answer.dropped] == ["founder[1]", "parentOrganization"]
    assert answer.dropped[1].reason == "name: Field required"


class Reading(BaseModel):
    sensor: str
    value: float | None
    unit: str = "C"


def test_a_required_nullable_field_keeps_its_null_and_a_defaulted_one_takes_the_default():
    answer = parse_answer('{"sensor": "t1", "value": null, "unit": null}', Reading)

    assert answer.value == Reading(sensor="t1", value=None, unit="C")
    assert answer.repairs == ("null_dropped",)


def test_an_answer_cut_before_its_closing_fence():
    answer = parse_answer(
        '```json\n{"entities": [{"name": "Acme", "type": "Thing"}]}', KnowledgeGraph
    )

    assert [entity.name for entity in answer.value.entities] == ["Acme"]
    assert "code_fence" in answer.repairs


def test_a_truncated_object_is_repaired_to_what_it_holds():
    content = '{"entities": [{"name": "Acme", "type": "Organization"}, {"name": "Ja'
    answer = parse_answer(content, KnowledgeGraph)

    assert [entity.name for entity in answer.value.entities] == ["Acme"]
    assert [item.path for item in answer.dropped] == ["entities[1]"]
    assert "json_repaired" in answer.repairs


# --- Speed ----------------------------------------------------------------------------


def _best_time(content: str, schema: type[BaseModel]) -> tuple[float, ParsedAnswer]:
    best, answer = float("inf"), None
    for _ in range(3):
        start = time.perf_counter()
        answer = parse_answer(content, schema)
        best = min(best, time.perf_counter() - start)
    return best, answer


def test_a_200_entity_answer_is_fast():
    entities = [
        {
            "Name": f" Entity {i} ",
            "type": "organization",
            "aliases": f"E{i}",
            "description": None,
            "attributes": {"foundingDate": "1999", "numberOfEmployees": i, "x": None},
            "confidence": 0.5,
        }
        for i in range(200)
    ]
    relations = [
        {"source": f"Entity {i}", "type": "works_for", "target": {"name": f"Entity {i + 1}"}}
        for i in range(199)
    ]
    content = json.dumps({"entities": entities, "relations": relations})

    seconds, answer = _best_time(content, KnowledgeGraph)

    assert len(answer.value.entities) == 200 and len(answer.value.relations) == 199
    assert seconds < 0.05


def test_a_200_entity_answer_needing_json_repair_is_fast():
    entities = [
        {"name": f"Entity {i}", "type": "Organization", "aliases": [f"E{i}"]} for i in range(200)
    ]
    content = json.dumps({"entities": entities}).replace("]}", "],}")  # trailing commas

    seconds, answer = _best_time(content, KnowledgeGraph)

    assert len(answer.value.entities) == 200
    assert "json_repaired" in answer.repairs
    assert seconds < 0.05
