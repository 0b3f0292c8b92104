"""The run: each valid job from its images to files on disk, within the service's limits, resumable.

    start (upstream first, a few at a time) -> prepare -> skip if the journal says done
            -> take a slot -> submit, or resume a journaled task -> poll -> free the slot
            -> its results: files, sidecar and journal (runner/engine/results.py)

A job holds one of its model's in-flight slots from submission until its task is seen finished; at
most twice as many of a model's jobs are started at once (runner/engine/feeder.py).
An account-level error, or a target that is not DashScope or never answers, stops the run; an
interrupt lets the submissions in the air finish (so their task ids are journaled), then cancels
tasks still PENDING.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wanform.runner.api.answers import POLL_ENDS, FailureRecord, ImageFailure, service_seconds
from wanform.runner.api.client import Answer, Client
from wanform.runner.api.errors import AccountError, EndpointError, TransportError, WanformError
from wanform.runner.api.limits import Gates, Limits
from wanform.runner.api.retries import RetryPolicy, retrying
from wanform.runner.engine.chain import Chain, Made, UpstreamError
from wanform.runner.engine.feeder import Feeder
from wanform.runner.engine.journal import JobRecord, Journal, JournalError
from wanform.runner.engine.outputs import DiskError, Placement, Stems, disk_error
from wanform.runner.engine.polling import Durations
from wanform.runner.engine.results import ResultWriter, Work, notice
from wanform.runner.engine.states import (
    BLOCKED,
    ENDED,
    FAILED,
    INTERRUPTED,
    PENDING,
    PREPARING,
    RESUBMIT,
    RUNNING,
    SKIPPED,
    STOPPED,
    SUBMITTING,
    UNRESOLVED,
    ImageOut,
    JobState,
    Progress,
    RunResult,
    rerun_kind,
)
from wanform.runner.engine.submission import LATE_TASK_GRACE, Lost, Submitter, UnresolvedError
from wanform.runner.files.names import safe_name
from wanform.runner.recipes.check import CheckedJob
from wanform.runner.recipes.wire import journal_key, load_sources
from wanform.runner.storage.errors import NotStored
from wanform.runner.storage.s3 import Store
from wanform.runner.timestamps import utc_now
from wanform.spec.models import MODELS, ModelSpec, TaskStatus

STOPPING = (AccountError, EndpointError, JournalError, DiskError, NotStored)
STARTED_PER_SLOT = 2  # jobs started per in-flight slot: the next are prepared while others run


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
    # real seconds a dead run's last request may still take to make its task
    late_task_grace: float = LATE_TASK_GRACE
    # the object store `out` names; then `out` is the stage each image passes through
    store: Store | None = None


class Engine:
    """Runs validated jobs against one target; `run()` once, `interrupt()` from a signal handler."""

    def __init__(
        self,
        jobs: list[CheckedJob],
        client: Client,
        journal: Journal,
        limits: Limits,
        options: RunOptions,
        progress: Progress,
        models: Mapping[str, ModelSpec] = MODELS,
        known: Mapping[str, Mapping[int, Made]] | None = None,
    ) -> None:
        """`known`: the files of upstream jobs outside the run, by job key and image index."""
        self.client, self.journal, self.options, self.progress = client, journal, options, progress
        self.models = models
        fetch = options.store.fetch_input if options.store is not None else None
        self.chain = Chain(_upstreams_in(jobs), known, models, fetch)
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
            grace=options.late_task_grace,
        )
        self.results = ResultWriter(
            client, journal, progress, options.download_retry, self._seen, options.store
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
            await self.journal.drained()  # a job cancelled while its line was being written
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
        """Cancel the task, trying a throttled or unanswered cancel again (within the run's
        `cancel_wait`): a cancel twice is harmless, a PENDING task left to run is billed."""

        async def attempt() -> Answer:
            await self.gates.query.acquire()
            return await self.client.cancel(task_id)

        try:
            await retrying(attempt, self.options.retry, self._seen)
        except WanformError as exc:
            notice(
                self.progress,
                w,
                f"task {task_id} was not cancelled ({exc.code}); a rerun resumes it",
            )
            return
        self.result.cancelled.append(task_id)
        with contextlib.suppress(JournalError):  # unrecorded, a rerun polls it and sees CANCELED
            await self.journal.record("canceled", w.journal_key, task_id=task_id)
        notice(self.progress, w, f"task {task_id} was cancelled while PENDING")

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

    async def _run_job(self, w: Work) -> None:
        linked = await self.chain.inputs(w.checked)
        w.state.state = PREPARING
        if w.built.images:  # read off the loop; a job without input images needs no hop there
            w.sources = await asyncio.to_thread(load_sources, w.built, linked)
        w.journal_key = journal_key(w.built, w.sources, self.client.target.identity)
        record = self.journal.get(w.journal_key)
        if record is not None and record.status == TaskStatus.SUCCEEDED:
            then = rerun_kind(record.failures)
            if self.options.redo_finished or then == RESUBMIT:
                if not self.options.redo_finished:
                    notice(self.progress, w, _resubmitting(record.task_id, record.failures))
                w.previous = record.outputs  # kept until the new task's images are written
                record = None  # a new task, not the finished one polled again
            elif then is None and await self.results.kept(w, record):
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
        await self.results.finish(w, answer)

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

    async def _resume(self, w: Work, record: JobRecord) -> Answer | None:
        """Poll a task an earlier run submitted; None when it expired and the job must be
        submitted again."""
        assert record.task_id is not None
        w.state.resumed, w.request_id, w.adopted = True, record.request_id, record.adopted
        answer = await self._poll(w, record.task_id, resumed=True)
        if (answer.body.get("output") or {}).get("task_status") != TaskStatus.UNKNOWN:
            return answer
        await self.journal.record("expired", w.journal_key, task_id=record.task_id)
        notice(
            self.progress,
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
            notice(
                self.progress,
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


def _upstreams_in(jobs: list[CheckedJob]) -> set[str]:
    """The jobs of the run whose outputs another job of the run takes."""
    running = {c.key for c in jobs}
    return {link.upstream for c in jobs for link in c.links} & running


def _resubmitting(task: str | None, failures: Sequence[FailureRecord]) -> str:
    codes = ", ".join(sorted({f["code"] for f in failures}))
    return (
        f"task {task} made {len(failures)} image(s) fewer than asked ({codes}, which a retry "
        "may pass); submitting the whole request again (billed again for every image it "
        "makes); the images made are kept until the new ones are written"
    )
