"""Benchmark the clean stage against trafilatura and whole-page text, in one run.

    python bench/cleaning.py [--data ../shared/data] [--extra ../data/cleaning] [--limit N]
        [--sets S,...] [--types T,...] [--workers 2] [--crawl] [--render never|auto]

Sets (``<data>/README.md``; the extra sets are gathered with ``fetch`` from their public
repositories into ``--extra``, outside the project), each scored as its benchmark does:

- ``aeb``: article-extraction-benchmark, articles, 4-gram shingle F1 (macro P and R);
- ``wcxb``: WCXB's dev split (``<data>/wcxb-dev``), 7 page types, word F1 per page averaged
  per type: the **dev** pages, the only ones the rules were tuned on;
- ``wcxb-test``: WCXB's test split (``<extra>/wcxb-test/test``, 511 pages of the same
  benchmark): **held-out**, never used in tuning;
- ``readability``: Mozilla Readability's test pages (``<extra>/readability``), the text of
  ``expected.html`` as gold, word F1: held-out articles;
- ``trafilatura``: trafilatura's evaluation set (``<extra>/trafilatura-eval``), its
  ``with``/``without`` snippets: F1 of snippets found (a ``without`` found is a false
  positive), as trafilatura's evaluation counts them: held-out articles (trafilatura's own
  tuning set).

``--crawl`` serves the pages on 127.0.0.1 (raw bytes, as the benchmark stored them) and
crawls them with a real ``scrapy crawl semantic`` (``urls_file``, ``follow=false``, no LLM),
then scores each feed record's Markdown with the same scorer; without it the clean
function is called directly. trafilatura (``trafilatura.extract(html)``) and whole-page
text run in the same process on the same decoded HTML. Prints per set and page type: ours,
trafilatura, margin, bar, pages, dev or held-out, and the median raw-HTML characters over
the median Markdown characters (bar: 10x fewer).
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from multiprocessing import Pool
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import trafilatura

from scraper.chunk.tokens import count_tokens
from scraper.clean import clean_html
from scraper.clean.dom import parse_html
from scraper.clean.markdown import to_markdown
from scraper.fetch.decoding import decode_html
from scraper.fetch.rendering import render_reason
from tests.crawling import start_crawl
from tests.sites import Page, serve

SYSTEMS = ("cleaner", "trafilatura", "whole-page")
SETS = ("aeb", "wcxb", "wcxb-test", "readability", "trafilatura")
PAGE_TYPES = ("article", "product", "forum", "listing", "collection", "documentation", "service")
# Bars from the task: F1 >= trafilatura on articles, >= trafilatura + 0.05 on these types.
MARGIN_TYPES = ("product", "forum", "listing", "collection")
MARGIN = 0.05
SIZE_RATIO_BAR = 10.0

_FENCE = re.compile(r"^\s*```.*$", re.M)
_TABLE_RULE = re.compile(r"^\s*\|?(?:\s*:?-{3,}:?\s*\|)+\s*$", re.M)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
# Block quotes, then one heading or list marker: "## 1. Intro" keeps its "1.".
_LINE_MARKERS = re.compile(r"^[ \t]*(?:>[ \t]?)*(?:#{1,6}[ \t]+|(?:[-*+]|\d{1,9}\.)[ \t]+)?", re.M)
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|~<>])")
_PROTECT = str.maketrans("*`|", "\ue000\ue001\ue002")
_RESTORE = str.maketrans("\ue000\ue001\ue002", "*`|")


def markdown_to_text(markdown: str) -> str:
    """Plain text of ``markdown``: the gold of every benchmark is plain text."""
    text = _TABLE_RULE.sub("", _FENCE.sub("", markdown))
    text = _LINK.sub(r"\1", _IMAGE.sub("", text))
    text = _LINE_MARKERS.sub("", text)
    # Escaped characters are literal text: protect them while markers are removed.
    text = _ESCAPE.sub(lambda m: m.group(1).translate(_PROTECT), text)
    text = text.replace("|", " ").replace("*", "").replace("`", "")
    return text.translate(_RESTORE)


def whole_page_text(html: str) -> str:
    """Baseline: all visible text of the page, scripts and styles dropped."""
    tree = parse_html(html)
    return to_markdown(tree) if tree is not None else ""


def load_metrics(data: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("metrics", data / "scoring" / "metrics.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_bytes(page: dict) -> bytes:
    """The page's HTML as the benchmark stored it."""
    raw = Path(page["path"]).read_bytes()
    return gzip.decompress(raw) if page["path"].endswith(".gz") else raw


