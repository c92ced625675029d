"""What hostile pages and sites cost with the crawl's bounds, and without them, in one run.

    python bench/hostile_bounds.py [--jsonld-kb 800] [--trap-seconds 30]

Part 1, one page at a time, each in a fresh child process (its peak RSS is the page's
memory): the pages of ``tests/hostile/bounds/`` and a JSON-LD catalogue of ``--jsonld-kb``
kilobytes go through the stages as a crawl runs them: decode (and the ``not_text`` check),
``clean_page``, ``chunk_markdown``, ``structured_data_graph``. *bounded* is the defaults;
*unbounded* is the code without its bounds (no ``not_text`` check, no
``STRUCTURED_DATA_MAX_BYTES``, no ``CHUNK_MAX_PER_PAGE``). "LLM calls" are the chunks the
page would send to the LLM.

Part 2: the calendar trap of ``tests/trap_sites.py`` crawled by real ``scrapy crawl``
processes with the default bounds, then with every bound off, each stopped after
``--trap-seconds`` (``CLOSESPIDER_TIMEOUT``) if it has not ended by itself.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scraper import settings as defaults
from scraper.chunk import chunk_markdown
from scraper.clean import clean_page
from scraper.extract.schemaorg import structured_data_graph
from scraper.fetch.decoding import NOT_TEXT_SHARE, decode_html, not_text_share
from tests.crawling import run_crawl
from tests.sites import serve
from tests.trap_sites import trap_site

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "hostile" / "bounds"
URL = "https://hostile.test/page"
UNBOUNDED = 1 << 40


def catalogue(kilobytes: int) -> bytes:
    """A product catalogue page whose JSON-LD is about ``kilobytes`` KB."""
    items, size, i = [], 0, 0
    while size < kilobytes * 1024:
        item = {
            "@type": "Product",
            "@id": f"https://hostile.test/p/{i}",
            "name": f"Product {i}",
            "sku": f"SKU-{i}",
            "offers": {"@type": "Offer", "price": f"{i}.99", "priceCurrency": "EUR"},
            "brand": {"@type": "Brand", "name": f"Brand {i % 40}"},
        }
        items.append(item)
        size += len(json.dumps(item)) + 2
        i += 1
    block = json.dumps(
        {"@context": "https://schema.org", "@type": "ItemList", "itemListElement": items}
    )
    return (
        f"<html><head><title>Catalogue</title><script type='application/ld+json'>{block}</script>"
        "</head><body><main><h1>Catalogue</h1><p>A catalogue of many products.</p></main></body>"
        "</html>"
    ).encode()


def run_stages(body: bytes, bounded: bool) -> dict[str, Any]:
    """Seconds per stage, the outcome and the LLM calls of one page (in this process)."""
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    html, _, _ = decode_html(body, None)
    share = not_text_share(html)
    seconds["decode"] = time.perf_counter() - start
    if bounded and share > NOT_TEXT_SHARE:
        return {"seconds": seconds, "outcome": "not_text", "calls": 0}
    start = time.perf_counter()
    limit = defaults.STRUCTURED_DATA_MAX_BYTES if bounded else UNBOUNDED
    page = clean_page(html, URL, limit)
    seconds["clean"] = time.perf_counter() - start
    start = time.perf_counter()
    chunks = chunk_markdown(
        page.markdown, defaults.CHUNK_SIZE_TOKENS, defaults.CHUNK_OVERLAP_TOKENS
    )
    seconds["chunk"] = time.perf_counter() - start
    start = time.perf_counter()
    entities, _ = structured_data_graph(page.structured_data, base_url=URL)
    seconds["structured"] = time.perf_counter() - start
    calls = len(chunks)
    outcome = f"ok, {len(entities)} entities"
    if page.structured_data_skipped:
        outcome += ", skipped " + "+".join(s.syntax for s in page.structured_data_skipped)
    if bounded and calls > defaults.CHUNK_MAX_PER_PAGE:
        outcome, calls = "too_many_chunks", 0
    return {"seconds": seconds, "outcome": outcome, "calls": calls}


def _child(body: bytes, bounded: bool, queue: Any) -> None:
    result = run_stages(body, bounded)
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(result)


def measure(body: bytes, bounded: bool) -> dict[str, Any]:
    """``run_stages`` in a fresh process, with that process's peak RSS."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(body, bounded, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def part_pages(jsonld_kb: int) -> None:
    pages = {f.stem: f.read_bytes() for f in sorted(CORPUS.glob("*.html"))}
    pages[f"jsonld-catalogue-{jsonld_kb}kb"] = catalogue(jsonld_kb)
    print("Part 1: one page through the stages (seconds; peak RSS of the process)\n")
    header = f"{'page':34} {'run':9} {'decode':>6} {'clean':>6} {'chunk':>6} {'struct':>6}"
    print(f"{header} {'total':>7} {'RSS MB':>7} {'LLM calls':>9}  outcome")
    worst: dict[str, float] = {}
    for name, body in pages.items():
        results = {}
        for run in ("bounded", "unbounded"):
            result = measure(body, run == "bounded")
            results[run] = result
            s = result["seconds"]
            total = sum(s.values())
            cells = " ".join(f"{s[k]:6.2f}" if k in s else f"{'-':>6}" for k in
                             ("decode", "clean", "chunk", "structured"))  # fmt: skip
            print(
                f"{name[:34]:34} {run:9} {cells} {total:7.2f} {result['rss_mb']:7.0f} "
                f"{result['calls']:9}  {result['outcome']}"
            )
            if run == "bounded":
                for stage, value in s.items():
                    worst[stage] = max(worst.get(stage, 0.0), value)
                worst["rss_mb"] = max(worst.get("rss_mb", 0.0), result["rss_mb"])
        bounded, unbounded = (sum(results[r]["seconds"].values()) for r in ("bounded", "unbounded"))
        print(f"{'':34} {'ratio':9} time {bounded / unbounded:.2f}x of unbounded\n")
    stages = ", ".join(f"{k} {v:.2f} s" for k, v in worst.items() if k != "rss_mb")
    print(f"Worst bounded page per stage: {stages}; peak RSS {worst['rss_mb']:.0f} MB\n")


