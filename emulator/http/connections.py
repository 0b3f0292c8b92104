"""Clients that connect and then take their time: each gets `request_seconds` to send a request.

aiohttp closes a connection left idle `keepalive_timeout` after an answer, including one whose
next request head is still dribbling in, but nothing bounds a connection's first request: a
client that connects and sends nothing, or sends its headers a byte at a time (slowloris), holds
a socket until the keep-alive timeout (older aiohttp releases: for ever). The `Doorman` closes a
connection whose first request head has not arrived `request_seconds` after it opened; bodies
are held to the same time by `deadline`, around every read of one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable

from aiohttp import web

from wanform.emulator.errors import ConnectionDropped
from wanform.emulator.http.context import EMULATOR

LOG = logging.getLogger("wanform.emulator")
ROUNDS = 4  # patrols per `request_seconds`: a silent connection goes within 1.5 times that


class Doorman:
    """Closes connections whose first request head is `seconds` late, patrolling a server."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._waiting: dict[asyncio.BaseTransport, float] = {}  # connection -> first seen
        self._served: set[asyncio.BaseTransport] = set()
        self._patrol: asyncio.Task[None] | None = None

    def watch(self, server: web.Server) -> None:
        """Patrol the server's connections until `stop`."""
        self._patrol = asyncio.create_task(self._rounds(server))

    def stop(self) -> None:
        if self._patrol is not None:
            self._patrol.cancel()
        self._patrol = None

    def served(self, transport: asyncio.BaseTransport) -> None:
        """A request head has arrived: aiohttp's keep-alive timeout takes it from here."""
        self._served.add(transport)
        self._waiting.pop(transport, None)

    def sweep(self, transports: Iterable[asyncio.BaseTransport | None], now: float) -> None:
        """Close the connections among `transports` (the server's, now) waiting too long."""
        live = {t for t in transports if t is not None and not t.is_closing()}
        self._served &= live
        self._waiting = {t: self._waiting.get(t, now) for t in live - self._served}
        for transport, since in self._waiting.items():
            if now - since >= self.seconds:
                LOG.info("closing a connection that sent no request in %g s", self.seconds)
                transport.close()

    async def _rounds(self, server: web.Server) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.seconds / ROUNDS)
            self.sweep((handler.transport for handler in server.connections), loop.time())


DOORMAN = web.AppKey("doorman", Doorman)


@contextlib.asynccontextmanager
async def deadline(request: web.Request) -> AsyncIterator[None]:
    """Reading a body: it must arrive within `request_seconds`, else the connection is dropped."""
    seconds = request.app[EMULATOR].config.request_seconds
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        LOG.info("dropping %s %s: its body took over %g s", request.method, request.path, seconds)
        raise ConnectionDropped from None
