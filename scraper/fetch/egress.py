"""The browser's only way out: a SOCKS5 proxy on loopback that applies the address policy.

Chromium is started with this proxy for every request it makes (navigations, each redirect
hop, subresources, fetch/XHR, WebSockets), loopback included. Chromium sends host names, not
addresses, so the proxy does the lookup: once per connection, checks the answer against the
policy and connects to the checked address. A page's scripts therefore cannot reach the
crawler's own network, by redirect, by rebinding, or by naming an address.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import struct
import threading
from collections.abc import Callable

from scraper.fetch.addresses import AddressPolicy, AddressRefused, Lookup, system_lookup

_VERSION = 5
_NO_AUTH = 0
_NO_ACCEPTABLE_METHOD = 0xFF
_CONNECT = 1
_IPV4, _DOMAIN, _IPV6 = 1, 3, 4
# Reply codes (RFC 1928 section 6).
_SUCCEEDED, _FAILURE, _NOT_ALLOWED, _HOST_UNREACHABLE, _REFUSED = 0, 1, 2, 4, 5
_COMMAND_NOT_SUPPORTED, _ADDRESS_NOT_SUPPORTED = 7, 8
_HANDSHAKE_TIMEOUT = 10.0
_CONNECT_TIMEOUT = 30.0
_BUFFER = 64 * 1024


class _Refused(Exception):
    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code = code


class EgressProxy:
    """A SOCKS5 (CONNECT only, no authentication) proxy on 127.0.0.1 in its own thread.

    ``on_refused`` is called (from the proxy's thread) with the reason of each refused
    connection.
    """

    def __init__(
        self,
        policy: AddressPolicy,
        lookup: Lookup = system_lookup,
        on_refused: Callable[[str], None] | None = None,
    ):
        self.policy = policy
        self.lookup = lookup
        self.on_refused = on_refused
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Start serving; returns the proxy's URL (``socks5://127.0.0.1:<port>``)."""
        # The loop is made and run in the proxy's thread: the caller's may be running.
        started = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(started,), name="egress-proxy", daemon=True
        )
        self._thread.start()
        started.wait(timeout=10)
        if self._server is None:
            raise OSError("the browser's egress proxy could not listen on 127.0.0.1")
        port = self._server.sockets[0].getsockname()[1]
        return f"socks5://127.0.0.1:{port}"

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._serve, "127.0.0.1", 0)
            )
        finally:
            started.set()
        self._loop.run_forever()

    def stop(self) -> None:
        """Stop serving and close every tunnel."""
        if self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self._thread = None

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            host, port = await asyncio.wait_for(self._handshake(reader, writer), _HANDSHAKE_TIMEOUT)
            upstream = await self._connect(host, port)
        except _Refused as exc:
            if exc.code == _NOT_ALLOWED and self.on_refused is not None:
                self.on_refused(str(exc))
            await _reply(writer, exc.code)
            await _close(writer)
            return
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            await _close(writer)
            return
        up_reader, up_writer = upstream
        await _reply(writer, _SUCCEEDED)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[str, int]:
        version, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        if version != _VERSION or _NO_AUTH not in methods:
            writer.write(bytes([_VERSION, _NO_ACCEPTABLE_METHOD]))
            raise ValueError("not a SOCKS5 client without authentication")
        writer.write(bytes([_VERSION, _NO_AUTH]))
        version, command, _reserved, kind = await reader.readexactly(4)
        if kind == _IPV4:
            host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
        elif kind == _IPV6:
            host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
        elif kind == _DOMAIN:
            (length,) = await reader.readexactly(1)
            host = (await reader.readexactly(length)).decode("idna")
        else:
            raise _Refused(_ADDRESS_NOT_SUPPORTED, f"address type {kind}")
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        if command != _CONNECT:
            raise _Refused(_COMMAND_NOT_SUPPORTED, f"SOCKS command {command}")
        return host, port

    async def _connect(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        loop = asyncio.get_running_loop()
        try:
            address = await loop.run_in_executor(
                None, self.policy.address_to_connect, host, port, self.lookup
            )
        except AddressRefused as exc:
            raise _Refused(_NOT_ALLOWED, f"browser request to {host}:{port}: {exc}") from None
        except OSError as exc:
            raise _Refused(_HOST_UNREACHABLE, f"{host}: {exc}") from None
        try:
            return await asyncio.wait_for(
                asyncio.open_connection(address, port, family=_family(address)), _CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError) as exc:
            raise _Refused(_REFUSED, f"{host}:{port}: {exc}") from None


def _family(address: str) -> int:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


async def _reply(writer: asyncio.StreamWriter, code: int) -> None:
    # The bound address is not used by browsers; 0.0.0.0:0 is the customary answer.
    writer.write(bytes([_VERSION, code, 0, _IPV4, 0, 0, 0, 0, 0, 0]))
    with contextlib.suppress(OSError):
        await writer.drain()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_BUFFER):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        await _close(writer)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
