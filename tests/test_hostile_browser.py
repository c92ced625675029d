"""A rendered page cannot make the browser reach the crawler's own network.

A real ``scrapy crawl`` renders hostile pages in real Chromium with the address policy on
(only the site's own origin trusted). The pages try every way a browser leaves: script
navigation, server redirects, meta refresh, fetch/XHR, images, iframes, other spellings of
loopback, and file: URLs. An "internal" server on another loopback port counts its requests.
"""

from __future__ import annotations

import re

import pytest

from tests.crawling import run_crawl
from tests.sites import Page, serve

SECRET = "internal-secret-7f3a"
PATHS = ("navigates", "fetches", "embeds", "refresh", "redirects", "files", "websocket")


def _internal_site() -> dict:
    page = f"<html><body><main><h1>Admin</h1><p>{SECRET} database password</p></main></body></html>"
    return {"/secret": page, "/": page}


def _article(title: str, script: str = "", extra: str = "") -> str:
    text = " ".join(f"{title} sentence number {n} of the visible article body." for n in range(30))
    return (
        f"<html><head><title>{title}</title></head><body><main><h1>{title}</h1><p>{text}</p>"
        f"<div id='out'></div>{extra}</main><script>{script}</script></body></html>"
    )


def _hostile_site(internal_port: int) -> dict:
    targets = [
        f"http://127.0.0.1:{internal_port}/secret",
        f"http://localhost:{internal_port}/secret",
        f"http://2130706433:{internal_port}/secret",  # 127.0.0.1 as one decimal number
        f"http://0x7f.1:{internal_port}/secret",
        f"http://[::ffff:127.0.0.1]:{internal_port}/secret",
    ]
    fetches = "".join(
        f"fetch({t!r}).then(r => r.text()).then(t => document.getElementById('out')"
        ".append(t)).catch(() => {});"
        f"var x = new XMLHttpRequest(); x.open('GET', {t!r}); x.onload = () => "
        "document.getElementById('out').append(x.responseText); x.send();"
        for t in targets
    )
    first = targets[0]
    return {
        "/": _article("Index", extra="".join(f"<a href='/{p}'>{p}</a>" for p in PATHS)),
        "/navigates": _article("Navigates", f"location.href = {first!r};"),
        "/fetches": _article("Fetches", fetches),
        "/embeds": _article(
            "Embeds",
            extra=f"<iframe src='{first}'></iframe><img src='{targets[1]}'>"
            f"<link rel='stylesheet' href='{targets[2]}'><script src='{targets[3]}'></script>",
        ),
        "/refresh": _article("Refresh").replace(
            "<head>", f"<head><meta http-equiv='refresh' content='0;url={first}'>"
        ),
        "/redirects": Page(status=302, headers={"Location": first}),
        "/files": _article(
            "Files",
            "fetch('file:///etc/passwd').then(r => r.text()).then(t => "
            "document.getElementById('out').append(t)).catch(() => {});"
            "setTimeout(() => { location.href = 'file:///etc/passwd'; }, 10);",
            extra="<a href='file:///etc/hostname'>hostname</a><iframe src='file:///etc/passwd'>"
            "</iframe>",
        ),
        "/websocket": _article(
            "Websocket",
            f"try {{ new WebSocket('ws://127.0.0.1:{internal_port}/secret'); }} catch (e) {{}}",
        ),
    }


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    with serve(_internal_site()) as internal:
        port = int(internal.url.rstrip("/").rsplit(":", 1)[1])
        with serve(_hostile_site(port)) as site:
            origin = site.url.removeprefix("http://").rstrip("/")
            result = run_crawl(
                tmp_path_factory.mktemp("hostile-browser"),
                {"url": site.url, "render": "always"},
                {
                    "ALLOW_PRIVATE_ADDRESSES": "False",
                    "ALLOWED_PRIVATE_HOSTS": origin,
                    "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": "10000",
                },
                timeout=180,
            )
            yield internal, site, result


def test_no_browser_request_reaches_the_internal_server(crawl):
    internal, _site, result = crawl
    assert result.returncode == 0, result.log[-3000:]
    assert internal.hits == []
    assert re.search(r"'browser/refused/private_address': [1-9]", result.log), result.log[-3000:]


def test_nothing_internal_or_local_is_stored(crawl):
    _internal, _site, result = crawl
    for record in result.records:
        text = record.get("markdown") or ""
        assert SECRET not in text, record["url"]
        assert "root:x:0:0" not in text, record["url"]
    assert SECRET not in result.log


def test_every_hostile_page_ends_as_one_record(crawl):
    _internal, site, result = crawl
    base = site.url.rstrip("/")
    paths = sorted(r["url"].removeprefix(base) for r in result.records)
    assert "/" in paths and "/fetches" in paths and "/embeds" in paths and "/files" in paths
    assert len(paths) == len(set(paths))
    assert "Traceback" not in result.log
    by_path = {r["url"].removeprefix(base): r for r in result.records}
    # Navigations into the internal network are refused by the browser's proxy: failures.
    for path in ("/redirects", "/navigates", "/refresh"):
        assert by_path[path]["failures"], by_path[path]
        assert not by_path[path]["markdown"], path
    for path in ("/", "/fetches", "/embeds", "/files", "/websocket"):
        assert by_path[path]["failures"] == [], by_path[path]
    assert not any(path.startswith("file:") for path in paths)
