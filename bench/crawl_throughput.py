"""Crawl throughput: our crawl against a hand-written Scrapy spider, on the same pages.

    python bench/crawl_throughput.py [--data ../shared/data] [--pages 1497] [--rounds 2]
    python bench/crawl_throughput.py --scale 20000

Real-corpus mode serves the WCXB dev pages (raw bytes, as the benchmark stored them) on
127.0.0.1 and crawls them, in one invocation and in alternating order (a b c d, then d c b a,
…), with the same Scrapy settings (16 requests in flight, no delay, no throttle, robots.txt
obeyed, start URLs from one file, links not followed):

- (a) bare Scrapy, fetch only: this file's spider, yielding each page's URL and size;
- (b) bare Scrapy + a pipeline calling ``trafilatura.extract`` (what a user writes by hand);
- (c) ``scrapy crawl semantic``, cleaning + chunking only (extraction and graph pipelines off);
- (d) ``scrapy crawl semantic`` with its default pipelines (no LLM: the structured data of
  each page still goes into the graph store).

For each it prints pages/s (wall time of the whole ``scrapy`` process, start-up included), CPU
ms per page and cores used (user + system time of the process and its worker processes over
wall time), peak RSS of the process tree, and the ratios to (b). The median over rounds counts.

``--scale N`` serves a generated site of N small pages (4 to 7 KB: navigation and footer chrome,
an article, JSON-LD ``Article`` whose author, publisher and product come from shared pools, so
popular entities recur on hundreds of pages) and crawls it with (b) and (d); it prints pages/s
and RSS per quarter of the crawl and last/first-quarter ratios.

The baselines are ``scrapy runspider bench/baseline_spider.py``, run outside the project (so
none of its settings apply); ours are ``scrapy crawl semantic`` in the project, its state in a
temporary folder.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from bench.cleaning import load_pages, read_bytes  # noqa: E402
from scraper.settings import ITEM_PIPELINES  # noqa: E402
from tests.crawling import scrapy_command, state_settings, without_openai  # noqa: E402
from tests.sites import Page, serve  # noqa: E402

# The same for every crawl: what a tuned hand-written spider on a local site would use.
SHARED_SETTINGS = {
    "CONCURRENT_REQUESTS": "16",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "16",
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "False",
    "ROBOTSTXT_OBEY": "True",
    "LOG_LEVEL": "INFO",
}
CRAWLS = {
    "a": "bare Scrapy, fetch only",
    "b": "bare Scrapy + trafilatura pipeline",
    "c": "semantic-scraper, cleaning + chunking",
    "d": "semantic-scraper, default pipelines",
}
SAMPLE_SECONDS = 0.25


# ------------------------------------------------------------------------- running


@dataclass
class Run:
    crawl: str
    pages: int  # feed records written
    seconds: float
    cpu_seconds: float
    main_cpu_seconds: float  # the crawl's own process (the reactor), without its workers
    peak_rss: int  # bytes, the process and its children together
    # (seconds since start, records so far, RSS) every SAMPLE_SECONDS
    samples: list[tuple[float, int, int]] = field(default_factory=list)

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds

    @property
    def cpu_ms_per_page(self) -> float:
        return 1000 * self.cpu_seconds / max(self.pages, 1)

    @property
    def main_cpu_ms_per_page(self) -> float:
        return 1000 * self.main_cpu_seconds / max(self.pages, 1)

    @property
    def cores(self) -> float:
        return self.cpu_seconds / self.seconds


def crawl_argv(crawl: str, urls: Path, out: Path, state: Path, extra: dict[str, str]) -> list[str]:
    settings = {**SHARED_SETTINGS, **extra}
    if crawl in "ab":
        pipeline = "TrafilaturaPipeline" if crawl == "b" else "SizePipeline"
        settings["ITEM_PIPELINES"] = json.dumps({f"bench.baseline_spider.{pipeline}": 100})
        spider = str(PROJECT_DIR / "bench" / "baseline_spider.py")
        return scrapy_command(["runspider", spider], out, settings, {"urls_file": str(urls)})
    settings = {**state_settings(state), **settings}
    if crawl == "c":  # -s replaces the whole dict: give all of it, two stages switched off
        off = {"ExtractionPipeline", "GraphPipeline"}
        pipelines = {k: v for k, v in ITEM_PIPELINES.items() if k.rsplit(".", 1)[-1] not in off}
        settings["ITEM_PIPELINES"] = json.dumps(pipelines)
    args = {"urls_file": str(urls), "follow": "false"}
    return scrapy_command(["crawl", "semantic"], out, settings, args)


def _sample_tree(process: psutil.Process, cpu: dict[int, float]) -> int:
    """RSS of ``process`` and its descendants; records each one's own CPU seconds so far in
    ``cpu`` (by pid)."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # ended between the listing and the reading
            total += member.memory_info().rss
            times = member.cpu_times()
            cpu[member.pid] = times.user + times.system
    return total


