"""A finished task's results on disk: its images downloaded and checked, provenance in their PNG
text chunks and in the job's sidecar, and the journal entry that names them.

    finish: task failed -> journaled, TaskFailedError | adopted task not the job's -> unresolved
            -> download every image at once (each held in memory, then in one worker-thread
               hop: atomic file, size check, PNG texts)
            -> sidecar -> journal `finished` -> the job's end state
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from wanform.runner.api.answers import (
    ImageFailure,
    WrongResultError,
    allowed_images,
    disagreement,
    expected_images,
    fixed_size,
    missing,
    outcome,
    service_times,
)
from wanform.runner.api.client import Answer, Client
from wanform.runner.api.errors import FileError, TaskFailedError, WanformError, safe_url
from wanform.runner.api.retries import RetryPolicy, retrying
from wanform.runner.engine.journal import JobRecord, Journal, JournalOutput
from wanform.runner.engine.outputs import (
    ImageRecord,
    JobProvenance,
    OutputWriteError,
    Placement,
    Provenance,
    SentRequest,
    image_suffix,
    png_ending,
    write_error,
    write_sidecar,
)
from wanform.runner.engine.states import (
    DOWNLOADING,
    FAILED,
    NOT_KEPT,
    PARTIAL,
    SUCCEEDED,
    ImageOut,
    JobState,
    Progress,
)
from wanform.runner.engine.submission import UnresolvedError, lost_answer
from wanform.runner.files.areas import within
from wanform.runner.files.atomic import AtomicFile, fsync_dir
from wanform.runner.files.hashes import file_sha256
from wanform.runner.recipes.build import BuiltRequest
from wanform.runner.recipes.check import CheckedJob
from wanform.runner.recipes.wire import Source
from wanform.runner.storage.errors import NotStored
from wanform.runner.storage.location import is_stored
from wanform.runner.storage.s3 import Store
from wanform.runner.timestamps import utc_now
from wanform.spec.formats.png import IEND as PNG_IEND
from wanform.spec.formats.png import SIGNATURE as PNG_SIGNATURE
from wanform.spec.formats.png import header_size
from wanform.spec.imageprobe import ImageProbeError, probe_file, probe_stream
from wanform.spec.models import TaskStatus

SOFTWARE = "wanform"
T = TypeVar("T")
# bytes of a download held in memory before they are written out: most images are smaller, so
# each costs one worker-thread hop, and a larger one a hop per SPOOL_BYTES
SPOOL_BYTES = 8 << 20
HEAD_BYTES = 24  # of a download's first bytes: its format (`image_suffix`), a PNG's size
# downloads of a run under way at once: each holds its image in memory until a worker thread
# writes it, and thousands of jobs ending together would otherwise hold thousands of images
DOWNLOADS = 16


@dataclass(slots=True)
class Work:
    """One job while it runs: its checked request, its public state, what provenance will record.
    Once the job has ended, only what a cancel after an interrupt reads is kept (`release`)."""

    checked: CheckedJob
    state: JobState
    place: Placement
    sources: list[Source] = field(default_factory=list)
    journal_key: str = ""
    request: SentRequest | None = None  # provenance form of what was sent
    request_id: str = ""
    task_status: str | None = None
    times: dict[str, str] = field(default_factory=dict)
    adopted: bool = False  # its task was found after a lost answer: checked before it is kept
    previous: Sequence[JournalOutput] = ()  # files of the task this one replaces
    _built: BuiltRequest | None = None

    @property
    def model(self) -> str:
        return self.checked.job.values["model"]

    @property
    def built(self) -> BuiltRequest:
        """The job's checked request, built when the job starts and kept until it ends."""
        if self._built is None:
            self._built = self.checked.request
        return self._built

    def release(self) -> None:
        """Let go of what only the job's own steps need (input bytes, the request built and as
        sent, provenance): a job whose task may still need cancelling keeps its Work."""
        self.sources, self.request, self.times, self.previous = [], None, {}, ()
        self._built = None


def notice(progress: Progress, w: Work, text: str) -> None:
    """Add `text` to the job's notices and show it."""
    w.state.notices = [*w.state.notices, text]
    progress.notice(f"{w.state.label}: {text}")


def _intact(outputs: Sequence[JournalOutput]) -> bool:
    """Whether every file a finished job wrote is still there, unchanged."""
    for item in outputs:
        path = Path(item.get("file", ""))
        if not path.is_file():
            return False
        with open(path, "rb") as fh:
            if file_sha256(fh) != item.get("sha256"):
                return False
    return bool(outputs)