def read_html(page: dict) -> str:
    """The page's HTML decoded as the crawler decodes a response without a charset header."""
    return decode_html(read_bytes(page))[0]


# ----------------------------------------------------------------------------- sets


def aeb_pages(data: Path) -> list[dict]:
    root = data / "article-extraction-benchmark"
    gold = json.loads((root / "ground-truth.json").read_text())
    return [
        {"set": "aeb", "id": key, "type": "article", "split": "dev", "url": item.get("url") or "",
         "path": str(root / "html" / f"{key}.html.gz"), "gold": item.get("articleBody") or ""}
        for key, item in sorted(gold.items())
    ]  # fmt: skip


def _wcxb_page_type(truth: dict) -> str:
    """Page type as WCXB's evaluate.py reads it (``metadata.json`` lacks some pages)."""
    page_type = ((truth.get("_internal") or {}).get("page_type") or {}).get("primary")
    return "collection" if page_type == "category" else page_type or "article"


def wcxb_pages(root: Path, name: str, split: str) -> list[dict]:
    pages = []
    for truth_path in sorted((root / "ground-truth").glob("*.json")):
        truth = json.loads(truth_path.read_text())
        gold = truth.get("ground_truth") or {}
        pages.append(
            {"set": name, "id": truth_path.stem, "url": truth.get("url") or "",
             "type": _wcxb_page_type(truth), "split": split,
             "path": str(root / "html" / f"{truth_path.stem}.html.gz"),
             "gold": gold.get("main_content") or "", "gold_date": gold.get("publish_date")}
        )  # fmt: skip
    return pages


def readability_pages(extra: Path) -> list[dict]:
    """Mozilla Readability's test pages: ``source.html``, gold = text of ``expected.html``."""
    pages = []
    for folder in sorted((extra / "readability" / "test" / "test-pages").iterdir()):
        expected = folder / "expected.html"
        if not (folder / "source.html").exists() or not expected.exists():
            continue
        tree = parse_html(expected.read_text(encoding="utf-8", errors="replace"))
        gold = " ".join(tree.text_content().split()) if tree is not None else ""
        pages.append(
            {"set": "readability", "id": folder.name, "type": "article", "split": "held-out",
             "url": "", "path": str(folder / "source.html"), "gold": gold}
        )  # fmt: skip
    return pages


def trafilatura_eval_pages(extra: Path) -> list[dict]:
    """trafilatura's evaluation pages with their ``with``/``without`` snippets (entries whose
    file is not in the repository are skipped)."""
    root = extra / "trafilatura-eval" / "tests"
    entries = json.loads((root / "evaldata.json").read_text())
    return [
        {"set": "trafilatura", "id": entry["file"], "type": "article", "split": "held-out",
         "url": url, "path": str(root / "eval" / entry["file"]), "gold": "",
         "with": entry.get("with") or [], "without": entry.get("without") or []}
        for url, entry in sorted(entries.items())
        if (root / "eval" / entry["file"]).exists()
    ]  # fmt: skip


def load_pages(data: Path, extra: Path, sets: Iterable[str]) -> list[dict]:
    loaders: dict[str, Callable[[], list[dict]]] = {
        "aeb": lambda: aeb_pages(data),
        "wcxb": lambda: wcxb_pages(data / "wcxb-dev" / "dev", "wcxb", "dev"),
        "wcxb-test": lambda: wcxb_pages(extra / "wcxb-test" / "test", "wcxb-test", "held-out"),
        "readability": lambda: readability_pages(extra),
        "trafilatura": lambda: trafilatura_eval_pages(extra),
    }
    pages = []
    for name in sets:
        try:
            pages.extend(loaders[name]())
        except FileNotFoundError as exc:
            sys.exit(f"error: set {name!r} not found ({exc.filename}); see bench/cleaning.py")
    return pages


