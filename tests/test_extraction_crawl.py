"""The extraction pipeline inside real ``scrapy crawl`` runs, with the fake LLM."""

from __future__ import annotations

import json

import pytest

from scraper.graph import open_store
from scraper.graph.queries import entity_lines
from tests.crawling import run_crawl, run_scrapy
from tests.fake_llm import FakeLLM, Reply, knowledge_graph_answer, page_text, serve_fake_llm
from tests.processes import free_port
from tests.sites import serve

FAST_LLM = {"LLM_BACKOFF_INITIAL": "0.01", "LLM_BACKOFF_MAX": "0.05", "LLM_TIMEOUT": "5"}

ORG_JSON_LD = json.dumps(
    {
        "@context": "https://schema.org",
        "@type": "Organization",
        "@id": "https://acme.example/#org",
        "name": "Acme Corporation",
        "founder": {"@type": "Person", "name": "Jane Doe"},
    }
)


def page(title: str, body: str = "", head: str = "") -> str:
    return (
        f"<html lang='en'><head><title>{title}</title>{head}</head><body><main><article>"
        f"<h1>{title}</h1><p>{title} tells how Acme Corporation was founded by Jane Doe in "
        "Springfield, and how its Road Runner Trap became a bestseller in the desert.</p>"
        f"<p>{body}</p></article></main></body></html>"
    )


def site_of(pages: dict[str, str]) -> dict[str, str]:
    index = "".join(f"<a href='{path}'>{path}</a> " for path in pages)
    return {"/": page("Home Page", index + "<a href='/missing'>gone</a>"), **pages}


def retry_failed(tmp_path, env: dict[str, str], settings: dict[str, str]):
    """``scrapy retry_failed -O retried.jsonl`` with the settings of ``run_crawl``."""
    return run_scrapy(
        tmp_path, ["retry_failed"], tmp_path / "retried.jsonl", settings=settings, env=env
    )


def failures_file(tmp_path) -> list[dict]:
    path = tmp_path / "failures.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def flaky_llm():
    """Pages whose text says FAULT fail with 500s until ``fake.healed`` is set."""
    fake = FakeLLM()

    def responder(body):
        if "FAULT" in page_text(body) and not getattr(fake, "healed", False):
            return Reply(status=500)
        return Reply(knowledge_graph_answer(page_text(body)))

    fake.responder = responder
    return fake


def test_crawl_extracts_records_failures_caches_and_retries(tmp_path):
    pages = {f"/p{i}": page(f"Page Number{i} Report") for i in range(6)}
    pages["/bad"] = page("Bad Page", "FAULT injected here.")
    with serve(site_of(pages)) as site, serve_fake_llm(flaky_llm()) as fake:
        env = {"OPENAI_BASE_URL": fake.base_url}
        settings = {**FAST_LLM, "LLM_MAX_RETRIES": "1"}
        first = run_crawl(tmp_path, {"url": site.url, "render": "never"}, settings, env)
        calls_first = len(fake.requests)
        second = run_crawl(tmp_path, {"url": site.url, "render": "never"}, settings, env)
        calls_second = len(fake.requests) - calls_first
        fake.healed = True
        retry = retry_failed(tmp_path, env, settings)
        retried = retry.records
    assert first.returncode == 0, first.log[-3000:]
    records = first.by_url()
    assert len(records) == 9  # home, 6 pages, the bad page, the 404
    missing = records[site.url + "missing"]
    assert missing["extraction"] is None  # an earlier failure passes untouched
    assert [f["reason"] for f in missing["failures"]] == ["http_404"]
    bad = records[site.url + "bad"]
    assert bad["extraction"]["status"] == "failed"
    assert bad["extraction"]["failure_reason"] == "llm_server_error"
    assert bad["failures"][0]["stage"] == "extract"
    ok = [r for url, r in records.items() if url not in (site.url + "bad", site.url + "missing")]
    assert {r["extraction"]["status"] for r in ok} == {"ok"}
    for record in ok:
        names = {e["name"] for e in record["extraction"]["entities"]}
        assert {"Acme Corporation", "Jane Doe", "Road Runner Trap"} <= names
        assert record["extraction"]["usage"]["calls"] == 1
    assert "Crawl summary" in first.log and "extract/llm_server_error: 1" in first.log
    assert "'llm/calls': 9" in first.log  # 7 good pages + 2 attempts for the bad one
    # The re-run of the unchanged site costs no LLM call: the good pages come from the cache,
    # and the failed one waits for `scrapy retry_failed` (no call paid twice for it).
    assert second.returncode == 0
    assert calls_second == 0
    assert second.by_url()[site.url + "bad"]["extraction"]["failure_reason"] == "llm_not_retried"
    assert all(
        r["extraction"]["usage"]["cache_hits"] == 1
        for u, r in second.by_url().items()
        if u not in (site.url + "bad", site.url + "missing")
    )
    # Failed pages were recorded (once per crawl) and the retry command extracts them.
    assert retry.returncode == 0, retry.log[-3000:]
    assert [r["url"] for r in retried] == [site.url + "bad"]
    assert retried[0]["extraction"]["status"] == "ok" and retried[0]["failures"] == []
    assert "Retried 1 of 1" in retry.stdout
    assert failures_file(tmp_path) == []


