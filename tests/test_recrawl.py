"""Scheduled re-crawls end to end: unchanged, changed, removed and redirected pages.

A local site changes between real ``scrapy crawl`` runs against one graph store,
with a fake LLM that reads "X works for Y." sentences as worksFor relations.
"""

from __future__ import annotations

import json
import re
import threading
import time

from scraper.graph import open_store
from tests.crawling import run_crawl, run_scrapy, start_crawl
from tests.fake_llm import FakeLLM, Reply, knowledge_graph_answer, page_text, serve_fake_llm
from tests.sites import Page, serve

WORKS_FOR = re.compile(r"([A-Z]\w+ [A-Z]\w+) works for ([A-Z]\w+ [A-Z]\w+)\.")


def relations_llm() -> FakeLLM:
    def responder(body):
        text = page_text(body)
        answer = knowledge_graph_answer(text)
        for entity in answer["entities"]:
            entity["type"] = "Organization" if "Corporation" in entity["name"] else "Person"
        answer["relations"] = [
            {"source": a, "type": "worksFor", "target": b, "evidence": m.group(0)}
            for m in WORKS_FOR.finditer(text)
            for a, b in [m.groups()]
        ]
        return Reply(answer)

    return FakeLLM(responder)


def page(title: str, text: str) -> str:
    return (
        f"<html lang='en'><head><title>{title}</title></head><body><main><article>"
        f"<h1>{title}</h1><p>{text}</p></article></main></body></html>"
    )


def team(*people: str, etag: str) -> Page:
    sentences = " ".join(f"{p} works for Acme Corporation." for p in people)
    return Page(page("Our Team", sentences), headers={"ETag": etag})


def initial_site() -> dict:
    return {
        "/": page(
            "Home",
            " ".join(f"<a href='{p}'>{p}</a>" for p in ("/team", "/product", "/old", "/legacy")),
        ),
        "/team": team("Jane Doe", "Marc Petit", etag='"team-v1"'),
        "/product": page("Rover Robot", "Rover Robot is sold by Acme Corporation."),
        "/old": page("Old News", "Acme Corporation once sold Steam Engines."),
        "/legacy": page("Legacy Page", "Lyon Office hosts Acme Corporation."),
    }


def facts(store_path) -> set[tuple[str, str, str, str]]:
    """Every fact in the page graphs (provenance graphs left out)."""
    with open_store(str(store_path), write=True) as store:
        return {
            (str(q.subject), str(q.predicate), str(q.object), str(q.graph_name))
            for q in store.quads()
            if not str(q.graph_name).startswith("<urn:semantic-scraper:")
        }


def works_for(all_facts) -> set[tuple[str, str]]:
    """(person name, organisation name) pairs of worksFor facts, any page."""
    names = {(s, o) for s, p, o, _ in all_facts if p == "<https://schema.org/name>"}
    name_of = {s: json.loads(o.split("^^")[0]) if o.startswith('"') else o for s, o in names}
    return {
        (name_of[s], name_of[o]) for s, p, o, _ in all_facts if p == "<https://schema.org/worksFor>"
    }


def report(result) -> dict:
    path = re.search(r"report:\s+(\S+\.json)", result.log).group(1)
    return json.loads(open(path).read())


def test_recrawls_pay_only_for_changes_and_keep_the_graph_right(tmp_path):
    with serve(initial_site()) as site, serve_fake_llm(relations_llm()) as llm:
        env = {"OPENAI_BASE_URL": llm.base_url}
        args = {"url": site.url, "render": "never"}
        graph = tmp_path / "graph"

        first = run_crawl(tmp_path, args, env=env)
        assert first.returncode == 0, first.log[-3000:]
        assert report(first)["pages"]["new"] == 5
        facts_first = facts(graph)
        assert works_for(facts_first) == {
            ("Jane Doe", "Acme Corporation"),
            ("Marc Petit", "Acme Corporation"),
        }

        # 1. Nothing changed: no LLM call, same facts; the ETag page answers 304, which
        #    the HTTP cache answers with the stored body: every record is complete.
        calls = len(llm.requests)
        second = run_crawl(tmp_path, args, env=env)
        assert len(llm.requests) == calls
        assert report(second)["pages"]["unchanged"] == 5
        assert report(second)["llm"]["calls"] == 0
        assert "'pages/not_modified': 1" in second.log
        assert "'httpcache/revalidate': 1" in second.log
        assert facts(graph) == facts_first
        by_url = {r["url"]: r for r in first.records}
        for record in second.records:
            before = by_url[record["url"]]
            assert record["markdown"] and record["markdown"] == before["markdown"]
            assert record["chunks"] == before["chunks"]
            assert record["extraction"]["status"] == "ok"
            assert record["extraction"]["entities"] == before["extraction"]["entities"]

        # 2. A relation leaves the team page and another arrives; /old is gone (404);
        #    /legacy now redirects to /legacy-new (same text).
        site.site["/team"] = team("Jane Doe", "Sofie Jansen", etag='"team-v2"')
        del site.site["/old"]
        site.site["/legacy-new"] = site.site.pop("/legacy")
        site.site["/legacy"] = Page("", status=301, headers={"Location": "/legacy-new"})
        calls = len(llm.requests)
        third = run_crawl(tmp_path, args, env=env)
    assert third.returncode == 0, third.log[-3000:]
    pages = report(third)["pages"]
    assert (pages["changed"], pages["removed"], pages["moved"], pages["unchanged"]) == (1, 1, 1, 2)
    assert len(llm.requests) - calls == 1  # the changed team page only; the moved text is cached
    facts_third = facts(graph)
    assert works_for(facts_third) == {
        ("Jane Doe", "Acme Corporation"),
        ("Sofie Jansen", "Acme Corporation"),
    }
    graphs = {g for *_, g in facts_third}
    assert f"<{site.url}old>" not in graphs and f"<{site.url}legacy>" not in graphs
    assert f"<{site.url}legacy-new>" in graphs
    # Acme was on the removed page too, but other pages still support it.
    assert any(o == '"Acme Corporation"' for _, _, o, _ in facts_third)
    graph_report = report(third)["graph"]
    assert graph_report["relations_removed"] == 1 and graph_report["relations_added"] == 1


