"""The end-of-crawl summary of real crawls: it reports what happened, and only that."""

from __future__ import annotations

import json

from tests.crawling import run_crawl
from tests.sites import serve
from tests.test_crawl import article, links


def _summary(log: str) -> str:
    return log[log.index("Crawl summary") :]


def _report(result) -> dict:
    [path] = [line.split("report:", 1)[1].strip() for line in result.log.splitlines()
              if line.strip().startswith("report:")]  # fmt: skip
    return json.loads(open(path).read())


def test_no_llm_summary_says_so_once_and_a_page_missing_twice_is_not_removed(tmp_path):
    site = {"/": article("Home", links("/gone")), "/kept": article("Kept")}
    with serve(site) as running:
        args = {"url": f"{running.url},{running.url}kept", "render": "never"}
        first = run_crawl(tmp_path, args)
        second = run_crawl(tmp_path, args)
    for result in (first, second):
        summary = _summary(result.log)
        assert summary.count("LLM:        off (structured data only") == 1
        for absent in ("chunks:", "LLM calls:", "tokens:", "cost:", "gpt-4o-mini", "dropped:"):
            assert absent not in summary
    assert "changes:    2 new\n" in _summary(first.log)
    assert "changes:    2 unchanged\n" in _summary(second.log)
    assert _report(second)["pages"]["removed"] == 0
    assert [r["change"] for r in second.records if r["url"].endswith("/gone")] == [None]


def test_a_page_gone_after_a_good_crawl_is_removed(tmp_path):
    site = {"/": article("Home", links("/soon-gone")), "/soon-gone": article("Soon gone")}
    with serve(site) as running:
        args = {"url": running.url, "render": "never"}
        run_crawl(tmp_path, args)
        del running.site["/soon-gone"]
        second = run_crawl(tmp_path, args)
    assert _report(second)["pages"]["removed"] == 1
    assert "1 removed" in _summary(second.log)
