"""End to end: crawl a local site with the fake LLM, then query the graph it built."""

from __future__ import annotations

import json

from scraper.graph import open_store
from scraper.graph.queries import describe_entity, find_entities
from tests.crawling import run_crawl
from tests.fake_llm import FakeLLM, Reply, page_text, serve_fake_llm
from tests.sites import serve


def json_ld(data: dict) -> str:
    return f"<script type='application/ld+json'>{json.dumps(data)}</script>"


def page(title: str, text: str, head: str = "", links: str = "") -> str:
    return (
        f"<html lang='en'><head><title>{title}</title>{head}</head><body><main><article>"
        f"<h1>{title}</h1><p>{text}</p>{links}</article></main></body></html>"
    )


ABOUT = page(
    "About Acme",
    "Acme Corporation was founded by Jane Doe in Springfield in 1999 and makes anvils.",
    json_ld(
        {
            "@context": "https://schema.org",
            "@type": "Organization",
            "@id": "https://acme.example/#org",
            "name": "Acme Corporation",
            "founder": {"@type": "Person", "name": "Jane Doe"},
        }
    ),
)
NEWS = page(
    "Acme hires",
    "ACME Corp. (Acme) hired Zoë Ångström as chief engineer; Jane Doe welcomed her.",
)
APEX = {
    f"/apex-{n}": page(
        f"Apex {n}",
        f"Apex is a company. This page is about the Apex listed as Q{n}.",
        json_ld(
            {
                "@context": "https://schema.org",
                "@type": "Organization",
                "name": "Apex",
                "sameAs": f"https://www.wikidata.org/entity/Q{n}",
            }
        ),
    )
    for n in (1, 2)
}
SITE = {
    "/": page(
        "Home",
        "Welcome to the Acme Corporation fan site.",
        links="".join(f"<a href='{p}'>{p}</a> " for p in ("/about", "/news", *APEX, "/missing")),
    ),
    "/about": ABOUT,
    "/news": NEWS,
    **APEX,
}


def answer(body: dict) -> Reply:
    """What the fake LLM 'reads' on each page (names are in the page text: grounded)."""
    text = page_text(body)
    entities, relations = [], []
    if "ACME Corp." in text:
        entities = [
            {"name": "ACME Corp.", "type": "Organization", "aliases": ["Acme"]},
            {"name": "Zoë Ångström", "type": "Person", "description": "chief engineer"},
            {"name": "Jane Doe", "type": "Person"},
        ]
        relations = [
            {
                "source": "Zoë Ångström",
                "type": "worksFor",
                "target": "Acme",
                "evidence": "ACME Corp. (Acme) hired Zoë Ångström as chief engineer",
            }
        ]
    elif "founded by Jane Doe" in text:
        entities = [
            {
                "name": "Acme Corporation",
                "type": "Organization",
                "attributes": {"foundingDate": "1999"},
            },
            {"name": "Springfield", "type": "Place"},
        ]
        relations = [{"source": "Acme Corporation", "type": "location", "target": "Springfield"}]
    return Reply({"entities": entities, "relations": relations})


def test_crawl_builds_a_resolved_graph_with_provenance(tmp_path, graph_store):
    with serve(SITE) as site, serve_fake_llm(FakeLLM(answer)) as fake:
        result = run_crawl(
            tmp_path,
            {"url": site.url, "render": "never"},
            {"GRAPH_STORE": graph_store, "LLM_MODEL": "fake-model"},
            {"OPENAI_BASE_URL": fake.base_url},
        )
    assert result.returncode == 0, result.log[-3000:]
    records = {r["url"].removeprefix(site.url.rstrip("/")): r for r in result.records}
    assert "'graph/pages_stored': 5" in result.log
    with open_store(graph_store, write=False) as store:
        (acme,) = find_entities(store, "Acme Corporation")
        view = describe_entity(store, acme)
        about, news = site.url + "about", site.url + "news"
        assert view["pages"] == [about, news]
        assert {"ACME Corp.", "Acme"} <= set(view["aliases"])
        assert view["attributes"]["foundingDate"] == ["1999"]
        # The page's @id is the node's IRI, or (when the LLM's mention on /news made the
        # node first) kept as its owl:sameAs.
        assert "https://acme.example/#org" in [acme, *view["same_as"]]
        assert {(m["origin"], m["page"]) for m in view["mentions"]} >= {
            ("ss:StructuredData", about),
            ("ss:LLM", news),
        }
        assert any(m["matched_by"] != "new" for m in view["mentions"])  # merged across pages
        relations = {(r["type"], r["target_name"]) for r in view["relations_out"]}
        assert {("founder", "Jane Doe"), ("location", "Springfield")} <= relations
        assert [(r["type"], r["source_name"]) for r in view["relations_in"]] == [
            ("worksFor", "Zoë Ångström")
        ]
        (jane,) = find_entities(store, "Jane Doe")
        assert describe_entity(store, jane)["pages"] == [about, news]
        assert len(find_entities(store, "Apex")) == 2  # same name, different sameAs

        state = store.page_state(news)
        record = records["/news"]
        assert state.content_hash == record["content_hash"]
        assert state.model == "fake-model" and state.prompt_version
        assert state.fetched_at[:19] == record["fetched_at"][:19]
        missing = store.page_state(site.url + "missing")
        assert missing.needs_retry and missing.failures[0]["reason"] == "http_404"
        origin = store.select(
            f"SELECT ?origin WHERE {{ GRAPH ?g {{ ?st rdf:subject <{acme}> ; "
            "rdf:predicate schema:founder ; ss:origin ?origin } }"
        )
        assert [o["origin"].value.rsplit("#")[-1] for o in origin] == ["StructuredData"]
