"""Reading request bodies: a size cap and a deadline while reading, then JSON with DashScope's
errors."""

from __future__ import annotations

import json

from aiohttp import web

from wanform.emulator.errors import bad_request
from wanform.emulator.http.connections import deadline
from wanform.spec.errors import NOT_JSON, TOO_LARGE

CHUNK = 256 * 1024


async def read_body(request: web.Request, limit: int) -> bytes:
    """The raw body, refused with 400 BadRequest.TooLarge as soon as it passes `limit` bytes (and
    dropped if it is slower than `request_seconds`)."""
    if request.content_length is not None and request.content_length > limit:
        raise bad_request("BadRequest.TooLarge", TOO_LARGE)
    chunks = []
    total = 0
    try:
        async with deadline(request):
            async for chunk in request.content.iter_chunked(CHUNK):
                total += len(chunk)
                if total > limit:
                    raise bad_request("BadRequest.TooLarge", TOO_LARGE)
                chunks.append(chunk)
    except web.RequestPayloadError:  # e.g. Content-Encoding: gzip on a body that is not
        raise bad_request("BadRequest.IllegalInput", NOT_JSON) from None
    return b"".join(chunks)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parse_document(raw: bytes) -> object:
    """Any JSON value (NaN and Infinity are not), or 400 BadRequest.IllegalInput."""
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise bad_request("BadRequest.IllegalInput", NOT_JSON) from None


def parse_json(raw: bytes) -> dict:
    """A JSON object, or 400 BadRequest.IllegalInput."""
    body = parse_document(raw)
    if not isinstance(body, dict):
        raise bad_request("BadRequest.IllegalInput", NOT_JSON)
    return body
