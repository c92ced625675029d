"""The address policy, decided on the lookup each connection uses.

DNS answers are faked in-process (names under .test); nothing leaves 127.0.0.1: refused
connections are refused before any connect, allowed ones go to a local server.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import pytest
from twisted.internet import defer
from twisted.internet.base import ThreadedResolver

import scraper
from scraper import api as scraper_api
from scraper.fetch.addresses import AddressPolicy, AddressRefused, is_public_address
from scraper.fetch.egress import EgressProxy
from scraper.resolver import AddressPolicyResolver, RefusedLookup
from tests.crawling import run_crawl
from tests.sites import Page, serve

PUBLIC = "93.184.215.14"  # never connected to: every test refuses or answers from 127.0.0.1


def _lookup(answers: dict[str, list[str]]):
    def lookup(host: str) -> list[str]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers[host]

    return lookup


@pytest.mark.parametrize(
    "address",
    ["::ffff:10.0.0.1", "2002:7f00:1::", "64:ff9b::a00:1", "fe80::1%eth0", "::", "100.64.0.1"],
)
def test_addresses_that_embed_or_mean_private_ones_are_not_public(address):
    assert not is_public_address(address)


def test_policy_trusts_named_hosts_and_origins_only():
    policy = AddressPolicy.from_entries(False, ["intranet.test", "127.0.0.1:8000", "[::1]:81"])
    assert policy.trusts("INTRANET.test", 9999)
    assert policy.trusts("127.0.0.1", 8000) and not policy.trusts("127.0.0.1", 8001)
    assert policy.trusts("::1", 81) and policy.trusts("[::1]", 81)
    assert policy.refusal("127.0.0.1", 8001, ["127.0.0.1"])
    assert policy.refusal("127.0.0.1", 8000, ["127.0.0.1"]) is None
    with pytest.raises(ValueError, match="not a host"):
        AddressPolicy.from_entries(False, [":80"])


def test_every_answer_must_pass_and_a_failed_lookup_refuses():
    policy = AddressPolicy()
    lookup = _lookup({"mixed.test": [PUBLIC, "127.0.0.1"], "public.test": [PUBLIC]})
    with pytest.raises(AddressRefused, match=r"127\.0\.0\.1.*ALLOWED_PRIVATE_HOSTS"):
        policy.address_to_connect("mixed.test", 80, lookup)
    assert policy.address_to_connect("public.test", 80, lookup) == PUBLIC
    with pytest.raises(OSError):
        policy.address_to_connect("nxdomain.test", 80, lookup)
    with pytest.raises(AddressRefused):
        policy.address_to_connect("0x7f.1", 80, _lookup({"0x7f.1": ["127.0.0.1"]}))


class _RebindingDNS:
    """The first answer public, every later one loopback (a rebinding name)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, resolver, name, timeout=()):
        self.calls += 1
        return defer.succeed(PUBLIC if self.calls == 1 else "127.0.0.1")


def _resolved(resolver: AddressPolicyResolver, name: str):
    results: list = []
    resolver.getHostByName(name).addBoth(results.append)
    return results[0]


def test_the_resolver_checks_the_answer_the_connection_uses(monkeypatch):
    dns = _RebindingDNS()
    monkeypatch.setattr(ThreadedResolver, "getHostByName", dns)
    cached = AddressPolicyResolver(None, cache_size=100, timeout=5, policy=AddressPolicy())  # type: ignore[arg-type]
    # The connection gets the checked, cached answer: no second lookup to rebind.
    assert _resolved(cached, "rebind.test") == PUBLIC
    assert _resolved(cached, "rebind.test") == PUBLIC
    assert dns.calls == 1

    dns.calls = 0
    uncached = AddressPolicyResolver(None, cache_size=0, timeout=5, policy=AddressPolicy())  # type: ignore[arg-type]
    assert _resolved(uncached, "rebind2.test") == PUBLIC
    refused = _resolved(uncached, "rebind2.test")
    assert refused.check(RefusedLookup)
    assert "ALLOWED_PRIVATE_HOSTS" in str(refused.value)


