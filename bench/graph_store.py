"""Graph store speed on a crawl whose pages keep naming the same entities: write time per
1000 pages (flat, not growing), `scrapy graph entity` latency, and our writes against
pyoxigraph's ``bulk_extend`` of the same quads.

    python bench/graph_store.py [--pages 20000] [--batch 16] [--lookups 200] [--endpoint]

The pages are generated like a news or shop site's JSON-LD: each page is an article with an
author, a publisher and products drawn from shared pools with a Zipf-like skew, so popular
entities recur on hundreds or thousands of pages (the case that made resolution quadratic:
it read every page's copy of a popular node's keys). Writes go through the crawl's code path
(``GraphStore.replace_page`` in ``write_batch``es of ``--batch`` pages: resolution through
the key index, RDF mapping with provenance, one atomic SPARQL update per batch). Then
``entity_views`` (what ``scrapy graph entity NAME`` prints) for the most popular entities and
random ones, and ``bulk_extend`` of every quad the store ended with into a fresh pyoxigraph
store (the fastest load pyoxigraph has: no transaction, no resolution). ``--endpoint`` runs
the same on ``oxigraph serve`` (on disk, over HTTP on 127.0.0.1) too.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyoxigraph

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scraper.facts import PageFacts
from scraper.graph import EmbeddedStore, GraphStore, PageProvenance, SparqlEndpointStore
from scraper.graph.browse import ENTITY_PAGES, entity_views
from tests.oxigraph_server import oxigraph_server

AUTHORS, PUBLISHERS, PRODUCTS = 2_000, 100, 5_000


def _zipf(pool: int) -> list[float]:
    """Cumulative weights 1/1, 1/2, 1/3, … of a pool's entities (Zipf's law)."""
    return list(itertools.accumulate(1 / rank for rank in range(1, pool + 1)))


ZIPF = {pool: _zipf(pool) for pool in (AUTHORS, PUBLISHERS, PRODUCTS)}


def popular(rng: random.Random, pool: int) -> int:
    """An index into a pool by Zipf's law: entity 0 of the 100 publishers is on about one
    page in five, entity 50 on one in 260."""
    return rng.choices(range(pool), cum_weights=ZIPF[pool])[0]


def author(i: int) -> dict:
    return {"name": f"Author Number{i}", "type": "Person", "origin": "structured_data"}


def publisher(i: int) -> dict:
    return {
        "name": f"Publisher {i} Ltd",
        "type": "Organization",
        "identifiers": [f"https://www.wikidata.org/entity/Q{1000 + i}"],
        "attributes": {"url": f"https://publisher{i}.example/"},
        "origin": "structured_data",
    }


def product(i: int) -> dict:
    return {
        "name": f"Widget Model {i}",
        "type": "Product",
        "aliases": [f"WM-{i}"],
        "attributes": {"sku": f"SKU-{i:06d}"},
        "origin": "structured_data",
    }


def page_facts(page: int, rng: random.Random) -> PageFacts:
    article = {
        "name": f"Story number {page}",
        "type": "CreativeWork",
        "description": f"Article {page} of the generated site, about widgets.",
        "attributes": {"datePublished": "2026-01-01", "wordCount": 400 + page % 900},
        "origin": "structured_data",
    }
    people = [author(popular(rng, AUTHORS)), author(rng.randrange(AUTHORS))]
    org = publisher(popular(rng, PUBLISHERS))
    things = [product(popular(rng, PRODUCTS)) for _ in range(3)]
    relations = [("author", p["name"]) for p in people] + [("publisher", org["name"])]
    relations += [("mentions", t["name"]) for t in things]
    return PageFacts.from_dict(
        {
            "status": "ok",
            "model": "bench",
            "entities": [article, *people, org, *things],
            "relations": [
                {"source": article["name"], "type": kind, "target": target, "origin": "llm"}
                for kind, target in relations
            ],
        }
    )


def provenance(page: int) -> PageProvenance:
    return PageProvenance(
        url=f"https://bench.example/story/{page}",
        fetched_at="2026-01-01T00:00:00+00:00",
        content_hash=f"{page:064d}",
        model="bench",
        prompt_version="v1",
    )


def write_pages(
    store: GraphStore, facts: list[PageFacts], batch: int
) -> tuple[float, list[tuple[float, float]]]:
    """Seconds spent writing every page, and (wall, CPU) seconds of each 1000 pages (CPU
    time of this process, pyoxigraph's threads included: what other jobs on the machine
    do not change)."""
    pages = len(facts)
    laps: list[tuple[float, float]] = []
    started = lap = time.perf_counter()
    cpu = time.process_time()
    for first in range(0, pages, batch):
        with store.write_batch():
            for page in range(first, min(first + batch, pages)):
                store.replace_page(provenance(page), facts[page])
        done = min(first + batch, pages)
        if done >= 1000 * (len(laps) + 1):
            now, cpu_now = time.perf_counter(), time.process_time()
            laps.append((now - lap, cpu_now - cpu))
            lap, cpu = now, cpu_now
            wall_s, cpu_s = laps[-1]
            print(
                f"  {done}/{pages}: last 1000 {wall_s:.1f} s ({cpu_s:.1f} s CPU)", file=sys.stderr
            )
    return time.perf_counter() - started, laps


def entity_latencies(
    store: GraphStore, facts: list[PageFacts], lookups: int, limit: int | None
) -> tuple[list[float], list[float]]:
    """`scrapy graph entity` latency (s) for the most popular entities and for random ones,
    listing at most ``limit`` pages per entity (None: all)."""
    top = [publisher(0)["name"], author(0)["name"], product(0)["name"]]
    written = sorted({e.name for page in facts for e in page.entities})
    names = random.Random(11).sample(written, min(lookups, len(written)))
    return (
        [_timed_entity(store, n, limit) for n in top * 5],
        [_timed_entity(store, n, limit) for n in names],
    )


def _timed_entity(store: GraphStore, name: str, limit: int | None) -> float:
    started = time.perf_counter()
    views = entity_views(store, name, limit)
    elapsed = time.perf_counter() - started
    assert views, name
    return elapsed


def load_seconds(quads: list[pyoxigraph.Quad], folder: Path, transaction: int = 0) -> float:
    """Seconds pyoxigraph takes to load ``quads`` into a fresh store: ``bulk_extend`` (no
    transaction), or with ``transaction`` quads per ``extend`` call (a transaction each)."""
    fresh = pyoxigraph.Store(str(folder))
    started = time.perf_counter()
    if transaction:
        for first in range(0, len(quads), transaction):
            fresh.extend(quads[first : first + transaction])
    else:
        fresh.bulk_extend(quads)
    fresh.flush()
    return time.perf_counter() - started


def run(name: str, store: GraphStore, args: argparse.Namespace, tmp: Path) -> dict:
    print(f"{name}: writing {args.pages} pages ...", file=sys.stderr)
    rng = random.Random(7)
    facts = [page_facts(page, rng) for page in range(args.pages)]
    seconds, per_thousand = write_pages(store, facts, args.batch)
    quads = list(store.quads())
    latencies = {
        "": entity_latencies(store, facts, args.lookups, ENTITY_PAGES),
        "all ": entity_latencies(store, facts, args.lookups, None),
    }
    bulk = load_seconds(quads, tmp / f"bulk-{name}")
    per_batch = len(quads) * args.batch // args.pages
    extend = load_seconds(quads, tmp / f"extend-{name}", transaction=per_batch)
    return {
        "system": name,
        "per_thousand": per_thousand,
        "pages/s": args.pages / seconds,
        "quads/s": len(quads) / seconds,
        "bulk quads/s": len(quads) / bulk,
        "extend quads/s": len(quads) / extend,
        "quads": len(quads),
    } | {
        f"{pages}{figure}": 1000 * value
        for pages, (popular_entities, random_entities) in latencies.items()
        for figure, value in (
            ("popular p50", statistics.median(popular_entities)),
            ("popular max", max(popular_entities)),
            ("any p50", statistics.median(random_entities)),
            ("any p95", statistics.quantiles(random_entities, n=20)[-1]),
        )
    }


def print_report(row: dict) -> None:
    laps = row["per_thousand"]
    print(f"\n{row['system']}: seconds per 1000 pages written, wall (CPU)")
    for first in range(0, len(laps), 10):
        print("  " + " ".join(f"{wall:.1f} ({cpu:.1f})" for wall, cpu in laps[first : first + 10]))
    quarter = max(1, len(laps) // 4)
    first_cpu = statistics.mean(cpu for _, cpu in laps[:quarter])
    last_cpu = statistics.mean(cpu for _, cpu in laps[-quarter:])
    print(
        f"  CPU per 1000 pages, first quarter {first_cpu:.1f} s, last quarter {last_cpu:.1f} s: "
        f"last/first {last_cpu / first_cpu:.2f}x"
    )
    print(
        f"  {row['pages/s']:.0f} pages/s, {row['quads/s']:.0f} quads/s; bulk_extend of the same "
        f"{row['quads']} quads {row['bulk quads/s']:.0f} quads/s: "
        f"writes/bulk_extend {row['quads/s'] / row['bulk quads/s']:.2f}x"
    )
    print(
        f"  extend (one transaction per batch's worth of quads, nothing else) "
        f"{row['extend quads/s']:.0f} quads/s = {row['extend quads/s'] / row['bulk quads/s']:.2f}x "
        f"bulk_extend: writes/extend {row['quads/s'] / row['extend quads/s']:.2f}x"
    )
    for pages, listing in (("", f"at most {ENTITY_PAGES} pages listed"), ("all ", "all pages")):
        print(
            f"  `scrapy graph entity` ({listing}): most popular entities p50 "
            f"{row[pages + 'popular p50']:.1f} ms, max {row[pages + 'popular max']:.1f} ms; "
            f"random entities p50 {row[pages + 'any p50']:.1f} ms, "
            f"p95 {row[pages + 'any p95']:.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=16, help="pages per write_batch")
    parser.add_argument("--lookups", type=int, default=200)
    parser.add_argument("--endpoint", action="store_true", help="also on oxigraph serve")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="graph-bench-") as folder:
        tmp = Path(folder)
        store = EmbeddedStore.open_writer(tmp / "embedded", snapshot_interval=3600)
        rows = [run("embedded", store, args, tmp)]
        store.close()
        if args.endpoint:
            with oxigraph_server(tmp / "endpoint") as server:
                endpoint = SparqlEndpointStore(server.url)
                rows.append(run("endpoint", endpoint, args, tmp))
                endpoint.close()
    print(f"\n{args.pages} pages, {args.batch} per batch")
    for row in rows:
        print_report(row)


if __name__ == "__main__":
    main()
