"""The store a run writes its images to, over the S3 API (obstore, a Rust client with an asyncio
interface: chosen by `bench/s3_client_bench.py`, imported only when an `out` is a store).

Every image is put whole under its final key in one request, so no reader ever sees part of one;
its sha256 travels as object metadata (`x-amz-meta-sha256`), which `plan` reads with a HEAD
request instead of the bytes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import importlib
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar
from urllib.parse import urlsplit

from wanform.runner.files.atomic import AtomicFile
from wanform.runner.storage.errors import StoreAccess, StoreError, StoreSetting
from wanform.runner.storage.etags import OBJECTS, Known, read_known, save_known
from wanform.runner.storage.location import Location, StoredImage

T = TypeVar("T")
S3_CODE = re.compile(r"<Code>([A-Za-z.]+)</Code>")
STATUS = re.compile(r"status code: (\d{3})")
QUERY = re.compile(r"\?\S*")
SHA256 = "sha256"  # the metadata key of an object's digest
STAGE = "stage"  # the folder of `.wanform/` images pass through on their way to the store
INPUTS = ".inputs"  # the stage's folder of upstream images fetched for the jobs that take them
HEADS_AT_ONCE = 64  # HEAD requests in the air while a plan checks outputs
LISTED_FROM = 50  # more objects than this are checked against a listing of the prefix first
# the client's own retries of a failed request: a few, quickly; a store that stays down stops the
# run (its images are fetched again from the same tasks by the next one)
RETRY = {
    "max_retries": 3,
    "retry_timeout": timedelta(seconds=30),
    "backoff": {"init_backoff": timedelta(milliseconds=100), "max_backoff": timedelta(seconds=5)},
}
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
CONTENT_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".webp": "image/webp"}


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """`storage:` of the project file: an endpoint for stores that are not AWS, the region, and
    how buckets are addressed (`virtual` or `path`; by default path on this machine only)."""

    endpoint: str | None = None
    region: str | None = None
    addressing: str | None = None

    def client_config(self) -> dict[str, Any]:
        """The endpoint's settings; StoreSetting for plain HTTP anywhere but this machine."""
        config: dict[str, Any] = {"region": self.region or "us-east-1"}
        if self.endpoint is None:
            return config
        parts = urlsplit(self.endpoint)
        local = parts.hostname in LOOPBACK
        if parts.scheme != "https" and not (parts.scheme == "http" and local):
            raise StoreSetting(
                f"storage.endpoint {self.endpoint!r}: use https:// (plain http only on 127.0.0.1)"
            )
        config["endpoint"] = self.endpoint
        # OSS takes only the virtual style; MinIO serves the path style unless given a domain
        style = self.addressing or ("path" if local else "virtual")
        config["virtual_hosted_style_request"] = style == "virtual"
        return config


def translate(exc: BaseException, kind: type[StoreError], doing: str) -> StoreError:
    """The client's exception as `kind`, saying what was being done and the store's own code
    (`SignatureDoesNotMatch`, `NoSuchBucket`) or status where it gave one; the one place they
    map. No query string (a signature) is kept."""
    text = str(exc)
    code = S3_CODE.search(text)
    status = STATUS.search(text)
    if code is not None:
        reason = f"{code[1]} ({status[1]})" if status else code[1]
    elif status is not None:
        reason = f"HTTP {status[1]}"
    else:
        first = text.splitlines()[0] if text else type(exc).__name__
        reason = QUERY.sub("", first)
    return kind(f"{doing}: {reason}")