def _held(text: str, release: threading.Event):
    """A page answered only once ``release`` is set (30 s at most): the crawl fetching it
    is still running, whatever the machine's load."""

    def answer(handler):
        release.wait(timeout=30)
        return Page(page(text, f"{text} is a slow page of the site."))

    return answer


def test_an_overlapping_crawl_is_refused_clearly(tmp_path, graph_store):
    site_pages = {"/": page("Home", " ".join(f"<a href='/s{i}'>s{i}</a>" for i in range(8)))}
    release = threading.Event()
    site_pages.update({f"/s{i}": _held(f"Slow Page{i}", release) for i in range(8)})
    with serve(site_pages) as site:
        first = start_crawl(
            tmp_path,
            {"url": site.url, "render": "never"},
            tmp_path / "first.jsonl",
            {"GRAPH_STORE": graph_store, "CONCURRENT_REQUESTS": "1"},
        )
        try:
            deadline = time.monotonic() + 60
            while not site.hits and time.monotonic() < deadline:  # the first crawl is writing
                time.sleep(0.05)
            second = run_crawl(
                tmp_path,
                {"url": site.url, "render": "never"},
                {"GRAPH_STORE": graph_store, "GRAPH_STORE_LOCK_TIMEOUT": "0"},
            )
            release.set()
            assert first.wait(timeout=120) == 0
        finally:
            first.kill()
        third = run_crawl(tmp_path, {"url": site.url, "render": "never", "max_pages": "1"},
                          {"GRAPH_STORE": graph_store})  # fmt: skip
    assert second.returncode == 2
    assert "Crawl refused" in second.log
    assert ("in use by" in second.log) or ("is writing to this store" in second.log)
    assert "Traceback" not in second.log
    assert second.records == []  # refused before opening any output
    first_records = (tmp_path / "first.jsonl").read_text().splitlines()
    assert len(first_records) == 9 and all(json.loads(line)["url"] for line in first_records)
    assert third.returncode == 0, third.log[-2000:]  # the store is free again


def test_an_unchanged_page_whose_extraction_failed_costs_no_call_until_retried(tmp_path):
    """The policy: a re-crawl never pays again for content it already failed on; the page
    keeps its facts and its mark for retry, and `scrapy retry_failed` extracts it."""
    failing = {"on": True}

    def responder(body):
        text = page_text(body)
        if "Broken Page" in text and failing["on"]:
            return Reply("<html>not an answer</html>")
        return Reply(knowledge_graph_answer(text))

    site_pages = {
        "/": page("Home", "Jane Doe works for Acme Corporation. <a href='/broken'>b</a>"),
        "/broken": page("Broken Page", "Marc Petit works for Acme Corporation."),
    }
    settings = {"LLM_MAX_REASKS": "0", "LLM_BACKOFF_INITIAL": "0.01"}
    with serve(site_pages) as site, serve_fake_llm(FakeLLM(responder)) as llm:
        env = {"OPENAI_BASE_URL": llm.base_url}
        args = {"url": site.url, "render": "never"}
        first = run_crawl(tmp_path, args, settings, env=env)
        assert first.returncode == 0, first.log[-3000:]
        broken = {r["url"]: r for r in first.records}[site.url + "broken"]
        assert broken["extraction"]["status"] == "failed"
        facts_first = facts(tmp_path / "graph")

        calls = len(llm.requests)
        second = run_crawl(tmp_path, args, settings, env=env)
        assert second.returncode == 0, second.log[-3000:]
        assert len(llm.requests) == calls  # nothing paid again
        again = {r["url"]: r for r in second.records}[site.url + "broken"]
        assert again["extraction"]["failure_reason"] == "llm_not_retried"
        assert again["markdown"] == broken["markdown"]
        assert facts(tmp_path / "graph") == facts_first
        with open_store(str(tmp_path / "graph"), write=False) as store:
            assert store.page_state(site.url + "broken").needs_retry

        failing["on"] = False
        retried = run_scrapy(
            tmp_path, ["retry_failed"], tmp_path / "retried.jsonl", settings=settings, env=env
        )
        assert retried.returncode == 0, retried.log[-3000:]
        assert len(llm.requests) > calls
    (record,) = retried.records
    assert record["extraction"]["status"] == "ok"
    with open_store(str(tmp_path / "graph"), write=False) as store:
        assert not store.page_state(site.url + "broken").needs_retry