def test_without_llm_the_crawl_uses_structured_data_and_says_so_once(tmp_path):
    head = f"<script type='application/ld+json'>{ORG_JSON_LD}</script>"
    pages = {"/about": page("About Us", head=head), "/team": page("Our Team", head=head)}
    with serve(site_of(pages)) as site:
        result = run_crawl(tmp_path, {"url": site.url, "render": "never"})
    assert result.returncode == 0, result.log[-3000:]
    about = result.by_url()[site.url + "about"]["extraction"]
    assert about["status"] == "structured_data_only" and about["model"] is None
    assert {(e["name"], e["origin"]) for e in about["entities"]} == {
        ("Acme Corporation", "structured_data"),
        ("Jane Doe", "structured_data"),
    }
    assert about["relations"][0]["type"] == "founder"
    assert result.log.count("No LLM configured") == 1
    assert "OPENAI_BASE_URL" in result.log


def structured_site(count: int) -> dict[str, str]:
    """``count`` pages, each with the same Organization JSON-LD."""
    head = f"<script type='application/ld+json'>{ORG_JSON_LD}</script>"
    return site_of({f"/p{i}": page(f"Page Number{i} Report", head=head) for i in range(count)})


def stored_names(tmp_path) -> set[str]:
    with open_store(str(tmp_path / "graph"), write=False) as store:
        return {e["name"] for e in entity_lines(store)}


def test_budget_stops_the_spending_not_the_crawl(tmp_path):
    with serve(structured_site(30)) as site, serve_fake_llm(FakeLLM(latency=0.05)) as fake:
        env = {"OPENAI_BASE_URL": fake.base_url}
        settings = {**FAST_LLM, "LLM_BUDGET_USD": "0.0005", "CONCURRENT_REQUESTS": "2"}
        result = run_crawl(tmp_path, {"url": site.url, "render": "never"}, settings, env)
        calls = len(fake.requests)
        recorded = failures_file(tmp_path)
        retry = retry_failed(tmp_path, env, {**settings, "LLM_BUDGET_USD": "1"})
    assert result.returncode == 0, result.log[-3000:]
    assert "LLM budget of $0.0005 reached" in result.log
    assert result.log.count("no more LLM calls") == 1
    assert calls < 31  # it stopped spending before extracting the whole site
    # No page is lost: all 32 are recorded, those the LLM missed with their structured data.
    assert len(result.records) == 32
    extracted = [r for r in result.records if r["extraction"]]
    assert sum(r["extraction"]["status"] == "ok" for r in extracted) >= 1
    not_extracted = [r for r in extracted if r["extraction"]["status"] != "ok"]
    assert len(not_extracted) > 10
    for record in not_extracted:
        assert record["extraction"]["failure_reason"] == "llm_budget_exceeded"
        assert {"Acme Corporation", "Jane Doe"} <= {
            e["name"] for e in record["extraction"]["entities"]
        }
    assert {f["url"] for f in recorded} == {r["url"] for r in not_extracted}
    # `scrapy retry_failed` with more budget finishes the job.
    assert retry.returncode == 0, retry.log[-3000:]
    assert {r["url"] for r in retry.records} == {r["url"] for r in not_extracted}
    assert {r["extraction"]["status"] for r in retry.records} == {"ok"}
    assert failures_file(tmp_path) == []


@pytest.mark.parametrize(
    ("reply", "reason", "fix"),
    [
        (
            Reply(status=401, error="Incorrect API key provided: sk-wrong123456"),
            "llm_auth_error",
            "set OPENAI_API_KEY",
        ),
        (
            Reply(status=404, error="The model `gpt-4o-mini` does not exist"),
            "llm_model_not_found",
            "set LLM_MODEL",
        ),
    ],
)
def test_a_server_that_refuses_every_call_is_asked_once(tmp_path, reply, reason, fix):
    with serve(structured_site(12)) as site, serve_fake_llm(FakeLLM(lambda b: reply)) as fake:
        result = run_crawl(
            tmp_path, {"url": site.url, "render": "never"}, FAST_LLM,
            {"OPENAI_BASE_URL": fake.base_url},
        )  # fmt: skip
        calls = len(fake.requests)
    assert_llm_stopped(tmp_path, result, reason, fix, pages=14)
    assert calls == 1


