"""Throughput of LLM extraction inside a real Scrapy crawl, against a fixed-latency fake LLM.

    python bench/extraction_throughput.py [--data ../shared/data] [--pages 240]
        [--latency 0.5] [--concurrency 16]

A local site serves the articles of ``<data>/article-extraction-benchmark`` (topped up
with generated pages to ``--pages``) linked from one index page; ``scrapy crawl semantic``
crawls it twice in subprocesses: once with extraction off (no LLM configured: structured
data only) and once with the fake OpenAI-compatible server of ``tests/fake_llm.py``
answering every call after ``--latency`` seconds. Prints the achieved chunks/s while the
LLM was busy against the ideal ``concurrency / latency`` (bar: >= 0.9), and the crawl wall
time against the crawl with extraction off.
"""

from __future__ import annotations

import argparse
import gzip
import html
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.crawling import run_crawl
from tests.fake_llm import FakeLLM, serve_fake_llm
from tests.sites import serve

BAR = 0.9


def build_site(data: Path, pages: int) -> dict[str, str]:
    """path -> HTML: the benchmark's articles, then generated pages, and an index of all."""
    articles = sorted((data / "article-extraction-benchmark" / "html").glob("*.html.gz"))
    site: dict[str, str] = {}
    for path in articles[:pages]:
        site[f"/article/{path.name.removesuffix('.html.gz')}"] = gzip.decompress(
            path.read_bytes()
        ).decode("utf-8", "replace")
    for number in range(pages - len(site)):
        paragraphs = "".join(
            f"<p>Report {number} paragraph {p}: Acme Corporation and Jane Doe discussed the "
            f"Road Runner Trap with Wile Coyote in Springfield during week {p}.</p>"
            for p in range(12)
        )
        site[f"/generated/{number}"] = (
            f"<html><head><title>Generated page {number}</title></head><body><main>"
            f"<article><h1>Generated page {number}</h1>{paragraphs}</article></main></body></html>"
        )
    links = "".join(f"<li><a href='{html.escape(p)}'>{p}</a></li>" for p in site)
    site["/"] = f"<html><body><h1>Index</h1><ul>{links}</ul></body></html>"
    return site


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--pages", type=int, default=240)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--chunk-tokens",
        type=int,
        default=200,
        help="CHUNK_SIZE_TOKENS: small chunks give the LLM more work than cleaning can "
        "starve, so the LLM side is what is measured",
    )
    args = parser.parse_args()

    site = build_site(args.data, args.pages)
    settings = {
        "LLM_CONCURRENCY": str(args.concurrency),
        "LLM_CACHE_ENABLED": "False",  # every chunk is a call
        "CHUNK_SIZE_TOKENS": str(args.chunk_tokens),
        "CHUNK_OVERLAP_TOKENS": str(args.chunk_tokens // 10),
        "DEPTH_LIMIT": "1",  # the index and its pages, not the articles' own links
        "LOG_LEVEL": "INFO",
    }
    with tempfile.TemporaryDirectory() as tmp, serve(site) as running:
        crawl_args = {"url": running.url, "render": "never"}
        started = time.monotonic()
        off = run_crawl(Path(tmp) / "off", crawl_args, settings, timeout=900)
        wall_off = time.monotonic() - started
        with serve_fake_llm(FakeLLM(latency=args.latency)) as fake:
            started = time.monotonic()
            on = run_crawl(
                Path(tmp) / "on", crawl_args, settings, {"OPENAI_BASE_URL": fake.base_url},
                timeout=900,
            )  # fmt: skip
            wall_on = time.monotonic() - started
            calls = len(fake.requests)
            answered = [r for r in fake.requests if r.answered is not None]
            busy = max(r.answered for r in answered) - min(r.received for r in answered)
            mean_in_flight = sum(r.answered - r.received for r in answered) / busy
            mean_latency = sum(r.answered - r.received for r in answered) / len(answered)
            max_in_flight = fake.max_in_flight
    for name, result in (("extraction off", off), ("extraction on", on)):
        if result.returncode != 0:
            sys.exit(f"{name} crawl failed:\n{result.log[-3000:]}")
    pages_on = sum(1 for r in on.records if (r.get("extraction") or {}).get("status") == "ok")
    chunks = sum(len(r.get("chunks") or []) for r in on.records)
    achieved = calls / busy
    ideal = args.concurrency / args.latency
    extra_ideal = calls * args.latency / args.concurrency
    rows = [
        ("pages crawled (off / on)", f"{len(off.records)} / {len(on.records)}"),
        ("pages extracted by the LLM", f"{pages_on}"),
        ("chunks / LLM calls", f"{chunks} / {calls} ({args.chunk_tokens} tokens a chunk)"),
        ("LLM calls in flight (max / mean)", f"{max_in_flight} / {mean_in_flight:.1f}"),
        ("server time per call (mean)", f"{mean_latency:.3f} s"),
        ("LLM busy time", f"{busy:.1f} s"),
        ("achieved chunks/s", f"{achieved:.1f}"),
        ("ideal chunks/s (concurrency/latency)", f"{ideal:.1f}"),
        ("achieved / ideal", f"{achieved / ideal:.2f} (bar >= {BAR})"),
        ("wall time, extraction off", f"{wall_off:.1f} s"),
        ("wall time, extraction on", f"{wall_on:.1f} s"),
        ("wall on / off", f"{wall_on / wall_off:.2f}"),
        ("extra wall time / ideal extra", f"{(wall_on - wall_off) / extra_ideal:.2f}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    if achieved / ideal < BAR:
        sys.exit(f"below the bar: {achieved / ideal:.2f} < {BAR}")


if __name__ == "__main__":
    main()
