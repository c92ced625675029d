"""Web explorer speed in Chromium on a 100,000-entity graph: search, entity page, neighbourhood.

    python bench/ui.py [--entities 100000] [--per-page 10] [--neighbours 199] [--runs 30]
                       [--store DIR]

The graph is generated (bench/graph_store.py's pages: names, aliases, descriptions, typed
attributes, relation chains, entities seen again on the next page) and bulk-loaded: each
page's quads are what ``GraphStore.replace_page`` writes (facts, provenance, mentions,
origins; ``page_graph``), loaded with pyoxigraph's bulk loader, then published as a
snapshot by a real writer. A hub organisation is linked from ``--neighbours`` people, so
its one-hop neighbourhood has ``--neighbours`` + 1 nodes. A real ``scrapy graph serve``
answers; real Chromium (Playwright) measures, in the browser:

* search: ``fetch('/api/search?q=…')`` round trips (common prefix, rare name, alias,
  no match), baseline ``find_entities`` (the resolution-key index, exact names) in this
  process;
* entity page: navigation start to the load event of ``/entity?id=…`` (random entities
  and the hub with its ``--neighbours`` relations in);
* neighbourhood: navigation start to the first frame painted after the layout of
  ``/graph?id=<hub>`` (the ``graph-drawn`` mark).

Bars (issue 17): search < 100 ms, entity page < 1 s, 200-node neighbourhood < 2 s.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyoxigraph
from playwright.sync_api import sync_playwright

from bench.graph_store import entity, page_extraction
from scraper.facts import Entity, Relation
from scraper.graph import EmbeddedStore, PageProvenance
from scraper.graph.queries import find_entities
from scraper.graph.store import page_graph
from tests.crawling import PROJECT_DIR
from tests.processes import free_port, server_process

HUB = "Hub Robotics Organization"
BARS_MS = {"search": 100.0, "entity page": 1000.0, "neighbourhood": 2000.0}


def build(folder: Path, entities: int, per_page: int, neighbours: int) -> None:
    """Bulk-load the generated graph into ``folder``."""
    pages = entities // per_page
    started = time.perf_counter()
    folder.mkdir(parents=True)
    store = pyoxigraph.Store(str(folder / "db"))
    batch: list[pyoxigraph.Quad] = []
    total = 0
    for page in range(pages):
        facts = page_extraction(page, per_page)
        if page < neighbours:  # a person of this page works for the hub
            person = next(e.name for e in facts.entities if e.type == "Person")
            facts.entities.append(Entity(name=HUB, type="Organization"))
            facts.relations.append(Relation(source=person, type="worksFor", target=HUB))
        provenance = PageProvenance(
            url=f"https://bench.example/page/{page}",
            fetched_at="2026-01-01T00:00:00+00:00",
            content_hash=f"{page:064d}",
            model="bench",
            prompt_version="v1",
        )
        graph = page_graph(provenance, facts)
        batch += graph.facts + graph.annotations
        if len(batch) > 500_000 or page == pages - 1:
            store.bulk_extend(batch)
            total += len(batch)
            batch = []
            print(f"  {page + 1}/{pages} pages, {total:,} quads", file=sys.stderr)
    store.flush()
    del store  # releases the database for the writer below
    EmbeddedStore.open_writer(folder).close()  # publishes the snapshot readers use
    print(f"  loaded in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def summary(name: str, values: list[float]) -> dict:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "measure": name,
        "n": len(values),
        "median": statistics.median(values),
        "p95": p95,
        "max": ordered[-1],
    }


def measure(url: str, hub: str, samples: list[str], runs: int) -> dict[str, list[float]]:
    queries = ["Org 4", "person number9", "Person Number99998", "Alias 7777", "zzz-none", "Hub"]
    times: dict[str, list[float]] = {"search": [], "entity page": [], "neighbourhood": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        tab.goto(url)
        for _ in range(max(1, runs // len(queries))):
            for query in queries:
                times["search"].append(
                    tab.evaluate(
                        "async q => { const t = performance.now();"
                        " const r = await fetch('/api/search?q=' + encodeURIComponent(q));"
                        " await r.json(); return performance.now() - t; }",
                        query,
                    )
                )
        for iri in [hub, *samples]:
            tab.goto(url + "entity?" + urllib.parse.urlencode({"id": iri}))
            times["entity page"].append(
                tab.evaluate("() => performance.getEntriesByType('navigation')[0].loadEventEnd")
            )
        for _ in range(max(3, runs // 6)):
            tab.goto(url + "graph?" + urllib.parse.urlencode({"id": hub}))
            tab.wait_for_function("() => performance.getEntriesByName('graph-drawn').length")
            drawn = tab.evaluate("() => explorerGraph.nodes().length")
            times["neighbourhood"].append(
                tab.evaluate("() => performance.getEntriesByName('graph-drawn')[0].startTime")
            )
        browser.close()
    print(f"neighbourhood drawn: {drawn} nodes", file=sys.stderr)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--per-page", type=int, default=10)
    parser.add_argument("--neighbours", type=int, default=199)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument(
        "--store", type=Path, help="keep the generated graph in this folder (reused if there)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ui-bench-") as tmp:
        folder = args.store or Path(tmp) / "graph"
        if (folder / "db").is_dir():
            print(f"reusing the graph in {folder}", file=sys.stderr)
        else:
            print(f"building {args.entities:,} entities ...", file=sys.stderr)
            build(folder, args.entities, args.per_page, args.neighbours)
        with EmbeddedStore.open_reader(folder) as store:
            count = store.select("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
            quads = int(count[0]["n"].value)
        rng = random.Random(17)
        names = [entity(rng.randrange(args.entities))["name"] for _ in range(args.runs)]
        with EmbeddedStore.open_reader(folder) as store:
            (hub,) = find_entities(store, HUB)
            baseline = []
            samples = []
            for name in names:
                started = time.perf_counter()
                found = find_entities(store, name)
                baseline.append(1000 * (time.perf_counter() - started))
                samples.append(found[0])
        port = free_port()
        command = [sys.executable, "-m", "scrapy", "graph", "serve", "--port", str(port)]
        command += ["-s", f"GRAPH_STORE={folder}", "-s", f"REPORT_DIR={tmp}/reports"]
        with server_process(command, b"Explorer of", timeout=120, cwd=PROJECT_DIR):
            times = measure(f"http://127.0.0.1:{port}/", hub, samples, args.runs)
    rows = [summary(name, values) for name, values in times.items()]
    print(f"\n{args.entities:,} entities, {quads:,} quads, hub with {args.neighbours} neighbours")
    print(f"{'measure':<16}{'n':>5}{'median ms':>12}{'p95 ms':>10}{'max ms':>10}"
          f"{'bar ms':>9}{'p95/bar':>9}")  # fmt: skip
    for row in rows:
        bar = BARS_MS[row["measure"]]
        print(
            f"{row['measure']:<16}{row['n']:>5}{row['median']:>12.1f}{row['p95']:>10.1f}"
            f"{row['max']:>10.1f}{bar:>9.0f}{row['p95'] / bar:>9.2f}"
        )
    base = statistics.median(baseline)
    search = statistics.median(times["search"])
    print(
        f"\nsearch (substring, ranked, in the browser) / find_entities (exact key, in process): "
        f"{search:.1f} / {base:.1f} ms = {search / base:.1f}x"
    )


if __name__ == "__main__":
    main()
