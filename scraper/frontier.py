"""The request queue of a fleet worker: scrapy-redis's queue interface on the fleet's
reliable frontier (``scraper.fleet``), with scrapy-redis's request serializer."""

from __future__ import annotations

from scrapy import Request, Spider
from scrapy_redis.queue import Base
from w3lib.url import canonicalize_url

from scraper.fleet import Fleet

HANDED_BACK = 2  # Fleet.push: an entry the worker held went back to the queue
# Meta of a request taken from the frontier (and of its redirects, retries and rendering):
# pushed again by its worker, it hands its entry back; a new link to the same page does not.
TAKEN = "frontier_taken"


def frontier_entry(request: Request) -> str:
    """The frontier's key of the work ``request`` belongs to: the page (the spider names it
    in ``meta["frontier_entry"]``, redirects and rendering keep it), else its URL."""
    return request.meta.get("frontier_entry") or canonicalize_url(request.url)


class FleetQueue(Base):
    """scrapy-redis's queue interface on the fleet's reliable frontier."""

    def __init__(self, fleet: Fleet, spider: Spider):
        super().__init__(fleet.redis, spider, fleet.key("queue"))
        self.fleet = fleet

    def __len__(self) -> int:
        return self.fleet.queued()

    def push(self, request: Request) -> int:
        """Queue ``request``: ``Fleet.push``'s 0 (seen already), 1 (queued), 2 (handed back)."""
        entry, payload = frontier_entry(request), self._encode_request(request)
        taken = bool(request.meta.get(TAKEN))
        return self.fleet.push(entry, payload, request.priority, taken=taken)

    def pop(self, timeout: int = 0) -> Request | None:
        taken = self.fleet.pop()
        if taken is None:
            return None
        entry, payload = taken
        request = self._decode_request(payload)
        request.meta["frontier_entry"] = entry
        request.meta[TAKEN] = True
        return request
