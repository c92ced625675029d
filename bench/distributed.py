"""Scaling out: pages/s of a fleet of 4 workers against 1 worker, on an LLM-bound crawl.

    python bench/distributed.py [--pages 80] [--chunks 4] [--workers 4] [--latency 0.5]
        [--concurrency 4]

A local site of ``--pages`` pages of ``--chunks`` paragraphs (each its own text: no cache
hits; at CHUNK_SIZE_TOKENS=48 about one LLM call a paragraph) linked from one index page
is crawled twice, in this one run, by real ``scrapy crawl`` workers sharing a real
``redis-server`` and a real ``oxigraph serve`` (fresh for each run), with the fake
OpenAI-compatible server of ``tests/fake_llm.py`` answering every call after ``--latency``
seconds: once by 1 worker, once by ``--workers`` workers, each worker with the same
concurrency (``LLM_CONCURRENCY`` = ``CONCURRENT_REQUESTS`` = ``--concurrency``).

Throughput is measured while every worker runs: the crawl's records (the fleet's ``stats``
hash in Redis, summed as pages finish) are sampled 10 times a second from the moment all
workers of the run have joined until the last page is done, so process start-up (seconds,
and longer on a busy machine) is not counted. Prints pages/s of both runs and their ratio
(bar: >= 0.8 x workers, 3.2 for 4), plus the capacity figures of the README's "Scaling out":
Redis bytes per URL in the dupefilter and in the queue, store bytes per fact, LLM calls per
page.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scraper.graph import open_store
from tests.crawling import PROJECT_DIR, scrapy_command, state_settings, without_openai
from tests.fake_llm import FakeLLM, serve_fake_llm
from tests.oxigraph_server import oxigraph_server
from tests.redis_server import redis_server
from tests.sites import serve

BAR_PER_WORKER = 0.8  # 4 workers >= 3.2x one worker


def build_site(pages: int, chunks: int) -> dict[str, str]:
    """An index linking ``pages`` pages of ``chunks`` paragraphs of their own (one chunk each
    at CHUNK_SIZE_TOKENS=48)."""
    site = {"/": "<html><body><main><h1>Index</h1>"}
    for n in range(pages):
        site["/"] += f"<a href='/p{n}'>page {n}</a> "
        paragraphs = "".join(
            f"<p>In part {k} of report {n}, Acme Corporation opened Office Number{n} in Lyon "
            f"Centre; Jane Doe leads it, and the report counts {k * n + 7} visitors, "
            f"{n + k} new machines and {k + 3} open positions this quarter.</p>"
            for k in range(chunks)
        )
        site[f"/p{n}"] = (
            f"<html lang='en'><head><title>Report {n}</title></head><body><main><article>"
            f"<h1>Report {n}</h1>{paragraphs}</article></main></body></html>"
        )
    site["/"] += "</main></body></html>"
    return site


@dataclass
class Run:
    workers: int
    pages: int
    seconds: float
    redis_dupefilter_bytes: int
    redis_queue_bytes_per_url: float
    store_bytes_per_fact: float
    llm_calls: int

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds


def crawl(site_url: str, workers: int, args: argparse.Namespace, tmp: Path) -> Run:
    with (
        redis_server(tmp / "redis") as server,
        oxigraph_server(tmp / "store") as oxigraph,
        serve_fake_llm(FakeLLM(latency=args.latency)) as llm,
    ):
        client = redis.Redis.from_url(server.url)
        settings = {
            **state_settings(tmp),
            "REDIS_URL": server.url,
            "GRAPH_STORE": oxigraph.url,
            "LLM_CONCURRENCY": str(args.concurrency),
            "CONCURRENT_REQUESTS": str(args.concurrency),
            "CHUNK_SIZE_TOKENS": "48",
            "CHUNK_OVERLAP_TOKENS": "0",
            "HTTPCACHE_ENABLED": "False",
            "LOG_LEVEL": "WARNING",
        }
        env = without_openai({"OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "bench"})
        procs = [
            subprocess.Popen(
                scrapy_command(
                    ["crawl", "semantic"], tmp / f"w{n}.jsonl", settings, {"url": site_url}
                ),
                cwd=PROJECT_DIR,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=(tmp / f"w{n}.log").open("w"),
            )
            for n in range(workers)
        ]
        samples: list[tuple[float, int]] = []  # (time, pages done) once every worker runs
        queue_bytes: list[float] = []
        total = args.pages + 1
        while True:
            # The last worker renames the stats when the crawl ends.
            stats = client.hgetall("semantic:stats") or client.hgetall("semantic:last-stats")
            done = int(float(stats.get(b"pages/records", 0)))
            joined = int(float(stats.get(b"fleet/worker_starts", 0)))
            if joined >= workers:
                samples.append((time.monotonic(), done))
                queued = client.zcard("semantic:queue")
                if queued > 20:  # a queue entry's bytes: sorted set + payload + score
                    used = sum(
                        client.memory_usage(k) or 0
                        for k in ("semantic:queue", "semantic:payloads", "semantic:scores")
                    )
                    queue_bytes.append(used / queued)
                if done >= total:
                    dupefilter = client.memory_usage("semantic:dupefilter") or 0
                    seen = client.scard("semantic:dupefilter")
                    break
            if all(p.poll() is not None for p in procs):
                raise SystemExit(f"the workers ended before the crawl did: see {tmp}/w*.log")
            time.sleep(0.1)
        for proc in procs:
            proc.wait(timeout=120)
        first_done = samples[0][1]
        seconds = samples[-1][0] - samples[0][0]
        with open_store(oxigraph.url, write=False) as store:
            quads = sum(1 for _ in store.quads())
    store_bytes = sum(f.stat().st_size for f in (tmp / "store").rglob("*") if f.is_file())
    return Run(
        workers=workers,
        pages=total - first_done,
        seconds=seconds,
        redis_dupefilter_bytes=dupefilter // max(seen, 1),
        redis_queue_bytes_per_url=sum(queue_bytes) / len(queue_bytes) if queue_bytes else 0.0,
        store_bytes_per_fact=store_bytes / max(quads, 1),
        llm_calls=len(llm.requests),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=80)
    parser.add_argument("--chunks", type=int, default=4, help="paragraphs (LLM calls) a page")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    site_pages = build_site(args.pages, args.chunks)
    with serve(site_pages) as site, tempfile.TemporaryDirectory() as folder:
        runs = [crawl(site.url, n, args, Path(folder) / f"run-{n}") for n in (1, args.workers)]
    one, many = runs
    ratio = many.pages_per_second / one.pages_per_second
    bar = BAR_PER_WORKER * args.workers
    print(
        f"\nLLM latency {args.latency} s; per worker {args.concurrency} calls, requests in flight"
    )
    print(f"{'workers':>8} {'pages timed':>12} {'seconds':>8} {'pages/s':>8} {'LLM calls':>10}")
    for run in runs:
        print(
            f"{run.workers:>8} {run.pages:>12} {run.seconds:>8.1f} "
            f"{run.pages_per_second:>8.2f} {run.llm_calls:>10}"
        )
    print(
        f"ratio {args.workers} workers / 1 worker: {ratio:.2f}x (bar >= {bar:.1f}x: "
        f"{'met' if ratio >= bar else 'NOT met'})"
    )
    print(f"load average during the run (1, 5, 15 min): {os.getloadavg()} on {os.cpu_count()} CPUs")
    print(
        f"capacity: Redis {many.redis_dupefilter_bytes} B per URL in the dupefilter, "
        f"{many.redis_queue_bytes_per_url:.0f} B per queued URL; store "
        f"{many.store_bytes_per_fact:.0f} B per quad on disk; "
        f"{many.llm_calls / (args.pages + 1):.2f} LLM calls per page"
    )


if __name__ == "__main__":
    main()
