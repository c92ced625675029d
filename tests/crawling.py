"""Run real ``scrapy`` processes from tests and read their JSON-lines output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent

# Settings every test crawl needs: local sites live on 127.0.0.1, and tests
# must not wait for politeness delays.
TEST_SETTINGS = {
    "ALLOW_PRIVATE_ADDRESSES": "True",
    "AUTOTHROTTLE_ENABLED": "False",
    "DOWNLOAD_DELAY": "0",
    "LOG_LEVEL": "INFO",
}


@dataclass
class CrawlResult:
    returncode: int
    records: list[dict]
    log: str  # stderr: Scrapy's log, stats dump included
    stdout: str = ""

    def by_url(self) -> dict[str, dict]:
        return {r["url"]: r for r in self.records}


def state_settings(tmp_path: Path) -> dict[str, str]:
    """TEST_SETTINGS plus every state path (store, cache, failures, reports) in ``tmp_path``."""
    return {
        **TEST_SETTINGS,
        "GRAPH_STORE": str(tmp_path / "graph"),
        "LLM_CACHE_DIR": str(tmp_path / "llm-cache"),
        "FAILURES_FILE": str(tmp_path / "failures.jsonl"),
        "REPORT_DIR": str(tmp_path / "reports"),
        "HTTPCACHE_DIR": str(tmp_path / "httpcache"),
    }


def scrapy_command(
    command: list[str],
    out: Path,
    settings: dict[str, str],
    args: dict[str, str] | None = None,
    output: str = "-O",
) -> list[str]:
    """``python -m scrapy COMMAND -a k=v … -s K=V … -O out`` (``output="-o"`` appends)."""
    argv = [sys.executable, "-m", "scrapy", *command, output, str(out)]
    for key, value in (args or {}).items():
        argv += ["-a", f"{key}={value}"]
    for key, value in settings.items():
        argv += ["-s", f"{key}={value}"]
    return argv


def without_openai(env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without OPENAI_* variables, plus ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return {**clean, **(env or {})}


def run_scrapy(
    tmp_path: Path,
    command: list[str],
    out: Path,
    args: dict[str, str] | None = None,
    settings: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> CrawlResult:
    """Run a scrapy command in the project dir with state in ``tmp_path``; read ``out``."""
    argv = scrapy_command(command, out, {**state_settings(tmp_path), **(settings or {})}, args)
    proc = subprocess.run(
        argv, cwd=PROJECT_DIR, env=without_openai(env), capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip
    records = []
    if out.exists():
        # split("\n"), not splitlines(): a JSON string may hold U+2028, which splitlines cuts at.
        records = [json.loads(line) for line in out.read_text().split("\n") if line.strip()]
    return CrawlResult(proc.returncode, records, proc.stderr, proc.stdout)


def run_crawl(
    tmp_path: Path,
    args: dict[str, str],
    settings: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> CrawlResult:
    """``scrapy crawl semantic -a k=v … -s K=V … -O out-N.jsonl`` in the project dir."""
    out = tmp_path / f"out-{len(list(tmp_path.glob('out-*.jsonl')))}.jsonl"
    return run_scrapy(tmp_path, ["crawl", "semantic"], out, args, settings, env, timeout)


def start_crawl(
    tmp_path: Path,
    args: dict[str, str],
    out: Path,
    settings: dict[str, str] | None = None,
    output: str = "-O",
    env: dict[str, str] | None = None,
) -> subprocess.Popen:
    """Start ``scrapy crawl semantic`` in the background (output discarded, state in tmp)."""
    argv = scrapy_command(
        ["crawl", "semantic"], out, {**state_settings(tmp_path), **(settings or {})}, args, output
    )
    return subprocess.Popen(
        argv, cwd=PROJECT_DIR, env=without_openai(env), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
