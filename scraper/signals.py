"""Signals of the semantic-scraper pipeline (Scrapy's signal manager carries them)."""

# Sent by the graph pipeline once its store is open, before the first request,
# with ``pages``: {url: PageState} of every page the store already holds. The
# spider uses it for conditional requests and to re-check known pages.
previous_pages_loaded = object()

# Sent by any component that could not write the crawl's output or state (a full disk, a
# read-only folder), with ``failure``: a scraper.writes.WriteFailed. The crawl stops on it.
state_write_failed = object()
