"""End-to-end crawls (real ``scrapy crawl`` processes) of local sites written for the tests."""

import gzip
import json
import subprocess

import pytest

from tests.crawling import PROJECT_DIR, run_crawl, scrapy_command, state_settings, without_openai
from tests.sites import Page, serve

ARTICLE = (
    "<html lang='en'><head><title>{title}</title></head><body>"
    "<nav><a href='/'>Home</a> | <a href='/about'>About</a></nav>"
    "<main><article><h1>{title}</h1>"
    "<p>{title} is a page of the test site. It has enough text to be real content, "
    "with several sentences about widgets, gadgets and the people who make them.</p>"
    "<p>The second paragraph goes on about manufacturing, shipping and support.</p>"
    "{extra}</article></main><footer>Copyright 2026 Test Site</footer></body></html>"
)


def article(title: str, extra: str = "") -> str:
    return ARTICLE.format(title=title, extra=extra)


def links(*paths: str) -> str:
    return "<ul>" + "".join(f"<li><a href='{p}'>{p}</a></li>" for p in paths) + "</ul>"


JS_SHELL = """<html><head><title>App</title></head><body><div id="app"></div>
<script>
document.getElementById("app").innerHTML =
  "<h1>Rendered by JavaScript</h1><p>"
  + "This text only exists after scripts run. ".repeat(20) + "</p>";
</script></body></html>"""


# The home page links to every kind of trouble.
TROUBLE_LINKS = (
    *("/a", "/private/secret", "/report.pdf", "/photo.jpg", "/image-no-ext", "/missing"),
    *("/broken", "/moved", "/loop-a", "/latin", "/huge", "/app", "/empty", "/malformed", "/gz"),
)


@pytest.fixture(scope="module")
def bad_input_crawl(tmp_path_factory):
    """One crawl of a site with every kind of trouble, shared by the tests below."""
    site = {
        "/": article(
            "Home",
            links(*TROUBLE_LINKS),
        ),
        "/a": article("Page A", links("/b")),
        "/b": article("Page B", links("/a", "/")),
        "/robots.txt": Page("User-agent: *\nDisallow: /private/\n", content_type="text/plain"),
        "/private/secret": article("Secret"),
        "/report.pdf": Page(b"%PDF-1.4 ...", content_type="application/pdf"),
        "/photo.jpg": Page(b"\xff\xd8\xff", content_type="image/jpeg"),
        "/image-no-ext": Page(b"\x89PNG\r\n", content_type="image/png"),
        "/broken": Page("<h1>Server error</h1>", status=500),
        "/moved": Page("", status=301, headers={"Location": "/b?from=moved"}),
        "/loop-a": Page("", status=302, headers={"Location": "/loop-b"}),
        "/loop-b": Page("", status=302, headers={"Location": "/loop-a"}),
        "/latin": Page(
            article("Crème brûlée", "<p>Très élégant café à la française.</p>").encode("cp1252"),
            content_type="text/html; charset=utf-8",
        ),
        "/huge": Page(article("Huge", "<p>" + "word " * 600_000 + "</p>")),
        "/app": JS_SHELL,
        "/empty": Page("<html><head></head><body></body></html>"),
        "/malformed": Page(
            "<html><body><div><p>Unclosed <b>tags <i>everywhere<table><tr><td>cell"
            "<p>Malformed but readable text that should survive cleaning intact, truly."
        ),
        "/gz": Page(article("Gzipped"), gzip=True),
    }
    with serve(site) as running:
        result = run_crawl(
            tmp_path_factory.mktemp("crawl"),
            {"url": running.url, "render": "auto"},
            {"DOWNLOAD_MAXSIZE": "1000000", "RETRY_TIMES": "0"},
        )
        yield running, result


def _record(crawl, path):
    running, result = crawl
    return result.by_url()[running.url.rstrip("/") + path]


def test_crawl_exits_cleanly_with_a_record_per_page(bad_input_crawl):
    running, result = bad_input_crawl
    assert result.returncode == 0, result.log[-3000:]
    urls = [r["url"] for r in result.records]
    assert len(urls) == len(set(urls))  # exactly one record per page
    # Every link but the two non-HTML ones, the start page, /b (linked from /a) and the
    # nav's /about (a 404).
    expected = {"/", "/b", "/about", *TROUBLE_LINKS} - {"/report.pdf", "/photo.jpg"}
    assert {u.removeprefix(running.url.rstrip("/")) for u in urls} == expected


def test_good_pages_are_cleaned_and_chunked(bad_input_crawl):
    page = _record(bad_input_crawl, "/a")
    assert page["status"] == 200 and page["failures"] == []
    assert page["title"] == "Page A"
    assert "manufacturing, shipping" in page["markdown"]
    assert "Copyright 2026" not in page["markdown"]  # footer dropped
    assert page["content_hash"] and len(page["content_hash"]) == 64
    assert page["chunks"] and page["chunks"][0]["tokens"] > 0
    assert {"json-ld", "microdata", "rdfa", "opengraph"} <= page["structured_data"].keys()
    assert "html" not in page  # raw HTML is not exported unless asked for


