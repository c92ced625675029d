"""The worker processes of the CPU-bound stages: every call ends with a result or a failure
with a reason, and a worker that hung, died or ran out of memory is replaced."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scraper.clean.pool import CleanFailed, CleanPool
from tests.crawling import PROJECT_DIR, run_crawl
from tests.sites import Page, serve

NESTED_TABLES = Path(__file__).parent / "hostile" / "bounds" / "nested-tables.html"

ARTICLE = (
    "<html lang='en'><head><title>{title}</title></head><body><main><h1>{title}</h1>"
    "<p>Acme Corporation makes anvils in Springfield. Jane Doe founded it in 1999 and has "
    "run it since, selling to hardware shops all over the state.</p>{links}</main></body></html>"
)


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _allocate(megabytes: int) -> int:
    return len(bytearray(megabytes * 2**20))


@pytest.fixture(scope="module")
def pool():
    workers = CleanPool(workers=1, timeout=1, max_memory_mb=1024)
    workers.start()
    yield workers
    workers.close()


async def _failure(pool: CleanPool, function, *args) -> CleanFailed:
    with pytest.raises(CleanFailed) as raised:
        await pool.run(function, *args)
    return raised.value


async def test_a_call_past_the_time_limit_is_clean_timeout_and_the_next_call_runs(pool):
    started = time.monotonic()
    failure = await _failure(pool, time.sleep, 60)
    assert failure.reason == "clean_timeout"
    assert "1 s (CLEAN_TIMEOUT)" in failure.detail
    assert time.monotonic() - started < 30
    assert await pool.run(len, "next page") == 9


def _locales_compiled() -> int:
    """How many of dateparser's locales have their patterns compiled in this process."""
    from dateparser.languages.dictionary import Dictionary

    return sum(len(locales) for locales in Dictionary._split_regex_cache.values())


async def test_workers_start_warm_even_after_a_replacement(pool):
    # Compiling every locale's patterns takes ~2 s, more than this pool's time limit: a
    # worker that did it on its first page would fail the page.
    assert await pool.run(_locales_compiled) >= 100
    await _failure(pool, _die)
    assert await pool.run(_locales_compiled) >= 100


_LOOP_WHILE_STARTING = """
import asyncio
from scraper.clean.pool import CleanPool

async def main():
    pool = CleanPool(workers=1, timeout=30, max_memory_mb=1024)
    pool.start()  # as the crawl does when its engine starts
    ticks = 0
    first = asyncio.ensure_future(pool.run(len, "page"))
    while not first.done():
        ticks += 1
        await asyncio.sleep(0.01)
    print(ticks, first.result())
    pool.close()

asyncio.run(main())
"""


def test_the_event_loop_runs_while_the_workers_start():
    # In a fresh process: its forkserver warms up (seconds) before the first worker exists,
    # and the crawl's downloads go on meanwhile.
    done = subprocess.run(
        [sys.executable, "-c", _LOOP_WHILE_STARTING],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT_DIR,
    )
    assert done.returncode == 0, done.stderr
    ticks, result = done.stdout.split()
    assert result == "4" and int(ticks) >= 20, done.stdout


async def test_a_killed_worker_is_clean_crashed_and_replaced(pool):
    failure = await _failure(pool, _die)
    assert (failure.reason, failure.detail) == (
        "clean_crashed",
        "the worker process died (exit code -9)",
    )
    assert await pool.run(len, "next page") == 9


async def test_a_worker_past_its_memory_limit_is_clean_crashed(pool):
    failure = await _failure(pool, _allocate, 2048)
    assert (failure.reason, failure.detail) == (
        "clean_crashed",
        "out of memory (CLEAN_MAX_MEMORY_MB=1024)",
    )
    assert await pool.run(_allocate, 100) == 100 * 2**20


async def test_an_exception_is_clean_error_with_its_message(pool):
    failure = await _failure(pool, int, "not a number")
    assert failure.reason == "clean_error"
    assert failure.detail == "ValueError: invalid literal for int() with base 10: 'not a number'"


async def test_room_waits_while_the_worker_has_two_calls(pool):
    calls = [asyncio.ensure_future(pool.run(time.sleep, 0.5)) for _ in range(2)]
    await asyncio.sleep(0)  # both started: running or queued
    room = asyncio.ensure_future(pool.room())
    await asyncio.sleep(0.2)
    assert not room.done()
    assert pool.waiting == 1  # a fleet worker takes no more pages while it waits
    await asyncio.wait_for(room, 10)
    assert calls[0].done() and pool.calls == 1 and pool.waiting == 0
    await asyncio.gather(*calls)


async def test_inline_calls_fail_the_same_way():
    inline = CleanPool(workers=0, timeout=1, max_memory_mb=1024)
    assert await inline.run(len, "page") == 4
    failure = await _failure(inline, int, "not a number")
    assert failure.reason == "clean_error"


def _site(*extra_paths: str) -> dict[str, str | Page]:
    """A home page linking three articles (and ``extra_paths``), and the articles."""
    articles = [f"/page-{n}" for n in range(1, 4)]
    links = "".join(f"<a href='{path}'>{path}</a> " for path in [*articles, *extra_paths])
    site: dict[str, str | Page] = {"/": ARTICLE.format(title="Home", links=links)}
    site |= {path: ARTICLE.format(title=path, links="") for path in articles}
    return site


def _assert_cleaned(record: dict) -> None:
    assert record["failures"] == [], record["failures"]
    assert "Acme Corporation makes anvils" in record["markdown"]
    assert record["chunks"] and record["render_reason"] is None


def test_a_page_past_the_time_limit_is_a_clean_timeout_record_and_the_crawl_goes_on(tmp_path):
    site = _site("/nested-tables")
    site["/nested-tables"] = Page(NESTED_TABLES.read_bytes(), content_type="text/html")
    with serve(site) as running:
        started = time.monotonic()
        result = run_crawl(tmp_path, {"url": running.url, "render": "auto"}, {"CLEAN_TIMEOUT": "2"})
        elapsed = time.monotonic() - started
    assert result.returncode == 0, result.log[-3000:]
    records = result.by_url()
    assert sorted(records) == sorted(f"{running.url}{path[1:]}" for path in site)
    nested = records.pop(f"{running.url}nested-tables")
    assert [(f["stage"], f["reason"]) for f in nested["failures"]] == [("clean", "clean_timeout")]
    assert nested["failures"][0]["detail"] == "no result after 2 s (CLEAN_TIMEOUT)"
    for record in records.values():
        _assert_cleaned(record)
    assert "'clean/failed/clean_timeout': 1" in result.log
    assert elapsed < 60  # the page alone takes 21 s of CPU


def test_a_crawl_with_the_stages_inline_cleans_and_chunks_every_page(tmp_path):
    site = _site()
    with serve(site) as running:
        result = run_crawl(tmp_path, {"url": running.url, "render": "auto"}, {"CLEAN_WORKERS": "0"})
    assert result.returncode == 0, result.log[-3000:]
    records = result.by_url()
    assert sorted(records) == sorted(f"{running.url}{path[1:]}" for path in site)
    for record in records.values():
        _assert_cleaned(record)
