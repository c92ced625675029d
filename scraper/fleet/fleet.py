"""The Redis state of one crawl shared by many workers (``FLEET_NAME`` keys in ``REDIS_URL``).

Keys, all starting with ``FLEET_NAME:`` (``semantic`` by default):

- ``queue`` (sorted set of entry keys by priority), ``payloads`` and ``scores`` (hashes: the
  serialized request and its score of each entry), ``owners`` (hash: entry key -> worker that
  took it). Taking a request moves it from ``queue`` to ``owners`` in one script; it leaves
  ``owners`` once its page record is written to the worker's feed (``ack``), or goes back to
  ``queue`` when its worker stops beating (``reclaim``): a worker killed with -9 loses no
  page. ``recorded`` (set): entries another worker crawls whose record a worker presumed
  dead wrote after all (its owner drops its own record).
- ``dupefilter`` (set of the sha1 of every entry key queued, as scrapy-redis's dupefilter
  keeps request fingerprints; checked and filled in the same step as the queue).
- ``workers`` (sorted set: worker -> time of its last heartbeat, Redis's own clock), ``done``
  (set: the workers that found nothing left to crawl and wait for the others to be done).
- ``crawl`` (the crawl's id and start time), ``stats`` (hash: the crawl's Scrapy stats summed
  over its workers, added with each page's ack and by each leaving worker; the LLM's calls,
  tokens and cost as each call is paid), ``spend`` (dollars spent on the LLM), ``failures``
  (list of failures-file lines), ``graph-lock``, ``politeness:<host>``;
  ``last-stats``: the ``stats`` of the last crawl that ended.

Everything but the LLM cache (``scraper.fleet.cache``) is deleted when the crawl ends (its last
worker leaves an empty frontier), so the next crawl (a scheduled re-crawl) starts afresh.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis

from scraper.extract.llm.cost import Usage, paid_stats

# push: a request this worker took from the queue and holds goes back to it (a redirect, a
# rendering, a retry of its page: ARGV[5] is 1); any other is queued unless the dupefilter has
# it already (a link to a page this worker is crawling is such a one): seen and queued in one
# step, so no entry is ever seen without being queued.
_PUSH = """
local queued = 1
if ARGV[5] == '1' and redis.call('HGET', KEYS[4], ARGV[1]) == ARGV[4] then
  redis.call('HDEL', KEYS[4], ARGV[1])
  queued = 2
