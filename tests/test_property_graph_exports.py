"""``scrapy graph export -f graphml`` and ``-f neo4j`` on a graph built by a real crawl, each
read back by a real parser: NetworkX reads the GraphML; the Neo4j CSV files are read with the
csv module and checked against neo4j-admin's documented header format."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from datetime import date, datetime, time

import networkx as nx
import pytest

from tests.crawling import PROJECT_DIR, run_crawl
from tests.fake_llm import FakeLLM, serve_fake_llm
from tests.sites import serve
from tests.test_graph_crawl import SITE, answer, json_ld, page

# A product page with typed schema.org values, a page's own nodes (offer, rating) and a
# hostile name: a quote, a semicolon (Neo4j's default array delimiter), a line break and a
# control character that XML cannot hold.
HOSTILE = 'Anvil "Pro"; heavy\nduty \x0b edition'
PRODUCT = page(
    "Anvil",
    "The Anvil Pro is made by Acme Corporation.",
    json_ld(
        {
            "@context": "https://schema.org",
            "@type": "Product",
            "@id": "https://acme.example/anvil",
            "name": "Anvil Pro",
            "alternateName": HOSTILE,
            "sku": "A-1",
            "releaseDate": "2024-05-01",
            "weight": {"@type": "QuantitativeValue", "value": 80, "unitCode": "KGM"},
            "offers": {"@type": "Offer", "price": "12.50", "priceCurrency": "EUR"},
            "aggregateRating": {"@type": "AggregateRating", "ratingValue": 4.5, "reviewCount": 12},
            "manufacturer": {"@type": "Organization", "name": "Acme Corporation"},
        }
    ),
)

# neo4j-admin's header format: <name>:<field_type>, a property type optionally an array.
PROPERTY_TYPES = "int|long|float|double|boolean|byte|short|char|string|point|date|localtime"
PROPERTY_TYPES += "|time|localdatetime|datetime|duration"
SPECIAL = "ID|LABEL|START_ID|END_ID|TYPE|IGNORE"
FIELD = re.compile(rf"(?P<name>[^:]*)(?::(?P<kind>{SPECIAL}|(?:{PROPERTY_TYPES})(?:\[\])?))?")
ARRAY = "\x1f"  # the delimiter the export names in its import command


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    """The store of a crawl of the test site plus the product page (fake LLM + JSON-LD)."""
    tmp = tmp_path_factory.mktemp("exports")
    home = SITE["/"].replace("</article>", "<a href='/anvil'>Anvil</a></article>")
    pages = {**SITE, "/": home, "/anvil": PRODUCT}
    with serve(pages) as site, serve_fake_llm(FakeLLM(answer)) as fake:
        result = run_crawl(
            tmp,
            {"url": site.url, "render": "never"},
            {"LLM_MODEL": "fake-model"},
            {"OPENAI_BASE_URL": fake.base_url},
        )
    assert result.returncode == 0, result.log[-3000:]
    return tmp / "graph"


def export(store, *args):
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "graph", "export", *args, "-s", f"GRAPH_STORE={store}"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result


def by_name(graph: nx.DiGraph, name: str) -> tuple[str, dict]:
    (node,) = [(n, d) for n, d in graph.nodes(data=True) if d.get("name") == name]
    return node


def test_graphml_is_read_by_networkx(graph, tmp_path):
    target = tmp_path / "graph.graphml"
    result = export(graph, "-f", "graphml", "-o", str(target))
    assert result.returncode == 0, result.stderr
    g = nx.read_graphml(target)
    assert isinstance(g, nx.DiGraph)
    assert result.stderr.strip() == (
        f"exported {g.number_of_nodes()} nodes and {g.number_of_edges()} edges as GraphML "
        f"to {target}"
    )
    acme_id, acme = by_name(g, "Acme Corporation")
    assert acme["label"] == "Acme Corporation" and acme["type"] == "Organization"
    assert {"ACME Corp.", "Acme"} <= set(json.loads(acme["aliases"]))
    assert len(json.loads(acme["pages"])) >= 2
    jane_id, _ = by_name(g, "Jane Doe")
    assert g.edges[acme_id, jane_id]["type"] == "founder"
    anvil_id, anvil = by_name(g, "Anvil Pro")
    assert anvil["type"] == "Product" and anvil["sku"] == "A-1"
    # the hostile alias survives whole (JSON escapes the control character XML cannot hold)
    assert json.loads(anvil["aliases"]) == [HOSTILE]
    assert g.edges[anvil_id, acme_id]["type"] == "manufacturer"
    # a page's own nodes are nodes, reached by their schema.org property, typed values kept
    offer_id = next(t for _, t, d in g.out_edges(anvil_id, data=True) if d["type"] == "offers")
    offer = g.nodes[offer_id]
    assert offer["type"] == "Offer" and offer["price"] == 12.5 and offer["priceCurrency"] == "EUR"
    rating_id = next(
        t for _, t, d in g.out_edges(anvil_id, data=True) if d["type"] == "aggregateRating"
    )
    assert g.nodes[rating_id]["reviewCount"] == 12
    assert isinstance(g.nodes[rating_id]["reviewCount"], int)

    to_stdout = export(graph, "-f", "graphml", "-o", "-")
    assert to_stdout.returncode == 0 and to_stdout.stdout.encode() == target.read_bytes()


def check_header(fields: list[str], required: dict[str, int]) -> dict[str, str]:
    """Each field follows neo4j-admin's ``<name>:<field_type>``; returns {name: type}."""
    kinds: dict[str, str] = {}
    for field in fields:
        match = FIELD.fullmatch(field)
        assert match, f"not a neo4j-admin header field: {field!r}"
        kind = match["kind"] or "string"
        if kind not in ("LABEL", "START_ID", "END_ID", "TYPE"):
            assert match["name"], f"a property needs a name: {field!r}"
            assert match["name"] not in kinds, f"two columns named {match['name']!r}"
            kinds[match["name"]] = kind
    for kind, count in required.items():
        assert sum(f.endswith(":" + kind) for f in fields) == count, (kind, fields)
    return kinds