def run_crawl(crawl: str, urls: Path, extra: dict[str, str] | None = None) -> Run:
    """Run one crawl to its end, sampling its progress and memory."""
    with tempfile.TemporaryDirectory() as tmp:
        state, out = Path(tmp), Path(tmp) / "out.jsonl"
        argv = crawl_argv(crawl, urls, out, state, extra or {})
        # Baselines run outside the project: no scrapy.cfg, so bare Scrapy's defaults apply.
        cwd = tmp if crawl in "ab" else PROJECT_DIR
        env = without_openai({"PYTHONPATH": str(PROJECT_DIR)})
        started = time.perf_counter()
        log = (state / "crawl.log").open("wb")
        child = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=log)
        process = psutil.Process(child.pid)
        samples: list[tuple[float, int, int]] = []
        cpu: dict[int, float] = {}
        while True:
            # wait4, not Popen.poll: its rusage covers the crawl and the worker processes it
            # reaped (the browser), but not the cleaning pool's: they are the children of its
            # forkserver, which nobody reaps. Those are counted from the samples.
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            records = out.read_bytes().count(b"\n") if out.exists() else 0
            samples.append((time.perf_counter() - started, records, _sample_tree(process, cpu)))
            time.sleep(SAMPLE_SECONDS)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        pages = out.read_bytes().count(b"\n") if out.exists() else 0
        log.close()
        if child.returncode:
            last = (state / "crawl.log").read_text(errors="replace").strip().splitlines()[-1:]
            print(f"  crawl {crawl} exited {child.returncode}: {last}", file=sys.stderr)
    peak = max((s[2] for s in samples), default=0)
    # Both are lower bounds: the samples miss a process's last quarter second, rusage the
    # processes nobody reaped.
    cpu_seconds = max(usage.ru_utime + usage.ru_stime, sum(cpu.values()))
    main = usage.ru_utime + usage.ru_stime if crawl in "ab" else cpu.get(child.pid, 0.0)
    return Run(crawl, pages, seconds, cpu_seconds, main, peak, samples)


def _progress(run: Run) -> None:
    print(
        f"  {run.crawl}: {run.pages} pages in {run.seconds:.1f} s, "
        f"{run.pages_per_second:.1f} pages/s, {run.cpu_ms_per_page:.0f} CPU ms/page "
        f"({run.main_cpu_ms_per_page:.0f} in the crawl's own process), "
        f"{run.cores:.2f} cores, peak RSS {run.peak_rss / 2**20:.0f} MB",
        file=sys.stderr,
    )


# ------------------------------------------------------------------ real-corpus mode


