"""The end-of-crawl report, built from the crawl's stats: a JSON document and a text summary."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from scraper.facts import ExtractionStatus
from scraper.fetch.frontier import REASONS as CUT_OFF_REASONS

CHANGES = ("new", "changed", "unchanged", "moved", "removed")
GRAPH_COUNTS = (
    "entities_added",
    "entities_removed",
    "relations_added",
    "relations_removed",
    "facts_added",
    "facts_removed",
)


def _count(stats: dict[str, Any], key: str) -> int:
    return int(stats.get(key, 0) or 0)


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _by_suffix(stats: dict[str, Any], prefix: str) -> dict[str, int]:
    """``{rest: count}`` of the stats named ``<prefix><rest>``, most first."""
    found = {k.removeprefix(prefix): _count(stats, k) for k in stats if k.startswith(prefix)}
    return dict(sorted(found.items(), key=lambda kv: (-kv[1], kv[0])))


def crawl_report(stats: dict[str, Any], model: str | None) -> dict[str, Any]:
    """What a crawl did: pages by outcome and change, links cut off by the crawl's bounds,
    structured data left out, LLM use and cost, graph changes."""
    failures = {
        key.removeprefix("pages/failed/"): _count(stats, key)
        for key in sorted(stats)
        if key.startswith("pages/failed/")
    }
    unpriced = _count(stats, "llm/unpriced_calls") > 0
    return {
        "started": _iso(stats.get("start_time")),
        "finished": _iso(stats.get("finish_time")),
        "finish_reason": stats.get("finish_reason"),
        "elapsed_seconds": stats.get("elapsed_time_seconds"),
        "pages": {
            "records": _count(stats, "pages/records"),
            "ok": _count(stats, "pages/ok"),
            "failed": _count(stats, "pages/failed"),
            **{change: _count(stats, f"recrawl/{change}") for change in CHANGES},
        },
        "extraction": {
            status.value: _count(stats, f"extract/status/{status}")
            for status in (
                ExtractionStatus.OK,
                ExtractionStatus.STRUCTURED_DATA_ONLY,
                ExtractionStatus.SKIPPED,
                ExtractionStatus.FAILED,
            )
        },
        "llm": {
            "model": model,
            "response_format": stats.get("llm/response_format"),
            "format_rejections": _count(stats, "llm/format_rejections"),
            "stopped": stats.get("llm/stopped"),
            "chunks": _count(stats, "llm/chunks"),
            "cache_hits": _count(stats, "llm/cache_hits"),
            "calls": _count(stats, "llm/calls"),
            "retries": _count(stats, "llm/retries"),
            "reasks": _count(stats, "llm/reasks"),
            "splits": _count(stats, "llm/splits"),
            "prompt_tokens": _count(stats, "llm/prompt_tokens"),
            "completion_tokens": _count(stats, "llm/completion_tokens"),
            "cost_usd": None if unpriced else float(stats.get("llm/cost_usd", 0) or 0),
            "dropped_ungrounded": _count(stats, "llm/dropped_ungrounded"),
            "dropped_invalid": _count(stats, "llm/dropped_invalid"),
            "invalid_answers": _count(stats, "llm/invalid_answers"),
        },
        "graph": {name: _count(stats, f"graph/{name}") for name in GRAPH_COUNTS},
        "failures": failures,
        # links not followed (pages/cut_off/<reason>), and the trap patterns among them
        "cut_off": {
            reason: n
            for reason in CUT_OFF_REASONS
            if (n := _count(stats, f"pages/cut_off/{reason}"))
        },
        "trap_patterns": _by_suffix(stats, "traps/patterns/"),
        "structured_data_skipped": _by_suffix(stats, "structured_data/skipped/"),
    }


def _llm_mode(llm: dict[str, Any]) -> str:
    """How the LLM was asked, and whether its calls stopped early."""
    parts = []
    if llm["response_format"]:
        parts.append(f"response_format {llm['response_format']}")
    if llm["format_rejections"]:
        parts.append(f"{llm['format_rejections']} rejected")
    if llm["stopped"]:
        parts.append(f"stopped: {llm['stopped']}")
    return f"; {', '.join(parts)}" if parts else ""


def _counts(counts: list[tuple[int, str]]) -> str:
    """``3 new, 1 removed``: only what happened, or ``none``."""
    return ", ".join(f"{n} {label}" for n, label in counts if n) or "none"


def _llm_lines(llm: dict[str, Any]) -> list[str]:
    """What the LLM did; one line when no LLM was configured."""
    if llm["model"] is None:
        return ["  LLM:        off (structured data only; set OPENAI_API_KEY or OPENAI_BASE_URL)"]
    if llm["cost_usd"] is not None:
        cost = f"${llm['cost_usd']:.4f} ({llm['model']})"
    else:
        cost = f"unknown (no price for {llm['model']}; set LLM_PRICES)"
    return [
        f"  chunks:     {llm['chunks']} ({llm['cache_hits']} cache hits)",
        f"  LLM calls:  {llm['calls']} ({llm['retries']} retries, {llm['reasks']} re-asks, "
        f"{llm['splits']} splits){_llm_mode(llm)}",
        f"  tokens:     {llm['prompt_tokens']:,} prompt + {llm['completion_tokens']:,} completion",
        f"  cost:       {cost}",
        f"  dropped:    {llm['dropped_ungrounded']} ungrounded entities/relations, "
        f"{llm['dropped_invalid']} invalid",
    ]


def _bound_lines(report: dict[str, Any]) -> list[str]:
    """What the crawl's bounds left out: links not followed, structured data skipped."""
    lines = []
    if cut := report.get("cut_off"):
        reasons = ", ".join(f"{reason} {n:,}" for reason, n in cut.items())
        lines.append(f"  cut off:    {sum(cut.values()):,} links not followed ({reasons})")
        patterns = list(report.get("trap_patterns", {}).items())
        if patterns:
            shown = ", ".join(f"{p} ({n:,})" for p, n in patterns[:3])
            more = f" and {len(patterns) - 3} more" if len(patterns) > 3 else ""
            lines.append(f"  traps:      {shown}{more}")
    if skipped := report.get("structured_data_skipped"):
        items = ", ".join(f"{n:,} {syntax}" for syntax, n in skipped.items())
        lines.append(f"  skipped:    structured data {items} (past STRUCTURED_DATA_MAX_BYTES)")
    return lines


