"""What each hostile page of tests/hostile/ costs, stage by stage: the worst case per stage.

    python bench/hostile.py [--limit-seconds 120]

Each case runs in its own process through the public API (clean, chunk, extract without an
LLM, i.e. the structured-data path, and a write to a fresh embedded store), so one case's
memory does not hide another's. Per stage: CPU seconds and the process's peak RSS after it.
A case still running after ``--limit-seconds`` is killed and shown as such. A crawl bounds
what the API does not: its per-page cleaning time limit and per-page caps (see README,
Security) cut a case before these numbers would; they show the raw cost of each stage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CORPUS = ROOT / "tests" / "hostile"
STAGES = ("clean", "chunk", "extract", "store")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(path: Path) -> dict:
    """Every stage on one case, in this process: {stage: [cpu seconds, peak RSS MB]}."""
    import scraper
    from scraper.fetch.decoding import decode_html

    url = "http://127.0.0.1:8000/" + path.relative_to(CORPUS).as_posix()
    html = decode_html(path.read_bytes(), None)[0].replace("{{INTERNAL}}", "http://127.0.0.1:9")
    costs: dict[str, list[float]] = {}
    # Warm up (imports, the tokenizer, the schema.org vocabulary) so a stage's cost is the
    # case's, not the first call's.
    warm = scraper.clean_page("<main><p>Warm up.</p></main>", url)
    scraper.chunk_markdown(warm.markdown)
    asyncio.run(scraper.extract_page(warm, client=None))

    def timed(stage: str, work):
        started = time.process_time()
        result = work()
        costs[stage] = [round(time.process_time() - started, 3), round(_peak_mb(), 1)]
        return result

    page = timed("clean", lambda: scraper.clean_page(html, url))
    timed("chunk", lambda: scraper.chunk_markdown(page.markdown))
    facts = timed("extract", lambda: asyncio.run(scraper.extract_page(page, client=None)))
    with tempfile.TemporaryDirectory() as folder, scraper.open_store(folder) as store:
        timed("store", lambda: scraper.store_page(store, url, facts, page=page))
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit-seconds", type=float, default=120.0)
    parser.add_argument("--case", help=argparse.SUPPRESS)  # one case, in a child process
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(Path(args.case))))
        return

    cases = sorted(
        p for p in CORPUS.rglob("*") if p.is_file() and p.suffix not in (".md", ".redirect")
    )
    print(f"{len(cases)} hostile cases, each in its own process (limit {args.limit_seconds:.0f} s)")
    header = f"{'case':48} " + " ".join(f"{s + ' s':>9} {'MB':>6}" for s in STAGES)
    print(header)
    worst: dict[str, tuple[float, float, str]] = {s: (0.0, 0.0, "") for s in STAGES}
    for number, case in enumerate(cases, 1):
        name = case.relative_to(CORPUS).as_posix()
        try:
            child = subprocess.run(
                [sys.executable, __file__, "--case", str(case)],
                capture_output=True, text=True, timeout=args.limit_seconds,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            print(f"{name[:48]:48} killed after {args.limit_seconds:.0f} s")
            continue
        if child.returncode != 0:
            last = (child.stderr.strip().splitlines() or ["?"])[-1]
            print(f"{name[:48]:48} failed: {last[:120]}")
            continue
        costs = json.loads(child.stdout.strip().splitlines()[-1])
        cells = []
        for stage in STAGES:
            cpu, peak = costs.get(stage, [0.0, 0.0])
            cells.append(f"{cpu:9.3f} {peak:6.0f}")
            if cpu >= worst[stage][0]:
                worst[stage] = (cpu, max(peak, worst[stage][1]), name)
        print(f"{name[:48]:48} " + " ".join(cells), flush=True)
        if number % 10 == 0:
            print(f"  … {number}/{len(cases)} cases", file=sys.stderr)
    print("\nworst case per stage (CPU seconds, peak RSS after the stage, case):")
    for stage, (cpu, peak, name) in worst.items():
        print(f"  {stage:8} {cpu:8.3f} s  {peak:6.0f} MB  {name}")


if __name__ == "__main__":
    main()
