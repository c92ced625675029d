"""Many workers, one crawl: real redis-server, real `oxigraph serve`, real `scrapy crawl`
workers and the fake LLM, against a local site of 74 pages (bench/distributed.py crawls 200
and more).

The fleet's graph must equal a single process's crawl of the same site, every page must end
as exactly one record over all the workers' feeds, every chunk must be paid for once, and a
worker killed with -9 must lose no page.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import redis

from scraper.graph import open_store
from scraper.graph.leases import lease_refusal
from scraper.graph.vocab import FACT_GRAPH_FILTER, SPARQL_PREFIXES
from tests.crawling import (
    PROJECT_DIR,
    run_crawl,
    run_scrapy,
    scrapy_command,
    state_settings,
    without_openai,
)
from tests.fake_llm import FakeLLM, serve_fake_llm
from tests.oxigraph_server import oxigraph_server
from tests.processes import free_port
from tests.redis_server import redis_server
from tests.sites import Page, RunningSite, serve

PEOPLE = [f"{first} {last}" for first in ("Jane", "Omar", "Lena") for last in ("Doe", "Berg")]
CITIES = ("Springfield Town", "Rotterdam Harbour", "Lyon Centre")
SECTIONS, PER_SECTION, MIRRORS = 6, 10, 6
PAGE_LATENCY = 0.2  # seconds
ACME = {
    "@context": "https://schema.org",
    "@type": "Organization",
    "@id": "https://acme.example/#org",
    "name": "Acme Corporation",
}


def _page(title: str, text: str, links: list[str] = ()) -> str:  # type: ignore[assignment]
    anchors = "".join(f"<a href='{link}'>{link}</a> " for link in links)
    return (
        f"<html lang='en'><head><title>{title}</title><script type='application/ld+json'>"
        f"{json.dumps(ACME)}</script></head><body><main><article><h1>{title}</h1><p>{text}</p>"
        f"<nav>{anchors}</nav></article></main></body></html>"
    )


def fleet_site() -> dict[str, str]:
    """A home page, 6 sections of 10 pages and 6 pages with the very same text (one chunk
    for them all, linked from every section's first page): the same people, cities and labs
    on pages every worker crawls."""
    site = {
        "/": _page("Home", "Acme Corporation is a company.", [f"/s{s}" for s in range(SECTIONS)])
    }
    for s in range(SECTIONS):
        pages = [f"/s{s}/p{p}" for p in range(PER_SECTION)]
        site[f"/s{s}"] = _page(f"Section {s}", f"Acme Corporation runs Section Labs {s}.", pages)
        for p, path in enumerate(pages):
            person, city = PEOPLE[(s + p) % len(PEOPLE)], CITIES[p % len(CITIES)]
            text = (
                f"Acme Corporation hired {person} at Lab {'ABCDEFGHIJ'[s]}ero Labs. "
                f"{person} lives in {city}. This is page {s}-{p}."
            )
            site[path] = _page(f"Item {s}-{p}", text, ["/mirrors"] if p == 0 else [])
    mirrors = [f"/mirror/{m}" for m in range(MIRRORS)]
    site["/mirrors"] = _page("Mirrors", "Copies of one notice from Acme Corporation.", mirrors)
    for path in mirrors:
        site[path] = _page("Notice", "Acme Corporation welcomes Jane Doe in Lyon Centre.")
    return site


SITE = fleet_site()


def fact_quads(location: str) -> set[tuple[str, str, str, str]]:
    """Every fact of the page graphs (not provenance), as comparable strings."""
    with open_store(location, write=False) as store:
        rows = store.select(
            f"SELECT ?g ?s ?p ?o WHERE {{ GRAPH ?g {{ ?s ?p ?o }} {FACT_GRAPH_FILTER} }}"
        )
    return {(str(r["g"]), str(r["s"]), str(r["p"]), str(r["o"])) for r in rows}


def duplicate_nodes(location: str) -> list[str]:
    """Resolution keys held by more than one node (0 when every entity has one node)."""
    with open_store(location, write=False) as store:
        result = store.query(
            SPARQL_PREFIXES + "SELECT ?k WHERE { GRAPH ?g { ?n ss:nameKey|ss:idKey ?k } } "
            "GROUP BY ?k HAVING (COUNT(DISTINCT ?n) > 1)"
        )
        return [str(row["k"]) for row in result]  # type: ignore[union-attr]


@dataclass
class Baseline:
    urls: set[str]
    facts: set[tuple[str, str, str, str]]
    texts: set[str]  # the distinct chunk texts the LLM was asked about


def _slowly(html: str) -> Callable[[BaseHTTPRequestHandler], Page]:
    def answer(_: BaseHTTPRequestHandler) -> Page:
        time.sleep(PAGE_LATENCY)
        return Page(html)

    return answer


@pytest.fixture(scope="module")
def site() -> Iterator[RunningSite]:
    """The site, each page answered after PAGE_LATENCY, as a real site's: a worker then holds
    pages it waits for, and leaves the rest queued for the others (a site that answers at
    once is crawled by whichever worker got going first, before the others look)."""
    with serve({path: _slowly(html) for path, html in SITE.items()}) as running:
        yield running


@pytest.fixture(scope="module")
def baseline(site: RunningSite, tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    """The same site crawled by one process (embedded store), with the fake LLM."""
    tmp = tmp_path_factory.mktemp("single")
    with serve_fake_llm(FakeLLM()) as llm:
        result = run_crawl(tmp, {"url": site.url}, env=llm_env(llm), timeout=240)
    assert result.returncode == 0, result.log[-3000:]
    urls = [r["url"] for r in result.records]
    assert len(urls) == len(set(urls)) == len(SITE)
    return Baseline(set(urls), fact_quads(str(tmp / "graph")), {r.page_text for r in llm.requests})


def llm_env(llm: FakeLLM) -> dict[str, str]:
    return {"OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "test"}


def start_worker(
    tmp: Path, n: int, settings: dict[str, str], llm: FakeLLM, url: str
) -> subprocess.Popen:
    """One `scrapy crawl` worker: its own feed and log (tmp/worker-n.*), the shared state."""
    argv = scrapy_command(
        ["crawl", "semantic"], tmp / f"worker-{n}.jsonl", settings, {"url": url}, output="-o"
    )
    log = (tmp / f"worker-{n}.log").open("a")
    return subprocess.Popen(
        argv, cwd=PROJECT_DIR, env=without_openai(llm_env(llm)), stdout=log, stderr=log
    )


def fleet_settings(tmp: Path, redis_url: str, store: str) -> dict[str, str]:
    return {
        **state_settings(tmp),
        "REDIS_URL": redis_url,
        "GRAPH_STORE": store,
        # Long enough that a worker busy cleaning a page (lxml holds the GIL, so its heartbeat
        # thread waits) is not taken for dead on a loaded machine; short enough for the kill test.
        "FLEET_WORKER_TIMEOUT": "12",
        "LOGSTATS_INTERVAL": "5",
    }


def records(tmp: Path) -> list[dict]:
    return [
        json.loads(line)
        for feed in sorted(tmp.glob("worker-*.jsonl"))
        for line in feed.read_text().splitlines()
        if line.strip()
    ]


def wait_all(workers: list[subprocess.Popen], tmp: Path, timeout: float = 180) -> list[int]:
    deadline = time.monotonic() + timeout
    codes = [w.wait(timeout=max(1, deadline - time.monotonic())) for w in workers]
    logs = "\n".join(p.read_text()[-2000:] for p in sorted(tmp.glob("worker-*.log")))
    assert "Traceback" not in logs, logs
    return codes


def fleet_report(tmp: Path) -> dict:
    reports = sorted((tmp / "reports").glob("semantic-fleet-*.json"))
    assert len(reports) >= 1, "the crawl's last worker writes the fleet's report"
    return json.loads(reports[-1].read_text())


def test_three_workers_crawl_like_one_process_and_pay_each_chunk_once(
    site: RunningSite, baseline: Baseline, tmp_path: Path
) -> None:
    with (
        redis_server(tmp_path / "redis") as server,
        oxigraph_server() as oxigraph,
        serve_fake_llm(FakeLLM(latency=0.05)) as llm,
    ):
        settings = fleet_settings(tmp_path, server.url, oxigraph.url)
        workers = [start_worker(tmp_path, n, settings, llm, site.url) for n in range(3)]
        assert wait_all(workers, tmp_path) == [0, 0, 0]

        crawled = Counter(r["url"] for r in records(tmp_path))
        assert set(crawled) == baseline.urls  # every page ...
        assert set(crawled.values()) == {1}  # ... exactly once over the workers' feeds
        per_worker = Counter(p.name for p in tmp_path.glob("worker-*.jsonl") if p.stat().st_size)
        assert len(per_worker) == 3, "every worker crawled pages"
        assert fact_quads(oxigraph.url) == baseline.facts  # the same graph as one process
        assert duplicate_nodes(oxigraph.url) == []
        paid = Counter(r.page_text for r in llm.requests)
        assert set(paid) == baseline.texts and set(paid.values()) == {1}  # each chunk once

        report = fleet_report(tmp_path)
        assert report["workers"] == 3
        # Each worker writes its own report too, named after it: none overwrites another.
        for log in tmp_path.glob("worker-*.log"):
            name = re.findall(r"Fleet worker (\S+) of crawl", log.read_text())[0]
            assert len(list((tmp_path / "reports").glob(f"semantic-*Z-{name}.json"))) == 1
        assert report["pages"]["records"] == report["pages"]["new"] == len(SITE)
        assert report["llm"]["calls"] == len(baseline.texts)
        assert report["llm"]["chunks"] == len(SITE)
        client = redis.Redis.from_url(server.url)
        assert client.keys("semantic:*") == [b"semantic:last-stats"], "the crawl's state ends"
        assert client.hlen("semantic-scraper:llm-cache") == len(baseline.texts)
        with open_store(oxigraph.url, write=False) as store:
            assert lease_refusal(store) is None, "the last worker gave the lease up"

        # A distributed re-crawl of the unchanged site: 0 LLM calls, nothing changed.
        calls = len(llm.requests)
        for feed in tmp_path.glob("worker-*.jsonl"):
            feed.unlink()
        workers = [start_worker(tmp_path, n, settings, llm, site.url) for n in range(2)]
        assert wait_all(workers, tmp_path) == [0, 0]
        assert len(llm.requests) == calls
        again = Counter(r["url"] for r in records(tmp_path))
        assert set(again) == baseline.urls and set(again.values()) == {1}
        assert fleet_report(tmp_path)["pages"]["unchanged"] == len(SITE)
        assert fact_quads(oxigraph.url) == baseline.facts


def test_a_worker_killed_in_the_middle_loses_no_page_and_every_paid_call_is_reported(
    site: RunningSite, baseline: Baseline, tmp_path: Path
) -> None:
    with (
        redis_server(tmp_path / "redis") as server,
        oxigraph_server() as oxigraph,
        serve_fake_llm(FakeLLM(latency=0.3)) as llm,
        serve_fake_llm(FakeLLM(latency=0.3)) as victim_llm,  # the victim's own LLM server
    ):
        settings = fleet_settings(tmp_path, server.url, oxigraph.url)
        # The victim keeps its pages in one big batch for the store: every call it pays for
        # belongs to a page not finished yet when it is killed.
        batching = {**settings, "GRAPH_WRITE_BATCH": "1000", "GRAPH_WRITE_WAIT": "600"}
        # The victim starts alone, so that it has pages in flight whatever the machine's
        # load (started together, the other two could crawl the whole site before it fetched
        # a page); the others join a crawl already under way.
        workers = [start_worker(tmp_path, 0, batching, victim_llm, site.url)]
        deadline = time.monotonic() + 120
        while len(victim_llm.replied()) < 4:
            assert time.monotonic() < deadline, "worker 0 paid for no LLM call"
            assert workers[0].poll() is None, "worker 0 stopped before paying for 4 calls"
            time.sleep(0.2)
        victim_llm.hold()  # its calls from now on are never answered ...
        workers += [start_worker(tmp_path, n, settings, llm, site.url) for n in (1, 2)]
        while not victim_llm.settled():
            time.sleep(0.05)
        time.sleep(2)  # ... and the answers it had are counted
        os.kill(workers[0].pid, signal.SIGKILL)  # mid-crawl: it holds pages in flight

        # Another crawl of the same store (not this fleet's) is refused while it runs.
        other = run_crawl(tmp_path / "other", {"url": site.url}, {"GRAPH_STORE": oxigraph.url})
        assert other.returncode == 2 and "another crawl (fleet crawl" in other.log

        assert wait_all(workers[1:], tmp_path) == [0, 0]
        crawled = Counter(r["url"] for r in records(tmp_path))
        assert set(crawled) == baseline.urls  # 0 pages lost
        assert set(crawled.values()) == {1}  # 0 duplicated
        assert fact_quads(oxigraph.url) == baseline.facts
        assert duplicate_nodes(oxigraph.url) == []
        report = fleet_report(tmp_path)
        assert report["pages"]["records"] == len(SITE)
        # The calls the killed worker paid for count too: the report's are the servers'.
        replies = llm.replied() + victim_llm.replied()
        assert report["llm"]["calls"] == len(replies)
        for tokens in ("prompt_tokens", "completion_tokens"):
            assert report["llm"][tokens] == sum(r.usage[tokens] for r in replies)  # type: ignore[index]
        logs = "".join(p.read_text() for p in tmp_path.glob("worker-*.log"))
        assert "pages of stopped workers went back to the queue" in logs


def test_redis_unreachable_is_one_line_and_no_crawl(tmp_path: Path) -> None:
    with serve({"/": _page("Home", "Acme Corporation.")}) as running:
        result = run_scrapy(
            tmp_path,
            ["crawl", "semantic"],
            tmp_path / "out.jsonl",
            {"url": running.url},
            {"REDIS_URL": "redis://127.0.0.1:1/0"},
        )
    assert result.returncode == 2
    errors = [line for line in result.log.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "Redis at redis://127.0.0.1:1/0 is unreachable" in errors[0]
    assert "Traceback" not in result.log and not (tmp_path / "out.jsonl").exists()


def test_redis_going_away_stops_the_workers_in_one_line_and_a_restart_resumes(
    tmp_path: Path,
) -> None:
    pages = {
        f"/p{n}": _page(f"Page {n}", f"Acme Corporation hired Omar Berg{n}.") for n in range(40)
    }
    small = {"/": _page("Home", "Acme Corporation.", list(pages)), **pages}
    port = free_port()
    with serve(small) as running, oxigraph_server() as oxigraph:
        with serve_fake_llm(FakeLLM(latency=0.3)) as llm:
            with redis_server(tmp_path / "redis", port, persistent=True) as server:
                settings = fleet_settings(tmp_path, server.url, oxigraph.url)
                workers = [start_worker(tmp_path, n, settings, llm, running.url) for n in range(2)]
                deadline = time.monotonic() + 120
                while len(records(tmp_path)) < 8:
                    assert time.monotonic() < deadline, "the workers wrote no records"
                    time.sleep(0.2)
                os.kill(server.pid, signal.SIGKILL)
                assert wait_all(workers, tmp_path) == [3, 3]  # stopped: start them again
            logs = [(tmp_path / f"worker-{n}.log").read_text() for n in range(2)]
            for log in logs:
                errors = [line for line in log.splitlines() if " ERROR: " in line]
                assert len(errors) == 1 and "is unreachable" in errors[0], errors
            assert len(records(tmp_path)) < len(small)
            with redis_server(tmp_path / "redis", port, persistent=True) as server:
                workers = [start_worker(tmp_path, n, settings, llm, running.url) for n in range(2)]
                assert wait_all(workers, tmp_path) == [0, 0]
        crawled = Counter(r["url"] for r in records(tmp_path))
        assert set(crawled.values()) == {1}, "the restart resumed without duplicates"
        # A page whose ack Redis ran but could not answer (killed in between) is the only
        # one that may be missing, and its worker names it.
        missing = {running.url + path.lstrip("/") for path in small} - set(crawled)
        in_doubt = {url for log in logs for url in re.findall(r"while (\S+) was finishing", log)}
        assert missing <= in_doubt