def part_trap(seconds: int) -> None:
    print(f"Part 2: the calendar trap, real scrapy crawl, stopped after {seconds} s\n")
    off = {name: "0" for name in (
        "DEPTH_LIMIT", "CRAWL_MAX_PAGES", "SITE_MAX_PAGES", "URL_PATTERN_MAX_PAGES",
        "URL_MAX_REPEATED_SEGMENTS",
    )}  # fmt: skip
    runs = {"default bounds": {}, "bounds off": off}
    pages = {}
    print(f"{'run':16} {'pages':>6} {'seconds':>8} {'finish':>22}  cut off")
    with tempfile.TemporaryDirectory() as tmp, serve(trap_site()) as running:
        for name, settings in runs.items():
            folder = Path(tmp) / name.replace(" ", "-")
            folder.mkdir()
            started = time.monotonic()
            result = run_crawl(
                folder,
                {"url": running.url, "render": "never"},
                {**settings, "CLOSESPIDER_TIMEOUT": str(seconds), "LOG_LEVEL": "INFO"},
                timeout=seconds * 10,
            )
            elapsed = time.monotonic() - started
            report = json.loads(next((folder / "reports").glob("*.json")).read_text())
            pages[name] = len(result.records)
            print(
                f"{name:16} {len(result.records):6} {elapsed:8.1f} {report['finish_reason']:>22}"
                f"  {report['cut_off'] or '-'}"
            )
    ratio = pages["default bounds"] / max(pages["bounds off"], 1)
    print(f"\npages with the default bounds / bounds off: {ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jsonld-kb", type=int, default=800, help="size of the JSON-LD page")
    parser.add_argument("--trap-seconds", type=int, default=30, help="cap of each trap crawl")
    args = parser.parse_args()
    part_pages(args.jsonld_kb)
    part_trap(args.trap_seconds)


if __name__ == "__main__":
    main()