elseif redis.call('SADD', KEYS[5], redis.sha1hex(ARGV[1])) == 0 then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return queued
"""
_POP = """
local item = redis.call('ZPOPMIN', KEYS[1])
if #item == 0 then return false end
redis.call('HSET', KEYS[3], item[1], ARGV[1])
return {item[1], redis.call('HGET', KEYS[2], item[1])}
"""
# may record: 1 when this worker holds the entry and no other wrote its record; 0 when it
# does not hold it (it was presumed dead and the entry given back); 2 when a worker presumed
# dead wrote the page's record after all: the entry is finished here, without a second record.
_MAY_RECORD = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
if redis.call('SREM', KEYS[4], ARGV[1]) == 0 then return 1 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 2
"""
# ack: the entry's record is written; the stats of the work are added in the same step, even
# when the entry was given back meanwhile (a worker presumed dead, yet alive: its calls were
# paid and its record is in its feed). Such a late record finishes the page all the same: a
# queued entry leaves the queue, one another worker crawls is marked recorded (its record is
# dropped, _MAY_RECORD). 1 when this worker held the entry, else 0.
_ACK = """
for i = 3, #ARGV, 2 do redis.call('HINCRBYFLOAT', KEYS[4], ARGV[i], ARGV[i + 1]) end
local owner = redis.call('HGET', KEYS[1], ARGV[1])
if owner == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
  redis.call('SREM', KEYS[6], ARGV[1])
  return 1
end
if redis.call('ZREM', KEYS[5], ARGV[1]) == 1 then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
elseif owner then
  redis.call('SADD', KEYS[6], ARGV[1])
end
return 0
"""
_NOW = "local t = redis.call('TIME'); local now = tonumber(t[1]) + tonumber(t[2]) / 1000000\n"
# beat: 1 while the worker is a member; 0 once others presumed it dead (it must stop).
_BEAT = (
    _NOW
    + """
if ARGV[2] == '0' and not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[1])
return 1
"""
)
# reclaim: entries of workers whose last beat is older than ARGV[1] seconds (or that are no
# members any more) go back to the queue with their priority.
_RECLAIM = (
    _NOW
    + """
for _, w in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))) do
  redis.call('ZREM', KEYS[1], w)
end
local owners = redis.call('HGETALL', KEYS[2])
local moved = 0
for i = 1, #owners, 2 do
  if not redis.call('ZSCORE', KEYS[1], owners[i + 1]) then
    redis.call('HDEL', KEYS[2], owners[i])
    redis.call('ZADD', KEYS[3], redis.call('HGET', KEYS[4], owners[i]) or 0, owners[i])
    moved = moved + 1
  end
end
return moved
"""
)
# leave: the worker's last stats are added and it leaves; 1 when it was the crawl's last
# worker and the frontier is empty (the crawl is over).
_LEAVE = (
    _NOW
    + """
for i = 3, #ARGV, 2 do redis.call('HINCRBYFLOAT', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[5], ARGV[1])
local alive = redis.call('ZCOUNT', KEYS[1], now - tonumber(ARGV[2]), '+inf')
if alive == 0 and redis.call('ZCARD', KEYS[3]) == 0 and redis.call('HLEN', KEYS[4]) == 0 then
  return 1
end
return 0
"""
)
# done: this worker found nothing left to crawl; how many other live workers have not (they
# may still queue pages). A worker killed with -9 counts until it is presumed dead.
_DONE = (
    _NOW
    + """
redis.call('SADD', KEYS[2], ARGV[1])
local others = 0
for _, w in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[2]), '+inf')) do
  if w ~= ARGV[1] and redis.call('SISMEMBER', KEYS[2], w) == 0 then others = others + 1 end
end
return others
"""
)
# politeness: the time (seconds from now) this request to a host may start, so that requests
# to it from the whole fleet are ARGV[1] seconds apart.
_SLOT = (
    _NOW
    + """
local at = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local delay = tonumber(ARGV[1])
redis.call('SET', KEYS[1], tostring(at + delay), 'PX', math.ceil((at + delay - now) * 1000) + 1000)
return tostring(at - now)
"""
)
# free lock: the lock is deleted only if it is still the dead holder's.
_FREE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
"""
# Waiting for the graph lock: a short poll (page writes of the fleet pass one at a time, and
# redis-py polls every 0.1 s), and a look at its holder's heartbeat every second.
_LOCK_POLL_SECONDS = 0.01
_LOCK_LIVENESS_INTERVAL = 1.0
CRAWL_KEYS = (
    "queue",
    "payloads",
    "scores",
    "owners",
    "dupefilter",
    "workers",
    "crawl",
    "stats",
    "spend",
    "failures",
    "recorded",
    "done",
)


class FleetUnavailable(Exception):
    """Redis cannot be reached (or refused a command); the message is one line for users."""


def safe_url(url: str) -> str:
    """``url`` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{netloc}"))


def unavailable(url: str, exc: Exception) -> FleetUnavailable:
    return FleetUnavailable(
        f"Redis at {safe_url(url)} is unreachable ({exc}); start it (redis-server) or fix "
        "REDIS_URL, then start the workers again: the crawl resumes where it stopped"
    )


def connect(url: str, name: str, *, worker_timeout: float) -> Fleet:
    """The fleet ``name`` in the Redis at ``url``; FleetUnavailable when Redis does not answer."""
    try:
        client = redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=10)
        client.ping()
    except (redis.RedisError, ValueError) as exc:
        raise unavailable(url, exc) from None
    worker = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    return Fleet(client, url, name, worker, worker_timeout)


