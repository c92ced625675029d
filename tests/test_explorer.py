"""`scrapy graph serve` end to end: real crawls build the graph, a real `scrapy graph serve`
answers, real Chromium (Playwright) drives every view. Screenshots go to docs/screenshots/
with UPDATE_SCREENSHOTS=1."""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.crawling import PROJECT_DIR, run_crawl, start_crawl, state_settings
from tests.fake_llm import FakeLLM, Reply, page_text, serve_fake_llm
from tests.oxigraph_server import oxigraph_server
from tests.processes import free_port, server_process
from tests.sites import Page as SitePage
from tests.sites import serve

# The README's pictures are refreshed with UPDATE_SCREENSHOTS=1; other runs leave the
# checkout as it was.
SCREENSHOTS = (
    PROJECT_DIR / "docs" / "screenshots"
    if os.environ.get("UPDATE_SCREENSHOTS")
    else Path(tempfile.gettempdir()) / "semantic-scraper-screenshots"
)
CHROMIUM = "/usr/bin/chromium"
SCRIPT_NAME = '<script>alert("name")</script>'
IMG_NAME = "<img src=x onerror=alert(1)>"
RTL_NAME = "שלום עולם"
LONG_NAME = "Grand " + " ".join(f"Duchy{i}" for i in range(70)) + " Company"
TEAM = [f"Member{chr(65 + i)} Person" for i in range(14)]


def json_ld(data: dict) -> str:
    text = json.dumps(data).replace("</", "<\\/")  # a name holding </script> stays inside
    return f"<script type='application/ld+json'>{text}</script>"


def page(title: str, text: str, head: str = "", links: str = "") -> str:
    return (
        f"<html lang='en'><head><title>{html.escape(title)}</title>{head}</head><body><main>"
        f"<article><h1>{html.escape(title)}</h1><p>{text}</p>{links}</article></main></body></html>"
    )


def site(news_people: list[str]) -> dict:
    pages = ("/about", "/team", "/news", "/hostile", "/missing")
    return {
        "/": page("Home", "The Acme Corporation fan site.", links=_links(pages)),
        "/about": page(
            "About Acme",
            "Acme Corporation was founded by Jane Doe in Springfield in 1999.",
            json_ld(
                {
                    "@context": "https://schema.org",
                    "@type": "Organization",
                    "@id": "https://acme.example/#org",
                    "name": "Acme Corporation",
                    "foundingDate": "1999",
                    "founder": {"@type": "Person", "name": "Jane Doe"},
                }
            ),
        ),
        "/team": page("Team", " ".join(f"{p} works for Acme Corporation." for p in TEAM)),
        "/news": page(
            "News", "ACME Corp. (Acme) hired " + " and ".join(news_people) + " this year."
        ),
        "/hostile": page(
            "Hostile names",
            " ".join(
                f"{html.escape(n)} works for Acme Corporation."
                for n in (SCRIPT_NAME, IMG_NAME, RTL_NAME, LONG_NAME)
            ),
            json_ld(
                {
                    "@context": "https://schema.org",
                    "@graph": [
                        {"@type": "Person", "name": IMG_NAME},
                        {"@type": "Person", "name": SCRIPT_NAME},
                    ],
                }
            ),
        ),
    }


def _links(paths: tuple[str, ...]) -> str:
    return "".join(f"<a href='{p}'>{p}</a> " for p in paths)


def answer(body: dict) -> Reply:
    """What the fake LLM reads on each page (every name is in the page text)."""
    text = page_text(body)
    entities: list[dict] = []
    relations: list[dict] = []
    if "founded by Jane Doe" in text:
        entities = [
            {"name": "Acme Corporation", "type": "Organization"},
            {"name": "Springfield", "type": "Place"},
        ]
        relations = [{"source": "Acme Corporation", "type": "location", "target": "Springfield"}]
    elif "ACME Corp." in text:
        hired = [p for p in ("Zoë Ångström", "Omar Haddad") if p in text]
        entities = [{"name": "ACME Corp.", "type": "Organization", "aliases": ["Acme"]}]
        entities += [{"name": p, "type": "Person", "description": "engineer"} for p in hired]
        relations = [{"source": p, "type": "worksFor", "target": "Acme"} for p in hired]
    elif "works for" in text:
        people = [n for n in (*TEAM, SCRIPT_NAME, IMG_NAME, RTL_NAME, LONG_NAME) if n in text]
        entities = [{"name": "Acme Corporation", "type": "Organization"}]
        entities += [{"name": p, "type": "Person"} for p in people]
        relations = [
            {
                "source": p,
                "type": "worksFor",
                "target": "Acme Corporation",
                "evidence": f"{p} works for Acme Corporation.",
            }
            for p in people
        ]
    return Reply({"entities": entities, "relations": relations})


