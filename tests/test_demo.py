"""The README's first command ends in ``scrapy demo``: it must work on the shipped site."""

import json
import subprocess
import sys

from scraper.graph import open_store
from scraper.graph.queries import find_entities
from tests.crawling import PROJECT_DIR


def test_demo_crawls_the_shipped_site_into_a_graph(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "scrapy", "demo", "-o", str(tmp_path)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"page records: {tmp_path / 'pages.jsonl'}" in proc.stdout
    records = {
        r["url"].split("/", 3)[3]: r
        for r in map(json.loads, (tmp_path / "pages.jsonl").read_text().splitlines())
    }
    assert records["products/configurator.html"]["rendered"] is True
    assert "long-life battery pack" in records["products/configurator.html"]["markdown"]
    assert [f["reason"] for f in records["careers.html"]["failures"]] == ["http_404"]
    assert records["products/rover-x2.html"]["extraction"]["status"] == "structured_data_only"
    assert list((tmp_path / "reports").glob("semantic-*.json"))
    with open_store(str(tmp_path / "graph"), write=False) as store:
        assert len(find_entities(store, "Acme Robotics")) == 1
