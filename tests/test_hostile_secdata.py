"""Hostile cases of issue 14 about secrets, lost data and crashes, on real ``scrapy`` runs."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from schemas.knowledge_graph import KnowledgeGraph
from scraper.extract.failures import FailuresFile
from scraper.extract.llm import LLMCache
from scraper.extract.llm.answers import parse_answer
from scraper.fetch.journal import CrawlJournal
from scraper.graph import EmbeddedStore, SparqlEndpointStore
from scraper.redaction import install_log_redaction, redact_text
from scraper.safe_json import load_json
from scraper.spiders.arguments import ArgumentError, parse_arguments
from tests.crawling import (
    PROJECT_DIR,
    run_crawl,
    run_scrapy,
    scrapy_command,
    state_settings,
    without_openai,
)
from tests.fake_llm import (
    FakeLLM,
    Reply,
    StatsRecorder,
    close_llm_clients,
    default_responder,
    serve_fake_llm,
)
from tests.oxigraph_server import oxigraph_server
from tests.processes import free_port
from tests.sites import Page, serve
from tests.test_extraction import chunks_of, make_extractor

HOSTILE = Path(__file__).parent / "hostile" / "secdata"
FAST_LLM = {"LLM_BACKOFF_INITIAL": "0.01", "LLM_BACKOFF_MAX": "0.05", "LLM_TIMEOUT": "5"}
KEY = "my-own-secret-key-0123456789"  # not shaped like sk-…: only the configured key says so


def article(title: str, body: str = "", head: str = "") -> str:
    return (
        f"<html lang='en'><head><title>{title}</title>{head}</head><body><main><article>"
        f"<h1>{title}</h1><p>{title} tells how Acme Corporation was founded by Jane Doe in "
        "Springfield, and how its Road Runner Trap became a bestseller in the desert.</p>"
        f"<p>{body}</p></article></main></body></html>"
    )


def every_file_text(folder: Path) -> str:
    """The text of every file under ``folder`` (graph store files included, as bytes)."""
    return "\n".join(
        p.read_bytes().decode("utf-8", "replace") for p in folder.rglob("*") if p.is_file()
    )


def export_nquads(tmp_path: Path) -> str:
    """``scrapy graph export -f nquads`` of the crawl's store."""
    out = tmp_path / "graph.nq"
    argv = scrapy_command(["graph", "export", "-f", "nquads"], out, state_settings(tmp_path))
    argv[argv.index("-O")] = "-o"
    proc = subprocess.run(argv, cwd=PROJECT_DIR, env=without_openai(), capture_output=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out.read_text()


def test_an_llm_error_echoing_the_key_is_redacted_everywhere(tmp_path):
    """OpenAI's 401 echoes the key it refused; the base URL carries user:pass@."""
    fake = FakeLLM(lambda body: Reply(status=401, error=f"Incorrect API key provided: {KEY}"))
    site = {"/": article("Home Page", "<a href='/a'>a</a>"), "/a": article("Page A")}
    with serve(site) as running, serve_fake_llm(fake):
        base = fake.base_url.replace("http://", "http://alice:hunter2-pass@")
        env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": base}
        settings = {**FAST_LLM, "LLM_AUDIT_LOG": str(tmp_path / "audit.jsonl")}
        result = run_crawl(tmp_path, {"url": running.url}, settings, env)
        assert result.returncode == 0, result.log[-3000:]
    assert fake.requests, "the LLM server was asked"
    assert result.records and all(
        f["reason"] == "llm_auth_error" for r in result.records for f in r["failures"]
    ), result.records
    assert "[REDACTED]" in json.dumps(result.records)
    nquads = export_nquads(tmp_path)
    assert "llm_auth_error" in nquads
    written = {
        "feed": json.dumps(result.records),
        "log": result.log + result.stdout,
        "graph": nquads,
        "state files": every_file_text(tmp_path),
    }
    for where, text in written.items():
        for secret in (KEY, "hunter2-pass", "alice:"):
            assert secret not in text, f"{secret!r} written in the {where}"
    audit = (tmp_path / "audit.jsonl").read_text()
    assert '"event": "request"' in audit and "[REDACTED]@127.0.0.1" in audit


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Incorrect API key provided: sk-proj-abcDEF123456", "abcDEF123456"),
        ("Authorization: Bearer eyJhbGciOi.J9.abc", "eyJhbGciOi"),
        ("headers {'authorization': 'Basic YWxpY2U6cGFzcw=='}", "YWxpY2U6cGFzcw"),
        ("connect to https://alice:s3cret@llm.internal/v1 failed", "s3cret"),
        ("GET http://llm.internal/v1?api_key=zz9988&x=1", "zz9988"),
        ('{"access_token": "tok-778899"}', "tok-778899"),
        (f"the server echoed {KEY} back", KEY),
    ],
)
def test_redact_text_removes_every_shape_of_credential(monkeypatch, text, secret):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    redacted = redact_text(text)
    assert secret not in redacted and "[REDACTED]" in redacted


