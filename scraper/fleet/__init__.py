"""Many workers, one crawl: the Redis side of a crawl spread over processes and machines.

Plain Python (redis-py only), used by the Scrapy adapters (``scraper/scheduler.py``, the
``Fleet`` extension, the fleet pipeline): a reliable shared frontier (a request taken by a
worker goes back to the queue when that worker dies), worker liveness, fleet-wide stats and
spend, one lock for graph writes, the shared LLM cache with per-chunk claims, the failures of
every worker, and the fleet-wide politeness slot of each domain.
"""

from scraper.fleet.cache import RedisLLMCache
from scraper.fleet.fleet import Fleet, FleetUnavailable, connect

__all__ = ["Fleet", "FleetUnavailable", "RedisLLMCache", "connect"]