# ------------------------------------------------------------------------- running


def baselines(page: dict, html: str) -> dict:
    """trafilatura's and whole-page text's outputs on ``html``, with trafilatura's time."""
    started = time.perf_counter()
    baseline = trafilatura.extract(html) or ""
    return {
        **{k: v for k, v in page.items() if k != "path"},
        "trafilatura": baseline,
        "baseline_seconds": time.perf_counter() - started,
        "whole-page": markdown_to_text(whole_page_text(html)),
        "html_chars": len(html),
    }


def run_page(page: dict) -> dict:
    """The three systems on one page, the clean function called directly."""
    html = read_html(page)
    started = time.perf_counter()
    cleaned = clean_html(html, page["url"])
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    render = render_reason(html)
    render_seconds = time.perf_counter() - started
    return {
        **baselines(page, html),
        "cleaner": markdown_to_text(cleaned.markdown),
        "markdown_chars": len(cleaned.markdown),
        "seconds": seconds,
        "published": cleaned.published,
        "render": render.code if render else None,
        "render_seconds": render_seconds,
        "markdown_tokens": count_tokens(cleaned.markdown),
        "html_tokens": count_tokens(html),
    }


def run_baselines(page: dict) -> dict:
    return baselines(page, read_html(page))


def _site_path(page: dict) -> str:
    return f"/{page['set']}/{re.sub(r'[^A-Za-z0-9._-]', '_', page['id'])}"


def crawl_pages(pages: list[dict], workers: int, render: str) -> list[dict]:
    """Serve ``pages`` on 127.0.0.1, crawl them with ``scrapy crawl semantic`` and pair each
    feed record's Markdown with the baselines' outputs. A page without a record, or whose
    record has no Markdown, scores as empty (and is counted)."""
    site = {
        _site_path(p): Page(read_bytes(p), content_type="text/html") for p in pages
    }  # no charset header: the crawler decodes as it does any such page
    with Pool(workers) as pool:
        results = pool.map(run_baselines, pages, chunksize=8)
    with tempfile.TemporaryDirectory() as tmp, serve(site) as running:
        urls, out = Path(tmp) / "urls.txt", Path(tmp) / "pages.jsonl"
        urls.write_text("".join(f"{running.url}{_site_path(p)[1:]}\n" for p in pages))
        started = time.perf_counter()
        crawl = start_crawl(
            Path(tmp),
            {"urls_file": str(urls), "follow": "false", "render": render},
            out,
            {"CONCURRENT_REQUESTS": "16", "ROBOTSTXT_OBEY": "True"},
        )
        while crawl.poll() is None:
            time.sleep(15)
            done = out.read_bytes().count(b"\n") if out.exists() else 0
            print(f"  scrapy crawl: {done} / {len(pages)} pages", file=sys.stderr)
        seconds = time.perf_counter() - started
        # Records end at "\n" only: str.splitlines() also splits at U+2028 inside strings.
        lines = out.read_text().split("\n") if out.exists() else []
        records = {r["url"]: r for r in map(json.loads, filter(str.strip, lines))}
    missing = failed = 0
    for page, result in zip(pages, results, strict=True):
        record = records.get(f"{running.url}{_site_path(page)[1:]}")
        missing += record is None
        markdown = (record or {}).get("markdown") or ""
        failed += bool(record and record.get("failures"))
        result.update(cleaner=markdown_to_text(markdown), markdown_chars=len(markdown))
    print(
        f"scrapy crawl: {len(records)} records for {len(pages)} pages in {seconds:.0f} s "
        f"(exit {crawl.returncode}; {missing} pages without a record, {failed} with a "
        f"recorded failure)"
    )
    return results


