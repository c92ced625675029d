"""Extraction quality with answers shaped the way real models write them, in real crawls.

    python bench/answer_shapes.py [--pages 80] [--seed 7]

``tests/messy_site.py`` generates a fictional business directory (companies, people,
products, news, listings; some JSON-LD) and the gold entities and relations each page
states. ``scrapy crawl semantic`` crawls it in subprocesses, each with fresh state, against
the fake OpenAI-compatible server of ``tests/fake_llm.py`` answering every chunk with the
gold facts it names: (a) as clean JSON, (b) in messy shapes (fences, thinking, prose,
trailing commas, single quotes, nulls, other spellings of types and relation types, wrappers,
invalid items, a hallucinated entity and relation), (c) messy again with an
``LLM_BUDGET_USD`` that runs out partway, then ``scrapy retry_failed`` with a large budget.

Entity and relation precision, recall and F1 are computed from the stored graph against the
gold (names compared as ``normalise_name``, types as contract-2 types); hallucinated nodes
are stored names that occur in no page's text. Bar: messy F1 >= 0.98 x perfect F1 for
entities and relations, 0 hallucinated nodes, and the budget scenario loses no page.
Also prints how often each shape was used and what the answers of each shape lost,
page by page, against the clean run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scraper.graph.names import normalise_name
from tests.crawling import CrawlResult, run_crawl, run_scrapy
from tests.fake_llm import FakeLLM, serve_fake_llm
from tests.messy_site import (
    SHAPES,
    GoldResponder,
    MessySite,
    build_site,
    gold_responder,
    graph_facts,
    hallucinated,
    messy,
    perfect,
    score,
    shape_counts,
)
from tests.sites import RunningSite, serve

BAR = 0.98
FAST_LLM = {"LLM_BACKOFF_INITIAL": "0.01", "LLM_BACKOFF_MAX": "0.05", "LLM_TIMEOUT": "10"}
BUDGET_SHARE = 0.35  # of the messy crawl's cost: the budget runs out about a third in


@dataclass
class Run:
    name: str
    state: Path
    result: CrawlResult
    responder: GoldResponder
    report: dict[str, Any]
    hits: list[str]  # site paths requested during the crawl
    seconds: float


def latest_report(state: Path, prefix: str) -> dict[str, Any]:
    reports = sorted((state / "reports").glob(f"{prefix}-*.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(reports[-1].read_text()) if reports else {}


def crawl(
    name: str,
    site: MessySite,
    running: RunningSite,
    state: Path,
    responder: GoldResponder,
    settings: dict[str, str] | None = None,
    latency: float = 0.0,
) -> Run:
    seen = len(running.hits)
    with serve_fake_llm(FakeLLM(responder, latency=latency)) as fake:
        started = time.monotonic()
        result = run_crawl(
            state, {"url": running.url, "render": "never"}, {**FAST_LLM, **(settings or {})},
            {"OPENAI_BASE_URL": fake.base_url}, timeout=900,
        )  # fmt: skip
        seconds = time.monotonic() - started
    if result.returncode != 0:
        sys.exit(f"the {name} crawl failed:\n{result.log[-3000:]}")
    hits = [h for h in running.hits[seen:] if h in site.pages]
    return Run(name, state, result, responder, latest_report(state, "semantic"), hits, seconds)


def quality_row(name: str, site: MessySite, state: Path, llm: dict[str, int]) -> dict[str, Any]:
    facts = graph_facts(str(state / "graph"))
    return {
        "run": name,
        "entities": score(facts.entities, site.entity_keys()),
        "relations": score(facts.relations, site.relation_keys()),
        "hallucinated": hallucinated(facts.names, site),
        **llm,
    }


def llm_counts(*reports: dict[str, Any]) -> dict[str, int]:
    keys = ("calls", "reasks", "dropped_invalid", "dropped_ungrounded")
    return {key: sum(int(r.get("llm", {}).get(key, 0)) for r in reports) for key in keys}


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = zip(row, widths, strict=True)
        lines.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(cells)))
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def record_facts(record: dict[str, Any]) -> tuple[set[Any], set[Any]]:
    """(entity keys, relation keys) of a record's extraction, every origin."""
    extraction = record.get("extraction") or {}
    types = {e["name"]: e["type"] for e in extraction.get("entities", [])}
    entities = {(normalise_name(n, t), t) for n, t in types.items()}
    relations = {
        (
            normalise_name(r["source"], types.get(r["source"])),
            r["type"],
            normalise_name(r["target"], types.get(r["target"])),
        )
        for r in extraction.get("relations", [])
    }
    return entities, relations