@dataclass
class Explorer:
    url: str  # ends with "/"
    state: Path  # the crawls' tmp folder (store, reports)

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path.lstrip("/"), timeout=30) as response:
                return response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8")

    def api(self, path: str) -> dict:
        status, body = self.get(path)
        assert status == 200, body
        return json.loads(body)

    def entity_id(self, name: str) -> str:
        found = self.api("api/search?" + urllib.parse.urlencode({"q": name}))["results"]
        return next(r["id"] for r in found if r["name"] == name)


def crawl(state: Path, store: str, fake: FakeLLM, *news: list[str]) -> None:
    """One crawl of the test site per ``news`` (who /news says was hired), same address."""
    with serve(site(news[0])) as test_site:
        for hired in news:
            test_site.site.update(site(hired))
            result = run_crawl(
                state,
                {"url": test_site.url, "render": "never"},
                {"GRAPH_STORE": store, "LLM_MODEL": "fake-model"},
                {"OPENAI_BASE_URL": fake.base_url},
            )
            assert result.returncode == 0, result.log[-3000:]


def serve_command(
    state: Path, store: str, port: int, settings: dict[str, str] | None = None
) -> list[str]:
    settings = state_settings(state) | {"GRAPH_STORE": store} | (settings or {})
    argv = [sys.executable, "-m", "scrapy", "graph", "serve", "--port", str(port)]
    return argv + [arg for key, value in settings.items() for arg in ("-s", f"{key}={value}")]


@contextmanager
def explorer(state: Path, store: str, settings: dict[str, str] | None = None) -> Iterator[Explorer]:
    port = free_port()
    command = serve_command(state, store, port, settings)
    with server_process(command, b"Explorer of", timeout=60, cwd=PROJECT_DIR):
        yield Explorer(f"http://127.0.0.1:{port}/", state)


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator[Explorer]:
    """Two crawls of the test site (the second finds one more person on /news)."""
    state = tmp_path_factory.mktemp("explorer")
    store = str(state / "graph")
    with serve_fake_llm(FakeLLM(answer)) as fake:
        crawl(state, store, fake, ["Zoë Ångström"], ["Zoë Ångström", "Omar Haddad"])
    with explorer(state, store) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