def test_log_records_are_redacted_whatever_handler_writes_them(monkeypatch, caplog):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    install_log_redaction()
    logging.getLogger("scraper.test").warning("refused %s", KEY)
    assert KEY not in caplog.text and "refused [REDACTED]" in caplog.text


def fixture_site(names: list[str]) -> dict[str, str]:
    """The named tests/hostile/secdata files at /<name>, and an index linking to each."""
    pages = {f"/{name}": (HOSTILE / name).read_text(encoding="utf-8") for name in names}
    links = "".join(f"<a href='{path}'>{path}</a> " for path in pages)
    return {"/": article("Index", links), **pages}


def test_hostile_json_ld_loses_no_page_and_skips_only_the_bad_block(tmp_path):
    """Lone surrogates and deep nesting, with every LLM call failing (so each page is also
    written to the failures file, where a deep block used to raise RecursionError)."""
    names = [
        "jsonld-lone-surrogate.html",
        "jsonld-nested-900-levels.html",
        "jsonld-nested-100000-levels.html",
        "links-with-stray-percent.html",
    ]
    stray = ["jsonld-lone-surrogate.html?off=100%25", "jsonld-nested-900-levels.html?q=p%25zzq"]
    fake = FakeLLM(lambda body: Reply(status=400, error="this request is not accepted"))
    with serve(fixture_site(names)) as running, serve_fake_llm(fake):
        env = {"OPENAI_BASE_URL": fake.base_url}
        result = run_crawl(tmp_path, {"url": running.url}, FAST_LLM, env)
    assert result.returncode == 0, result.log[-3000:]
    assert "Traceback" not in result.log and "RecursionError" not in result.log
    records = result.by_url()
    assert sorted(records) == sorted([running.url, *(running.url + n for n in names + stray)])
    assert len(result.records) == len(records), "one record per page"
    failed = {line["url"] for line in map(json.loads, (tmp_path / "failures.jsonl").open())}
    assert failed == set(records), "every page reached the failures file"
    surrogate = records[running.url + names[0]]
    product = surrogate["structured_data"]["json-ld"][0]
    assert product["name"] == "Trap \ufffd Deluxe" and product["description"].endswith("\ufffd")
    for name in names[1:3]:
        blocks = records[running.url + name]["structured_data"]["json-ld"]
        assert [b.get("name") for b in blocks] == ["Acme Corporation"], name
        assert f"{running.url}{name}: jsonld_too_deep: JSON-LD block 1" in result.log
    assert "'clean/skipped/jsonld_too_deep': 3" in result.log  # one page twice (?q=)
    nquads = export_nquads(tmp_path)
    assert "Trap \ufffd Deluxe" in nquads
    for name in names + stray:
        assert f"<{running.url}{name}>" in nquads, f"{name} is in the graph"


@contextmanager
def full_disk(folder: Path, room: int = 0) -> Iterator[Path]:
    """A small tmpfs mounted at ``folder``, filled up to ``room`` bytes left (needs root)."""
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        with (folder / "filler").open("wb", buffering=0) as filler, contextlib.suppress(OSError):
            while True:
                filler.write(b"\0" * 4096)
        if room:
            os.truncate(folder / "filler", (folder / "filler").stat().st_size - room)
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def crawl_lines(out: Path) -> list[dict]:
    """The whole JSON lines of a feed (a line the full disk cut short is not one)."""
    lines = out.read_text().splitlines() if out.exists() else []
    return [json.loads(line) for line in lines if line.endswith("}")]


