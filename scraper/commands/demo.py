"""``scrapy demo``: crawl the demo site shipped in the package, served on 127.0.0.1."""

from __future__ import annotations

import argparse
import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from scrapy.commands import ScrapyCommand

from scraper.graph import open_store
from scraper.graph.queries import stats as graph_stats

SITE_DIR = Path(__file__).resolve().parent.parent / "demo" / "site"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


# The demo site's port, when free: a second `scrapy demo` in the same folder is then a
# re-crawl of the same pages (unchanged, nothing paid again), not a crawl of a new site.
DEMO_PORT = 8765


def _server(handler: functools.partial) -> ThreadingHTTPServer:
    try:
        return ThreadingHTTPServer(("127.0.0.1", DEMO_PORT), handler)
    except OSError:  # taken: any free port (the store's pages on other ports stay as they are)
        return ThreadingHTTPServer(("127.0.0.1", 0), handler)


class Command(ScrapyCommand):
    requires_project = True
    default_settings = {"LOG_LEVEL": "INFO"}

    def syntax(self) -> str:
        return "[options]"

    def short_desc(self) -> str:
        return "Crawl the built-in demo site and show where the results are"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "-o", "--output", default="demo-output", help="folder for the results (demo-output)"
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        output = Path(opts.output).resolve()
        output.mkdir(parents=True, exist_ok=True)
        pages = output / "pages.jsonl"
        handler = functools.partial(_QuietHandler, directory=str(SITE_DIR))
        server = _server(handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        settings, process = self.settings, self.crawler_process
        assert settings is not None and process is not None, "Scrapy sets both before run()"
        # The demo site is on loopback, which crawls of public sites refuse.
        settings.set("ALLOW_PRIVATE_ADDRESSES", True, priority="cmdline")
        settings.set("AUTOTHROTTLE_ENABLED", False, priority="cmdline")
        settings.set("GRAPH_STORE", str(output / "graph"), priority="cmdline")
        settings.set("REPORT_DIR", str(output / "reports"), priority="cmdline")
        settings.set("FAILURES_FILE", str(output / "failures.jsonl"), priority="cmdline")
        settings.set("LLM_CACHE_DIR", str(output / "llm-cache"), priority="cmdline")
        settings.set("HTTPCACHE_DIR", str(output / "httpcache"), priority="cmdline")
        settings.set("FEEDS", {str(pages): {"format": "jsonlines", "overwrite": True}}, "cmdline")
        try:
            crawler = process.create_crawler("semantic")
            process.crawl(crawler, url=url)
            process.start()
        finally:
            server.shutdown()
        stats = crawler.stats.get_stats()
        with open_store(str(output / "graph"), write=False) as store:
            graph = graph_stats(store)
        print(
            f"\nDemo crawl of {url} finished: {stats.get('pages/records', 0)} pages, "
            f"{stats.get('pages/ok', 0)} processed, "
            f"{stats.get('pages/failed', 0)} recorded as failed."
            f"\n  page records: {pages}"
            f"\n  graph store:  {output / 'graph'} ({graph['entities']} entities, "
            f"{graph['relations']} relations from {graph['pages']} pages)"
            f"\n  crawl report: {stats.get('report/file')}"
            f"\nTry: scrapy graph entity 'Acme Robotics' -s GRAPH_STORE={output / 'graph'}"
        )
