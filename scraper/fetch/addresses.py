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


async def resolve(host: str) -> list[str]:
    """Every address ``host`` resolves to (the host itself when it is an IP literal)."""
    try:
        ipaddress.ip_address(host)
        return [host]
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


async def non_public_addresses(host: str) -> list[str]:
    """The addresses of ``host`` that are not public; empty when it may be crawled."""
    return [a for a in await resolve(host) if not is_public_address(a)]
