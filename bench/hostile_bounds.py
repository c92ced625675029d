"""What hostile pages and sites cost with the crawl's bounds, and without them, in one run.

    python bench/hostile_bounds.py [--jsonld-kb 800] [--trap-seconds 900]

Part 1, one page at a time, each in a fresh child process (its peak RSS is the page's
memory): the pages of ``tests/hostile/bounds/`` and a JSON-LD catalogue of ``--jsonld-kb``
kilobytes go through the stages as a crawl runs them: decode (and the ``not_text`` check),
``clean_page``, ``chunk_markdown``, ``structured_data_graph``. *bounded* is the defaults;
*unbounded* is the code without its bounds (no ``not_text`` check, no
``STRUCTURED_DATA_MAX_BYTES``, no ``CHUNK_MAX_PER_PAGE``). "LLM calls" are the chunks the
page would send to the LLM.

Part 2: the calendar trap of ``tests/trap_sites.py`` crawled by real ``scrapy crawl``
processes: with the default bounds (it must end by itself; ``--trap-seconds`` is only a safety
cap), then with every bound off, stopped at three times as many pages
(``CLOSESPIDER_PAGECOUNT``): without the bounds it would never end.
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
    max_bytes = defaults.STRUCTURED_DATA_MAX_BYTES if bounded else UNBOUNDED
    page = clean_page(html, URL, max_bytes)
    seconds["clean"] = time.perf_counter() - start
    start = time.perf_counter()
    size, overlap = defaults.CHUNK_SIZE_TOKENS, defaults.CHUNK_OVERLAP_TOKENS
    cap = defaults.CHUNK_MAX_PER_PAGE + 1 if bounded else None  # as ChunkingPipeline does
    chunks = chunk_markdown(page.markdown, size, overlap, limit=cap)
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


def _trap_crawl(folder: Path, url: str, settings: dict[str, str], cap: int) -> dict[str, Any]:
    folder.mkdir()
    started = time.monotonic()
    result = run_crawl(folder, {"url": url, "render": "never"}, settings, timeout=cap * 2)
    report = json.loads(next((folder / "reports").glob("*.json")).read_text())
    return {
        "pages": len(result.records),
        "seconds": time.monotonic() - started,
        "finish": report["finish_reason"],
        "cut_off": report["cut_off"],
        "traps": report["trap_patterns"],
    }


def part_trap(seconds: int) -> None:
    print("Part 2: the calendar trap, real scrapy crawl\n")
    off = {name: "0" for name in (
        "DEPTH_LIMIT", "CRAWL_MAX_PAGES", "SITE_MAX_PAGES", "URL_PATTERN_MAX_PAGES",
        "URL_MAX_REPEATED_SEGMENTS",
    )}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, serve(trap_site()) as running:
        cap = {"CLOSESPIDER_TIMEOUT": str(seconds)}
        bounded = _trap_crawl(Path(tmp) / "bounded", running.url, cap, seconds)
        pagecount = {**off, **cap, "CLOSESPIDER_PAGECOUNT": str(3 * bounded["pages"])}
        unbounded = _trap_crawl(Path(tmp) / "unbounded", running.url, pagecount, seconds)
    print(f"{'run':16} {'pages':>6} {'seconds':>8} {'finish':>22}  cut off")
    for name, run in (("default bounds", bounded), ("bounds off", unbounded)):
        cut = ", ".join(f"{k} {v}" for k, v in run["cut_off"].items()) or "-"
        print(f"{name:16} {run['pages']:6} {run['seconds']:8.1f} {run['finish']:>22}  {cut}")
    print(f"trap patterns (links cut off): {bounded['traps']}")
    print(
        f"pages with the default bounds / bounds off: {bounded['pages'] / unbounded['pages']:.2f}x"
        " (bounds off stopped only by CLOSESPIDER_PAGECOUNT)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jsonld-kb", type=int, default=800, help="size of the JSON-LD page")
    parser.add_argument("--trap-seconds", type=int, default=900, help="safety cap of a crawl")
    args = parser.parse_args()
    part_pages(args.jsonld_kb)
    part_trap(args.trap_seconds)


if __name__ == "__main__":
    main()
