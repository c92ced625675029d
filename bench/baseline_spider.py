"""The spider a user writes by hand, for bench/crawl_throughput.py's baselines.

    scrapy runspider bench/baseline_spider.py -a urls_file=urls.txt -O out.jsonl \
        -s ITEM_PIPELINES='{"bench.baseline_spider.TrafilaturaPipeline": 100}'

It fetches every URL of a file and yields what it fetched; ``TrafilaturaPipeline`` adds the
page's main content by ``trafilatura.extract`` (crawl b), ``SizePipeline`` keeps only the
page's size (crawl a, fetch only). Nothing of semantic-scraper is imported.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import scrapy
import trafilatura
from scrapy.http import Response


class BaselineSpider(scrapy.Spider):
    name = "baseline"

    def __init__(self, urls_file: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.urls = Path(urls_file).read_text().split()

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.urls:
            yield scrapy.Request(url)

    def parse(self, response: Response) -> Iterator[dict[str, Any]]:
        yield {"url": response.url, "status": response.status, "html": response.text}


class TrafilaturaPipeline:
    def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        item["text"] = trafilatura.extract(item.pop("html"), url=item["url"]) or ""
        return item


class SizePipeline:
    def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        item["size"] = len(item.pop("html"))
        return item
