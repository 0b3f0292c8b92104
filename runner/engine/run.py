"""The run: each valid job from its images to files on disk, within the service's limits, resumable.

    start (upstream first, a few at a time) -> prepare -> skip if the journal says done
            -> take a slot -> submit, or resume a journaled task -> poll -> free the slot
            -> download every image at once -> sidecar and journal

A job holds one of its model's in-flight slots from submission until its task is seen finished; at
most twice as many of a model's jobs are started at once (runner/engine/feeder.py).
An account-level error, or a target that is not DashScope or never answers, stops the run; an
interrupt lets the submissions in the air finish (so their task ids are journaled), then cancels
tasks still PENDING.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wanform.runner.api.answers import (
    POLL_ENDS,
    WrongResultError,
    allowed_images,
    disagreement,
    expected_images,
    fixed_size,
    missing,
    outcome,
    service_seconds,
    service_times,
)
from wanform.runner.api.client import Answer, Client
from wanform.runner.api.errors import (
    AccountError,
    EndpointError,
    FileError,
    TaskFailedError,
    TransportError,
    WanformError,
)
from wanform.runner.api.limits import Gates, Limits
from wanform.runner.api.retries import RetryPolicy, retrying
from wanform.runner.engine.chain import Chain, UpstreamError
from wanform.runner.engine.feeder import Feeder
from wanform.runner.engine.journal import (
    FailureRecord,
    JobRecord,
    Journal,
    JournalError,
    JournalOutput,
)
from wanform.runner.engine.outputs import (
    PNG_SIGNATURE,
    AtomicFile,
    DiskError,
    OutputWriteError,
    Placement,
    Stems,
    disk_error,
    file_sha256,
    finish_png,
    image_suffix,
    safe_name,
    within,
    write_error,
)
from wanform.runner.engine.polling import Durations
from wanform.runner.engine.states import (
    BLOCKED,
    DOWNLOADING,
    ENDED,
    FAILED,
    INTERRUPTED,
    NOT_KEPT,
    PARTIAL,
    PENDING,
    PREPARING,
    RESUBMIT,
    RUNNING,
    SKIPPED,
    STOPPED,
    SUBMITTING,
    SUCCEEDED,
    UNRESOLVED,
    ImageFailure,
    ImageOut,
    JobState,
    RunResult,
    rerun_kind,
)
from wanform.runner.engine.submission import Lost, Submitter, UnresolvedError, lost_answer
from wanform.runner.recipes.build import BuiltRequest
from wanform.runner.recipes.check import CheckedJob
from wanform.runner.recipes.wire import Source, journal_key, load_sources
from wanform.runner.reports.progress import Lines
from wanform.runner.reports.provenance import (
    JobProvenance,
    Provenance,
    SentRequest,
    image_record,
    write_sidecar,
)
from wanform.runner.timestamps import utc_now
from wanform.spec.imageprobe import ImageProbeError, probe_stream
from wanform.spec.models import MODELS, ModelSpec, TaskStatus

STOPPING = (AccountError, EndpointError, JournalError, DiskError)
STARTED_PER_SLOT = 2  # jobs started per in-flight slot: the next are prepared while others run
SOFTWARE = "wanform"


@dataclass(frozen=True)
class RunOptions:
    """How a run behaves beyond its limits: files, sync calls, retries, grace after an interrupt."""

    out: Path = Path("out")
    synchronous: bool = False
    retry: RetryPolicy = RetryPolicy()
    download_retry: RetryPolicy = RetryPolicy(attempts=6, budget=120.0)
    # seconds to let submissions land and to cancel PENDING tasks after an interrupt
    cancel_wait: float = 5.0
    # an emulator's clock speed, which makes its task durations exact; None for DashScope
    target_speed: float | None = None
    # submit again the jobs the journal has finished with their files intact (--force)
    redo_finished: bool = False
    # submit again the jobs whose lost submission answer matched no task surely, and submit
    # where the account holds tasks no record claims
    resubmit_unresolved: bool = False
    # task ids the lock records: never a lost one of another job
    claimed: frozenset[str] = frozenset()


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


class Engine:
    """Runs validated jobs against one target; `run()` once, `interrupt()` from a signal handler."""

    def __init__(
        self,
        jobs: list[CheckedJob],
        client: Client,
        journal: Journal,
        limits: Limits,
        options: RunOptions,
        progress: Lines,
        models: Mapping[str, ModelSpec] = MODELS,
        known: Mapping[str, Mapping[int, Path]] | None = None,
    ) -> None:
        """`known`: the files of upstream jobs outside the run, by job key and image index."""
        self.client, self.journal, self.options, self.progress = client, journal, options, progress
        self.models = models
        self.chain = Chain(_upstreams_in(jobs), known, models)
        self.gates = Gates(limits)
        speed = options.target_speed
        self.durations = {
            name: Durations(spec.typical_seconds / (speed or 1.0), exact=speed is not None)
            for name, spec in models.items()
        }
        self._halt = asyncio.Event()
        self.submitter = Submitter(
            client,
            self.gates,
            journal,
            options.retry,
            self._seen,
            self._halt,
            self._stop,
            windowed=speed is None,  # an emulator's clock runs faster than the runner's
            speed=speed or 1.0,
            claimed=options.claimed,
        )
        self.jobs = jobs
        self._stems = Stems((c.job.recipe.name, c.job.name) for c in jobs)
        states = [JobState(c.job.recipe.file, c.job.name, c.job.values["model"]) for c in jobs]
        self.result = RunResult(client.target.describe(), states)
        # the jobs started and not ended by themselves (an interrupt's cancel reads them): a
        # run of 20,000 jobs holds a few hundred Works at a time, not one per job
        self.started: dict[int, Work] = {}

    def _work(self, index: int) -> Work:
        checked = self.jobs[index]
        name = checked.job.recipe.name
        # made as the job starts: a Path kept per recipe of a large run would hold its parts
        # (interned strings) for the whole run
        folder = self.options.out / safe_name(name)
        place = Placement(folder, self._stems[(name, checked.job.name)])
        return Work(checked, self.result.jobs[index], place)

    def _seen(self, error: WanformError) -> None:
        """Every retryable failure passes here (429s are also counted by the client)."""
        self.client.traffic.retried += 1

    def interrupt(self, terminated: bool = False) -> None:
        """Stop the run as Ctrl-C does (SIGTERM when `terminated`)."""
        self.result.interrupted = True
        self.result.terminated = terminated
        self._halt.set()

    def _stop(self, error: WanformError) -> None:
        if self.result.stopped is None:
            self.result.stopped = error
        self._halt.set()

    async def run(self) -> RunResult:
        """Run every job; return when all ended, or once a stop or an interrupt has been handled."""
        started = time.monotonic()
        self.progress.start(self.result, lambda: self.client.traffic.throttled)
        for state in self.result.jobs:
            self.progress.event("queued", state)
        feeder = self._feeder()
        halted = asyncio.create_task(self._halt.wait())
        watched: list[asyncio.Future[Any]] = [halted, asyncio.create_task(feeder.run())]
        try:
            await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in watched:
                waiting.cancel()
            await self._settle(feeder)
            if self.result.interrupted:
                await self._cancel_pending()
            self.progress.stop()
        if feeder.bugs:  # not a service failure (those end the job): show the first job's
            raise feeder.bugs[min(feeder.bugs)]
        self.result.elapsed = time.monotonic() - started
        self.result.requests = dict(self.client.traffic.requests)
        self.result.throttled = self.client.traffic.throttled
        self.result.retried = self.client.traffic.retried
        return self.result

    def _feeder(self) -> Feeder:
        """The jobs in order, each after its upstream jobs of the run, a few per model at once."""
        at: dict[str, list[int]] = defaultdict(list)
        for index, checked in enumerate(self.jobs):
            at[checked.key].append(index)
        upstream = [[up for link in c.links for up in at.get(link.upstream, ())] for c in self.jobs]
        widths = {m: n * STARTED_PER_SLOT for m, n in self.gates.limits.max_in_flight.items()}
        return Feeder([s.model for s in self.result.jobs], upstream, widths, self._job)

    async def _settle(self, feeder: Feeder) -> None:
        """Start no more jobs, cancel those still running, and let submissions in the air land:
        their task ids must be journaled. A job never started ends as a cancelled one does."""
        feeder.close()
        jobs = list(feeder.tasks.values())
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
        for state in self.result.jobs:
            if state.state not in ENDED:
                state.state = STOPPED if self.result.stopped is not None else INTERRUPTED
        if self.submitter.in_air:
            await asyncio.wait(self.submitter.in_air, timeout=self.options.cancel_wait)

    async def _cancel_pending(self) -> None:
        """Cancel this run's unfinished tasks last seen PENDING (or not seen yet); RUNNING ones
        stay for a rerun."""
        waiting = []
        for w in self.started.values():
            task_id = self._unfinished_task(w)
            if task_id is not None and w.task_status in (None, TaskStatus.PENDING):
                waiting.append(asyncio.create_task(self._cancel(task_id, w)))
        if waiting:
            await asyncio.wait(waiting, timeout=self.options.cancel_wait)

    def _unfinished_task(self, w: Work) -> str | None:
        """The job's task, journaled and not finished; None when there is none."""
        record = self.journal.get(w.journal_key) if w.journal_key else None
        if record is None or not record.live or record.status is not None:
            return None
        return record.task_id

    async def _cancel(self, task_id: str, w: Work) -> None:
        try:
            await self.gates.query.acquire()
            await self.client.cancel(task_id)
        except WanformError as exc:
            self._notice(w, f"task {task_id} was not cancelled ({exc.code}); a rerun resumes it")
            return
        with contextlib.suppress(JournalError):  # unrecorded, a rerun polls it and sees CANCELED
            self.journal.write("canceled", w.journal_key, task_id=task_id)
        self._notice(w, f"task {task_id} was cancelled while PENDING")

    async def _job(self, index: int) -> None:
        w = self.started[index] = self._work(index)
        try:
            await self._run_job(w)
        except UpstreamError as exc:
            w.state.state, w.state.error = BLOCKED, exc
            self.progress.job_ended(w.state)
        except asyncio.CancelledError:
            if w.state.state not in ENDED:
                w.state.state = STOPPED if self.result.stopped is not None else INTERRUPTED
            raise
        except UnresolvedError as exc:
            w.state.state, w.state.error = UNRESOLVED, exc
            self.progress.job_ended(w.state)
        except WanformError as exc:
            if isinstance(exc, JournalError) and exc.task_id:
                w.state.task_id = exc.task_id
            self._failed(w, exc)
            if isinstance(exc, STOPPING) or (
                isinstance(exc, TransportError) and not self.client.traffic.answers
            ):
                self._stop(exc)
        except OSError as exc:  # no step expected it (a full disk): it would meet the next job too
            error = disk_error(exc)
            self._failed(w, error)
            self._stop(error)
        finally:
            self.chain.finished(w.checked.key, w.state)
            w.release()
            if self._unfinished_task(w) is None:
                del self.started[index]

    def _failed(self, w: Work, error: WanformError) -> None:
        w.state.state, w.state.error = FAILED, error
        self.progress.job_ended(w.state)

    def _notice(self, w: Work, text: str) -> None:
        w.state.notices = [*w.state.notices, text]
        self.progress.notice(f"{w.state.label}: {text}")

    async def _run_job(self, w: Work) -> None:
        linked = await self.chain.inputs(w.checked)
        w.state.state = PREPARING
        w.sources = await asyncio.to_thread(load_sources, w.built, linked)
        w.journal_key = journal_key(w.built, w.sources, self.client.target.identity)
        record = self.journal.get(w.journal_key)
        if record is not None and record.status == TaskStatus.SUCCEEDED:
            then = rerun_kind(record.failures)
            if self.options.redo_finished or then == RESUBMIT:
                if not self.options.redo_finished:
                    self._notice(w, _resubmitting(record.task_id, record.failures))
                w.previous = record.outputs  # kept until the new task's images are written
                record = None  # a new task, not the finished one polled again
            elif then is None and await asyncio.to_thread(self._kept, w, record):
                self._skip(w, record)
                return
            # else its task is polled again and every file fetched again: nothing is billed
        if record is not None and record.unresolved is not None:
            if not self.options.resubmit_unresolved:
                raise UnresolvedError(
                    record.unresolved,
                    "an earlier run could not tell whether one of these is its task",
                )
            record = None  # the user chose to pay again: a new task, no lost one looked for
        async with self.gates.slot(w.model):
            answer = await self._resume(w, record) if record is not None and record.live else None
            if answer is None:
                answer = await self._start(w, Lost.journaled(record))
        await self._finish(w, answer)

    def _skip(self, w: Work, record: JobRecord) -> None:
        w.state.task_id, w.state.request_id, w.state.state = (
            record.task_id,
            record.request_id,
            SKIPPED,
        )
        w.state.sidecar = str(w.place.sidecar) if w.place.sidecar.is_file() else None
        w.state.images = tuple(
            ImageOut(o["index"], o["file"], o["sha256"], o["bytes"]) for o in record.outputs
        )
        w.state.failures = tuple(
            ImageFailure(f["index"], f["code"], f["message"]) for f in record.failures
        )
        self.progress.job_ended(w.state)

    def _kept(self, w: Work, record: JobRecord) -> bool:
        """Whether a finished job's images are all still on disk, unchanged, and its sidecar was
        written."""
        return _intact(record.outputs) and (record.sidecar or w.place.sidecar.is_file())

    async def _resume(self, w: Work, record: JobRecord) -> Answer | None:
        """Poll a task an earlier run submitted; None when it expired and the job must be
        submitted again."""
        assert record.task_id is not None
        w.state.resumed, w.request_id, w.adopted = True, record.request_id, record.adopted
        answer = await self._poll(w, record.task_id, resumed=True)
        if (answer.body.get("output") or {}).get("task_status") != TaskStatus.UNKNOWN:
            return answer
        self.journal.write("expired", w.journal_key, task_id=record.task_id)
        self._notice(
            w,
            f"task {record.task_id} from an earlier run is UNKNOWN to the service "
            "(expired after 24 h, or never created); submitting the job again",
        )
        w.state.resumed = False
        return None

    async def _start(self, w: Work, lost: Lost | None) -> Answer:
        w.state.state = SUBMITTING
        wire, w.request = await self.submitter.wire(w.checked.job, w.sources, self._synchronous(w))
        w.times["submitted_at"] = utc_now()
        if self._synchronous(w):
            return await self.submitter.call(w.journal_key, w.model, wire)
        submitted = await self.submitter.submit(
            w.journal_key,
            w.model,
            wire,
            lost,
            reconcile=not (self.options.redo_finished or self.options.resubmit_unresolved),
        )
        w.request_id, w.adopted = submitted.request_id, submitted.adopted
        self.progress.event("submitted", w.state, task_id=submitted.task_id)
        if submitted.adopted:
            self._notice(
                w,
                f"adopted task {submitted.task_id}, created by a submission whose answer was lost",
            )
        return await self._poll(w, submitted.task_id)

    def _synchronous(self, w: Work) -> bool:
        """--sync where the model has a sync endpoint, except for interleaved output (which
        streams over SSE there)."""
        interleave = (w.built.body.get("parameters") or {}).get("enable_interleave") is True
        return (
            self.options.synchronous
            and self.models[w.model].sync_path is not None
            and not interleave
        )

    async def _poll(self, w: Work, task_id: str, resumed: bool = False) -> Answer:
        """Ask about the task until it ends: first near the model's usual duration (at once for a
        resumed task), then at growing intervals."""
        w.state.task_id, w.state.state, w.task_status = task_id, PENDING, None
        durations = self.durations[w.model]
        began, misses = time.monotonic(), 0
        wait = 0.0 if resumed else durations.first_poll()
        while True:
            await asyncio.sleep(wait)
            answer = await retrying(lambda: self._query(task_id), self.options.retry, self._seen)
            output = answer.body.get("output") or {}
            w.task_status = str(output.get("task_status") or TaskStatus.UNKNOWN)
            w.state.state = RUNNING if w.task_status == TaskStatus.RUNNING else PENDING
            self.progress.event("polled", w.state, task_status=w.task_status)
            elapsed = time.monotonic() - began
            if w.task_status in POLL_ENDS:
                if not resumed and w.task_status == TaskStatus.SUCCEEDED:
                    durations.learn(elapsed, misses, service_seconds(output))
                return answer
            misses += 1
            wait = durations.next_poll(
                max(elapsed, durations.first_poll()) if resumed else elapsed, misses
            )

    async def _query(self, task_id: str) -> Answer:
        await self.gates.query.acquire()
        return await self.client.task(task_id)

    async def _finish(self, w: Work, answer: Answer) -> None:
        """Turn a finished task (or sync answer) into files, a sidecar and a journal entry."""
        output = answer.body.get("output") or {}
        status = str(output.get("task_status") or TaskStatus.SUCCEEDED)
        w.times["finished_at"] = utc_now()
        if status != TaskStatus.SUCCEEDED:
            self.journal.write(
                "finished", w.journal_key, task_id=w.state.task_id, status=status, outputs=[]
            )
            raise TaskFailedError(
                str(output.get("code") or status),
                str(output.get("message") or _ended_without_images(status)),
                task_id=w.state.task_id or "",
            )
        self._check_adopted(w, answer)
        found = outcome(output)
        request = w.built
        allowed = allowed_images(request)
        if len(found.urls) > allowed:
            self._wrong(w, f"the task returned {len(found.urls)} images, the job allows {allowed}")
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
            self._wrong(w, wrong.message)
        w.times["downloaded_at"] = utc_now()
        unwritten = await self._record(w, answer, found.urls, found.texts)
        self._conclude(w, unwritten)
        if w.previous and w.state.state in (SUCCEEDED, PARTIAL):
            await asyncio.to_thread(self._drop_replaced, w)
        self.progress.job_ended(w.state)

    def _conclude(self, w: Work, unwritten: OutputWriteError | None) -> None:
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
                self._notice(
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

    def _check_adopted(self, w: Work, answer: Answer) -> None:
        """An adopted task must agree with the job in all its answer shows, or it is not taken."""
        reason = disagreement(w.built, answer.body) if w.adopted else None
        if reason is None:
            return
        task_id = w.state.task_id or ""
        self.journal.write("unresolved", w.journal_key, model=w.model, candidates=[task_id])
        raise UnresolvedError(
            [task_id], lost_answer(f"the one task made meanwhile is not the job's: {reason}")
        )

    def _wrong(self, w: Work, reason: str) -> None:
        """A result the request cannot have made fails the job; a rerun submits it again."""
        self.journal.write(
            "finished", w.journal_key, task_id=w.state.task_id, status="FAILED", outputs=[]
        )
        raise WrongResultError(reason)

    async def _record(
        self, w: Work, answer: Answer, urls: dict[int, str], texts: list[str]
    ) -> OutputWriteError | None:
        """The sidecar (written off the loop), then the journal entry (on it: the journal has
        one writer), which names the images written and those not made or not kept. Returns why
        the sidecar could not be written, if it could not."""
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
        unwritten = None
        try:
            await asyncio.to_thread(write_sidecar, w.place.sidecar, provenance)
            w.state.sidecar = str(w.place.sidecar)
        except OSError as exc:
            unwritten = write_error(w.place.sidecar, exc)
        w.state.request_id, w.state.finished_at = provenance["request_id"], w.times["finished_at"]
        self.journal.write(
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
            "target": self.client.target.describe(),
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
            path = w.place.image(index)
            try:
                out = await asyncio.to_thread(AtomicFile, path)
            except OSError as exc:
                raise write_error(path, exc) from None
            try:
                await self.client.download(url, _sink(out))
                return await asyncio.to_thread(self._commit, out, index, texts, size)
            except BaseException:
                out.discard()
                raise

        try:
            image = await retrying(attempt, self.options.download_retry, self._seen)
        except WanformError as exc:
            return ImageFailure(index, exc.code, exc.message)
        self.progress.event("downloaded", w.state, index=index, file=image.file)
        return image

    def _commit(
        self, out: AtomicFile, index: int, texts: dict[str, str], fixed: tuple[int, int] | None
    ) -> ImageOut:
        if fixed is not None:
            _check_size(out, index, fixed)
        try:
            out.file.seek(0)
            head = out.file.read(16)
            png = head.startswith(PNG_SIGNATURE)
            digest = finish_png(out, texts) if png else file_sha256(out.file)
            out.path = out.path.with_suffix(image_suffix(head))
            size = out.file.seek(0, os.SEEK_END)
            out.commit()
        except OSError as exc:
            raise write_error(out.path, exc) from None
        return ImageOut(index, str(out.path), digest, size)

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


def _upstreams_in(jobs: list[CheckedJob]) -> set[str]:
    """The jobs of the run whose outputs another job of the run takes."""
    running = {c.key for c in jobs}
    return {link.upstream for c in jobs for link in c.links} & running


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


def _sink(out: AtomicFile) -> Callable[[bytes], None]:
    """`out.write`, with a failed write named as the file it was for (not as a broken download)."""

    def write(data: bytes) -> None:
        try:
            out.write(data)
        except OSError as exc:
            raise write_error(out.path, exc) from None

    return write


def _not_returned(lost: list[ImageFailure], output: dict) -> list[ImageFailure]:
    """Images the messages style left out, with the task's own code and message when it gives
    them (the task doc: a partly failed task's output carries them)."""
    code = output.get("code")
    if not code:
        return lost
    return [ImageFailure(f.index, str(code), str(output.get("message") or f.message)) for f in lost]


def _not_kept_error(
    task: str | None,
    unwritten: OutputWriteError | None,
    not_kept: list[ImageFailure],
    written: int,
) -> WanformError:
    """Why a SUCCEEDED (and billed) task's files are not all on disk, saying so."""
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


def _resubmitting(task: str | None, failures: Sequence[FailureRecord]) -> str:
    codes = ", ".join(sorted({f["code"] for f in failures}))
    return (
        f"task {task} made {len(failures)} image(s) fewer than asked ({codes}, which a retry "
        "may pass); submitting the whole request again (billed again for every image it "
        "makes); the images made are kept until the new ones are written"
    )


def _ended_without_images(status: str) -> str:
    if status == TaskStatus.CANCELED:
        return "the task was cancelled before it ran (by an interrupt or another client)"
    if status == TaskStatus.UNKNOWN:
        return "the service no longer knows this task (expired after 24 h)"
    return "the task failed without a message"
