"""Browser memory over a long rendered crawl: does it stay flat, and what do the bounds buy?

    python bench/render_memory.py [--pages 200] [--max-pages-open 4]

Serves N JavaScript-only pages on 127.0.0.1 and crawls them with ``render=always``
in real ``scrapy crawl`` processes: once with ``PLAYWRIGHT_MAX_PAGES_PER_CONTEXT``
as given (the project default is 4), once with 4x as many pages open (the
baseline), sampling the resident memory of all Chromium processes every 0.25 s.
"Growth" is the mean of the last quarter of samples over the first quarter.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.crawling import PROJECT_DIR, TEST_SETTINGS
from tests.sites import Page, serve


def js_page(i: int, pages: int) -> str:
    links = "".join(f'<a href="/p{j}">p{j}</a> ' for j in (i + 1, i + 2) if j < pages)
    # Each page loads its own cacheable 400 kB bundle and builds a large DOM.
    return f"""<html><body><div id="app"></div><script src="/static/bundle-{i}.js"></script><script>
window.cache = new Array(200000).fill("page {i}");
var html = "<h1>Page {i}</h1>";
for (var k = 0; k < 2000; k++) html += "<p>Row " + k + " of page {i}</p>";
document.getElementById("app").innerHTML = html + '{links}';
</script></body></html>"""


def chromium_rss_mb() -> float:
    """Resident memory of every Chromium process, in MB."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if "\nName:\tchromium" in "\n" + text or text.startswith("Name:\tchrome"):
            for line in text.splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def crawl(url: str, max_pages_open: int, out: Path) -> tuple[list[float], float]:
    command = [sys.executable, "-m", "scrapy", "crawl", "semantic", "-a", f"url={url}"]
    command += ["-a", "render=always", "-O", str(out)]
    settings = {
        **TEST_SETTINGS,
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": str(max_pages_open),
        "PLAYWRIGHT_MAX_CONTEXTS": "1",
        "CONCURRENT_REQUESTS": "32",
        "LOG_LEVEL": "WARNING",
        "ITEM_PIPELINES": "{}",
    }
    for key, value in settings.items():
        command += ["-s", f"{key}={value}"]
    samples: list[float] = []
    started = time.monotonic()
    proc = subprocess.Popen(command, cwd=PROJECT_DIR, stderr=subprocess.DEVNULL)
    while proc.poll() is None:
        samples.append(chromium_rss_mb())
        time.sleep(0.25)
    return [s for s in samples if s > 0], time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--max-pages-open", type=int, default=4)
    args = parser.parse_args()
    site = {("/" if i == 0 else f"/p{i}"): js_page(i, args.pages) for i in range(args.pages)}
    site["/robots.txt"] = Page("", content_type="text/plain")
    for i in range(args.pages):
        site[f"/static/bundle-{i}.js"] = Page(
            f"window.bundle{i} = '{'x' * 400_000}';",
            content_type="application/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )
    rows = []
    with serve(site) as running, tempfile.TemporaryDirectory() as tmp:
        bound = args.max_pages_open
        for label, pages_open in (
            (f"{bound} pages open", bound),
            (f"{4 * bound} pages open (baseline)", 4 * bound),
        ):
            samples, seconds = crawl(running.url, pages_open, Path(tmp) / f"{pages_open}.jsonl")
            quarter = max(1, len(samples) // 4)
            rows.append(
                (
                    label,
                    max(samples),
                    statistics.mean(samples[:quarter]),
                    statistics.mean(samples[-quarter:]),
                    seconds,
                )
            )
    print(f"\n{args.pages} JavaScript pages rendered; Chromium resident memory (MB)")
    print(f"{'run':<28}{'peak':>8}{'first 1/4':>11}{'last 1/4':>10}{'growth':>8}{'time s':>8}")
    for label, peak, first, last, seconds in rows:
        print(
            f"{label:<28}{peak:>8.0f}{first:>11.0f}{last:>10.0f}{last / first:>8.2f}{seconds:>8.1f}"
        )
    print(f"peak ratio bounded/baseline: {rows[0][1] / rows[1][1]:.2f}")


if __name__ == "__main__":
    main()
