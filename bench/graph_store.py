"""Graph store speed: facts written per second and entity-lookup latency, embedded vs endpoint.

    python bench/graph_store.py [--entities 100000] [--per-page 10] [--lookups 1000]

Both backends run the same code path (``GraphStore.replace_page``: resolution lookup, RDF
mapping with provenance, one atomic SPARQL update per page): the embedded pyoxigraph store
on disk, and ``oxigraph serve`` on disk over HTTP on 127.0.0.1 (started and stopped here).
The pages are generated (no data set in ``../shared/data`` holds entity graphs): each page
has ``--per-page`` entities with an alias, a description, two attributes, a third of them
a ``sameAs``, a relation chain, and one entity of the previous page written differently
("Org 7 Ltd" → "ORG 7 LIMITED"), so resolution merges across pages as in a real crawl.
Lookups, after all pages are written: ``find_entities`` (name → node, the resolution-key
index) and ``describe_entity`` (everything about a node, as ``scrapy graph entity`` shows).
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scraper.facts import PageFacts
from scraper.graph import EmbeddedStore, GraphStore, PageProvenance, SparqlEndpointStore
from scraper.graph.queries import describe_entity, find_entities
from tests.oxigraph_server import oxigraph_server


def entity(i: int, variant: bool = False) -> dict:
    kind = "Organization" if i % 2 else "Person"
    name = f"Org {i} Ltd" if kind == "Organization" else f"Person Number{i}"
    if variant:
        name = name.upper().replace("LTD", "LIMITED")
    return {
        "name": name,
        "type": kind,
        "aliases": [f"Alias {i}"],
        "description": f"Entity {i}, a generated {kind.lower()} with a short description.",
        "attributes": {"rank": i, "code": f"C-{i:06d}"},
        "identifiers": [f"https://www.wikidata.org/entity/Q{i}"] if i % 3 == 0 else [],
        "origin": "llm" if i % 4 else "structured_data",
    }


def page_extraction(page: int, per_page: int) -> PageFacts:
    first = page * per_page
    entities = [entity(i) for i in range(first, first + per_page)]
    if page:
        entities.append(entity(first - 1, variant=True))  # seen on the previous page
    names = [e["name"] for e in entities]
    relations = [
        {"source": a, "type": "knows", "target": b, "evidence": f"{a} knows {b}."}
        for a, b in itertools.pairwise(names)
    ]
    return PageFacts.from_dict(
        {"status": "ok", "model": "bench", "entities": entities, "relations": relations}
    )


def write_pages(store: GraphStore, pages: int, per_page: int) -> tuple[float, int]:
    """Seconds spent writing all pages, and facts written."""
    facts = 0
    started = time.perf_counter()
    for page in range(pages):
        provenance = PageProvenance(
            url=f"https://bench.example/page/{page}",
            fetched_at="2026-01-01T00:00:00+00:00",
            content_hash=f"{page:064d}",
            model="bench",
            prompt_version="v1",
        )
        facts += store.replace_page(provenance, page_extraction(page, per_page)).facts_added
        if page and page % 1000 == 0:
            rate = page / (time.perf_counter() - started)
            print(f"  {page}/{pages} pages ({rate:.0f} pages/s)", file=sys.stderr)
    return time.perf_counter() - started, facts


def latencies(store: GraphStore, entities: int, lookups: int) -> tuple[list[float], list[float]]:
    rng = random.Random(7)
    finds, describes = [], []
    for n in range(lookups):
        i = rng.randrange(entities)
        name = entity(i)["name"]
        started = time.perf_counter()
        found = find_entities(store, name)
        finds.append(time.perf_counter() - started)
        assert found, name
        if n % 5 == 0:
            started = time.perf_counter()
            describe_entity(store, found[0])
            describes.append(time.perf_counter() - started)
    return finds, describes


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def run(name: str, store: GraphStore, args: argparse.Namespace) -> dict:
    pages = args.entities // args.per_page
    print(f"{name}: writing {pages} pages ...", file=sys.stderr)
    seconds, facts = write_pages(store, pages, args.per_page)
    quads = sum(1 for _ in store.quads())
    finds, describes = latencies(store, args.entities, args.lookups)
    return {
        "system": name,
        "pages/s": pages / seconds,
        "facts/s": facts / seconds,
        "quads/s": quads / seconds,
        "facts": facts,
        "find p50 ms": 1000 * statistics.median(finds),
        "find p95 ms": 1000 * percentile(finds, 95),
        "describe p50 ms": 1000 * statistics.median(describes),
        "describe p95 ms": 1000 * percentile(describes, 95),
    }


def print_table(rows: list[dict]) -> None:
    base = rows[0]
    columns = [c for c in base if c not in ("system", "facts")]
    print(f"\n{'system':<10}" + "".join(f"{c:>17}" for c in columns))
    for row in rows:
        print(f"{row['system']:<10}" + "".join(f"{row[c]:>17.1f}" for c in columns))
    for row in rows[1:]:
        print(
            f"{row['system'] + '/' + base['system']:<10}"
            + "".join(f"{row[c] / base[c]:>16.2f}x" for c in columns)
        )
    print(
        f"\nfacts written: {base['facts']} (every fact also gets an origin record in the "
        "page's provenance graph: quads/s counts both)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--per-page", type=int, default=10)
    parser.add_argument("--lookups", type=int, default=1000)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="graph-bench-") as tmp:
        store = EmbeddedStore.open_writer(Path(tmp) / "embedded", snapshot_interval=3600)
        rows.append(run("embedded", store, args))
        store.close()
        with oxigraph_server(Path(tmp) / "endpoint") as server:
            endpoint = SparqlEndpointStore(server.url)
            rows.append(run("endpoint", endpoint, args))
            endpoint.close()
    print(f"\n{args.entities} entities, {args.per_page} per page")
    print_table(rows)


if __name__ == "__main__":
    main()
