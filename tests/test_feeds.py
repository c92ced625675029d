"""Feeds of a real crawl in every format people use, each read back by a real parser."""

from __future__ import annotations

import csv
import json
import subprocess

import pytest
from lxml import etree

from tests.crawling import PROJECT_DIR, scrapy_command, state_settings, without_openai
from tests.sites import serve

PRODUCT = """<html lang="en"><head><title>Widget</title>
<meta property="og:title" content="Widget">
<script type="application/ld+json">{"@context": "https://schema.org", "@type": "Product",
 "@id": "https://shop.example/#widget", "name": "Widget", "sameAs": "https://wiki.example/W",
 "offers": {"@type": "Offer", "price": "12.50", "priceCurrency": "EUR"}}</script></head>
<body><main><article><h1>Widget</h1><p>The widget is a fine product, with "quotes", commas,
an ampersand &amp; <b>bold</b> words, and a line
break, sold by Acme Corporation.</p><a href="/gone">gone</a></article></main></body></html>"""

FIELDS = ("url", "status", "title", "markdown", "structured_data", "chunks", "extraction")


@pytest.fixture(scope="module")
def feeds(tmp_path_factory):
    """The same site crawled into a JSON-lines, a JSON, a CSV and an XML feed."""
    tmp_path = tmp_path_factory.mktemp("feeds")
    paths = {}
    with serve({"/": PRODUCT}) as site:
        for fmt in ("jsonl", "json", "csv", "xml"):
            paths[fmt] = tmp_path / f"pages.{fmt}"
            state = {**state_settings(tmp_path / fmt), "RECRAWL_KNOWN_PAGES": "False"}
            argv = scrapy_command(
                ["crawl", "semantic"], paths[fmt], state, {"url": site.url, "render": "never"}
            )
            proc = subprocess.run(
                argv, cwd=PROJECT_DIR, env=without_openai(), capture_output=True, text=True,
                timeout=120,
            )  # fmt: skip
            assert proc.returncode == 0, proc.stderr[-3000:]
    lines = paths["jsonl"].read_text(encoding="utf-8").splitlines()
    records = sorted((json.loads(line) for line in lines), key=lambda r: r["url"])
    assert [r["status"] for r in records] == [200, 404]
    assert records[0]["extraction"]["entities"]  # the JSON-LD product and its offer
    return paths, records


def _same(record: dict) -> dict:
    return {name: record[name] for name in FIELDS}


def test_json_feed_is_a_json_array_of_the_records(feeds):
    paths, records = feeds
    parsed = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert [_same(r) for r in sorted(parsed, key=lambda r: r["url"])] == [_same(r) for r in records]


def test_csv_feed_holds_json_in_its_nested_columns(feeds):
    paths, records = feeds
    with paths["csv"].open(encoding="utf-8", newline="") as file:
        rows = sorted(csv.DictReader(file), key=lambda r: r["url"])
    assert list(rows[0]) == list(records[0])  # every field a column, in the record's order
    for row, record in zip(rows, records, strict=True):
        assert row["url"] == record["url"] and int(row["status"]) == record["status"]
        assert row["markdown"] == (record["markdown"] or "")
        for name in ("structured_data", "chunks", "failures", "rendered"):
            assert json.loads(row[name]) == record[name]
        extraction = json.loads(row["extraction"]) if row["extraction"] else None
        assert extraction == record["extraction"]
    assert "'@context'" not in paths["csv"].read_text(encoding="utf-8")  # no Python reprs


def test_xml_feed_parses_and_keeps_keys_that_are_not_xml_names(feeds):
    paths, records = feeds
    items = sorted(etree.parse(str(paths["xml"])).getroot(), key=lambda i: i.findtext("url"))
    assert [i.findtext("url") for i in items] == [r["url"] for r in records]
    page, record = items[0], records[0]
    assert page.findtext("markdown") == record["markdown"]
    assert page.findtext("rendered") == "false" and record["rendered"] is False
    assert page.findtext("canonical_url") == "" and record["canonical_url"] is None
    [product] = page.find("structured_data/json-ld")
    assert product.findtext("field[@key='@id']") == "https://shop.example/#widget"
    assert product.findtext("offers/price") == "12.50"
    assert page.findtext("structured_data/opengraph/value/field[@key='og:title']") == "Widget"
    entities = page.find("extraction/entities")
    price = entities.find("value/attributes/price")
    assert price.findtext("field[@key='@value']") == "12.50"
    assert price.findtext("field[@key='@type']").endswith("XMLSchema#decimal")
    assert len(entities) == len(record["extraction"]["entities"])
    [chunk] = page.find("chunks")
    assert int(chunk.findtext("tokens")) == record["chunks"][0]["tokens"]


@pytest.mark.parametrize("name", ["pages.marshal", "pages.pickle"])
def test_other_feed_formats_are_refused_in_one_line(tmp_path, name):
    argv = scrapy_command(["crawl", "semantic"], tmp_path / name, state_settings(tmp_path),
                          {"url": "http://127.0.0.1:9/"})  # fmt: skip
    proc = subprocess.run(argv, cwd=PROJECT_DIR, env=without_openai(), capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    fmt = name.split(".")[1]
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(f"error: Unrecognized output format '{fmt}'. Set a supported")
    assert "'csv', 'xml'" in proc.stderr and not (tmp_path / name).exists()