class ResultWriter:
    """Writes the results of the run's finished tasks: files, sidecars, `finished` journal
    entries."""

    def __init__(
        self,
        client: Client,
        journal: Journal,
        progress: Progress,
        retry: RetryPolicy,
        seen: Callable[[WanformError], None],
        store: Store | None = None,
    ) -> None:
        """`retry`: how a cut-off download is fetched again; `seen`: each retried failure;
        `store`: where each image goes once it is on disk (then it leaves the disk)."""
        self.client, self.journal, self.progress = client, journal, progress
        self.retry, self.seen, self.store = retry, seen, store
        self.target = client.target.describe()
        self.fetching = asyncio.Semaphore(DOWNLOADS)

    async def kept(self, w: Work, record: JobRecord) -> bool:
        """Whether a finished job's images are all still on disk (or in the store), unchanged,
        and its sidecar was written."""
        if self.store is not None and any(is_stored(o.get("file")) for o in record.outputs):
            found = await self.store.digests(o.get("file", "") for o in record.outputs)
            intact = all(
                found[o.get("file", "")] == f"sha256:{o.get('sha256')}" for o in record.outputs
            )
            return intact and record.sidecar
        intact = await asyncio.to_thread(_intact, record.outputs)
        return intact and (record.sidecar or w.place.sidecar.is_file())

    async def finish(self, w: Work, answer: Answer) -> None:
        """Turn a finished task (or sync answer) into files, a sidecar and a journal entry."""
        output = answer.body.get("output") or {}
        status = str(output.get("task_status") or TaskStatus.SUCCEEDED)
        w.times["finished_at"] = utc_now()
        if status != TaskStatus.SUCCEEDED:
            await self.journal.record(
                "finished", w.journal_key, task_id=w.state.task_id, status=status, outputs=[]
            )
            raise TaskFailedError(
                str(output.get("code") or status),
                str(output.get("message") or _ended_without_images(status)),
                task_id=w.state.task_id or "",
            )
        await self._check_adopted(w, answer)
        found = outcome(output)
        request = w.built
        allowed = allowed_images(request)
        if len(found.urls) > allowed:
            await self._wrong(
                w, f"the task returned {len(found.urls)} images, the job allows {allowed}"
            )
        w.state.state = DOWNLOADING
        w.state.failures = found.failures + _not_returned(
            missing(found, expected_images(request)), output
        )
        fetched = await asyncio.gather(
            *(self._download(w, i, url) for i, url in found.urls.items())
        )
        # tuples: a finished job of a large run keeps them to its end, and most have no failures
        w.state.images = tuple(f for f in fetched if isinstance(f, ImageOut))
        w.state.failures = tuple(
            sorted(
                [*w.state.failures, *(f for f in fetched if isinstance(f, ImageFailure))],
                key=lambda f: f.index,
            )
        )
        wrong = next((f for f in w.state.failures if f.code == WrongResultError.code), None)
        if wrong is not None:
            await self._wrong(w, wrong.message)
        w.times["downloaded_at"] = utc_now()
        unwritten = await self._record(w, answer, found.urls, found.texts)
        self._conclude(w, unwritten)
        if isinstance(w.state.error, NotStored):
            raise w.state.error  # the store fails: the next job's images would not be stored
        if w.previous and w.state.state in (SUCCEEDED, PARTIAL):
            await asyncio.to_thread(self._drop_replaced, w)
        self.progress.job_ended(w.state)

    def _conclude(self, w: Work, unwritten: OutputWriteError | NotStored | None) -> None:
        """The job's end state. A SUCCEEDED task whose files were not all kept is billed: it is
        never reported as a service failure, and a rerun fetches them from the same task."""
        state, task = w.state, w.state.task_id
        not_kept = [f for f in state.failures if f.code in NOT_KEPT]
        if unwritten is not None or (not_kept and not state.images):
            state.state = FAILED
            state.error = _not_kept_error(task, unwritten, not_kept, len(state.images))
        elif not state.failures:
            state.state = SUCCEEDED
        elif state.images:
            state.state = PARTIAL
            if not_kept:
                notice(
                    self.progress,
                    w,
                    f"task {task} SUCCEEDED and is billed, but image(s) "
                    f"{', '.join(str(f.index) for f in not_kept)} could not be kept; a rerun "
                    "fetches them from the same task without paying again",
                )
        else:
            first = state.failures[0]
            state.state = FAILED
            state.error = TaskFailedError(first.code, "no image was made: " + first.message)

    def _drop_replaced(self, w: Work) -> None:
        """Delete the replaced task's images that the new task did not write over."""
        made = {Path(i.file) for i in w.state.images}
        for item in w.previous:
            old = Path(str(item.get("file", "")))
            if old not in made and within(old, (w.place.directory,)) and old.is_file():
                with contextlib.suppress(OSError):  # the lock and sidecar list what is current
                    old.unlink()

    async def _check_adopted(self, w: Work, answer: Answer) -> None:
        """An adopted task must agree with the job in all its answer shows, or it is not taken."""
        reason = disagreement(w.built, answer.body) if w.adopted else None
        if reason is None:
            return
        task_id = w.state.task_id or ""
        await self.journal.record("unresolved", w.journal_key, model=w.model, candidates=[task_id])
        raise UnresolvedError(
            [task_id], lost_answer(f"the one task made meanwhile is not the job's: {reason}")
        )

    async def _wrong(self, w: Work, reason: str) -> None:
        """A result the request cannot have made fails the job; a rerun submits it again."""
        await self.journal.record(
            "finished", w.journal_key, task_id=w.state.task_id, status="FAILED", outputs=[]
        )
        raise WrongResultError(reason)

    async def _record(
        self, w: Work, answer: Answer, urls: dict[int, str], texts: list[str]
    ) -> OutputWriteError | NotStored | None:
        """The sidecar (written off the loop; then stored, with a store), then the journal entry
        (on it: the journal has one writer), which names the images written and those not made
        or not kept. Returns why the sidecar could not be written, if it could not."""
        output = answer.body.get("output") or {}
        provenance: Provenance = {
            **self._provenance(w),
            "request_id": w.request_id or answer.request_id,
            "status": "SUCCEEDED" if not w.state.failures else "PARTIAL",
            "usage": answer.body.get("usage"),
            "task_metrics": output.get("task_metrics"),
            "service_times": service_times(output),
            "timings": w.times,
            "texts": texts,
            "images": [image_record(i, urls[i.index]) for i in w.state.images],
            "failed_images": [f.record() for f in w.state.failures],
        }
        unwritten: OutputWriteError | NotStored | None = None
        try:
            # its folder's fsync makes the names of the job's images durable too: one a job
            await asyncio.to_thread(write_sidecar, w.place.sidecar, provenance)
            w.state.sidecar = str(w.place.sidecar)
        except OSError as exc:
            unwritten = write_error(w.place.sidecar, exc)
            await asyncio.to_thread(_names_durable, w.place.directory)
        if unwritten is None and self.store is not None:
            try:
                stored = await self._stored(w.place.sidecar)
                w.state.sidecar, w.state.sidecar_sha256 = stored.file, f"sha256:{stored.sha256}"
            except NotStored as exc:
                unwritten = exc
        w.state.request_id, w.state.finished_at = provenance["request_id"], w.times["finished_at"]
        await self.journal.record(
            "finished",
            w.journal_key,
            task_id=w.state.task_id,
            status="SUCCEEDED",
            request_id=provenance["request_id"],
            outputs=[i.record() for i in w.state.images],
            failures=[f.record() for f in w.state.failures],
            sidecar=unwritten is None,
        )
        return unwritten

    def _provenance(self, w: Work) -> JobProvenance:
        job = w.checked.job
        return {
            "recipe": job.recipe.relative,
            "job": job.name,
            "model": w.model,
            "target": self.target,
            "task_id": w.state.task_id,
            "resumed": w.state.resumed,
            "request": w.request,
            "inputs": [s.describe() for s in w.sources],
        }

    async def _download(self, w: Work, index: int, url: str) -> ImageOut | ImageFailure:
        """Fetch image `index` into its final name atomically, retrying cut-off transfers; an
        image of another size than the request fixes is not kept."""
        texts = self._png_texts(w, index)
        size = fixed_size(w.built)

        async def attempt() -> ImageOut:
            spool = Spool(w.place.image(index))
            try:
                async with self.fetching:
                    await self.client.download(url, spool.write)
                    image = await _to_thread_to_its_end(commit_image, spool, index, texts, size)
            except BaseException:
                spool.discard()
                raise
            return image if self.store is None else await self._stored(Path(image.file), image)

        try:
            image = await retrying(attempt, self.retry, self.seen)
        except WanformError as exc:
            return ImageFailure(index, exc.code, exc.message)
        self.progress.event("downloaded", w.state, index=index, file=image.file)
        return image

    async def _stored(self, path: Path, image: ImageOut | None = None) -> ImageOut:
        """Put a file the job wrote into the store and take it off the disk; the image (or the
        sidecar, without `image`) as stored. NotStored when the store does not take it."""
        assert self.store is not None
        sha256, pixels = await asyncio.to_thread(_staged_facts, path, image)
        uri = await self.store.put(path, sha256, NotStored)
        with contextlib.suppress(OSError):  # the next run sweeps what stays in the stage
            await asyncio.to_thread(path.unlink)
        if image is None:
            return ImageOut(0, uri, sha256, 0)
        return ImageOut(image.index, uri, sha256, image.bytes, pixels)

    def _png_texts(self, w: Work, index: int) -> dict[str, str]:
        job = w.checked.job
        ident = json.dumps(
            {"recipe": job.recipe.name, "job": job.name, "image": index}, ensure_ascii=False
        )
        return {
            "Software": SOFTWARE,
            "Source": w.model,
            "Description": str(job.values.get("prompt", "")),
            "Comment": f"sidecar {w.place.sidecar.name}; task {w.state.task_id}",
            "wanform": ident,
        }