def corpus_mode(args: argparse.Namespace) -> None:
    pages = load_pages(Path(args.data), Path(args.data), ["wcxb"])[: args.pages]
    if not pages:
        sys.exit(f"no WCXB dev pages under {args.data}/wcxb-dev: give --data")
    site = {f"/{p['id']}.html": Page(read_bytes(p), content_type="text/html") for p in pages}
    runs: dict[str, list[Run]] = {crawl: [] for crawl in CRAWLS}
    with tempfile.TemporaryDirectory() as tmp, serve(site) as running:
        urls = Path(tmp) / "urls.txt"
        urls.write_text("".join(f"{running.url}{path[1:]}\n" for path in site))
        print(f"{len(site)} WCXB dev pages on {running.url}", file=sys.stderr)
        for round_ in range(args.rounds):
            order = list(CRAWLS) if round_ % 2 == 0 else list(reversed(CRAWLS))
            print(f"round {round_ + 1}/{args.rounds}: {' '.join(order)}", file=sys.stderr)
            for crawl in order:
                run = run_crawl(crawl, urls)
                _progress(run)
                runs[crawl].append(run)
    median = {c: {k: statistics.median(getattr(r, k) for r in rs) for k in _FIGURES} for c, rs in
              runs.items()}  # fmt: skip
    print(f"\n{len(site)} pages, median of {args.rounds} rounds, machine load "
          f"{os.getloadavg()[0]:.1f}\n")  # fmt: skip
    print("| crawl | pages/s | CPU ms/page | cores used | peak RSS | pages/s vs (b) |")
    print("|---|---|---|---|---|---|")
    base = median["b"]["pages_per_second"]
    for crawl, label in CRAWLS.items():
        m = median[crawl]
        print(
            f"| ({crawl}) {label} | {m['pages_per_second']:.1f} | {m['cpu_ms_per_page']:.0f} "
            f"| {m['cores']:.2f} | {m['peak_rss'] / 2**20:.0f} MB "
            f"| {m['pages_per_second'] / base:.2f}x |"
        )
    print(
        f"\n(d)/(b) = {median['d']['pages_per_second'] / base:.2f} (bar 0.8), "
        f"(c)/(b) = {median['c']['pages_per_second'] / base:.2f} (bar 1.0)"
    )


_FIGURES = ("pages_per_second", "cpu_ms_per_page", "cores", "peak_rss", "pages")


# ------------------------------------------------------------------------ scale mode

_FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia"]
_LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson"]
_WORDS = [
    "graph",
    "crawl",
    "page",
    "entity",
    "relation",
    "store",
    "query",
    "index",
    "token",
    "chunk",
    "model",
    "answer",
    "schema",
    "site",
    "link",
    "node",
    "fact",
    "source",
    "record",
    "value",
    "market",
    "river",
    "city",
    "report",
    "study",
    "result",
]


class GeneratedSite:
    """A site of ``pages`` articles, made on request (a Site for tests.sites.serve).

    Authors, publishers and products come from pools whose first members are far more
    popular (a Zipf-like draw), so a publisher is named on hundreds of pages."""

    def __init__(self, pages: int, seed: int = 7):
        self.pages = pages
        self.seed = seed
        self.authors = [f"{f} {last}" for f in _FIRST for last in _LAST]
        self.publishers = [f"{w.title()} {k} Media" for w in _WORDS for k in ("North", "South")]
        self.products = [f"{w.title()}Scope {n}" for w in _WORDS for n in range(1, 6)]

    def paths(self) -> list[str]:
        return [f"/articles/{i}.html" for i in range(self.pages)]

    def get(self, path: str) -> Page | None:
        if path == "/robots.txt":
            return Page("User-agent: *\nAllow: /\n", content_type="text/plain")
        if not path.startswith("/articles/") or not path.endswith(".html"):
            return None
        number = path.removeprefix("/articles/").removesuffix(".html")
        if not number.isdigit() or int(number) >= self.pages:
            return None
        return Page(self.article(int(number)))

    def _pick(self, rng: random.Random, pool: list[str]) -> str:
        return pool[min(int(rng.paretovariate(1.2)) - 1, len(pool) - 1)]

    def article(self, i: int) -> str:
        rng = random.Random(self.seed * 1_000_003 + i)
        author, publisher = self._pick(rng, self.authors), self._pick(rng, self.publishers)
        product = self._pick(rng, self.products)
        title = " ".join(rng.choice(_WORDS) for _ in range(5)).capitalize()
        paragraphs = "".join(
            f"<p>{' '.join(rng.choice(_WORDS) for _ in range(rng.randint(40, 70)))}. "
            f"{author} wrote about {product} for {publisher}.</p>"
            for _ in range(rng.randint(4, 6))
        )
        data = {
            "@context": "https://schema.org",
            "@type": "Article",
            "headline": title,
            "datePublished": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}",
            "author": {"@type": "Person", "name": author},
            "publisher": {"@type": "Organization", "name": publisher},
            "about": {"@type": "Product", "name": product},
        }
        nav = "".join(f'<li><a href="/articles/{(i + k) % self.pages}.html">More {k}</a></li>'
                      for k in range(1, 9))  # fmt: skip
        return (
            f"<!doctype html><html><head><title>{title}</title>"
            f'<script type="application/ld+json">{json.dumps(data)}</script></head><body>'
            f"<header><nav><ul>{nav}</ul></nav></header>"
            f"<main><article><h1>{title}</h1><p>By {author}</p>{paragraphs}</article></main>"
            "<footer><p>About us · Contact · Privacy · Terms</p></footer></body></html>"
        )