@pytest.mark.parametrize("full", ["output", "cache", "failures", "audit", "journal"])
def test_a_full_disk_stops_the_crawl_with_an_error_and_status_3(tmp_path, full):
    pages = {f"/p{n}": article(f"Page {n}") for n in range(8)}
    site = {"/": article("Index", "".join(f"<a href='{p}'>{p}</a> " for p in pages)), **pages}
    with full_disk(tmp_path / "full", room=8192 if full == "output" else 0) as disk:
        out = (disk if full == "output" else tmp_path) / "out.jsonl"
        # One page at a time, each extracted before the next arrives: the test can tell
        # that no call is made once the crawl is stopping.
        settings = {**state_settings(tmp_path), **FAST_LLM, "CONCURRENT_REQUESTS": "1"}
        settings["DOWNLOAD_DELAY"] = "0.3"
        settings["LLM_AUDIT_LOG"] = str(tmp_path / "audit.jsonl")
        where = {
            "cache": "LLM_CACHE_DIR",
            "failures": "FAILURES_FILE",
            "audit": "LLM_AUDIT_LOG",
            "journal": "JOBDIR",
        }
        if full in where:
            settings[where[full]] = str(disk / "state")
        if full == "failures":
            fake = FakeLLM(lambda body: Reply(status=400, error="not accepted"))
        else:
            fake = FakeLLM()
        with serve(site) as running, serve_fake_llm(fake):
            argv = scrapy_command(["crawl", "semantic"], out, settings, {"url": running.url})
            env = without_openai({"OPENAI_BASE_URL": fake.base_url})
            proc = subprocess.run(argv, cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
        records = crawl_lines(out)
    log = proc.stderr
    assert proc.returncode == 3, log[-3000:]
    assert "Traceback" not in log, log[-5000:]
    stop = f"ERROR: Crawl stopped: cannot write {tmp_path / 'full'}"
    assert stop in log and ("No space left on device" in log or "disk is full" in log), log
    assert "Crawl summary (write_failed" in log
    assert len(records) < len(site), "the crawl stopped"
    report = json.loads(next((tmp_path / "reports").glob("*.json")).read_text())
    assert report["finish_reason"] == "write_failed"
    # Stopped at the first failed write: no LLM call is asked after it (pages already being
    # extracted then were asked before; the log's clock has whole seconds).
    stopped_line = next(line for line in log.splitlines() if "Crawl stopped" in line)
    stopped_at = datetime.strptime(stopped_line[:19], "%Y-%m-%d %H:%M:%S").timestamp() + 1
    to_wall_clock = time.time() - time.monotonic()
    assert all(r.received + to_wall_clock <= stopped_at for r in fake.requests)


# --- crashes: a corrupt cache, torn files, URL lists --------------------------------------


def test_a_corrupt_llm_cache_is_moved_aside_and_the_crawl_runs(tmp_path):
    cache = tmp_path / "llm-cache"
    cache.mkdir()
    (cache / "llm-cache.sqlite3").write_bytes(b"SQLite format 3\0" + os.urandom(3000))
    site = {"/": article("Home Page", "<a href='/a'>a</a>"), "/a": article("Page A")}
    with serve(site) as running, serve_fake_llm() as fake:
        result = run_crawl(
            tmp_path, {"url": running.url}, FAST_LLM, {"OPENAI_BASE_URL": fake.base_url}
        )
    assert result.returncode == 0 and "Traceback" not in result.log, result.log[-3000:]
    assert [r["failures"] for r in result.records] == [[], []]
    assert f"The LLM cache {cache / 'llm-cache.sqlite3'} is unreadable" in result.log
    assert len(list(cache.glob("llm-cache.sqlite3.corrupt-*"))) == 1
    assert len(LLMCache(cache)) == len(fake.requests) == 2  # the new cache holds the answers


async def test_a_cached_value_that_does_not_validate_is_asked_again(tmp_path):
    page = "Acme Corporation was founded by Jane Doe in Springfield."
    with serve_fake_llm() as fake:
        cache = LLMCache(tmp_path)
        await make_extractor(fake, StatsRecorder(), cache=cache).extract_page(
            url="https://a.example/", markdown=page, chunks=chunks_of(page), structured_data={}
        )
        cache._db.execute('UPDATE results SET value = \'{"entities": [{"name": 5\'')
        stats = StatsRecorder()
        outcome = await make_extractor(fake, stats, cache=cache).extract_page(
            url="https://a.example/", markdown=page, chunks=chunks_of(page), structured_data={}
        )
        again = await make_extractor(fake, StatsRecorder(), cache=cache).extract_page(
            url="https://a.example/", markdown=page, chunks=chunks_of(page), structured_data={}
        )
    await close_llm_clients()
    assert outcome.failure is None and stats["llm/cache_invalid"] == 1
    assert {e.name for e in outcome.result.entities} >= {"Acme Corporation", "Jane Doe"}
    assert len(fake.requests) == 2  # asked once more, and the new answer replaced the bad one
    assert again.result.usage["cache_hits"] == 1


def test_a_cache_file_cut_short_reads_as_misses(tmp_path):
    cache = LLMCache(tmp_path)
    for n in range(2000):
        cache.put(f"key-{n}", "x" * 200)
    cache.close()
    path = tmp_path / "llm-cache.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    os.truncate(path, path.stat().st_size // 3)
    reopened = LLMCache(tmp_path)  # opens (or is moved aside), never raises
    assert reopened.get("key-1999") is None
    reopened.put("new", "value")
    assert reopened.get("new") in ("value", None)


def test_torn_and_foreign_lines_of_the_failures_file_are_skipped(tmp_path, caplog):
    path = tmp_path / "failures.jsonl"
    good = {
        "url": "http://a.example/",
        "failed_at": "2026-01-01T00:00:00+00:00",
        "reason": "llm_server_error",
        "detail": "",
        "schema": "schemas.knowledge_graph:KnowledgeGraph",
        "record": {"url": "http://a.example/", "failures": [], "chunks": []},
    }
    path.write_bytes(
        b"\xff\xfe not utf-8\n[1, 2]\n"
        + json.dumps({**good, "record": {**good["record"], "unknown": 1}}).encode()
        + b"\n"
        + json.dumps(good).encode()
        + b'\n{"url": "http://b.example/", "fail'  # torn by a killed process
    )
    failures = FailuresFile(path)
    failures.append([json.dumps({**good, "url": "http://c.example/"}) + "\n"])
    assert sorted(p.record.url for p in failures.read()) == ["http://a.example/"] * 2
    assert len(failures.unreadable) == 4, "the torn line stays alone, the next one is read"


def test_torn_and_unknown_journal_lines_are_skipped(tmp_path, caplog):
    path = tmp_path / "pages.journal"
    path.write_bytes(
        b'{"e": "scheduled", "url": "http://a/", "depth": 0}\n'
        b'{"e": "rescheduled", "url": "http://b/"}\n[]\n\xff\xfe\n"text"\n'
        b'{"e": "scheduled", "url": "http://c/", "depth": 1}\n'
        b'{"e": "done", "url": "http://a/"'  # torn
    )
    journal = CrawlJournal(path)
    journal.schedule("http://d/", 2)
    journal.close()
    assert CrawlJournal(path).pending() == [("http://a/", 0), ("http://c/", 1), ("http://d/", 2)]
    assert "4 line(s) that are not journal events skipped" in caplog.text


def test_a_url_list_is_split_between_urls_not_inside_them():
    listed = parse_arguments({"url": "http://a.example/x,y, https://b.example/?q=1,2"}, "never")
    assert listed.start_urls == ["http://a.example/x,y", "https://b.example/?q=1,2"]
    with pytest.raises(ArgumentError, match=r"'data:text/html,<p>a,b</p>' is not an absolute"):
        parse_arguments({"url": "http://a.example/,data:text/html,<p>a,b</p>"}, "never")


# --- data lost: store outages, retry runs killed, odd URLs ---------------------------------


def test_pages_the_store_could_not_take_stay_pending_for_the_resumed_crawl(tmp_path):
    """The SPARQL endpoint dies mid-crawl: the pages it missed are fetched again on resume."""
    port = free_port()
    pages = {f"/p{n}": article(f"Page {n}") for n in range(5)}
    with oxigraph_server(tmp_path / "oxi", port) as server:

        def kill_store(handler: BaseHTTPRequestHandler) -> Page:
            # Pages are cleaned in worker processes and written in batches, so the store may
            # not have taken a page yet when /p2 is fetched: it dies once it holds one.
            store = SparqlEndpointStore(server.url)
            deadline = time.monotonic() + 30
            while not list(store.pages()) and time.monotonic() < deadline:
                time.sleep(0.1)
            store.close()
            os.kill(server.pid, signal.SIGKILL)  # the store we started dies
            return Page(article("Page 2"))

        site = {
            "/": article("Index", "".join(f"<a href='{p}'>{p}</a> " for p in pages)),
            **pages,
            "/p2": kill_store,
        }
        settings = {
            "GRAPH_STORE": server.url,
            "JOBDIR": str(tmp_path / "job"),
            "GRAPH_STORE_RETRY_TIMES": "0",
            "GRAPH_LEASE_SECONDS": "2",  # the dead crawl's lease is not released: it expires
            "CONCURRENT_REQUESTS": "1",
        }
        with serve(site) as running:
            first = run_crawl(tmp_path, {"url": running.url}, settings)
            stored_first = {r["url"] for r in first.records if r["failures"] == []}
            assert first.returncode == 0, first.log[-3000:]
            assert "Traceback" not in first.log, first.log[-5000:]
            assert len(first.records) == len(site) and stored_first, first.log[-3000:]
            assert len(stored_first) < len(site)
            time.sleep(2)
            with oxigraph_server(tmp_path / "oxi", port):
                second = run_crawl(tmp_path, {"url": running.url}, settings)
                store = SparqlEndpointStore(server.url)
                stored = set(store.pages())
                store.close()
    left = len(site) - len(stored_first)
    assert f"{len(stored_first)} pages finished, {left} pending" in second.log, second.log[-3000:]
    assert stored == {running.url + p.lstrip("/") for p in site}
    assert {r["url"] for r in second.records} == stored - stored_first


def test_urls_with_stray_percent_signs_are_stored_and_not_extracted_again(tmp_path):
    # The server sees the paths validly encoded (a literal % is %25).
    site = {
        "/": article("Home Page", "<a href='/p%zzq'>odd</a> <a href='/100%'>full</a>"),
        "/p%25zzq": article("Odd Page"),
        "/100%25": article("Full Page"),
    }
    with serve(site) as running, serve_fake_llm() as fake:
        env = {"OPENAI_BASE_URL": fake.base_url}
        first = run_crawl(tmp_path, {"url": running.url}, FAST_LLM, env)
        calls = len(fake.requests)
        second = run_crawl(tmp_path, {"url": running.url}, FAST_LLM, env)
    urls = {running.url, running.url + "p%25zzq", running.url + "100%25"}
    for result in (first, second):
        assert result.returncode == 0, result.log[-3000:]
        assert {r["url"] for r in result.records} == urls
        assert all(r["failures"] == [] for r in result.records), result.records
    assert calls == 3 and len(fake.requests) == 3, "the re-crawl of an unchanged site is free"
    assert {r["change"] for r in second.records} == {"unchanged"}
    with EmbeddedStore.open_reader(tmp_path / "graph") as store:
        assert set(store.pages()) == urls


def test_a_killed_retry_failed_run_loses_no_recorded_page(tmp_path):
    state = {"answer": "fail"}

    def responder(body):
        if state["answer"] == "fail":
            return Reply(status=400, error="not accepted")
        if state["answer"] == "hang":
            return Reply({"entities": [], "relations": []}, delay=60)
        return default_responder(body)

    site = {"/": article("Home Page", "<a href='/a'>a</a>"), "/a": article("Page A")}
    with serve(site) as running, serve_fake_llm(FakeLLM(responder)) as fake:
        env = {"OPENAI_BASE_URL": fake.base_url}
        settings = {**state_settings(tmp_path), **FAST_LLM, "LLM_TIMEOUT": "90"}
        crawl = run_crawl(tmp_path, {"url": running.url}, settings, env)
        assert crawl.returncode == 0 and len(FailuresFile(tmp_path / "failures.jsonl").read()) == 2
        state["answer"], asked = "hang", len(fake.requests)
        argv = scrapy_command(["retry_failed"], tmp_path / "killed.jsonl", settings)
        killed = subprocess.Popen(argv, cwd=PROJECT_DIR, env=without_openai(env))
        deadline = time.monotonic() + 60
        while len(fake.requests) == asked and time.monotonic() < deadline:
            time.sleep(0.2)
        os.kill(killed.pid, signal.SIGKILL)  # mid-run, while the LLM is answering
        killed.wait()
        assert (tmp_path / "failures.jsonl.retrying").exists()
        state["answer"] = "ok"
        retry = run_scrapy(
            tmp_path, ["retry_failed"], tmp_path / "retried.jsonl", settings=settings, env=env
        )
    assert retry.returncode == 0, retry.log[-3000:]
    assert "Put back the pages of a retry_failed run that did not finish" in retry.stdout
    assert "Retried 2 of 2 recorded page(s); 0 failed extraction(s)" in retry.stdout
    assert {r["url"] for r in retry.records} == {running.url, running.url + "a"}
    assert all(r["failures"] == [] for r in retry.records)
    assert not (tmp_path / "failures.jsonl.retrying").exists()


@pytest.mark.parametrize(
    "text", ['{"name": "a\\ud800b"}', '{"name": "a\ud800b"}', '{"a\\udfffb": ["a\\ud800b"]}']
)
def test_json_text_with_lone_surrogates_reads_as_valid_text(text):
    value = load_json(text)
    assert "\ufffd" in json.dumps(value, ensure_ascii=False)
    json.dumps(value, ensure_ascii=False).encode("utf-8")  # a UTF-8 writer takes it


def test_an_llm_answer_nested_too_deep_reads_as_no_json():
    deep = '{"entities": [{"name": "Acme", "type": "Thing", "attributes": {"x": ' + "[" * 5000
    answer = parse_answer(deep + "]" * 5000 + "}}]}", KnowledgeGraph)
    assert answer.value is None and answer.error
