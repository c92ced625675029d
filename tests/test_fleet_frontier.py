"""The fleet's Redis side on a real redis-server: the reliable frontier, worker liveness, the
shared LLM cache's claims, fleet-wide spend and politeness (no Scrapy processes)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from scraper.extract.llm import CostMeter, Usage
from scraper.fleet import Fleet, FleetUnavailable, RedisLLMCache, connect
from tests.redis_server import RedisServer, redis_server


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with redis_server(tmp_path_factory.mktemp("redis")) as running:
        yield running


@pytest.fixture
def server(redis: RedisServer) -> RedisServer:
    """The module's Redis, emptied for each test."""
    connect(redis.url, "test", worker_timeout=1).redis.flushdb()
    return redis


def worker(server: RedisServer, timeout: float = 1.0) -> Fleet:
    fleet = connect(server.url, "test", worker_timeout=timeout)
    fleet.join()
    return fleet


def test_an_entry_is_queued_once_taken_by_one_worker_and_finished_by_its_owner(
    server: RedisServer,
) -> None:
    a, b = worker(server), worker(server)
    assert a.push("http://site/p1", b"payload-1", 0) == 1
    assert b.push("http://site/p1", b"again", 0) == 0  # every worker seeds; queued once
    assert a.queued() == 1 and a.seen() == 1
    assert b.pop() == ("http://site/p1", b"payload-1")
    assert a.pop() is None and a.taken() == 1
    assert a.may_record("http://site/p1") == 0, "only the worker holding an entry records it"
    assert b.may_record("http://site/p1") == 1
    assert b.push("http://site/p1", b"a link to it", 0) == 0  # found again on another page
    assert b.push("http://site/p1", b"redirected", 0, taken=True) == 2  # its next request
    assert a.pop() == ("http://site/p1", b"redirected")
    assert a.ack("http://site/p1", {"pages/records": 1, "llm/cost_usd": 0.25})
    assert a.taken() == 0 and a.stats() == {"pages/records": 1.0, "llm/cost_usd": 0.25}


def test_the_entries_of_a_worker_that_stops_beating_go_back_to_the_queue(
    server: RedisServer,
) -> None:
    dead, alive = worker(server, timeout=0.5), worker(server, timeout=0.5)
    for n in range(3):
        dead.push(f"http://site/p{n}", b"x", n)
    assert dead.pop() == ("http://site/p2", b"x")  # highest priority first
    dead.pop()
    assert alive.reclaim() == 0  # it still beats
    time.sleep(0.7)
    alive.beat()
    assert alive.reclaim() == 2 and alive.queued() == 3 and alive.taken() == 0
    assert alive.pop() == ("http://site/p2", b"x")  # back with its priority
    assert not dead.beat(), "a worker presumed dead learns it (and stops)"
    assert dead.may_record("http://site/p2") == 0, "it writes no record of a page given back"
    # A record it wrote before it knew: the page is done, the new owner drops its own record,
    # and the calls it paid count.
    assert not dead.ack("http://site/p2", {"llm/calls": 2})
    assert alive.may_record("http://site/p2") == 2 and alive.taken() == 0
    assert not dead.ack("http://site/p1", {"llm/calls": 1}), "still queued: it leaves the queue"
    assert alive.queued() == 1 and alive.stats() == {"llm/calls": 3.0}


def test_the_last_worker_ends_the_crawl_and_its_state(server: RedisServer) -> None:
    a, b = worker(server), worker(server)
    a.push("http://site/", b"x", 0)
    entry, _ = a.pop()  # type: ignore[misc]
    assert not b.leave({"pages/records": 0}), "a's page is still being crawled"
    assert a.ack(entry, {"pages/records": 1})
    assert a.leave({"item_scraped_count": 1}), "the last worker of an empty frontier"
    crawl = a.crawl_id()
    a.finish()
    assert a.redis.keys("test:*") == [b"test:last-stats"]
    assert a.redis.hgetall("test:last-stats") == {
        b"pages/records": b"1",
        b"item_scraped_count": b"1",
    }
    assert a.crawl_id() != crawl, "the next crawl is a new one"


def test_one_worker_pays_for_a_chunk_another_waits_and_a_dead_ones_claim_ends(
    server: RedisServer,
) -> None:
    a, b = worker(server, timeout=0.5), worker(server, timeout=0.5)
    cache_a = RedisLLMCache(a, claim_seconds=60, key="test-cache")
    cache_b = RedisLLMCache(b, claim_seconds=60, key="test-cache")
    assert cache_a.claim("k1") and not cache_b.claim("k1")
    cache_a.put("k1", '{"entities": []}')
    assert cache_b.get("k1") == '{"entities": []}' and len(cache_b) == 1
    assert cache_a.claim("k2")
    cache_a.release("k2")  # its call failed: another may pay
    assert cache_b.claim("k2")
    time.sleep(0.7)  # b stops beating while it holds k2's claim
    a.beat()
    assert cache_a.claim("k2"), "the claim of a dead worker ends"


def test_the_budget_and_the_politeness_slot_are_the_fleets(server: RedisServer) -> None:
    a, b = worker(server), worker(server)
    meter_a, meter_b = CostMeter(1.0, shared=a), CostMeter(1.0, shared=b)
    meter_a.add(Usage(calls=1, cost_usd=0.6))
    assert not meter_b.exhausted
    meter_b.add(Usage(calls=1, prompt_tokens=700, completion_tokens=20, cost_usd=0.5))
    assert meter_a.exhausted and meter_a.spent_usd == pytest.approx(1.1)
    # Counted as they are paid, not with a page's ack: a worker killed next loses none.
    assert a.stats() == {
        "llm/calls": 2.0,
        "llm/prompt_tokens": 700.0,
        "llm/completion_tokens": 20.0,
        "llm/cost_usd": pytest.approx(1.1),
    }
    waits = [f.politeness_wait("site.example", 0.2) for f in (a, b, a, b)]
    assert waits[0] == 0 and waits == sorted(waits)
    assert [round(w, 1) for w in waits[1:]] == [0.2, 0.4, 0.6]


def test_an_unreachable_redis_is_one_line() -> None:
    with pytest.raises(FleetUnavailable, match=r"Redis at redis://:\*\*\*@127.0.0.1:1/0 is"):
        connect("redis://:secret@127.0.0.1:1/0", "test", worker_timeout=1)


def test_the_graph_lock_of_a_worker_that_stops_beating_ends_with_its_heartbeat(
    server: RedisServer,
) -> None:
    dead, alive = worker(server, timeout=0.5), worker(server, timeout=0.5)
    dead.graph_lock(timeout=60).__enter__()  # killed while it writes a page: never released
    time.sleep(0.7)
    alive.beat()
    waiting = time.monotonic()
    with alive.graph_lock(timeout=60):
        waited = time.monotonic() - waiting
    assert waited < 5, "not the lock's 60 s"
    with alive.graph_lock(timeout=60):  # released: taken at once
        assert alive.redis.get("test:graph-lock").startswith(alive.worker.encode())


def test_the_last_workers_leave_together_and_a_killed_one_counts_until_presumed_dead(
    server: RedisServer,
) -> None:
    a, b = worker(server, 0.5), worker(server, 0.5)
    worker(server, 0.5)  # killed with -9: it joined and never beats again
    assert a.done() == 2, "b and the killed worker may still queue pages"
    assert b.done() == 1
    time.sleep(0.7)  # the killed worker stops beating
    a.beat()
    b.beat()
    assert a.done() == 0 and b.done() == 0
    assert not a.leave({}), "b has not left"
    assert b.leave({}), "the last worker ends the crawl"