class Spool:
    """A download on its way to its AtomicFile: held in memory and written out in a worker thread
    once SPOOL_BYTES have come or the body is complete, so most images cost one thread hop and
    no write on the loop. What it writes is hashed on the way, so no file is read back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.out: AtomicFile | None = None
        self.chunks: list[bytes] = []
        self.held = 0
        self.head = b""  # the body's first bytes: its format
        self.size = 0  # bytes written to the file
        # the sha256 of the bytes written but the last few, which a PNG's texts go before
        self.digest = hashlib.sha256()
        self.unhashed = b""

    async def write(self, data: bytes) -> None:
        """Take a chunk of the body (the client's sink)."""
        self.chunks.append(data)
        self.held += len(data)
        if self.held >= SPOOL_BYTES:
            await _to_thread_to_its_end(self.spill)

    def spill(self) -> AtomicFile:
        """Write what is held to the file, made at the first spill (in a worker thread)."""
        try:
            if self.out is None:
                self.out = AtomicFile(self.path)
            for chunk in self.chunks:
                self.out.write(chunk)
                self._hash(chunk)
        except OSError as exc:
            raise write_error(self.path, exc) from None
        self.chunks, self.held = [], 0
        return self.out

    def _hash(self, chunk: bytes) -> None:
        """Hash what was written but its last bytes, as many as a PNG's IEND; keep its head."""
        if len(self.head) < HEAD_BYTES:
            self.head += chunk[: HEAD_BYTES - len(self.head)]
        self.size += len(chunk)
        if len(chunk) < len(PNG_IEND):
            chunk, self.unhashed = self.unhashed + chunk, b""
        self.digest.update(self.unhashed)
        cut = max(0, len(chunk) - len(PNG_IEND))
        self.digest.update(memoryview(chunk)[:cut])
        self.unhashed = chunk[cut:]

    def finish(self, texts: dict[str, str]) -> tuple[str, int]:
        """Put `texts` before a PNG's IEND once all is spilled; the final sha256 and size."""
        assert self.out is not None and not self.chunks, "finish after the last spill"
        if not self.head.startswith(PNG_SIGNATURE):
            self.digest.update(self.unhashed)
            return self.digest.hexdigest(), self.size
        ending = png_ending(self.out.path.name, self.size, self.unhashed, texts)
        self.out.file.seek(self.size - len(PNG_IEND))
        self.out.write(ending)
        self.digest.update(ending)
        return self.digest.hexdigest(), self.size - len(PNG_IEND) + len(ending)

    def discard(self) -> None:
        self.chunks = []
        if self.out is not None:
            self.out.discard()


def _names_durable(directory: Path) -> None:
    """The names of the images written in `directory` made durable; OutputWriteError if they
    cannot be (the journal then records none of them, and a rerun fetches them again)."""
    try:
        fsync_dir(directory)
    except OSError as exc:
        raise write_error(directory, exc) from None


async def _to_thread_to_its_end(func: Callable[..., T], *args: object) -> T:
    """`func` in a worker thread, waited for to its end even when the caller is cancelled
    meanwhile: a spool discarded while its thread still ran would leave the file that thread
    made behind."""
    hop = asyncio.ensure_future(asyncio.to_thread(func, *args))
    try:
        return await asyncio.shield(hop)
    except asyncio.CancelledError:
        await asyncio.wait([hop])
        if not hop.cancelled():
            hop.exception()  # the caller's cancellation is what it reports
        raise


def commit_image(
    spool: Spool, index: int, texts: dict[str, str], fixed: tuple[int, int] | None
) -> ImageOut:
    """The download in `spool` written out and made its file, named for its format: its PNG texts
    put in, its size checked against `fixed`, its sha256 and pixel size taken on the way."""
    out = spool.spill()
    if fixed is not None:
        _check_size(out, index, fixed)
    try:
        digest, size = spool.finish(texts)
        out.path = out.path.with_suffix(image_suffix(spool.head))
        out.commit(durable_name=False)  # made durable with the job's sidecar: `_record`
    except OSError as exc:
        raise write_error(out.path, exc) from None
    return ImageOut(index, str(out.path), digest, size, header_size(spool.head))


def _check_size(out: AtomicFile, index: int, size: tuple[int, int]) -> None:
    """Raise WrongResultError when the downloaded image is not `size` pixels (or no image)."""
    nbytes = out.file.seek(0, os.SEEK_END)
    out.file.seek(0)
    try:
        info = probe_stream(out.file, nbytes)
        made = (info.width, info.height)
    except ImageProbeError:
        made = None
    if made != size:
        shown = f"{made[0]}*{made[1]}" if made else "not an image"
        raise WrongResultError(f"image {index} is {shown}, the job asks for {size[0]}*{size[1]}")


def _staged_facts(path: Path, image: ImageOut | None) -> tuple[str, tuple[int, int] | None]:
    """A staged file's sha256 (known for an image) and pixel size (read from an image's header)."""
    if image is None:
        with open(path, "rb") as fh:
            return file_sha256(fh), None
    try:
        info = probe_file(path)
    except (OSError, ImageProbeError):
        return image.sha256, None
    return image.sha256, (info.width, info.height)


def _not_returned(lost: list[ImageFailure], output: dict) -> list[ImageFailure]:
    """Images the messages style left out, with the task's own code and message when it gives
    them (the task doc: a partly failed task's output carries them)."""
    code = output.get("code")
    if not code:
        return lost
    return [ImageFailure(f.index, str(code), str(output.get("message") or f.message)) for f in lost]


def _not_kept_error(
    task: str | None,
    unwritten: OutputWriteError | NotStored | None,
    not_kept: list[ImageFailure],
    written: int,
) -> WanformError:
    """Why a SUCCEEDED (and billed) task's files are not all on disk (or in the store), saying
    so."""
    if not written and not_kept and not_kept[0].code == NotStored.code:
        return NotStored(
            f"task {task} SUCCEEDED and its images are billed, but none could be stored: "
            f"image {not_kept[0].index}: {not_kept[0].message}"
        )
    if isinstance(unwritten, NotStored):
        return NotStored(
            f"task {task} SUCCEEDED and is billed, but its sidecar could not be stored "
            f"({written} image(s) are stored): {unwritten.message}"
        )
    if unwritten is not None:
        return OutputWriteError(
            f"task {task} SUCCEEDED and is billed, but its sidecar could not be written "
            f"({written} image(s) are on disk): {unwritten.message}"
        )
    first = not_kept[0]
    if first.code == OutputWriteError.code:
        return OutputWriteError(
            f"task {task} SUCCEEDED and its images are billed, but none could be written: "
            f"image {first.index}: {first.message}"
        )
    return FileError(
        f"task {task} SUCCEEDED and its images are billed, but none could be downloaded: "
        f"image {first.index}: {first.message}"
    )


def _ended_without_images(status: str) -> str:
    if status == TaskStatus.CANCELED:
        return "the task was cancelled before it ran (by an interrupt or another client)"
    if status == TaskStatus.UNKNOWN:
        return "the service no longer knows this task (expired after 24 h)"
    return "the task failed without a message"


def image_record(image: ImageOut, url: str) -> ImageRecord:
    """An image as its sidecar records it: by file name, and the URL without its signature."""
    return {
        "index": image.index,
        "file": Path(image.file).name,
        "sha256": image.sha256,
        "bytes": image.bytes,
        "url": safe_url(url),
    }