# ------------------------------------------------------------------------- scoring


def score(results: list[dict], metrics: ModuleType) -> dict[str, float]:
    """F1 of each system on ``results`` (pages of one set), as that set's benchmark scores."""
    scores = {}
    for system in SYSTEMS:
        if results[0]["set"] == "aeb":
            counts = (metrics.shingle_counts(r["gold"], r[system]) for r in results)
            scores[system] = metrics.aggregate_shingle(counts)["f1"]
        elif results[0]["set"] == "trafilatura":
            tp = fp = fn = 0
            for r in results:
                t, f, n, _ = metrics.snippet_counts(r[system], r["with"], r["without"])
                tp, fp, fn = tp + t, fp + f, fn + n
            scores[system] = metrics.prf_from_counts(tp, fp, fn)["f1"]
        else:
            scores[system] = statistics.mean(
                metrics.word_prf(r[system], r["gold"])[2] for r in results
            )
    return scores


def size_ratio(results: list[dict]) -> float:
    """Median raw-HTML characters over median Markdown characters."""
    markdown = statistics.median(r["markdown_chars"] for r in results)
    return statistics.median(r["html_chars"] for r in results) / markdown if markdown else 0.0


def _bar(page_type: str, margin: float) -> str:
    if page_type == "article":
        return "ok" if margin >= 0 else "MISSED (>= trafilatura)"
    if page_type in MARGIN_TYPES:
        return "ok" if margin >= MARGIN else f"MISSED (>= +{MARGIN})"
    return ""


def report(results: list[dict], metrics: ModuleType) -> None:
    header = (
        f"{'set':<12} {'page type':<14} {'split':<9} {'pages':>5} {'ours':>7} "
        f"{'trafilat.':>9} {'margin':>7} {'whole':>6} {'size':>7}  bar"
    )
    print(header)
    print("-" * len(header))
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in results:
        groups[(r["set"], r["type"])].append(r)
    missed = []
    for name in SETS:
        for page_type in PAGE_TYPES:
            rows = groups.get((name, page_type))
            if not rows:
                continue
            s = score(rows, metrics)
            margin = s["cleaner"] - s["trafilatura"]
            bar = _bar(page_type, margin)
            if bar.startswith("MISSED"):
                missed.append(f"{name} {page_type}")
            print(
                f"{name:<12} {page_type:<14} {rows[0]['split']:<9} {len(rows):>5} "
                f"{s['cleaner']:>7.3f} {s['trafilatura']:>9.3f} {margin:>+7.3f} "
                f"{s['whole-page']:>6.3f} {size_ratio(rows):>6.1f}x  {bar}"
            )
    ratio = size_ratio(results)
    verdict = "ok" if ratio >= SIZE_RATIO_BAR else f"MISSED (>= {SIZE_RATIO_BAR:.0f}x)"
    html_chars = statistics.median(r["html_chars"] for r in results)
    markdown_chars = statistics.median(r["markdown_chars"] for r in results)
    print(
        f"\nmedian characters per page: raw HTML {html_chars:,.0f}, Markdown "
        f"{markdown_chars:,.0f} -> {ratio:.1f}x fewer  {verdict}"
    )
    print(f"F1 bars: {'all met' if not missed else 'missed on ' + ', '.join(missed)}")


