"""aiohttp's exceptions as wanform errors: the one module of the error hierarchy that needs aiohttp.

It lives apart from `wanform.runner.api.errors` so that commands which never open a connection
(`validate`,
`plan`, `--help`) can raise and catch wanform errors without importing aiohttp.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from types import MappingProxyType

import aiohttp

from wanform.runner.api.errors import (
    ConnectError,
    DisconnectedError,
    ReadTimeoutError,
    TargetError,
    WanformError,
)

# aiohttp's exceptions, each named, so a new one in aiohttp shows up in the tests rather than as a
# traceback.
_NOT_SENT = (
    aiohttp.ClientConnectorError,
    aiohttp.ClientConnectorDNSError,
    aiohttp.ClientProxyConnectionError,
    aiohttp.ClientSSLError,
    aiohttp.ClientConnectorSSLError,
    aiohttp.ClientConnectorCertificateError,
    aiohttp.ConnectionTimeoutError,
    aiohttp.ServerFingerprintMismatch,
)
_BROKEN = (
    aiohttp.ClientConnectionError,
    aiohttp.ClientConnectionResetError,
    aiohttp.ClientOSError,
    aiohttp.ServerConnectionError,
    aiohttp.ServerDisconnectedError,
    aiohttp.ClientPayloadError,
    aiohttp.UploadAbortedError,
)
_TIMED_OUT = (aiohttp.ServerTimeoutError, aiohttp.SocketTimeoutError)
_BAD_TARGET = (
    aiohttp.InvalidURL,
    aiohttp.InvalidUrlClientError,
    aiohttp.NonHttpUrlClientError,
    aiohttp.RedirectClientError,
    aiohttp.InvalidUrlRedirectClientError,
    aiohttp.NonHttpUrlRedirectClientError,
    aiohttp.TooManyRedirects,
    aiohttp.ClientHttpProxyError,
)
# Raised only by response helpers the runner does not call (raise_for_status, .json(), websockets).
_NOT_RAISED = (
    aiohttp.ClientError,
    aiohttp.ClientResponseError,
    aiohttp.ContentTypeError,
    aiohttp.WSServerHandshakeError,
)
TRANSPORT: Mapping[type[BaseException], type[WanformError]] = MappingProxyType(
    {
        **{c: ConnectError for c in _NOT_SENT},
        **{c: DisconnectedError for c in _BROKEN},
        **{c: ReadTimeoutError for c in _TIMED_OUT},
        **{c: TargetError for c in _BAD_TARGET},
        **{c: DisconnectedError for c in _NOT_RAISED},
        asyncio.TimeoutError: ReadTimeoutError,
        ConnectionError: DisconnectedError,
        OSError: DisconnectedError,
    }
)


def from_transport(exc: BaseException, *, where: str) -> WanformError:
    """The error for an exception raised while talking to the service (aiohttp's, the socket's, a
    timeout)."""
    for cls in type(exc).__mro__:
        if cls in TRANSPORT:
            kind = TRANSPORT[cls]
            return kind(f"{where}: {_describe(exc, kind)}", where=where)
    raise exc


def _describe(exc: BaseException, kind: type[WanformError]) -> str:
    if kind is ReadTimeoutError:
        return "no answer in time"
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = os.strerror(exc.os_error.errno) if exc.os_error.errno else str(exc.os_error)
        return f"cannot connect to {exc.host}:{exc.port} ({reason})"
    text = str(exc) or type(exc).__name__
    return text.split("?")[0]  # a URL in aiohttp's message must not carry its signed query
