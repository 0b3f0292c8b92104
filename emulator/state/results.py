"""Result files behind signed-looking URLs that expire like DashScope's OSS links (24 h, virtual).

`/__results/<token>.png?Expires=<epoch>&OSSAccessKeyId=...&Signature=...`: a lookup with a
tampered signature or an expired link raises a 403 OssError, of an unknown file a 404.
Images are rendered on first download, in a worker thread, from the task's inputs in the input
store: a task needs them until it has drawn each image it will make (`settle`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass

from yarl import URL

from wanform.emulator.errors import OssError, input_gone, no_such_key
from wanform.emulator.images.draw import PngCache
from wanform.emulator.images.inputstore import InputGone, InputStore
from wanform.emulator.images.painter import paint
from wanform.emulator.state.clock import VirtualClock
from wanform.emulator.state.tasks import Task
from wanform.spec.models import RESULT_TTL_SECONDS, TaskStatus

RESULTS_PREFIX = "/__results/"
ACCESS_KEY_ID = "LTAI5tWanformEmulator"


@dataclass(frozen=True)
class ResultFile:
    """Image `index` of `task`."""

    token: str
    task: Task
    index: int


class ResultStore:
    """Which token is which image, how its URL is signed, and the renders in progress."""

    def __init__(
        self, clock: VirtualClock, executor: Executor, pngs: PngCache, inputs: InputStore
    ) -> None:
        self._clock = clock
        self._executor = executor
        self._pngs = pngs
        self._inputs = inputs
        self._secret = secrets.token_bytes(16)
        self._files: dict[str, ResultFile] = {}
        self._rendering: dict[str, asyncio.Future[bytes]] = {}

    def register(self, task: Task) -> None:
        """Name the task's images now; they can be fetched once it has SUCCEEDED. A task that
        will draw none (it FAILS) needs its inputs no more."""
        task.tokens = tuple(secrets.token_hex(16) for _ in range(task.brief.count))
        for index, token in enumerate(task.tokens):
            self._files[token] = ResultFile(token, task, index)
        task.undrawn = sum(1 << index for index in task.succeeded_indexes())
        if not task.undrawn:
            self._settle_inputs(task)

    def settle(self, task: Task) -> None:
        """The task will draw nothing more (it was canceled, say): its inputs may go first."""
        if task.undrawn:
            task.undrawn = 0
            self._settle_inputs(task)

    def forget(self, task: Task) -> None:
        """The task is forgotten: its links, and its hold on its inputs."""
        for token in task.tokens:
            self._files.pop(token, None)
        self.settle(task)
        for handle in task.brief.stored:
            self._inputs.release(handle)

    def reset(self) -> None:
        self._files.clear()

    def url(self, base: str, task: Task, index: int) -> str:
        """The signed URL of one image of a finished task; it expires 24 h after the task ended."""
        token = task.tokens[index]
        assert task.end is not None, "only a scheduled task has images to link to"
        expires = int(task.end + RESULT_TTL_SECONDS)
        # Every part is URL-safe (hex, digits, URL-safe base64): no quoting needed on this hot path.
        signature = self._sign(token, expires)
        query = f"Expires={expires}&OSSAccessKeyId={ACCESS_KEY_ID}&Signature={signature}"
        return f"{base}{RESULTS_PREFIX}{token}.png?{query}"

    def lookup(self, name: str, query: Mapping[str, str]) -> ResultFile:
        """The file a download asks for, if its link is intact, unexpired and the image exists."""
        token = name.removesuffix(".png")
        file = self._files.get(token)
        if file is None or not name.endswith(".png"):
            raise no_such_key()
        expires = query.get("Expires", "")
        # ASCII digits only (int() takes other scripts' and chokes on 5,000 of them); bytes, as
        # compare_digest refuses non-ASCII str
        if not (expires.isascii() and expires.isdigit() and len(expires) <= 12) or not (
            hmac.compare_digest(
                query.get("Signature", "").encode("utf-8", "surrogateescape"),
                self._sign(token, int(expires)).encode("ascii"),
            )
        ):
            raise OssError(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        if self._clock.now() >= int(expires):
            raise OssError(403, "AccessDenied", "Request has expired.")
        task = file.task
        if (
            task.status(self._clock.now()) != TaskStatus.SUCCEEDED
            or file.index not in task.succeeded_indexes()
        ):
            raise no_such_key()
        return file

    def lookup_url(self, url: str) -> ResultFile:
        """`lookup` for a full result URL (an input that points back at this emulator)."""
        parsed = URL(url)
        return self.lookup(parsed.path.removeprefix(RESULTS_PREFIX), parsed.query)

    async def png(self, file: ResultFile) -> bytes:
        """The PNG bytes, rendered once even when several downloads ask at the same moment; 404
        if the task's input was evicted."""
        future = self._rendering.get(file.token)
        if future is None:
            loop = asyncio.get_running_loop()
            future = asyncio.ensure_future(
                loop.run_in_executor(self._executor, paint, file.task.brief, file.index, self._pngs)
            )
            self._rendering[file.token] = future
            future.add_done_callback(lambda done: self._rendered(file, done))
        try:
            return await asyncio.shield(future)
        except InputGone:
            raise input_gone() from None

    def _rendered(self, file: ResultFile, done: asyncio.Future[bytes]) -> None:
        """A render ended; once the task has drawn each image it makes, its inputs may go first."""
        self._rendering.pop(file.token, None)
        task = file.task
        bit = 1 << file.index
        if done.cancelled() or done.exception() is not None or not task.undrawn & bit:
            return
        task.undrawn &= ~bit
        if not task.undrawn:
            self._settle_inputs(task)

    def _settle_inputs(self, task: Task) -> None:
        for handle in task.brief.stored:
            self._inputs.settle(handle)

    def _sign(self, token: str, expires: int) -> str:
        mac = hmac.new(self._secret, f"{token}\n{expires}".encode(), hashlib.sha1).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")
