"""Outputs in a store, for the report: each thumbnail made once from the object's bytes (cached in
the report's thumbnail folder under its sha256, so a report never fetches an image twice), and
each full image linked by a presigned URL that works for SIGNED_FOR."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import timedelta
from pathlib import Path

from wanform.runner.gitops.lockfile import LockFile
from wanform.runner.reports.html.thumbs import ThumbError, thumbnail
from wanform.runner.storage.errors import StoreError
from wanform.runner.storage.s3 import Store, wait_for

SIGNED_FOR = timedelta(days=7)  # the longest a SigV4 presigned URL may last
AT_ONCE = 16  # objects fetched or signed at a time


def thumb_name(sha256: str) -> str:
    """The cached thumbnail's stem of an image with this `sha256:<hex>`."""
    return sha256.removeprefix("sha256:")[:32]


def prepare(lock: LockFile, store: Store, thumbs: Path) -> dict[str, tuple[str, str]]:
    """The sha256 and presigned URL of each output of the lock in `store`, by URI, its thumbnail
    made in `thumbs` where missing; an object that cannot be had is left out (the card says
    so)."""
    wanted = {
        o["path"]: o.get("sha256", "")
        for entry in lock.jobs.values()
        for o in entry.get("outputs", [])
        if store.location.key_of(o["path"]) is not None
    }
    return wait_for(lambda: _prepared(wanted, store, thumbs))


async def _prepared(
    wanted: dict[str, str], store: Store, thumbs: Path
) -> dict[str, tuple[str, str]]:
    gate = asyncio.Semaphore(AT_ONCE)

    async def one(uri: str, sha256: str) -> tuple[str, str | None]:
        async with gate:
            try:
                if sha256 and not _cached(thumbs, sha256):
                    await _thumb(uri, sha256, store, thumbs)
                return uri, await store.sign(uri, int(SIGNED_FOR.total_seconds()))
            except (StoreError, ThumbError):
                return uri, None

    found = await asyncio.gather(*(one(uri, sha) for uri, sha in wanted.items()))
    return {uri: (wanted[uri], url) for uri, url in found if url is not None}


def _cached(thumbs: Path, sha256: str) -> bool:
    return any((thumbs / f"{thumb_name(sha256)}{s}").is_file() for s in (".jpg", ".png"))


async def _thumb(uri: str, sha256: str, store: Store, thumbs: Path) -> None:
    """Fetch the object (checked by its digest), thumbnail it, and let the copy go."""
    with tempfile.TemporaryDirectory() as scratch:
        copy = await store.fetch(uri, Path(scratch) / Path(uri).name, sha256)
        await asyncio.to_thread(thumbnail, copy, thumbs, True, thumb_name(sha256))