class Store:
    """The objects of one `s3://bucket/prefix`; `stage` is the local folder whose files it takes
    (a file's key is its path under `stage`, put under the prefix)."""

    def __init__(
        self,
        location: Location,
        settings: StoreSettings,
        env: Mapping[str, str],
        stage: Path,
    ) -> None:
        self.location, self.stage = location, stage
        self._config = settings.client_config()
        self._env = env
        self._client: Any = None
        self.learned: Known = {}  # URI -> [ETag, digest] of the objects put or looked up

    @property
    def client(self) -> Any:
        if self._client is None:
            from wanform.runner.storage.credentials import credentials

            s3 = importlib.import_module("obstore.store")
            config = {**self._config, **credentials(self._env)}
            endpoint = urlsplit(config.get("endpoint") or "")
            options = {"allow_http": True} if endpoint.scheme == "http" else {}
            self._client = s3.S3Store(
                self.location.bucket, config=config, client_options=options, retry_config=RETRY
            )
        return self._client

    def uri_of(self, path: Path) -> str:
        """The object a staged file becomes."""
        return self.location.uri(self.location.key(path.relative_to(self.stage).as_posix()))

    async def check(self) -> None:
        """StoreAccess unless the credentials are taken and the bucket lists: one request."""
        obs = _obstore()
        try:
            prefix = self.location.prefix or None
            await obs.list_with_delimiter_async(self.client, prefix)
        except Exception as exc:
            raise translate(exc, StoreAccess, f"cannot list {self.location}") from None

    async def put(self, path: Path, sha256: str, kind: type[StoreError]) -> str:
        """Store the staged file `path` (streamed from disk) with its digest; its URI."""
        uri = self.uri_of(path)
        key = self.location.key_of(uri)
        attributes = {SHA256: sha256, "Content-Type": CONTENT_TYPES.get(path.suffix, "")}
        attributes = {k: v for k, v in attributes.items() if v}
        try:
            put = await _obstore().put_async(self.client, key, path, attributes=attributes)
        except Exception as exc:
            raise translate(exc, kind, f"cannot store {uri}") from None
        if put.get("e_tag"):
            self.learned[uri] = [str(put["e_tag"]), f"sha256:{sha256}"]
        return uri

    def remember(self) -> None:
        """Add what the objects put had for ETags to `objects.json`: the next plan HEADs none of
        them while a listing shows the same."""
        if not self.learned:
            return
        cache = self.stage.parent / OBJECTS
        with contextlib.suppress(OSError):  # a cache: the next plan HEADs them instead
            save_known(cache, {**read_known(cache), **self.learned})

    async def digest(self, uri: str) -> str | None:
        """`sha256:<hex>` an object's metadata records; None when it is gone or records none."""
        key = self._key(uri)
        try:
            found = await _obstore().get_async(self.client, key, options={"head": True})
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise translate(exc, StoreError, f"cannot look up {uri}") from None
        value = found.attributes.get(SHA256)
        return f"sha256:{value}" if value else None

    async def content_digest(self, uri: str) -> str | None:
        """`sha256:<hex>` of an object's bytes, read through (not its metadata's word); None when
        it is gone."""
        digest = hashlib.sha256()
        try:
            found = await _obstore().get_async(self.client, self._key(uri))
            async for chunk in found.stream(min_chunk_size=1 << 20):
                digest.update(bytes(chunk))
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise translate(exc, StoreError, f"cannot read {uri}") from None
        return f"sha256:{digest.hexdigest()}"

    async def digests(
        self, uris: Iterable[str], recorded: Known | None = None
    ) -> dict[str, str | None]:
        """`digest` of each object: a listing of the prefix says which exist and their ETags;
        an object whose ETag the lock (`recorded`) or `objects.json` pairs with a digest takes no
        request of its own, the others a HEAD each, HEADS_AT_ONCE at a time."""
        wanted = set(uris)
        cache = self.stage.parent / OBJECTS
        known = await asyncio.to_thread(read_known, cache)
        before = dict(known)
        paired = (known, recorded or {})  # each pairs an ETag with the digest it had: either serves
        etags = await self._etags() if len(wanted) > LISTED_FROM else None
        gate = asyncio.Semaphore(HEADS_AT_ONCE)

        async def one(uri: str) -> tuple[str, str | None]:
            etag = etags.get(uri) if etags is not None else None
            if etags is not None and etag is None:
                return uri, None
            for pairs in paired:
                if etag is not None and pairs.get(uri, [None])[0] == etag:
                    return uri, pairs[uri][1]
            async with gate:
                found = await self.digest(uri)
            if etag is not None and found is not None:
                known[uri] = self.learned[uri] = [etag, found]
            return uri, found

        found = dict(await asyncio.gather(*(one(u) for u in wanted)))
        if known != before:
            with contextlib.suppress(OSError):  # a cache: the next plan HEADs again
                await asyncio.to_thread(save_known, cache, known)
        return found

    async def _etags(self) -> dict[str, str]:
        """URI -> ETag of every object under the prefix (a thousand per request)."""
        found: dict[str, str] = {}
        try:
            listing = _obstore().list(self.client, self.location.prefix or None, chunk_size=1000)
            async for chunk in listing:
                for meta in chunk:
                    found[self.location.uri(meta["path"])] = str(meta.get("e_tag") or "")
        except Exception as exc:
            raise translate(exc, StoreError, f"cannot list {self.location}") from None
        return found

    async def fetch(self, uri: str, path: Path, sha256: str) -> Path:
        """Download an object to `path` (atomically), checked against `sha256:<hex>`."""
        key = self._key(uri)
        out = AtomicFile(path)
        digest = hashlib.sha256()
        try:
            found = await _obstore().get_async(self.client, key)
            async for chunk in found.stream(min_chunk_size=1 << 20):
                data = bytes(chunk)
                digest.update(data)
                out.write(data)
            if f"sha256:{digest.hexdigest()}" != sha256:
                raise StoreError(f"{uri} is no longer the image the lock records ({sha256})")
            out.commit()
        except StoreError:
            out.discard()
            raise
        except Exception as exc:
            out.discard()
            raise translate(exc, StoreError, f"cannot read {uri}") from None
        return path

    async def fetch_input(self, image: StoredImage) -> Path:
        """A local copy of an upstream image (for a job that takes it), checked by its digest;
        fetched once per run."""
        name = image.sha256.removeprefix("sha256:") + PurePosixPath(image.uri).suffix
        path = self.stage / INPUTS / name
        return path if path.is_file() else await self.fetch(image.uri, path, image.sha256)

    async def delete(self, uri: str) -> None:
        try:
            await _obstore().delete_async(self.client, self._key(uri))
        except Exception as exc:
            raise translate(exc, StoreError, f"cannot delete {uri}") from None

    async def sign(self, uri: str, seconds: int) -> str:
        """A presigned GET URL of the object, valid for `seconds`."""
        try:
            return await _obstore().sign_async(
                self.client, "GET", self._key(uri), timedelta(seconds=seconds)
            )
        except Exception as exc:
            raise translate(exc, StoreError, f"cannot sign a URL for {uri}") from None

    def _key(self, uri: str) -> str:
        key = self.location.key_of(uri)
        if key is None:
            raise StoreError(f"{uri} is not under {self.location}, the output store")
        return key


def _obstore() -> Any:
    return importlib.import_module("obstore")


def wait_for(step: Callable[[], Awaitable[T]]) -> T:
    """`step` run to its end from synchronous code (a plan, a prune), on a loop of its own in a
    worker thread: the caller may itself be running on an event loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, step()).result()  # type: ignore[arg-type]