@pytest.mark.parametrize(
    ("path", "stage", "reason"),
    [
        ("/private/secret", "fetch", "robots_disallowed"),
        ("/image-no-ext", "fetch", "non_html"),
        ("/missing", "fetch", "http_404"),
        ("/broken", "fetch", "http_500"),
        ("/loop-a", "fetch", "redirect_loop"),
        ("/huge", "fetch", "too_large"),
        ("/empty", "clean", "empty_content"),
    ],
)
def test_bad_pages_are_recorded_with_a_reason(bad_input_crawl, path, stage, reason):
    record = _record(bad_input_crawl, path)
    assert [(f["stage"], f["reason"]) for f in record["failures"]] == [(stage, reason)]


def test_non_html_links_are_skipped_and_counted(bad_input_crawl):
    running, result = bad_input_crawl
    assert "/report.pdf" not in running.hits and "/photo.jpg" not in running.hits
    assert "'links/skipped/non_html': 2" in result.log


def test_stats_count_every_outcome(bad_input_crawl):
    _, result = bad_input_crawl
    assert "'pages/records': 16" in result.log
    assert "'pages/failed/fetch/http_404': 2" in result.log
    assert "'pages/failed/clean/empty_content': 1" in result.log


def test_redirect_keeps_requested_and_final_url(bad_input_crawl):
    record = _record(bad_input_crawl, "/moved")
    assert record["final_url"].endswith("/b?from=moved")
    assert record["failures"] == [] and record["title"] == "Page B"


def test_wrong_charset_is_corrected(bad_input_crawl):
    record = _record(bad_input_crawl, "/latin")
    assert "Très élégant café à la française" in record["markdown"]
    assert record["charset"] == "cp1252"


def test_js_shell_is_rendered_with_a_reason(bad_input_crawl):
    record = _record(bad_input_crawl, "/app")
    assert record["rendered"] is True
    assert record["render_reason"] == "empty_mount_point"  # <div id="app"></div>
    assert "only exists after scripts run" in record["markdown"]
    static = _record(bad_input_crawl, "/a")
    assert static["rendered"] is False and static["render_reason"] is None


def test_malformed_and_gzipped_pages_survive(bad_input_crawl):
    assert "Malformed but readable text" in _record(bad_input_crawl, "/malformed")["markdown"]
    assert "Gzipped" in _record(bad_input_crawl, "/gz")["title"]


def _chain(n: int) -> dict:
    return {
        "/" if i == 0 else f"/p{i}": article(f"Page {i}", links(f"/p{i + 1}")) for i in range(n)
    }


def test_depth_and_max_pages_limits(tmp_path):
    with serve(_chain(10)) as running:
        deep = run_crawl(tmp_path, {"url": running.url, "depth": "2", "render": "never"})
        capped = run_crawl(tmp_path, {"url": running.url, "max_pages": "4", "render": "never"})
    titles = {r["title"] for r in deep.records}
    assert {"Page 0", "Page 1", "Page 2"} <= titles and "Page 3" not in titles
    assert len(capped.records) == 4


def test_allow_deny_patterns(tmp_path):
    site = {
        "/": article("Home", links("/blog/one", "/blog/two", "/shop/item", "/blog/draft-x")),
        "/blog/one": article("One"),
        "/blog/two": article("Two"),
        "/shop/item": article("Item"),
        "/blog/draft-x": article("Draft"),
    }
    with serve(site) as running:
        result = run_crawl(
            tmp_path, {"url": running.url, "allow": "/blog/", "deny": "draft", "render": "never"}
        )
    paths = {r["url"].removeprefix(running.url.rstrip("/")) for r in result.records}
    assert paths == {"/", "/blog/one", "/blog/two"}


def test_sitemap_and_urls_file(tmp_path):
    site = {f"/s{i}": article(f"Sitemap page {i}") for i in range(3)}
    with serve(site) as running:
        base = running.url.rstrip("/")
        urlset = "".join(f"<url><loc>{base}/s{i}</loc></url>" for i in range(3))
        site["/sitemap-pages.xml.gz"] = Page(
            gzip.compress(
                f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"{urlset}</urlset>".encode()
            ),
            content_type="application/octet-stream",
        )
        site["/sitemap.xml"] = Page(
            '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{base}/sitemap-pages.xml.gz</loc></sitemap></sitemapindex>",
            content_type="application/xml",
        )
        from_sitemap = run_crawl(
            tmp_path, {"sitemap": f"{base}/sitemap.xml", "follow": "false", "render": "never"}
        )
        urls_file = tmp_path / "urls.txt"
        urls_file.write_text(f"# two pages\n{base}/s0\n\n{base}/s2\n")
        from_file = run_crawl(
            tmp_path, {"urls_file": str(urls_file), "follow": "false", "render": "never"}
        )
    assert sorted(r["title"] for r in from_sitemap.records) == [
        f"Sitemap page {i}" for i in range(3)
    ]
    assert sorted(r["title"] for r in from_file.records) == ["Sitemap page 0", "Sitemap page 2"]


