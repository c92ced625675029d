"""The README's first command ends in ``scrapy demo``: it must work on the shipped site."""

import contextlib
import json
import socket
import subprocess
import sys

from scraper.commands.demo import DEMO_PORT
from scraper.graph import open_store
from scraper.graph.queries import describe_entity, find_entities
from tests.crawling import PROJECT_DIR


def run_demo(output, *options):
    return subprocess.run(
        [sys.executable, "-m", "scrapy", "demo", "-o", str(output), *options],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_demo_crawls_the_shipped_site_into_a_graph(tmp_path):
    proc = run_demo(tmp_path)
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
        (acme,) = find_entities(store, "Acme Robotics")
        (jane,) = find_entities(store, "Jane Doe")
        # <link itemprop="worksFor" href="…#org"> is the organisation itself, not a second
        # "Organization" named by that IRI.
        relations = describe_entity(store, jane)["relations_out"]
        assert {(r["type"], r["target"]) for r in relations} >= {("worksFor", acme)}

    # Again in the same folder, the site on another port this time (its usual one taken):
    # the store's pages of the first run are another server's, not pages to re-check.
    with socket.socket() as blocker:
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT
        with contextlib.suppress(OSError):  # taken by another process: as good
            blocker.bind(("127.0.0.1", DEMO_PORT))
            blocker.listen(1)  # answers nothing: a re-check of the old pages would time out
        again = run_demo(tmp_path, "-s", "DOWNLOAD_TIMEOUT=10")
        assert f"127.0.0.1:{DEMO_PORT}/" not in again.stdout
        assert again.returncode == 0, again.stderr[-3000:]
        failed = [
            r for r in map(json.loads, (tmp_path / "pages.jsonl").read_text().splitlines())
            if r["failures"]
        ]  # fmt: skip
        assert [f["reason"] for r in failed for f in r["failures"]] == ["http_404"]
