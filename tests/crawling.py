"""Run real ``scrapy crawl`` processes from tests and read their JSON-lines output."""

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

    def by_url(self) -> dict[str, dict]:
        return {r["url"]: r for r in self.records}


def run_crawl(
    tmp_path: Path,
    args: dict[str, str],
    settings: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> CrawlResult:
    """``scrapy crawl semantic -a k=v … -s K=V … -O out.jsonl`` in the project dir."""
    out = tmp_path / f"out-{len(list(tmp_path.glob('out-*.jsonl')))}.jsonl"
    command = [sys.executable, "-m", "scrapy", "crawl", "semantic", "-O", str(out)]
    for key, value in args.items():
        command += ["-a", f"{key}={value}"]
    merged = {
        **TEST_SETTINGS,
        "GRAPH_STORE": str(tmp_path / "graph"),
        "LLM_CACHE_DIR": str(tmp_path / "llm-cache"),
        "FAILURES_FILE": str(tmp_path / "failures.jsonl"),
        "REPORT_DIR": str(tmp_path / "reports"),
        **(settings or {}),
    }
    for key, value in merged.items():
        command += ["-s", f"{key}={value}"]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    full_env.update(env or {})
    proc = subprocess.run(
        command,
        cwd=PROJECT_DIR,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    records = []
    if out.exists():
        records = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    return CrawlResult(proc.returncode, records, proc.stderr)