def test_private_addresses_refused_unless_allowed(tmp_path):
    with serve({"/": article("Local")}) as running:
        result = run_crawl(
            tmp_path, {"url": running.url, "render": "never"}, {"ALLOW_PRIVATE_ADDRESSES": "False"}
        )
    assert running.hits == []
    [record] = result.records
    assert record["failures"][0]["reason"] == "private_address"
    assert "ALLOW_PRIVATE_ADDRESSES" in record["failures"][0]["detail"]


def test_export_html_on_request(tmp_path):
    with serve({"/": article("Raw")}) as running:
        result = run_crawl(
            tmp_path, {"url": running.url, "render": "never"}, {"EXPORT_HTML": "True"}
        )
    assert "<footer>Copyright 2026 Test Site</footer>" in result.by_url()[running.url]["html"]


def test_bad_arguments_fail_clearly(tmp_path):
    no_url = run_crawl(tmp_path, {})
    assert no_url.returncode != 0 and "give a start URL" in no_url.log
    bad_render = run_crawl(tmp_path, {"url": "http://127.0.0.1:9/", "render": "sometimes"})
    assert bad_render.returncode != 0 and "render must be one of" in bad_render.log
    assert json.dumps(bad_render.records) == "[]"


START = {"url": "http://127.0.0.1:9/"}


@pytest.mark.parametrize(
    ("args", "line"),
    [
        ({}, "error: give a start URL: -a url=https://example.com/ (or urls_file, sitemap)"),
        (
            {**START, "depth": "abc"},
            "error: depth must be a whole number >= 1 (follow=false fetches only the given "
            "URLs), not 'abc'",
        ),
        (
            {**START, "allow": "["},
            "error: allow must be a regular expression, not '[' "
            "(unterminated character set at position 0)",
        ),
        ({**START, "max_pages": "-1"}, "error: max_pages must be a whole number >= 1, not '-1'"),
        ({**START, "follow": "maybe"}, "error: follow must be true or false, not 'maybe'"),
        (
            {**START, "colour": "red"},
            "error: unknown argument -a colour: known arguments are url, urls_file, sitemap, "
            "depth, max_pages, allow, deny, follow, render, schema",
        ),
        (
            {**START, "render": "sometimes"},
            "error: render must be one of never, always, auto, not 'sometimes'",
        ),
    ],
)
def test_a_bad_argument_is_one_line_and_exit_status_1(tmp_path, args, line):
    result = run_crawl(tmp_path, args)
    assert (result.returncode, result.log, result.records) == (1, line + "\n", [])


def test_a_bad_render_setting_is_one_line(tmp_path):
    result = run_crawl(tmp_path, START, {"RENDER_MODE": "sometimes"})
    assert (result.returncode, result.log) == (
        1,
        "error: RENDER_MODE must be one of never, always, auto, not 'sometimes'\n",
    )


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("GRAPH_WRITE_BATCH", "0", "a whole number >= 1"),
        ("LLM_CONCURRENCY", "0", "a whole number >= 1"),
        ("GRAPH_WRITE_WAIT", "-1", "seconds >= 0"),
    ],
)
def test_a_count_below_one_is_one_line_not_a_quiet_one(tmp_path, name, value, expected):
    result = run_crawl(tmp_path, START, {name: value})
    line = f"error: {name} must be {expected}, not {value!r}\n"
    assert (result.returncode, result.log, result.records) == (1, line, [])


def test_a_bad_allowed_private_host_is_one_line(tmp_path):
    result = run_crawl(tmp_path, START, {"ALLOWED_PRIVATE_HOSTS": "intranet.local,:80"})
    assert (result.returncode, result.log) == (
        1,
        "error: ALLOWED_PRIVATE_HOSTS: not a host or host:port: ':80'\n",
    )


def test_private_arguments_pass_through(tmp_path):
    """scrapyd passes -a _job=… to every spider: not an unknown argument."""
    with serve({"/": article("Job")}) as running:
        result = run_crawl(tmp_path, {"url": running.url, "follow": "false", "_job": "42"})
    assert result.returncode == 0 and [r["title"] for r in result.records] == ["Job"]


def test_default_log_shows_progress_and_summary_not_records(tmp_path):
    settings = {k: v for k, v in state_settings(tmp_path).items() if k != "LOG_LEVEL"}
    out = tmp_path / "out.jsonl"
    with serve({"/": article("Quiet", "<p>A sentence only the record holds.</p>")}) as running:
        argv = scrapy_command(["crawl", "semantic"], out, settings, {"url": running.url})
        proc = subprocess.run(
            argv, cwd=PROJECT_DIR, env=without_openai(), capture_output=True, text=True
        )
    assert proc.returncode == 0 and out.read_text().count("\n") == 2  # the page and its link
    log = proc.stderr
    assert "Crawled 0 pages (at 0 pages/min)" in log  # the progress line
    assert "Crawl summary (finished" in log
    assert "DEBUG" not in log and "Scraped from" not in log
    assert "A sentence only the record holds" not in log