def format_report(report: dict[str, Any]) -> str:
    """The report as the few lines a person reads at the end of the log: what happened."""
    pages, llm, graph = report["pages"], report["llm"], report["graph"]
    extraction = report["extraction"]
    failures = ", ".join(f"{k}: {n}" for k, n in report["failures"].items()) or "none"
    return "\n".join(
        [
            f"Crawl summary ({report['finish_reason']}, {report['elapsed_seconds'] or 0:.1f} s)",
            f"  pages:      {pages['records']} ({pages['ok']} ok, {pages['failed']} failed)",
            "  changes:    " + _counts([(pages[c], c) for c in CHANGES]),
            "  extraction: "
            + _counts(
                [
                    (extraction["ok"], "by LLM"),
                    (extraction["structured_data_only"], "structured data only"),
                    (extraction["skipped"], "skipped"),
                    (extraction["failed"], "failed"),
                ]
            ),
            *_llm_lines(llm),
            f"  graph:      entities +{graph['entities_added']} -{graph['entities_removed']}, "
            f"relations +{graph['relations_added']} -{graph['relations_removed']}",
            f"  failures:   {failures}",
            *_bound_lines(report),
        ]
    )


def read_reports(folder: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The crawl reports in ``folder`` (as :func:`crawl_report` wrote them), oldest first,
    and the names of files that are not reports (unreadable, or not JSON objects)."""
    reports, unreadable = [], []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            unreadable.append(path.name)
            continue
        if not isinstance(report, dict) or not isinstance(report.get("pages"), dict):
            unreadable.append(path.name)
            continue
        reports.append(report | {"file": path.name})
    reports.sort(key=lambda r: (str(r.get("started") or ""), r["file"]))
    return reports, unreadable


def _number(section: Any, key: str) -> float:
    value = section.get(key) if isinstance(section, dict) else None
    return value if isinstance(value, int | float) and not isinstance(value, bool) else 0


def crawl_history(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Series over the crawls, one value per report: pages ok/failed/new/changed/removed,
    LLM calls, tokens, cost (None where unknown), entities added/removed."""
    series: dict[str, list[float | None]] = {
        name: []
        for name in (
            "pages_ok",
            "pages_failed",
            "pages_new",
            "pages_changed",
            "pages_removed",
            "llm_calls",
            "prompt_tokens",
            "completion_tokens",
            "cost_usd",
            "entities_added",
            "entities_removed",
        )
    }
    for report in reports:
        pages, llm, graph = (report.get(k) or {} for k in ("pages", "llm", "graph"))
        for key in ("ok", "failed", "new", "changed", "removed"):
            series[f"pages_{key}"].append(_number(pages, key))
        series["llm_calls"].append(_number(llm, "calls"))
        series["prompt_tokens"].append(_number(llm, "prompt_tokens"))
        series["completion_tokens"].append(_number(llm, "completion_tokens"))
        cost = llm.get("cost_usd") if isinstance(llm, dict) else None
        series["cost_usd"].append(cost if isinstance(cost, int | float) else None)
        series["entities_added"].append(_number(graph, "entities_added"))
        series["entities_removed"].append(_number(graph, "entities_removed"))
    return {
        "crawls": [
            {
                "file": r["file"],
                "started": r.get("started"),
                "finish_reason": r.get("finish_reason"),
                "model": (r.get("llm") or {}).get("model"),
            }
            for r in reports
        ],
        "series": series,
    }