def report_function(results: list[dict]) -> None:
    """Tokens, time per page, the render decision and dates (function mode only)."""
    markdown_tokens = statistics.median(r["markdown_tokens"] for r in results)
    html_tokens = statistics.median(r["html_tokens"] for r in results)
    print(
        f"median tokens per page: cleaned Markdown {markdown_tokens:,.0f}, raw HTML "
        f"{html_tokens:,.0f} -> {html_tokens / max(markdown_tokens, 1):.1f}x fewer"
    )
    seconds = statistics.mean(r["seconds"] for r in results)
    baseline_seconds = statistics.mean(r["baseline_seconds"] for r in results)
    print(
        f"mean seconds per page: cleaner {seconds:.3f}, trafilatura {baseline_seconds:.3f} "
        f"({seconds / baseline_seconds:.1f}x)"
    )
    print("\nrender=auto decisions on static pages (should be ~0 rendered)")
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        groups[f"{r['set']} {r['type']}"].append(r)
    for label, rows in groups.items():
        rendered = [r for r in rows if r["render"]]
        reasons: dict[str, int] = defaultdict(int)
        for r in rendered:
            reasons[r["render"]] += 1
        detail = ", ".join(f"{code} {n}" for code, n in sorted(reasons.items()))
        ids = " ".join(r["id"] for r in rendered[:8])
        print(f"{label:<28} {len(rendered):>4} / {len(rows):<5} {detail}  {ids}")
    seconds = statistics.mean(r["render_seconds"] for r in results)
    print(f"mean seconds per page of the render decision: {seconds:.3f}")
    for name in ("wcxb", "wcxb-test"):
        report_dates([r for r in results if r["set"] == name], name)


def report_dates(results: list[dict], name: str) -> None:
    """``published`` against WCXB's gold ``publish_date`` (same day counts as right)."""
    if not results:
        return
    dated = [r for r in results if r["gold_date"]]
    right = sum((r["published"] or "")[:10] == r["gold_date"][:10] for r in dated)
    missing = sum(not r["published"] for r in dated)
    undated = [r for r in results if not r["gold_date"]]
    invented = sum(bool(r["published"]) for r in undated)
    print(
        f"published vs {name} gold date: {right} / {len(dated)} right, "
        f"{len(dated) - right - missing} wrong, {missing} missing; "
        f"{invented} / {len(undated)} pages without a gold date given one"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument(
        "--extra", type=Path, default=Path("../data/cleaning"),
        help="folder of the gathered sets: wcxb-test, readability, trafilatura-eval",
    )  # fmt: skip
    parser.add_argument("--limit", type=int, help="pages per set and page type (spread over them)")
    parser.add_argument("--sets", default=",".join(SETS), help=f"of {', '.join(SETS)}")
    parser.add_argument("--types", help=f"comma-separated page types, of {', '.join(PAGE_TYPES)}")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--crawl", action="store_true", help="serve the pages locally and run scrapy crawl"
    )
    parser.add_argument("--render", default="never", choices=("never", "auto", "always"))
    args = parser.parse_args()
    sets = [s for s in args.sets.split(",") if s]
    if unknown := [s for s in sets if s not in SETS]:
        sys.exit(f"error: unknown set {unknown[0]!r}: choose from {', '.join(SETS)}")
    types = set(args.types.split(",")) if args.types else None
    if types and (unknown := sorted(types - set(PAGE_TYPES))):
        sys.exit(f"error: unknown page type {unknown[0]!r}: choose from {', '.join(PAGE_TYPES)}")
    metrics = load_metrics(args.data)
    pages = []
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for page in load_pages(args.data, args.extra, sets):
        if not types or page["type"] in types:
            groups[(page["set"], page["type"])].append(page)
    for subset in groups.values():
        if args.limit:
            subset = subset[:: max(1, len(subset) // args.limit)][: args.limit]
        pages.extend(subset)
    if not pages:
        sys.exit("error: no pages selected (check --sets and --types)")
    mode = "scrapy crawl" if args.crawl else "clean function"
    print(f"{len(pages)} pages through the {mode}")
    started = time.perf_counter()
    if args.crawl:
        results = crawl_pages(pages, args.workers, args.render)
    else:
        with Pool(args.workers) as pool:
            results = []
            for done, result in enumerate(pool.imap(run_page, pages, chunksize=4), 1):
                results.append(result)
                if done % 200 == 0:
                    print(f"  {done} / {len(pages)} pages", file=sys.stderr)
    print(f"{len(results)} pages in {time.perf_counter() - started:.0f} s\n")
    report(results, metrics)
    if not args.crawl:
        report_function(results)


if __name__ == "__main__":
    main()
