"""Signals of the semantic-scraper pipeline (Scrapy's signal manager carries them)."""

# Sent by the graph pipeline once its store is open, before the first request,
# with ``pages``: {url: PageState} of every page the store already holds. The
# spider uses it for conditional requests and to re-check known pages.
previous_pages_loaded = object()