def test_a_server_that_is_not_listening_is_tried_a_few_times(tmp_path):
    with serve(structured_site(12)) as site:
        result = run_crawl(
            tmp_path, {"url": site.url, "render": "never"},
            {**FAST_LLM, "LLM_FAIL_FAST_AFTER": "3"},
            {"OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1"},
        )  # fmt: skip
    assert_llm_stopped(tmp_path, result, "llm_unreachable", "set OPENAI_BASE_URL", pages=14)
    assert "'llm/calls': 3," in result.log


def assert_llm_stopped(tmp_path, result, reason: str, fix: str, pages: int) -> None:
    """The crawl went on without the LLM: one ERROR line, every page and its JSON-LD kept."""
    assert result.returncode == 0, result.log[-3000:]
    errors = [line for line in result.log.splitlines() if " ERROR: " in line]
    assert len(errors) == 1 and "LLM calls stopped" in errors[0] and fix in errors[0]
    assert "Traceback" not in result.log and "sk-wrong123456" not in result.log
    assert len(result.records) == pages
    extracted = [r for r in result.records if r["extraction"]]
    assert {r["extraction"]["failure_reason"] for r in extracted} == {reason}
    assert {"Acme Corporation", "Jane Doe"} <= stored_names(tmp_path)
    assert {f["url"] for f in failures_file(tmp_path)} == {r["url"] for r in extracted}


@pytest.mark.parametrize("schema", ["schemas.product:Product"])
def test_a_schema_named_on_the_command_line_is_used(tmp_path, schema):
    answer = {"name": "Road Runner Trap", "brand": {"name": "Acme Corporation"}}
    with serve(site_of({})) as site, serve_fake_llm(FakeLLM(lambda b: Reply(answer))) as fake:
        result = run_crawl(
            tmp_path,
            {"url": site.url, "render": "never", "schema": schema},
            FAST_LLM,
            {"OPENAI_BASE_URL": fake.base_url},
        )
        formats = {r.body["response_format"]["json_schema"]["name"] for r in fake.requests}
    assert result.returncode == 0, result.log[-3000:]
    home = result.by_url()[site.url]["extraction"]
    assert home["schema"] == schema and formats == {"Product"}
    assert home["data"]["brand"] == {"name": "Acme Corporation", "url": None}
    names = {e["ref"]: e["name"] for e in home["entities"]}  # relation ends are refs
    assert [(names[r["source"]], r["type"], names[r["target"]]) for r in home["relations"]] == [
        ("Road Runner Trap", "brand", "Acme Corporation")
    ]


def test_a_bad_line_in_the_failures_file_is_skipped_and_the_rest_retried(tmp_path):
    pages = {"/bad1": page("Bad One", "FAULT one."), "/bad2": page("Bad Two", "FAULT two.")}
    with serve(site_of(pages)) as site, serve_fake_llm(flaky_llm()) as fake:
        env = {"OPENAI_BASE_URL": fake.base_url}
        settings = {**FAST_LLM, "LLM_MAX_RETRIES": "0"}
        run_crawl(tmp_path, {"url": site.url, "render": "never"}, settings, env)
        path = tmp_path / "failures.jsonl"
        first, second = path.read_text().splitlines(keepends=True)
        # A hand edit in the middle, and a last line cut short by a killed process.
        path.write_text(first + "not json\n" + second + second[:40] + "\n")
        fake.healed = True
        retry = retry_failed(tmp_path, env, settings)
    assert retry.returncode == 0, retry.log[-3000:]
    assert sorted(r["url"] for r in retry.records) == [site.url + "bad1", site.url + "bad2"]
    assert {r["extraction"]["status"] for r in retry.records} == {"ok"}
    warnings = [line for line in retry.log.splitlines() if "not a failure record" in line]
    assert len(warnings) == 2 and "WARNING" in warnings[0]
    assert f"{path}:2: not a failure record, skipped" in warnings[0]
    assert f"{path}:4: not a failure record, skipped" in warnings[1]
    assert "Traceback" not in retry.log and "Retried 2 of 2" in retry.stdout
    kept = tmp_path / "failures.jsonl.unreadable"
    assert kept.read_text() == "not json\n" + second[:40] + "\n"
    assert f"Kept 2 unreadable line(s) in {kept}." in retry.stdout
    assert failures_file(tmp_path) == []


def test_retry_failed_with_a_count_below_one_is_one_line_and_moves_no_file(tmp_path):
    failures = tmp_path / "failures.jsonl"
    failures.write_text('{"url": "http://127.0.0.1:9/"}\n')
    result = retry_failed(tmp_path, {}, {"GRAPH_WRITE_BATCH": "0"})
    assert result.returncode == 1
    assert result.log.splitlines()[-1] == (
        "error: GRAPH_WRITE_BATCH must be a whole number >= 1, not '0'"
    )
    assert failures.read_text() == '{"url": "http://127.0.0.1:9/"}\n'
    assert not (tmp_path / "failures.jsonl.retrying").exists()
