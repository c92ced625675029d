"""Deploy the project to a real scrapyd with scrapyd-deploy, schedule a crawl, read its output.

scrapyd runs in a temporary folder with its own scrapyd.conf, with no project on its
import path, so the crawl can only run from the deployed egg (the prompt it sends to the
fake LLM included).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from urllib.request import urlopen

from scraper.graph import EmbeddedStore
from tests.crawling import PROJECT_DIR, TEST_SETTINGS
from tests.fake_llm import serve_fake_llm
from tests.processes import free_port
from tests.sites import Page, serve

PROJECT = "semantic-scraper"  # the project of scrapy.cfg's [deploy] target
SPIDER = "semantic"
# Not part of a deploy: VCS data, local state, caches and earlier builds.
NOT_DEPLOYED = shutil.ignore_patterns(
    ".git", ".semantic", "__pycache__", ".pytest_cache", ".ruff_cache", ".benchmarks",
    "build", "*.egg-info",
)  # fmt: skip


def _page(title: str, links: str = "") -> str:
    return (
        f"<html lang='en'><head><title>{title}</title></head><body><main><article>"
        f"<h1>{title}</h1><p>{title} tells how Acme Corporation was founded by Jane Doe "
        f"in Springfield.</p><p>{links}</p></article></main></body></html>"
    )


SITE = {
    "/": _page("Home Page", "<a href='/about'>About</a> <a href='/team'>Team</a>"),
    "/about": _page("About Acme"),
    "/team": _page("Our Team", "<a href='/'>Home</a>"),
    "/robots.txt": Page("", content_type="text/plain"),
}
PAGE_PATHS = ["/", "/about", "/team"]


def _get_json(url: str, data: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    body = urlencode(data).encode() if data is not None else None
    with urlopen(url, body, timeout=10) as response:
        return json.load(response)


def _wait_for(what: str, check: Callable[[], Any], timeout: float, log: Path) -> Any:
    """Poll ``check`` until it returns something truthy (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"{what} within {timeout} s; scrapyd log:\n{log.read_text()[-3000:]}")


def _answers(url: str) -> bool:
    try:
        return _get_json(url)["status"] == "ok"
    except OSError:
        return False


@contextmanager
def running_scrapyd(folder: Path, env: dict[str, str]) -> Iterator[str]:
    """scrapyd on a free port of 127.0.0.1 with its state in ``folder``; yields its URL."""
    port = free_port()
    folder.mkdir()
    # scrapyd and its crawl processes read ./scrapyd.conf from their working folder.
    (folder / "scrapyd.conf").write_text(
        "[scrapyd]\n"
        "bind_address = 127.0.0.1\n"
        f"http_port = {port}\n"
        "poll_interval = 0.1\n"
        "max_proc = 1\n"
        f"eggs_dir = {folder / 'eggs'}\n"
        f"logs_dir = {folder / 'logs'}\n"
        f"items_dir = {folder / 'items'}\n"
        f"dbs_dir = {folder / 'dbs'}\n"
    )
    log = folder / "scrapyd.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "scrapyd"],
            cwd=folder,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_for("scrapyd answering", lambda: _answers(url + "daemonstatus.json"), 20, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def deploy(project_copy: Path, scrapyd_url: str, env: dict[str, str]) -> dict[str, Any]:
    """``scrapyd-deploy test`` from a copy whose scrapy.cfg gains a ``test`` target."""
    shutil.copytree(PROJECT_DIR, project_copy, ignore=NOT_DEPLOYED)
    with (project_copy / "scrapy.cfg").open("a") as cfg:
        # Inherits project = … from [deploy]; only the URL differs.
        cfg.write(f"\n[deploy:test]\nurl = {scrapyd_url}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "scrapyd_client.deploy", "test"],
        cwd=project_copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    return json.loads(proc.stdout)


def test_deployed_egg_runs_a_scheduled_crawl(tmp_path):
    graph, reports = tmp_path / "graph", tmp_path / "reports"
    settings = {
        **TEST_SETTINGS,
        "GRAPH_STORE": str(graph),
        "LLM_CACHE_DIR": str(tmp_path / "llm-cache"),
        "FAILURES_FILE": str(tmp_path / "failures.jsonl"),
        "REPORT_DIR": str(reports),
        "LLM_BUDGET_USD": "5",
    }
    # No project on the import path: the crawl must run from the egg.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "SCRAPY_")) and k != "PYTHONPATH"
    }
    with serve(SITE) as site, serve_fake_llm() as fake:
        env["OPENAI_BASE_URL"] = fake.base_url
        with running_scrapyd(tmp_path / "scrapyd", env) as scrapyd:
            log = tmp_path / "scrapyd" / "scrapyd.log"
            deployed = deploy(tmp_path / "project", scrapyd, env)
            assert deployed["status"] == "ok" and deployed["project"] == PROJECT
            assert deployed["spiders"] == 1
            scheduled = _get_json(
                scrapyd + "schedule.json",
                [("project", PROJECT), ("spider", SPIDER)]
                + [("url", site.url), ("render", "never")]
                + [("setting", f"{key}={value}") for key, value in settings.items()],
            )
            assert scheduled["status"] == "ok", scheduled
            job = scheduled["jobid"]

            def finished() -> bool:
                jobs = _get_json(scrapyd + f"listjobs.json?project={PROJECT}")
                return any(j["id"] == job for j in jobs["finished"])

            _wait_for(f"job {job} finished", finished, 60, log)

    job_log = (tmp_path / "scrapyd" / "logs" / PROJECT / SPIDER / f"{job}.log").read_text()
    items = tmp_path / "scrapyd" / "items" / PROJECT / SPIDER / f"{job}.jl"
    assert items.exists(), job_log[-3000:]
    records = [json.loads(line) for line in items.read_text().splitlines()]
    urls = [site.url + path.lstrip("/") for path in PAGE_PATHS]
    assert sorted(r["url"] for r in records) == urls, job_log[-3000:]
    for record in records:
        assert record["failures"] == [], record["failures"]
        assert "Acme Corporation was founded by Jane Doe" in record["markdown"]
        extraction = record["extraction"]
        assert extraction["status"] == "ok" and extraction["model"] == "gpt-4o-mini"
        names = {e["name"] for e in extraction["entities"]}
        assert {"Acme Corporation", "Jane Doe"} <= names
    # The LLM was asked with the prompt packaged in the egg, once per page.
    assert len(fake.requests) == len(PAGE_PATHS)
    with EmbeddedStore.open_reader(graph) as store:
        assert store.pages() == urls
    [report_file] = reports.glob(f"{SPIDER}-*.json")
    report = json.loads(report_file.read_text())
    assert report["finish_reason"] == "finished"
    assert report["pages"]["ok"] == len(PAGE_PATHS) and report["llm"]["calls"] == len(PAGE_PATHS)
