"""The LLM answer cache of a fleet: one Redis hash every worker and every crawl shares.

A worker about to pay for a chunk claims it first; another worker meeting the same chunk
meanwhile waits for the answer instead of paying for it again. A claim ends when its answer is
stored, when its call fails, or when its worker is presumed dead (no heartbeat).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import redis

from scraper.fleet.fleet import Fleet, text
from scraper.writes import WriteFailed

T = TypeVar("T")

CACHE_KEY = "semantic-scraper:llm-cache"  # shared by every fleet of the Redis: not a crawl's


class RedisLLMCache:
    """``LLMCache``'s interface (get, put, claim, release) on Redis."""

    def __init__(
        self,
        fleet: Fleet,
        claim_seconds: float,
        key: str = CACHE_KEY,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self.fleet = fleet
        # Redis gone: ``on_error`` hears it (the worker stops) and the cache answers as an
        # empty one that lets every call through, so a page in flight ends without a crash.
        self.on_error = on_error
        self.key = key
        self.claim_seconds = claim_seconds
        self.failed: WriteFailed | None = None  # Redis errors go to ``on_error`` instead
        self.path = f"{key} in {fleet.url}"  # where it lives, for log lines

    def _claim_key(self, key: str) -> str:
        return f"{self.key}:claim:{key}"

    def _guarded(self, function: Callable[[], T], default: T) -> T:
        try:
            return function()
        except redis.RedisError as exc:
            if self.on_error is None:
                raise
            self.on_error(exc)
            return default

    def get(self, key: str) -> str | None:
        value = self._guarded(lambda: self.fleet.redis.hget(self.key, key), None)
        return text(value) if value is not None else None

    def put(self, key: str, value: str) -> None:
        pipe = self.fleet.redis.pipeline()
        pipe.hset(self.key, key, value)
        pipe.delete(self._claim_key(key))
        self._guarded(pipe.execute, None)

    def claim(self, key: str) -> bool:
        """True when this worker may pay for ``key`` now; False while another one does."""
        return self._guarded(lambda: self._claim(key), True)

    def _claim(self, key: str) -> bool:
        redis, claim = self.fleet.redis, self._claim_key(key)
        ttl = max(1, int(self.claim_seconds))
        if redis.set(claim, self.fleet.worker, nx=True, ex=ttl):
            return True
        holder = redis.get(claim)
        if holder is not None and not self.fleet.alive(text(holder)):
            redis.delete(claim)  # its worker died while paying for it: take it over
            return bool(redis.set(claim, self.fleet.worker, nx=True, ex=ttl))
        return False

    def release(self, key: str) -> None:
        """Give a claim up without an answer (the call failed): another worker may try."""
        self._guarded(lambda: self._release(key), None)

    def _release(self, key: str) -> None:
        claim = self._claim_key(key)
        if self.fleet.redis.get(claim) == self.fleet.worker.encode():
            self.fleet.redis.delete(claim)

    def __len__(self) -> int:
        return int(self.fleet.redis.hlen(self.key))

    def close(self) -> None:
        pass  # the fleet's connection is closed by its owner