@pytest.fixture
def tab(browser: Browser) -> Iterator[Page]:
    """A browser tab that fails the test on any script dialog or page error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    problems: list[str] = []
    tab.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    # Error statuses the tests ask for (400, 404) are checked by the tests themselves.
    tab.on(
        "console",
        lambda m: (
            m.type == "error"
            and not m.text.startswith("Failed to load resource: the server responded with a status")
            and problems.append(f"console: {m.text}")
        ),
    )
    yield tab
    context.close()
    assert problems == []


def shot(tab: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def test_search_as_you_type_with_a_type_filter(app, tab):
    tab.goto(app.url)
    tab.locator("#q").press_sequentially("acm", delay=30)
    results = tab.locator("#results li")
    expect(results.first).to_contain_text("Acme Corporation")
    assert results.count() == 1  # ACME Corp., Acme and Acme Corporation are one node
    expect(results.first).to_contain_text("schema:Organization")
    tab.locator("#q").fill("")
    tab.locator("#q").press_sequentially("member", delay=20)
    expect(results).to_have_count(len(TEAM))
    expect(tab.locator("#type option[value='schema:Place']")).to_have_count(1)
    tab.locator("#type").select_option("schema:Organization")
    expect(tab.locator("#status")).to_have_text("no entity has that name")
    tab.locator("#type").select_option("schema:Person")
    expect(results).to_have_count(len(TEAM))
    shot(tab, "search")
    tab.locator("#q").fill("Springf")
    expect(tab.locator("#status")).to_have_text("no entity has that name")
    tab.locator("#type").select_option("")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("schema:Place")


def test_entity_page_shows_typed_facts_merges_and_provenance(app, tab):
    tab.goto(app.url + "?q=Acme")
    tab.locator("#results li a").first.click()
    expect(tab.locator("#entity-name")).to_have_text("Acme Corporation")
    expect(tab.locator("#classes")).to_contain_text("schema:Organization")
    aliases = tab.locator("#aliases")
    expect(aliases).to_contain_text("ACME Corp.")
    expect(aliases).to_contain_text("Acme")
    facts = tab.locator("#facts-out tbody tr")
    founding = facts.filter(has_text="schema:foundingDate")
    expect(founding.first).to_contain_text("1999")
    expect(founding.first.locator(".datatype")).to_have_text("xsd:gYear")
    founder = facts.filter(has_text="schema:founder").first
    expect(founder).to_contain_text("Jane Doe")
    expect(founder).to_contain_text("structured data")
    location = facts.filter(has_text="schema:location").first
    expect(location).to_contain_text("Springfield")
    expect(location.locator(".badge.llm")).to_have_text("LLM")
    expect(location).to_contain_text("fake-model")
    expect(location).to_contain_text("prompt ")
    # The fetch time is the page's own (an ISO timestamp), per fact.
    assert location.locator("td").nth(3).inner_text().startswith("20")
    relations_in = tab.locator("#facts-in tbody tr").filter(has_text="Member")
    expect(relations_in).to_have_count(len(TEAM))
    evidence = relations_in.first.locator(".evidence")
    expect(evidence).to_contain_text("works for Acme Corporation.")
    mentions = tab.locator("#mentions tbody tr")
    assert mentions.count() >= 4  # about (LLM and structured data), team, news, hostile
    expect(mentions.filter(has_text="ACME Corp.").first).to_contain_text("ss:LLM")
    assert mentions.filter(has_text="new").count() >= 1
    shot(tab, "entity")

    # Provenance links lead to the page view: status, times, what the page contributed.
    link = tab.locator("#facts-out a.page-link", has_text="/about").first
    about = link.inner_text()
    link.click()
    expect(tab.locator("h1")).to_have_text(about)
    expect(tab.locator("#page-status")).to_contain_text("ok")
    assert tab.locator("#changed-at").inner_text().startswith("20")
    mentions = tab.locator("#page-mentions tbody tr")
    expect(mentions.filter(has_text="Jane Doe")).to_have_count(1)
    expect(tab.locator("#page-facts tbody tr").filter(has_text="schema:founder")).to_have_count(1)
    shot(tab, "page")


def test_page_view_of_a_failed_page_shows_its_failure(app, tab):
    tab.goto(app.url + "pages")
    row = tab.locator("#pages tbody tr").filter(has_text="/missing")
    expect(row.locator(".badge.failed")).to_be_visible()
    row.locator("a").click()
    expect(tab.locator("#page-status")).to_contain_text("needs retry")
    expect(tab.locator("#failures")).to_contain_text("http_404")


def test_neighbourhood_picture_draws_every_node(app, tab):
    acme = app.entity_id("Acme Corporation")
    expected = app.api("api/neighbourhood?" + urllib.parse.urlencode({"id": acme, "hops": 2}))
    names = {n["name"] for n in expected["nodes"]}
    assert {"Jane Doe", "Springfield", "Zoë Ångström", *TEAM} <= names
    tab.goto(app.url + "graph?" + urllib.parse.urlencode({"id": acme, "hops": 2}))
    box = tab.locator("#cy")
    expect(box).to_have_attribute("data-drawn", str(len(expected["nodes"])), timeout=15000)
    assert box.locator("canvas").count() >= 1
    drawn = tab.evaluate(
        "() => explorerGraph.nodes().map(n => [n.data('label'), n.renderedPosition().x])"
    )
    assert len(drawn) == len(expected["nodes"])
    assert len({round(x) for _, x in drawn}) > 3  # laid out, not stacked in one spot
    edges = tab.evaluate("() => explorerGraph.edges().length")
    assert edges == len(expected["edges"]) >= len(TEAM) + 2
    colours = tab.evaluate(
        "() => [...new Set(explorerGraph.nodes().map(n => n.style('background-color')))]"
    )
    assert len(colours) >= 3  # Organization, Person, Place
    expect(tab.locator("#legend li")).to_contain_text(["Organization", "Person", "Place"])
    expect(tab.locator("#node-list li")).to_have_count(len(expected["nodes"]))
    shot(tab, "graph")
    # Clicking a node recentres the picture on it.
    springfield = next(n for n in expected["nodes"] if n["name"] == "Springfield")
    tab.evaluate(f"() => explorerGraph.getElementById({json.dumps(springfield['id'])}).emit('tap')")
    expect(tab.locator("h1")).to_contain_text("Springfield")


def test_crawl_history_charts(app, tab):
    tab.goto(app.url + "crawls")
    rows = tab.locator("#crawl-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(1).locator("td").nth(5)).to_have_text("1")  # /news changed
    history = app.api("api/crawls")
    assert history["series"]["pages_new"][0] == 5 and history["series"]["pages_changed"] == [0, 1]
    assert history["series"]["entities_added"][1] == 1  # Omar Haddad
    assert history["series"]["llm_calls"][0] >= 4
    for chart in ("pages", "calls", "tokens", "entities"):
        canvas = tab.locator(f"#chart-{chart}")
        expect(canvas).to_be_visible()
        assert tab.evaluate(f"() => Chart.getChart('chart-{chart}').data.datasets.length") >= 1
    shot(tab, "crawls")


def test_sparql_box_results_downloads_and_refusals(app, tab):
    tab.goto(app.url + "sparql")
    query = "SELECT ?name WHERE { ?e a schema:Person ; schema:name ?name } ORDER BY ?name"
    tab.locator("#query").fill(query)
    tab.locator("#run").click()
    rows = tab.locator("#sparql-results tbody tr")
    expect(rows.first).to_be_visible()
    assert "Jane Doe" in rows.all_inner_texts()
    count = rows.count()
    expect(tab.locator("#row-count")).to_have_text(f"{count} rows")
    shot(tab, "sparql")
    with tab.expect_download() as download:
        tab.locator("#download-csv").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0] == "name" and len(lines) == count + 1
    with tab.expect_download() as download:
        tab.locator("#download-json").click()
    bindings = json.loads(Path(download.value.path()).read_text())["results"]["bindings"]
    assert len(bindings) == count
    tab.locator("#query").fill('ASK { ?e schema:name "Jane Doe" }')
    tab.locator("#run").click()
    expect(tab.locator("#sparql-boolean")).to_have_text("true")
    for update in (
        'INSERT DATA { <urn:x> <urn:y> "z" }',
        "DELETE WHERE { ?s ?p ?o }",
        "CLEAR ALL",
    ):
        tab.locator("#query").fill(update)
        tab.locator("#run").click()
        expect(tab.locator("#sparql-error")).to_contain_text("read-only")
    tab.locator("#query").fill("SELECT WHERE {")
    tab.locator("#run").click()
    expect(tab.locator("#sparql-error")).to_contain_text("syntax error")
    status, _ = app.get("sparql/results.csv?query=" + urllib.parse.quote("CLEAR ALL"))
    assert status == 400
    assert app.api("api/search?q=Jane")["results"]  # nothing was cleared


@pytest.mark.parametrize("name", [SCRIPT_NAME, IMG_NAME, RTL_NAME, LONG_NAME])
def test_hostile_names_render_as_text(app, tab, name):
    tab.goto(app.url)
    tab.locator("#q").fill(name[:30])
    result = tab.locator("#results li a", has_text=name[:30]).first
    expect(result).to_have_text(name)
    result.click()
    expect(tab.locator("#entity-name")).to_have_text(name)
    assert tab.locator("main img").count() == 0
    assert tab.locator("main script").count() == 0
    width = tab.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 1280  # a very long name wraps, the page does not grow sideways
    if name == RTL_NAME:
        assert tab.locator("#entity-name bdi").evaluate("e => getComputedStyle(e).direction") == (
            "rtl"
        )
    iri = urllib.parse.parse_qs(urllib.parse.urlsplit(tab.url).query)["id"][0]
    nodes = app.api("api/neighbourhood?" + urllib.parse.urlencode({"id": iri}))["nodes"]
    assert len(nodes) == 1 if name == SCRIPT_NAME else 2  # (markup only) or works for Acme
    tab.goto(app.url + "graph?" + urllib.parse.urlencode({"id": iri}))
    expect(tab.locator("#cy")).to_have_attribute("data-drawn", str(len(nodes)), timeout=15000)
    expect(tab.locator("#node-list li", has_text=name[:30])).to_have_text(name + " Person")
    assert tab.locator("main img").count() == 0
    if name == SCRIPT_NAME:
        shot(tab, "hostile")


def test_bad_requests_get_clear_answers(app):
    assert app.get("entity")[0] == 400 and "needs ?id=" in app.get("entity")[1]
    status, body = app.get("entity?id=urn:nothing")
    assert status == 404 and "no entity urn:nothing" in body
    status, body = app.get("page?url=" + urllib.parse.quote("http://nowhere.example/"))
    assert status == 404 and "no page http://nowhere.example/" in body
    status, body = app.get("api/search?q=a&limit=many")
    assert status == 400 and "limit must be a number" in json.loads(body)["error"]
    assert app.api("api/search?q=acme&type=Person")["results"] == []
    assert len(app.api("api/search?q=acme&type=Organization")["results"]) == 1
    status, _ = app.get("sparql/results.xml?query=ASK%7B%7D")
    assert status == 404
    request = urllib.request.Request(app.url + "sparql", data=b"query=CLEAR%20ALL", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 405
    host = urllib.request.Request(app.url, headers={"Host": "evil.example"})
    with pytest.raises(urllib.error.HTTPError) as rebinding:
        urllib.request.urlopen(host, timeout=10)
    assert rebinding.value.code == 400


def test_serve_errors_are_one_line(tmp_path):
    argv = serve_command(tmp_path, str(tmp_path / "none"), free_port())
    done = subprocess.run(argv, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: no graph store at {tmp_path / 'none'}: run a crawl first, or set GRAPH_STORE"
    ]
    gone = f"http://127.0.0.1:{free_port()}"
    argv = serve_command(tmp_path, gone, free_port())
    done = subprocess.run(argv, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"error: SPARQL endpoint {gone}/query unreachable")


def test_serve_reports_a_busy_port_in_one_line(app):
    port = int(urllib.parse.urlsplit(app.url).port or 0)
    argv = serve_command(app.state, str(app.state / "graph"), port)
    done = subprocess.run(argv, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: cannot serve on port {port} (Address already in use): choose another with --port"
    ]


def _slow(text: str, seconds: float):
    def answer(handler):
        time.sleep(seconds)
        return SitePage(text)

    return answer


def test_explorer_reads_while_a_crawl_writes(tmp_path):
    """The explorer never holds the embedded database: a crawl starts and writes while it
    serves, and the explorer moves to each snapshot the crawl publishes."""
    store = str(tmp_path / "graph")
    with serve_fake_llm(FakeLLM(answer)) as fake:
        crawl(tmp_path, store, fake, ["Zoë Ångström"])
        with explorer(tmp_path, store, {"EXPLORER_INDEX_REFRESH": "0.5"}) as running:
            assert running.api("api/search?q=Omar")["results"] == []
            jane = "entity?" + urllib.parse.urlencode({"id": running.entity_id("Jane Doe")})
            pages = site(["Zoë Ångström", "Omar Haddad"])
            pages["/team"] = _slow(pages["/team"], 4)  # the crawl stays open a while
            with serve(pages) as test_site:
                out = tmp_path / "during.jsonl"
                settings = {"GRAPH_STORE": store, "LLM_MODEL": "fake-model"}
                settings["GRAPH_SNAPSHOT_INTERVAL"] = "0.5"
                env = {"OPENAI_BASE_URL": fake.base_url}
                args = {"url": test_site.url, "render": "never"}
                proc = start_crawl(tmp_path, args, out, settings, env=env)
                found, deadline = [], time.monotonic() + 90
                while not found and time.monotonic() < deadline:
                    found = running.api("api/search?q=Omar")["results"]
                    # Entity pages read the store's snapshots throughout.
                    assert running.get(jane)[0] == 200
                    time.sleep(0.3)
                assert proc.wait(timeout=120) == 0
            assert [r["name"] for r in found] == ["Omar Haddad"]


def test_explorer_on_a_sparql_endpoint_store(tmp_path, browser):
    with oxigraph_server() as server, serve_fake_llm(FakeLLM(answer)) as fake:
        crawl(tmp_path, server.url, fake, ["Zoë Ångström"])
        with explorer(tmp_path, server.url) as running:
            tab = browser.new_page()
            tab.goto(running.url)
            tab.locator("#q").press_sequentially("zo", delay=30)
            tab.locator("#results li a", has_text="Zoë Ångström").click()
            expect(tab.locator("#entity-name")).to_have_text("Zoë Ångström")
            expect(tab.locator("#facts-out")).to_contain_text("schema:worksFor")
            expect(tab.locator("#facts-out")).to_contain_text("fake-model")
            tab.close()