def parse(kind: str, text: str):
    """A cell as neo4j-admin reads a value of ``kind`` (ValueError when it could not)."""
    if kind.endswith("[]"):
        return [parse(kind[:-2], part) for part in text.split(ARRAY)]
    readers = {
        "long": int,
        "double": float,
        "boolean": {"true": True, "false": False}.__getitem__,
        "date": date.fromisoformat,
        "datetime": datetime.fromisoformat,
        "localdatetime": datetime.fromisoformat,
        "time": time.fromisoformat,
        "localtime": time.fromisoformat,
        "string": str,
        "ID": str,
    }
    return readers[kind](text)


def test_neo4j_csv_follows_the_neo4j_admin_header_format(graph, tmp_path):
    folder = tmp_path / "neo4j"
    result = export(graph, "-f", "neo4j", "-o", str(folder))
    assert result.returncode == 0, result.stderr
    assert "neo4j-admin-import.sh" in result.stderr
    with open(folder / "nodes.csv", encoding="utf-8", newline="") as f:
        nodes = list(csv.reader(f))
    with open(folder / "relationships.csv", encoding="utf-8", newline="") as f:
        relationships = list(csv.reader(f))

    node_types = check_header(nodes[0], {"ID": 1, "LABEL": 1})
    assert nodes[0][:2] == ["id:ID", ":LABEL"]
    assert {"name", "aliases", "pages", "price", "reviewCount"} <= set(node_types)
    assert node_types["price"] == "double" and node_types["reviewCount"] == "long"
    assert node_types["aliases"] == "string[]"
    rows = [dict(zip(nodes[0], row, strict=True)) for row in nodes[1:]]
    ids = [row["id:ID"] for row in rows]
    assert len(ids) == len(set(ids))  # IDs are unique across the file
    values = []
    for row in rows:
        assert row[":LABEL"], row  # every node has a label
        record = {}
        for field, cell in row.items():
            name, _, kind = field.partition(":")
            if cell and name:
                record[name] = parse(kind or "string", cell)
        values.append(record)
    (anvil,) = [v for v in values if v.get("name") == "Anvil Pro"]
    assert anvil["aliases"] == [HOSTILE]  # the semicolon and line break kept in one element
    (acme,) = [v for v in values if v.get("name") == "Acme Corporation"]
    assert {"ACME Corp.", "Acme"} <= set(acme["aliases"])
    assert any(v.get("price") == 12.5 for v in values)

    check_header(relationships[0], {"START_ID": 1, "END_ID": 1, "TYPE": 1})
    assert relationships[0] == [":START_ID", ":END_ID", ":TYPE", "pages:string[]"]
    edges = {(r[0], r[2], r[1]) for r in relationships[1:]}
    assert all(start in ids and end in ids for start, _, end in edges)  # no dangling ends
    acme_id = next(r["id:ID"] for r in rows if r["name"] == "Acme Corporation")
    jane_id = next(r["id:ID"] for r in rows if r["name"] == "Jane Doe")
    assert (acme_id, "founder", jane_id) in edges
    for row in relationships[1:]:
        assert all(p.startswith("http://127.0.0.1:") for p in parse("string[]", row[3]))

    script = (folder / "neo4j-admin-import.sh").read_text()
    assert "neo4j-admin database import full --nodes=nodes.csv" in script
    assert "--relationships=relationships.csv --array-delimiter=U+001F" in script
    assert "--multiline-fields=true" in script


def test_neo4j_export_needs_a_folder(graph):
    result = export(graph, "-f", "neo4j")
    assert result.returncode == 2
    assert "-f neo4j writes several files: give a folder" in result.stderr
    assert "Traceback" not in result.stderr