@dataclass
class Fleet:
    """One worker's handle on the crawl's shared state (Redis errors are raised as they are)."""

    redis: redis.Redis
    url: str
    name: str
    worker: str
    worker_timeout: float
    _scripts: dict[str, object] = field(default_factory=dict, repr=False)

    def key(self, suffix: str) -> str:
        return f"{self.name}:{suffix}"

    def _run(self, name: str, source: str, keys: list[str], args: list[object]) -> Any:
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = self.redis.register_script(source)
        return script(keys=keys, args=args)  # type: ignore[operator]

    # --- the crawl and its workers ----------------------------------------------
    def join(self) -> str:
        """Register this worker (its first heartbeat); the crawl's id."""
        self.beat(first=True)
        return self.crawl_id()

    def crawl_id(self) -> str:
        """The id of the crawl the fleet runs; the first to ask begins a new one."""
        self.redis.set(self.key("crawl"), uuid.uuid4().hex[:12], nx=True)
        return text(self.redis.get(self.key("crawl")))

    def lease_holder(self, crawl: str) -> str:
        """The holder of the graph store's writer lease: the crawl, not one of its workers."""
        return f"fleet crawl {crawl} ({self.name} in {safe_url(self.url)})"

    def beat(self, *, first: bool = False) -> bool:
        """Tell the fleet this worker is alive; False once it was presumed dead."""
        alive = self._run(
            "beat", _BEAT, [self.key("workers")], [self.worker, "1" if first else "0"]
        )
        return bool(alive)

    def workers(self) -> int:
        """Workers that beat within the worker timeout."""
        now = self._time()
        return int(self.redis.zcount(self.key("workers"), now - self.worker_timeout, "+inf"))

    def alive(self, worker: str) -> bool:
        """Whether ``worker`` beat within the worker timeout."""
        beat = self.redis.zscore(self.key("workers"), worker)
        return beat is not None and beat >= self._time() - self.worker_timeout

    def _time(self) -> float:
        seconds, micros = self.redis.time()
        return seconds + micros / 1e6

    def leave(self, stats: Mapping[str, float]) -> bool:
        """Add this worker's last stats and leave; True when the crawl is over (this was its
        last worker and nothing is left to crawl)."""
        keys = [self.key(k) for k in ("workers", "stats", "queue", "owners", "done")]
        args: list[object] = [self.worker, self.worker_timeout, *_pairs(stats)]
        return bool(self._run("leave", _LEAVE, keys, args))

    def done(self) -> int:
        """Mark this worker as one that found nothing left to crawl; the other live workers
        that have not (yet): the last workers of a crawl leave together once this is 0, so
        the very last one ends the crawl even when another was killed with -9 meanwhile."""
        keys = [self.key("workers"), self.key("done")]
        return int(self._run("done", _DONE, keys, [self.worker, self.worker_timeout]))

    def crawling(self) -> None:
        """This worker crawls again (pages were queued after it was done)."""
        self.redis.srem(self.key("done"), self.worker)

    def finish(self) -> None:
        """Delete the crawl's state (the LLM cache stays): the next crawl starts afresh. Its
        summed stats are kept as ``last-stats`` (for monitoring) until the next crawl ends."""
        pipe = self.redis.pipeline()
        if self.redis.exists(self.key("stats")):
            pipe.rename(self.key("stats"), self.key("last-stats"))
        pipe.delete(*(self.key(k) for k in CRAWL_KEYS))
        pipe.execute()

    # --- the frontier -------------------------------------------------------------
    def push(self, entry: str, payload: bytes, priority: int, *, taken: bool = False) -> int:
        """Queue ``entry``: 1 queued, 0 not (the crawl has seen it already: the dupefilter
        holds the sha1 of every entry ever queued), 2 handed back (``taken``: the next request
        of an entry this worker took and holds: a redirect, a rendering, a retry)."""
        keys = [self.key(k) for k in ("queue", "payloads", "scores", "owners", "dupefilter")]
        args = [entry, payload, -priority, self.worker, "1" if taken else "0"]
        return int(self._run("push", _PUSH, keys, args))

    def seen(self) -> int:
        """Entries the crawl has queued so far (its dupefilter's size)."""
        return int(self.redis.scard(self.key("dupefilter")))

    def pop(self) -> tuple[str, bytes] | None:
        """Take the next entry of the queue: (entry key, payload), or None when it is empty."""
        keys = [self.key(k) for k in ("queue", "payloads", "owners")]
        taken = self._run("pop", _POP, keys, [self.worker])
        if not taken:
            return None
        entry, payload = taken
        return text(entry), payload

    def may_record(self, entry: str) -> int:
        """Before ``entry``'s record is written: 1 write it (this worker holds the entry), 0
        drop it (the entry was given to another worker), 2 drop it (a worker presumed dead
        wrote it after all; the entry is finished)."""
        keys = [self.key(k) for k in ("owners", "payloads", "scores", "recorded")]
        return int(self._run("may_record", _MAY_RECORD, keys, [entry, self.worker]))

    def ack(self, entry: str, stats: Mapping[str, float]) -> bool:
        """Finish ``entry`` once its record is written, and add the stats of the work; False
        when this worker did not hold it any more (presumed dead: its late record finishes
        the page, and the worker now crawling it drops its own)."""
        keys = [self.key(k) for k in ("owners", "payloads", "scores", "stats", "queue")]
        keys.append(self.key("recorded"))
        return bool(self._run("ack", _ACK, keys, [entry, self.worker, *_pairs(stats)]))

    def reclaim(self) -> int:
        """Give the entries of dead workers back to the queue; how many went back."""
        keys = [self.key(k) for k in ("workers", "owners", "queue", "scores")]
        return int(self._run("reclaim", _RECLAIM, keys, [self.worker_timeout]))

    def queued(self) -> int:
        return int(self.redis.zcard(self.key("queue")))

    def taken(self) -> int:
        """Entries some worker holds now."""
        return int(self.redis.hlen(self.key("owners")))

    # --- shared accounts --------------------------------------------------------
    def stats(self) -> dict[str, float]:
        """The crawl's stats summed over its workers."""
        raw = self.redis.hgetall(self.key("stats"))
        return {text(k): float(v) for k, v in raw.items()}

    def add_usage(self, attempt: Usage) -> None:
        """Add one paid LLM attempt to the crawl's spend and to its stats (calls, tokens,
        cost), in one step: the fleet's report counts every call a worker paid for, even one
        killed with -9 before it finished the page."""
        pipe = self.redis.pipeline()  # MULTI: the spend and the counts move together
        if attempt.cost_usd:
            pipe.incrbyfloat(self.key("spend"), attempt.cost_usd)
        for name, value in paid_stats(attempt).items():
            pipe.hincrbyfloat(self.key("stats"), name, value)
        pipe.execute()

    def spent(self) -> float:
        """Dollars the whole crawl spent on the LLM."""
        return float(self.redis.get(self.key("spend")) or 0)

    def add_failure(self, line: str) -> None:
        self.redis.rpush(self.key("failures"), line)

    def failures(self) -> list[str]:
        return [text(line) for line in self.redis.lrange(self.key("failures"), 0, -1)]

    @contextmanager
    def graph_lock(self, timeout: float) -> Iterator[None]:
        """Held by one worker at a time while it resolves and writes a page. A holder killed
        with -9 frees it once it is presumed dead (no heartbeat for ``worker_timeout`` s), or
        after ``timeout`` s at most; the other workers' page writes wait meanwhile."""
        lock = self.redis.lock(self.key("graph-lock"), timeout=timeout)
        token = f"{self.worker} {uuid.uuid4().hex}"
        looked = time.monotonic()
        while not lock.acquire(blocking=False, token=token):
            if time.monotonic() - looked >= _LOCK_LIVENESS_INTERVAL:
                looked = time.monotonic()
                self._free_lock_of_dead_holder(self.key("graph-lock"))
            time.sleep(_LOCK_POLL_SECONDS)
        try:
            yield
        finally:
            lock.release()

    def _free_lock_of_dead_holder(self, key: str) -> None:
        holder = self.redis.get(key)
        if holder is not None and not self.alive(text(holder).split(" ")[0]):
            self._run("free_lock", _FREE_LOCK, [key], [holder])

    def politeness_wait(self, host: str, delay: float) -> float:
        """Seconds to wait before the next request to ``host``, ``delay`` apart fleet-wide."""
        wait = self._run("slot", _SLOT, [self.key(f"politeness:{host}")], [delay])
        return float(wait)


def text(value: Any) -> str:
    """A Redis reply as text ('' for none)."""
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)


def _pairs(stats: Mapping[str, float]) -> list[object]:
    pairs: list[object] = []
    for name, value in stats.items():
        pairs += [name, value]
    return pairs