def _socks_connect(proxy_url: str, host: str, port: int) -> tuple[int, socket.socket]:
    """A minimal SOCKS5 client (what Chromium sends): the reply code and the socket."""
    proxy_port = int(proxy_url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=10)
    sock.sendall(b"\x05\x01\x00")
    assert sock.recv(2) == b"\x05\x00"
    name = host.encode()
    sock.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack("!H", port))
    reply = sock.recv(10)
    return reply[1], sock


@pytest.fixture
def local_site() -> Iterator[tuple[str, int]]:
    with serve({"/": "<p>through the proxy</p>"}) as running:
        yield "127.0.0.1", int(running.url.rstrip("/").rsplit(":", 1)[1])


def test_the_browser_proxy_refuses_private_answers_and_tunnels_trusted_ones(local_site):
    _host, port = local_site
    refusals: list[str] = []
    policy = AddressPolicy.from_entries(False, [f"site.test:{port}"])
    lookup = _lookup(
        {"site.test": ["127.0.0.1"], "rebound.test": ["127.0.0.1"], "mixed.test": [PUBLIC, "::1"]}
    )
    proxy = EgressProxy(policy, lookup, on_refused=refusals.append)
    url = proxy.start()
    try:
        for host, target_port in [
            ("rebound.test", port),  # a name answering loopback
            ("mixed.test", port),  # one public and one private answer
            ("127.0.0.1", port),  # an address
            ("site.test", port + 1),  # a trusted host on another port
        ]:
            code, sock = _socks_connect(url, host, target_port)
            sock.close()
            assert code == 2, host  # "connection not allowed by ruleset"
        code, sock = _socks_connect(url, "nxdomain.test", port)
        sock.close()
        assert code == 4  # a failed lookup refuses ("host unreachable")

        code, sock = _socks_connect(url, "site.test", port)
        assert code == 0
        sock.sendall(b"GET / HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        sock.close()
        assert b"through the proxy" in answer
    finally:
        proxy.stop()
    assert len(refusals) == 4
    assert all("ALLOWED_PRIVATE_HOSTS" in reason for reason in refusals)


def test_fetch_html_connects_to_the_checked_address(local_site, monkeypatch):
    _host, port = local_site
    monkeypatch.setattr(scraper_api, "system_lookup", _lookup({"site.test": ["127.0.0.1"]}))
    _url, html = scraper.fetch_html(
        f"http://site.test:{port}/", allowed_private_hosts=[f"site.test:{port}"]
    )
    assert "through the proxy" in html
    with pytest.raises(scraper.FetchError, match="ALLOWED_PRIVATE_HOSTS"):
        scraper.fetch_html(f"http://site.test:{port}/")
    with pytest.raises(scraper.FetchError, match="cannot resolve"):
        scraper.fetch_html(f"http://nxdomain.test:{port}/")


def test_a_crawl_reaches_only_the_trusted_origin(tmp_path):
    with serve({"/secret": "<p>internal-secret</p>"}) as internal:
        port = internal.url.rstrip("/").rsplit(":", 1)[1]
        site = {
            "/": f"<main><p>Home</p><a href='http://127.0.0.1:{port}/secret'>a</a>"
            "<a href='/away'>b</a></main>",
            "/away": Page(status=302, headers={"Location": f"http://localhost:{port}/secret"}),
        }
        with serve(site) as running:
            origin = running.url.removeprefix("http://").rstrip("/")
            result = run_crawl(
                tmp_path,
                {"url": running.url, "render": "never"},
                {"ALLOW_PRIVATE_ADDRESSES": "False", "ALLOWED_PRIVATE_HOSTS": origin},
            )
    assert result.returncode == 0, result.log[-2000:]
    assert internal.hits == []
    reasons = {r["url"]: [f["reason"] for f in r["failures"]] for r in result.records}
    assert reasons[f"http://127.0.0.1:{port}/secret"] == ["private_address"]
    assert reasons[running.url + "away"] == ["private_address"]
    assert reasons[running.url] == []
