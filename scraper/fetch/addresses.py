"""Which network addresses a crawl may reach (guards against crawling into private networks)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket


def is_public_address(address: str) -> bool:
    """True for a globally routable IP address (not private, loopback, link-local, reserved)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _ip_literal(host: str) -> list[str] | None:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        return None


def _addresses(infos: list[tuple]) -> list[str]:
    return sorted({str(info[4][0]) for info in infos})


async def resolve(host: str) -> list[str]:
    """Every address ``host`` resolves to (the host itself when it is an IP literal)."""
    literal = _ip_literal(host)
    if literal is not None:
        return literal
    loop = asyncio.get_running_loop()
    return _addresses(await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM))


def resolve_blocking(host: str) -> list[str]:
    """:func:`resolve` for callers outside an event loop (raises OSError when it fails)."""
    literal = _ip_literal(host)
    if literal is not None:
        return literal
    return _addresses(socket.getaddrinfo(host, None, type=socket.SOCK_STREAM))


def non_public(addresses: list[str]) -> list[str]:
    """The addresses that are not public; empty when all may be crawled."""
    return [a for a in addresses if not is_public_address(a)]


async def non_public_addresses(host: str) -> list[str]:
    """The addresses of ``host`` that are not public; empty when it may be crawled."""
    return non_public(await resolve(host))