def shape_losses(clean: Run, shaped: Run) -> tuple[list[list[str]], list[str]]:
    """Per shape: answers, and what the pages answered with it lost or gained against clean."""
    clean_records = clean.result.by_url()
    answers: Counter = Counter()
    pages_lossy: Counter = Counter()
    lost: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # entities, relations, extra
    examples: list[str] = []
    for url, record in shaped.result.by_url().items():
        shapes = {
            shape
            for chunk in record.get("chunks") or []
            for used in shaped.responder.used.get(chunk["text"], [])
            for shape in used
        }
        answers.update(shapes)
        if url not in clean_records:
            continue
        want_e, want_r = record_facts(clean_records[url])
        got_e, got_r = record_facts(record)
        missing_e, missing_r, extra = (
            want_e - got_e,
            want_r - got_r,
            (got_e - want_e) | (got_r - want_r),
        )
        if not (missing_e or missing_r or extra):
            continue
        for shape in shapes or {"(none)"}:
            pages_lossy[shape] += 1
            lost[shape][0] += len(missing_e)
            lost[shape][1] += len(missing_r)
            lost[shape][2] += len(extra)
        if len(examples) < 6:
            status = (record.get("extraction") or {}).get("status")
            examples.append(
                f"{url} [{', '.join(sorted(shapes))}] status={status} "
                f"lost entities={sorted(missing_e)} lost relations={sorted(missing_r)} "
                f"extra={sorted(extra)}"
            )
    rows = [
        [shape, str(answers[shape]), str(pages_lossy[shape]), *(str(n) for n in lost[shape])]
        for shape in SHAPES
    ]
    return rows, examples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=80)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    site = build_site(args.pages, args.seed)
    with tempfile.TemporaryDirectory() as tmp, serve(site.pages) as running:
        urls_of = {running.url + path.lstrip("/"): path for path in site.pages}
        root = Path(tmp)
        clean = crawl("perfect", site, running, root / "perfect",
                      gold_responder(site, perfect, args.seed))  # fmt: skip
        shaped = crawl("messy", site, running, root / "messy",
                       gold_responder(site, messy, args.seed))  # fmt: skip
        rows = [
            quality_row("perfect", site, clean.state, llm_counts(clean.report)),
            quality_row("messy", site, shaped.state, llm_counts(shaped.report)),
        ]
        # (c) The budget runs out partway; retry_failed with a large budget finishes the job.
        cost = float(shaped.report["llm"]["cost_usd"] or 0)
        budget = cost * BUDGET_SHARE
        limited = crawl(
            "budget", site, running, root / "budget", gold_responder(site, messy, args.seed),
            {"LLM_BUDGET_USD": f"{budget:.6f}", "LLM_CONCURRENCY": "4"}, latency=0.02,
        )  # fmt: skip
        failures_path = limited.state / "failures.jsonl"
        failed_before = failures_path.read_text().splitlines() if failures_path.exists() else []
        with serve_fake_llm(FakeLLM(limited.responder)) as fake:
            retry = run_scrapy(
                limited.state, ["retry_failed"], limited.state / "retried.jsonl",
                settings={**FAST_LLM, "LLM_BUDGET_USD": "100"},
                env={"OPENAI_BASE_URL": fake.base_url}, timeout=900,
            )  # fmt: skip
        if retry.returncode != 0:
            sys.exit(f"retry_failed failed:\n{retry.log[-3000:]}")
        failed_after = failures_path.read_text().splitlines() if failures_path.exists() else []
        retry_report = latest_report(limited.state, "retry_failed")
        rows.append(
            quality_row(
                "budget + retry_failed", site, limited.state,
                llm_counts(limited.report, retry_report),
            )
        )  # fmt: skip

    header = ["run", "entity P", "R", "F1", "relation P", "R", "F1", "hallucinated",
              "LLM calls", "re-asks", "dropped invalid", "dropped ungrounded"]  # fmt: skip
    body = []
    for row in rows:
        e, r = row["entities"], row["relations"]
        body.append(
            [row["run"], f"{e.precision:.3f}", f"{e.recall:.3f}", f"{e.f1:.3f}",
             f"{r.precision:.3f}", f"{r.recall:.3f}", f"{r.f1:.3f}", str(len(row["hallucinated"])),
             str(row["calls"]), str(row["reasks"]), str(row["dropped_invalid"]),
             str(row["dropped_ungrounded"])]
        )  # fmt: skip
    gold_e, gold_r = len(site.entity_keys()), len(site.relation_keys())
    print(f"site: {len(site.pages)} pages, {gold_e} gold entities, {gold_r} gold relations "
          f"(seed {args.seed}); crawls {clean.seconds:.1f} s / {shaped.seconds:.1f} s / "
          f"{limited.seconds:.1f} s")  # fmt: skip
    print()
    print(table(header, body))
    print()
    perfect_row, messy_row = rows[0], rows[1]
    entity_ratio = messy_row["entities"].f1 / perfect_row["entities"].f1
    relation_ratio = messy_row["relations"].f1 / perfect_row["relations"].f1
    hallucinations = sum(len(row["hallucinated"]) for row in rows)
    print(f"entity F1 messy / perfect    {entity_ratio:.3f} (bar >= {BAR})")
    print(f"relation F1 messy / perfect  {relation_ratio:.3f} (bar >= {BAR})")
    print(f"hallucinated nodes           {hallucinations} (bar 0)")
    for row in rows:
        if row["hallucinated"]:
            print(f"  {row['run']}: {row['hallucinated']}")
    for row in rows[:2]:
        for kind in ("entities", "relations"):
            found = row[kind]
            if found.missing or found.extra:
                print(f"  {row['run']} {kind}: missing {found.missing[:8]} extra {found.extra[:8]}")

    # Budget rows.
    records = limited.result.records
    extracted = [r for r in records if r.get("extraction")]
    ok_first = {r["url"] for r in extracted if r["extraction"]["status"] == "ok"}
    over_budget = [
        r for r in extracted if r["extraction"].get("failure_reason") == "llm_budget_exceeded"
    ]
    ok_retry = {
        r["url"] for r in retry.records if (r.get("extraction") or {}).get("status") == "ok"
    }
    served = set(limited.hits)
    served_urls = {url for url, path in urls_of.items() if path in served}
    lost = sorted(served_urls - ok_first - ok_retry)
    unrecorded = sorted(set(urls_of) - {r["url"] for r in records})
    budget_rows = [
        ("budget (LLM_BUDGET_USD)", f"${budget:.6f} ({BUDGET_SHARE:.0%} of the messy crawl)"),
        ("pages served", str(len(served))),
        ("records written", str(len(records))),
        ("records ok (extracted by the LLM)", str(len(ok_first))),
        ("records with llm_budget_exceeded", str(len(over_budget))),
        ("pages in the failures file", str(len(failed_before))),
        ("retry_failed: records / extracted ok", f"{len(retry.records)} / {len(ok_retry)}"),
        ("failures file after retry_failed", str(len(failed_after))),
        ("pages lost", f"{len(lost) + len(unrecorded)} (bar 0)"),
    ]
    print()
    width = max(len(name) for name, _ in budget_rows)
    for name, value in budget_rows:
        print(f"{name:<{width}}  {value}")
    if lost or unrecorded:
        print(f"  lost: {lost} unrecorded: {unrecorded}")

    # Shapes.
    counts = shape_counts(shaped.responder)
    answers = sum(len(a) for a in shaped.responder.used.values())
    print()
    print(f"shapes in the messy run: {answers} answers, {sum(counts.values())} shapes used")
    loss_rows, examples = shape_losses(clean, shaped)
    print(
        table(
            ["shape", "answers", "pages differing", "entities lost", "relations lost", "extra"],
            loss_rows,
        )
    )
    for example in examples:
        print(f"  {example}")

    failed = []
    if entity_ratio < BAR or relation_ratio < BAR:
        failed.append("F1 ratio below the bar")
    if hallucinations:
        failed.append("hallucinated nodes in the graph")
    if lost or unrecorded:
        failed.append("pages lost")
    if failed:
        sys.exit("below the bar: " + "; ".join(failed))


if __name__ == "__main__":
    main()
