"""The clean stage: HTML -> main-content Markdown, metadata, structured data, content hash."""

from scraper.clean.main_content import CleanedPage, clean_html
from scraper.clean.page import PageContent, clean_page, content_hash
from scraper.clean.structured_data import extract_structured_data

__all__ = [
    "CleanedPage",
    "PageContent",
    "clean_html",
    "clean_page",
    "content_hash",
    "extract_structured_data",
]