def quarters(run: Run) -> list[tuple[float, float]]:
    """(pages/s, peak RSS MB) in each quarter of the crawl's records."""
    result = []
    previous_time = 0.0
    bounds = [run.pages * q // 4 for q in range(1, 5)]
    start = 0
    for bound in bounds:
        inside = [s for s in run.samples if start <= s[1] <= bound]
        reached = next((s[0] for s in run.samples if s[1] >= bound), run.seconds)
        if start == 0:  # the first quarter counts from the first record, not the start-up
            previous_time = next((s[0] for s in run.samples if s[1] > 0), 0.0)
        rate = (bound - start) / max(reached - previous_time, 1e-9)
        result.append((rate, max((s[2] for s in inside), default=0) / 2**20))
        previous_time, start = reached, bound
    return result


def scale_mode(args: argparse.Namespace) -> None:
    site = GeneratedSite(args.scale)
    limits = {
        "CRAWL_MAX_PAGES": str(args.scale + 10),
        "SITE_MAX_PAGES": str(args.scale + 10),
        "URL_PATTERN_MAX_PAGES": str(args.scale + 10),
    }
    with tempfile.TemporaryDirectory() as tmp, serve(site) as running:  # type: ignore[arg-type]
        urls = Path(tmp) / "urls.txt"
        urls.write_text("".join(f"{running.url}{p[1:]}\n" for p in site.paths()))
        print(f"{args.scale} generated pages on {running.url}", file=sys.stderr)
        results = {}
        for crawl in ("b", "d"):
            run = run_crawl(crawl, urls, limits if crawl == "d" else None)
            _progress(run)
            results[crawl] = run
    print(f"\n{args.scale} generated pages, machine load {os.getloadavg()[0]:.1f}\n")
    print("| crawl | Q1 | Q2 | Q3 | Q4 | Q4/Q1 pages/s | RSS Q1 → Q4 | RSS Q4/Q1 |")
    print("|---|---|---|---|---|---|---|---|")
    for crawl, run in results.items():
        per_quarter = quarters(run)
        rates = " | ".join(f"{rate:.1f}" for rate, _ in per_quarter)
        (first_rate, first_rss), (last_rate, last_rss) = per_quarter[0], per_quarter[-1]
        print(
            f"| ({crawl}) {CRAWLS[crawl]} | {rates} | {last_rate / first_rate:.2f} "
            f"| {first_rss:.0f} → {last_rss:.0f} MB | {last_rss / max(first_rss, 1):.2f} |"
        )
    print("\nbars: Q4/Q1 pages/s ≥ 0.9, RSS Q4/Q1 ≤ 1.2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(PROJECT_DIR.parent / "shared" / "data"))
    parser.add_argument("--pages", type=int, default=1497, help="WCXB dev pages to serve")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds (median)")
    parser.add_argument("--scale", type=int, default=0, help="crawl a generated site of N pages")
    args = parser.parse_args()
    scale_mode(args) if args.scale else corpus_mode(args)


if __name__ == "__main__":
    main()
