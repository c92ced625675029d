"""The web explorer of ``scrapy graph serve``: a read-only Starlette app over the graph."""

from scraper.explorer.app import create_app

__all__ = ["create_app"]
