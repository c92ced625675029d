"""Which network addresses a crawl may reach (guards against crawling into private networks).

The check belongs to the connection: a host is looked up once, the answer is checked, and the
connection goes to the address that was checked, so a name that answers differently the second
time (DNS rebinding) cannot reach a private network. A lookup that fails refuses.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

Lookup = Callable[[str], list[str]]
"""Every address a host name resolves to (raises OSError when it does not resolve)."""


class AddressRefused(Exception):
    """The address policy refuses a connection (the message says why and what to set)."""


def is_public_address(address: str) -> bool:
    """True for a globally routable IP address (not private, loopback, link-local, reserved)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv6 forms that carry (and reach) an IPv4 address are judged by that address.
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            ip = embedded
    return ip.is_global and not ip.is_multicast


def ip_literal(host: str) -> str | None:
    """``host`` as a normalised IP address when it is one (``[::1]`` included), else None."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def system_lookup(host: str) -> list[str]:
    """The system resolver's addresses for ``host``, in its order of preference."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def non_public(addresses: list[str]) -> list[str]:
    """The addresses that are not public; empty when all may be crawled."""
    return [a for a in addresses if not is_public_address(a)]


def _origin(entry: str) -> tuple[str, int | None]:
    parts = urlsplit(entry if "//" in entry else f"//{entry}")
    if not parts.hostname:
        raise ValueError(f"not a host or host:port: {entry!r}")
    return parts.hostname.lower(), parts.port


@dataclass(frozen=True)
class AddressPolicy:
    """Public addresses only, except hosts (or host:port origins) the user trusts.

    ``allow_private`` turns the policy off (a local or intranet crawl). ``trusted`` holds
    ``(host, port)`` pairs, port None meaning any port, for hosts that may be private.
    """

    allow_private: bool = False
    trusted: frozenset[tuple[str, int | None]] = frozenset()

    @classmethod
    def from_entries(cls, allow_private: bool, entries: Iterable[str]) -> AddressPolicy:
        """Read ``ALLOWED_PRIVATE_HOSTS``-style entries: ``host``, ``host:port``, ``[::1]:80``."""
        return cls(allow_private, frozenset(_origin(entry) for entry in entries))

    def trusts(self, host: str, port: int | None) -> bool:
        """Whether ``host`` (on ``port``; None: on some port) may be private."""
        host = ip_literal(host) or host.lower()
        for trusted_host, trusted_port in self.trusted:
            if (ip_literal(trusted_host) or trusted_host) != host:
                continue
            if trusted_port is None or port is None or trusted_port == port:
                return True
        return False

    def refusal(self, host: str, port: int | None, addresses: list[str]) -> str | None:
        """Why connecting to ``host`` at ``addresses`` is refused; None when it is allowed."""
        if self.allow_private or self.trusts(host, port):
            return None
        if not addresses:
            return f"{host} did not resolve to any address"
        refused = non_public(addresses)
        if not refused:
            return None
        return (
            f"{host} resolves to a private, loopback, link-local or reserved address "
            f"({', '.join(refused)}); to crawl it, add it to ALLOWED_PRIVATE_HOSTS (or set "
            "ALLOW_PRIVATE_ADDRESSES=True for any address)"
        )

    def address_to_connect(self, host: str, port: int | None, lookup: Lookup) -> str:
        """The one address to connect to for ``host``: looked up once, then checked.

        Raises :class:`AddressRefused` when the policy refuses it and OSError when the host
        does not resolve. Every answer must pass: a name resolving to a public and a private
        address is refused rather than tried address by address.
        """
        literal = ip_literal(host)
        addresses = [literal] if literal else lookup(host)
        reason = self.refusal(host, port, addresses)
        if reason is not None:
            raise AddressRefused(reason)
        return addresses[0]
