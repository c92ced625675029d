"""The public Python API: its names, the README's examples run for real, ``scrapy extract``."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys

import pytest

import scraper
import scraper.api
from scraper import Chunk, Entity, ExtractionStatus, Origin, PageFacts, Relation, Stage
from scraper.items import Failure
from tests.crawling import PROJECT_DIR, without_openai
from tests.fake_llm import FakeLLM, Reply, knowledge_graph_answer, page_text, serve_fake_llm
from tests.processes import free_port
from tests.sites import serve

EXPECTED_API = [
    "Chunk",
    "Entity",
    "ExtractionStatus",
    "FetchError",
    "Origin",
    "PageContent",
    "PageFacts",
    "Relation",
    "ScrapeResult",
    "Stage",
    "chunk_markdown",
    "clean_page",
    "describe_entity",
    "extract_page",
    "fetch_html",
    "open_store",
    "page_facts",
    "query",
    "scrape",
    "search_entities",
    "store_page",
]

PRODUCT_JSON_LD = json.dumps(
    {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": "Anvil 3000",
        "brand": {"@type": "Organization", "name": "Acme Corporation"},
        "offers": {"@type": "Offer", "price": "99.00", "priceCurrency": "USD"},
    }
)
ANVIL = (
    "<html lang='en'><head><title>Anvil 3000</title>"
    f"<script type='application/ld+json'>{PRODUCT_JSON_LD}</script></head><body><main>"
    "<h1>Anvil 3000</h1><p>The Anvil 3000 is forged by Acme Corporation in Springfield. "
    "Jane Doe designed it for coyotes who need a heavy anvil that falls fast.</p>"
    "</main></body></html>"
)
SITE = {"/products/anvil": ANVIL, "/old": lambda handler: _redirect("/products/anvil")}


def _redirect(location):
    from tests.sites import Page

    return Page("", status=302, headers={"Location": location})


def responder(body):
    """Product answers for the Product schema, default-schema answers otherwise."""
    text = page_text(body)
    if '"offers"' in body["messages"][0]["content"]:
        return Reply(
            {
                "name": "Road Runner Trap",
                "brand": {"name": "Acme Corporation"},
                "offers": [{"price": 12.5, "priceCurrency": "USD"}],
            }
        )
    return Reply(knowledge_graph_answer(text))


def test_the_public_names_are_exactly_these():
    assert sorted(scraper.__all__) == EXPECTED_API
    for name in EXPECTED_API:
        assert getattr(scraper, name) is not None
    with pytest.raises(AttributeError):
        scraper.not_a_name  # noqa: B018


def readme_examples() -> list[str]:
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    return re.findall(
        r"<!-- example: tested by tests/test_api.py -->\n```python\n(.*?)```", readme, re.S
    )


@pytest.fixture
def example_world(tmp_path, monkeypatch):
    """A local site standing in for example.com and a fake LLM for localhost:8080."""
    with serve(SITE) as site, serve_fake_llm(FakeLLM(responder)) as fake:
        for name in [n for n in list(__import__("os").environ) if n.startswith("OPENAI_")]:
            monkeypatch.delenv(name)
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.chdir(tmp_path)
        # The local site is on loopback, which the API refuses like the crawl does.
        monkeypatch.setattr(scraper.fetch.addresses, "non_public", lambda addresses: [])
        yield site, fake


def run_example(code: str, site, fake) -> dict:
    code = code.replace("https://example.com/", site.url)
    code = code.replace("http://localhost:8080/v1", fake.base_url)
    namespace: dict = {"__name__": "readme_example"}
    exec(compile(code, "README.md example", "exec"), namespace)
    return namespace


def test_the_readme_has_the_examples():
    assert len(readme_examples()) == 3


def test_readme_example_one_call(example_world, capsys):
    result = run_example(readme_examples()[0], *example_world)["result"]
    assert result.facts.status is ExtractionStatus.OK
    assert result.markdown.startswith("# Anvil 3000")
    names = {(e.name, e.origin) for e in result.facts.entities}
    assert ("Anvil 3000", Origin.STRUCTURED_DATA) in names
    assert ("Jane Doe", Origin.LLM) in names
    assert "Acme Corporation" in capsys.readouterr().out


def test_readme_example_one_call_without_an_llm(example_world, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL")
    site, fake = example_world
    result = run_example(readme_examples()[0], site, fake)["result"]
    assert result.facts.status is ExtractionStatus.STRUCTURED_DATA_ONLY
    assert {e.name for e in result.facts.entities if e.name} == {"Anvil 3000", "Acme Corporation"}
    assert fake.requests == []


def test_readme_example_html_and_a_schema(example_world):
    result = run_example(readme_examples()[1], *example_world)["result"]
    assert result.facts.status == "ok" and result.facts.schema == "schemas.product:Product"
    assert result.facts.data["offers"][0]["price"] == 12.5
    assert result.url == example_world[0].url + "trap"  # the URL given with the HTML
    names = {e.ref: e.name or e.classes[0] for e in result.facts.entities}
    assert {(names[r.source], r.type, names[r.target]) for r in result.facts.relations} == {
        ("Road Runner Trap", "brand", "Acme Corporation"),
        ("Road Runner Trap", "offers", "Offer"),
    }


def test_readme_example_stage_by_stage(example_world, tmp_path):
    site, fake = example_world
    namespace = run_example(readme_examples()[2], site, fake)
    facts = namespace["facts"]
    assert facts.status is ExtractionStatus.OK  # chunk_markdown's chunks go straight in
    assert facts.model == "smollm2" and fake.requests[0].body["model"] == "smollm2"
    names = [row["name"] for row in namespace["rows"]]
    assert {"Anvil 3000", "Acme Corporation", "Jane Doe"} <= set(names)
    assert (tmp_path / "kg-store").is_dir()


def test_fetch_follows_redirects_and_refuses_private_addresses():
    with serve(SITE) as site:
        with pytest.raises(scraper.FetchError, match="private"):
            scraper.fetch_html(site.url + "old")
        url, html = scraper.fetch_html(site.url + "old", allow_private_addresses=True)
        assert url == site.url + "products/anvil" and "Anvil 3000" in html
        with pytest.raises(scraper.FetchError, match="HTTP 404"):
            scraper.fetch_html(site.url + "missing", allow_private_addresses=True)


def test_extract_page_takes_markdown_and_structured_data():
    facts = asyncio.run(
        scraper.extract_page(
            "# Acme\n\nAcme Corporation makes anvils.",
            structured_data={"json-ld": [{"@type": "Organization", "name": "Acme Corporation"}]},
        )
    )
    assert facts.status == "structured_data_only"
    assert [(e.name, e.type) for e in facts.entities] == [("Acme Corporation", "Organization")]


def test_facts_round_trip_through_json():
    facts = PageFacts(
        status="ok",
        schema="schemas.knowledge_graph:KnowledgeGraph",
        entities=[Entity(name="Acme", type="Organization", origin="structured_data")],
        relations=[Relation(source="Acme", type="founder", target="Jane Doe")],
        usage={"calls": 1},
    )
    data = json.loads(json.dumps(facts.as_dict()))
    assert list(data)[:3] == ["status", "schema", "model"] and "data" not in data
    assert PageFacts.from_dict(data) == facts
    assert data["entities"][0]["origin"] == "structured_data"
    assert Failure("extract", "llm_timeout").stage is Stage.EXTRACT
    assert Chunk(0, "x", 1, 0, 1).text == "x"
    with pytest.raises(ValueError):
        PageFacts(status="finished")


# --- scrapy extract -----------------------------------------------------------------


def scrapy_extract(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "scrapy", "extract", *args],
        cwd=PROJECT_DIR, env=without_openai(env), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


LOCAL = ("-s", "ALLOW_PRIVATE_ADDRESSES=True")


def test_scrapy_extract_prints_facts_markdown_or_writes_a_file(tmp_path):
    with serve(SITE) as site, serve_fake_llm(FakeLLM(responder)) as fake:
        url = site.url + "products/anvil"
        facts = scrapy_extract(url, *LOCAL, env={"OPENAI_BASE_URL": fake.base_url})
        markdown = scrapy_extract(url, "--markdown", *LOCAL)
        out = tmp_path / "anvil.json"
        no_llm = scrapy_extract(url, "-a", "schema=schemas.product:Product", "-o", str(out), *LOCAL)
    assert facts.returncode == 0, facts.stderr
    record = json.loads(facts.stdout)
    assert record["url"] == url and record["title"] == "Anvil 3000"
    assert record["extraction"]["status"] == "ok"
    assert "Jane Doe" in {e["name"] for e in record["extraction"]["entities"]}
    assert markdown.returncode == 0 and markdown.stdout.startswith("# Anvil 3000\n")
    assert no_llm.returncode == 0 and no_llm.stdout == ""
    written = json.loads(out.read_text())["extraction"]
    assert written["status"] == "structured_data_only"
    assert written["schema"] == "schemas.product:Product"
    assert "No LLM configured" in no_llm.stderr


def test_scrapy_extract_bad_input_is_one_line_and_exit_1():
    with serve(SITE) as site:
        url = site.url + "products/anvil"
        bad_schema = scrapy_extract(url, "--schema", "no.such:Model", *LOCAL)
        private = scrapy_extract(url)
    unreachable = scrapy_extract(f"http://127.0.0.1:{free_port()}/", *LOCAL)
    no_url = scrapy_extract()
    for result in (bad_schema, private, unreachable):
        assert result.returncode == 1, result.stderr
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ")
        assert "Traceback" not in result.stderr and result.stdout == ""
    assert "no.such" in bad_schema.stderr
    assert "ALLOW_PRIVATE_ADDRESSES" in private.stderr
    assert "cannot fetch" in unreachable.stderr
    assert no_url.returncode == 2 and "give exactly one URL" in no_url.stderr
