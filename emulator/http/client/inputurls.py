"""Input images behind `http(s)` URLs, fetched as DashScope downloads them: bounded in bytes, time
and redirects, never from a private, link-local or loopback address (loopback only when the
emulator allows it), and remembered per emulator (`app[FETCHER]`) until a reset, so each URL is
fetched once.

A fetch ends one of three ways: `Fetched` bytes (cut after `cap` + 1 bytes when longer, the
length then being what the server declared), `Unfetched.FAILED` (the host answered, but not with
the file: an error status, a refused or broken connection, a timeout, a redirect to another
scheme or too many of them, a forbidden address), or `Unfetched.UNREACHABLE` (nothing answered:
the name does not resolve, no route, the connection never opened: an offline machine).
"""

from __future__ import annotations

import asyncio
import enum
import errno
import ipaddress
import socket
from collections import OrderedDict
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

CONNECT_SECONDS = 3.0  # offline, a name fails to resolve at once; a dropped SYN waits this long
TOTAL_SECONDS = 20.0
MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
CACHE_BYTES = 64 * 1024 * 1024
CHUNK = 64 * 1024
UNREACHABLE_ERRNOS = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN})
# Names reserved for documentation and tests (RFC 2606, RFC 6761): no image is ever served there,
# so they are taken as unreachable without asking the network, and an example such as
# https://example.com/photo.png behaves alike on- and offline.
RESERVED_DOMAINS = ("example.com", "example.net", "example.org", "example", "invalid", "test")


@dataclass(frozen=True, slots=True)
class Fetched:
    """A body: all of it, or its first `cap` + 1 bytes when longer (`nbytes` is then its length
    as declared, or what was read)."""

    data: bytes
    nbytes: int

    @property
    def complete(self) -> bool:
        return len(self.data) == self.nbytes


class Unfetched(enum.Enum):
    """Why a URL gave no body."""

    FAILED = "failed"
    UNREACHABLE = "unreachable"


Outcome = Fetched | Unfetched


class ForbiddenAddress(Exception):
    """The URL's host is, or resolves to, an address the emulator must not fetch from."""


def allowed_address(address: str, loopback: bool) -> bool:
    """Whether `address` (an IP) is one the emulator may fetch from: public, or loopback when
    `loopback`."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global or (loopback and ip.is_loopback)


class _GuardedResolver(AbstractResolver):
    """The system resolver, refusing names that resolve to a forbidden address (checked at each
    connection, so a name cannot resolve to a public address first and a private one next)."""

    def __init__(self, loopback: bool) -> None:
        self._inner = aiohttp.ThreadedResolver()
        self._loopback = loopback

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        if not all(allowed_address(entry["host"], self._loopback) for entry in found):
            raise ForbiddenAddress(host)
        return found

    async def close(self) -> None:
        await self._inner.close()


class InputFetcher:
    """Fetches input URLs for one emulator: at most `cap` + 1 bytes each, results cached (LRU,
    `CACHE_BYTES` in all) until `reset`; concurrent fetches of one URL share one download."""

    def __init__(self, cap: int, loopback: bool) -> None:
        self.cap = cap
        self.loopback = loopback
        self._session: aiohttp.ClientSession | None = None
        self._done: OrderedDict[str, Outcome] = OrderedDict()
        self._size = 0
        self._running: dict[str, asyncio.Future[Outcome]] = {}

    async def close(self) -> None:
        """Close the client session (at application cleanup)."""
        if self._session is not None:
            await self._session.close()
        self._session = None

    def reset(self) -> None:
        self._done.clear()
        self._size = 0

    async def fetch(self, url: str) -> Outcome:
        """The outcome of fetching `url`, from the cache when it was fetched before."""
        if url in self._done:
            self._done.move_to_end(url)
            return self._done[url]
        running = self._running.get(url)
        if running is None:
            running = asyncio.ensure_future(self._download(url))
            self._running[url] = running
            running.add_done_callback(lambda done: self._finished(url, done))
        return await asyncio.shield(running)

    def _finished(self, url: str, done: asyncio.Future[Outcome]) -> None:
        del self._running[url]
        if done.cancelled() or done.exception() is not None:
            return
        outcome = done.result()
        size = len(outcome.data) if isinstance(outcome, Fetched) else 0
        if size > CACHE_BYTES:
            return
        self._done[url] = outcome
        self._size += size
        while self._size > CACHE_BYTES:
            _, evicted = self._done.popitem(last=False)
            self._size -= len(evicted.data) if isinstance(evicted, Fetched) else 0

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    resolver=_GuardedResolver(self.loopback), use_dns_cache=False
                ),
                timeout=aiohttp.ClientTimeout(total=TOTAL_SECONDS, sock_connect=CONNECT_SECONDS),
                trust_env=False,  # no proxy: the address checks must see the real host
            )
        return self._session

    async def _download(self, url: str) -> Outcome:
        """Follow up to `MAX_REDIRECTS` redirects, each to an http(s) URL of an allowed host."""
        try:
            target = URL(url)
            if _reserved(target.host or ""):
                return Unfetched.UNREACHABLE
            for _ in range(MAX_REDIRECTS + 1):
                self._check(target)
                async with self._client().get(target, allow_redirects=False) as response:
                    if response.status in REDIRECTS and "Location" in response.headers:
                        target = target.join(URL(response.headers["Location"]))
                        continue
                    if response.status != 200:
                        return Unfetched.FAILED
                    return await self._body(response)
        except ForbiddenAddress:
            return Unfetched.FAILED
        except aiohttp.ClientConnectorError as exc:
            return _connect_failure(exc)
        except aiohttp.ConnectionTimeoutError:
            return Unfetched.UNREACHABLE
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return Unfetched.FAILED
        return Unfetched.FAILED  # too many redirects

    def _check(self, target: URL) -> None:
        if target.scheme not in ("http", "https") or not target.host:
            raise ForbiddenAddress(str(target))
        try:
            literal = allowed_address(target.host, self.loopback)
        except ValueError:  # a name, not an address: the resolver checks what it resolves to
            return
        if not literal:
            raise ForbiddenAddress(target.host)

    async def _body(self, response: aiohttp.ClientResponse) -> Fetched:
        """The body, reading no more than `cap` + 1 bytes of it."""
        chunks = bytearray()
        async for chunk in response.content.iter_chunked(CHUNK):
            chunks += chunk
            if len(chunks) > self.cap:
                declared = response.content_length or len(chunks)
                return Fetched(bytes(chunks[: self.cap + 1]), max(declared, self.cap + 1))
        return Fetched(bytes(chunks), len(chunks))


def _reserved(host: str) -> bool:
    """Whether `host` is, or is under, a name reserved for documentation and tests."""
    name = host.lower().rstrip(".")
    return any(name == domain or name.endswith("." + domain) for domain in RESERVED_DOMAINS)


def _connect_failure(exc: aiohttp.ClientConnectorError) -> Unfetched:
    """No connection: a name that does not resolve or a network that is not there is an offline
    machine; a refused connection is the URL's fault."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError) or exc.errno in UNREACHABLE_ERRNOS:
        return Unfetched.UNREACHABLE
    return Unfetched.FAILED


FETCHER = web.AppKey("input_fetcher", InputFetcher)
