"""Submitting a job exactly once, even when the answer to a submission is lost, or the local state
that records submissions is.

Before a submission goes out, an intent is journaled; when its answer arrives, the task id is. If
the connection breaks after the request was sent (or the process dies), the task may exist without
the runner knowing its id. Before sending again, the runner lists the account's recent tasks (no
other submission of that model in the air). DashScope has no idempotency key and its list carries no
request content, so a task is adopted only when it is the one unclaimed task of the model made in
the submission's window, no other lost submission can have made it, and the account shows no task
of another client (a project sharing the key); else the job is unresolved rather than given a task
that may be another job's (a wrong image is worse than a second bill). The list is read only once
the unanswered request can no longer make a task: the service goes on with a request whose sender
gave up (a read timeout, a killed run), so that is a grace past the sender's own deadline. Windows
are compared in the service's time, read from its answers' `Date` headers: the machine's clock may
be far off.

The journal itself can be lost (`git clean`, a fresh CI machine, a damaged file). So before a run
first submits a model's job, it lists the account's tasks of that model from the service's last 24 h
(tasks live that long): any that may still bill and that neither the journal nor the lock claims may
be one of this run's jobs, made by a run whose record is gone, and such a job is unresolved instead
of submitted. A run that died moments ago may still have a request in the air, of a model it had
not used yet: when the account shows a task made moments ago that no record claims, the run waits
out the grace before its first listing. Only `--force` and `--resubmit-unresolved` submit without
this.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from wanform.runner.api.client import Answer, Client
from wanform.runner.api.clock import day_before, list_time
from wanform.runner.api.errors import (
    AccountError,
    ApiError,
    ConnectError,
    EndpointError,
    OutcomeUnknownError,
    ServiceError,
    TransportError,
    WanformError,
)
from wanform.runner.api.limits import Gates, SubmitGate
from wanform.runner.api.retries import RetryPolicy, retrying
from wanform.runner.engine.journal import JobRecord, Journal, JournalError
from wanform.runner.engine.outputs import SentRequest, redact, safe_headers
from wanform.runner.recipes.load import Job
from wanform.runner.recipes.wire import Source, encode_all, wire_request
from wanform.spec.models import TaskStatus

# real seconds: how far a lost task's creation may lie outside its submission's window, converted
# to the service's clock (a Date header's whole second, the request's time in transit)
LOST_TASK_MARGIN = 120.0
# Our choice, to list a run's tasks in few queries: the docs give only the default (10) and
# no maximum, and the emulator takes any size.
LIST_PAGE_SIZE = "100"
# seconds before a lost submission in which another client's task on the account makes adopting
# unsafe: a client active then may have made the one task found
ANOTHER_CLIENT_SPAN = 3600.0
# real seconds a request that reached the service may still take to make its task after its
# sender gave up on it (timed out, or died): the service does not stop when the connection goes
LATE_TASK_GRACE = 5.0
RESUBMIT = "rerun with --resubmit-unresolved to submit it again, knowing it may be billed twice"
# statuses of a listed task that bill nothing: a task in one is never a job's lost one
UNBILLED = frozenset({TaskStatus.FAILED, TaskStatus.CANCELED, TaskStatus.UNKNOWN})
UNREACHABLE_AFTER = 3  # refused connections, before any answer, that make a target unreachable
NAMED = 5  # candidates an unresolved job's error names; the journal holds them all
T = TypeVar("T")


class UnresolvedError(WanformError):
    """A submission's answer was lost and no task is surely the job's: none was taken."""

    code = "Unresolved"
    hint = RESUBMIT

    def __init__(self, candidates: list[str], why: str) -> None:
        named = ", ".join(candidates[:NAMED]) if candidates else "none"
        more = len(candidates) - NAMED
        super().__init__(f"{why} (candidates: {named}{f' and {more} more' if more > 0 else ''})")
        self.candidates = candidates


def lost_answer(why: str) -> str:
    return f"the answer to its submission was lost and {why}"


@dataclass(frozen=True)
class Lost:
    """A submission whose answer was lost: when it was sent, and until when it could make a task
    (None: unknown, or a clock not comparable with the service's)."""

    since: float
    until: float | None = None

    @classmethod
    def journaled(cls, record: JobRecord | None) -> Lost | None:
        if record is None or record.intent is None:
            return None
        return cls(record.intent, record.deadline)


@dataclass
class Submitted:
    """A task the service accepted for a job (or adopted after a lost answer)."""

    task_id: str
    request_id: str
    adopted: bool = False


class Submitter:
    """Submissions, uploads and lost-answer recovery for one run."""

    def __init__(
        self,
        client: Client,
        gates: Gates,
        journal: Journal,
        retry: RetryPolicy,
        seen,
        halt: asyncio.Event,
        stop: Callable[[WanformError], None],
        windowed: bool = True,
        speed: float = 1.0,
        claimed: frozenset[str] = frozenset(),
        grace: float = LATE_TASK_GRACE,
    ) -> None:
        """`claimed`: the task ids the lock records, never another job's lost task; `grace`: the
        real seconds a request may still take to make its task after its sender gave up."""
        self.client, self.gates, self.journal, self.retry, self.seen = (
            client,
            gates,
            journal,
            retry,
            seen,
        )
        self.halt, self.stop = halt, stop  # the run's stop: once set, nothing more is sent
        self._refused = 0  # connections refused before the target ever answered
        self._gates: dict[str, SubmitGate] = defaultdict(SubmitGate)
        self._claimed: set[str] = set()
        self.in_air: set[asyncio.Task] = (
            set()
        )  # submissions to let finish (and journal) before the run exits
        self._first = asyncio.Lock()
        self._proven = False  # until the service has accepted a key, submissions go one at a time
        # how long a submission can make a task after it is sent: beyond it, the runner gives up
        self.window = client.timeouts.connect + client.timeouts.read
        self.windowed = windowed  # the service's task times are on the runner's clock
        self.speed = speed  # service seconds per runner second (an emulator's clock speed)
        client.clock.speed = speed
        self.margin = LOST_TASK_MARGIN * max(1.0, speed)  # in service seconds
        self.lock_claims = claimed
        self._swept: dict[str, list[dict]] = {}  # each model's tasks of the last 24 h, at first use
        self._sweeping: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._waited: set[str] = set()  # models listed again after a run that died moments ago
        self._quiet = asyncio.Lock()  # held by the run's first listing until the account is quiet
        self._settled = False
        # (event, model) -> the candidates a job's line last named in full, and that job
        self._named: dict[tuple[str, str], tuple[list[str], str]] = {}
        self.grace = grace

    async def wire(
        self, job: Job, sources: list[Source], synchronous: bool
    ) -> tuple[dict, SentRequest]:
        """The request as sent (images inline or uploaded) and its provenance form
        (no secrets, no big data)."""
        model = job.values["model"]
        values = await encode_all(sources, lambda source: self._upload(model, source))
        request = wire_request(job, values, synchronous)
        doc: SentRequest = {
            "method": "POST",
            "path": request.path,
            "headers": safe_headers(request.headers()),
            "body": redact(request.body),
        }
        return {"path": request.path, "body": request.body, "headers": request.headers()}, doc

    async def _upload(self, model: str, source: Source) -> str:
        async def attempt() -> str:
            await self.gates.policy(model).acquire()
            return await self.client.upload(model, source.name, source.data or b"", source.mime)

        return await retrying(attempt, self.retry, self.seen)

    async def submit(
        self, key: str, model: str, wire: dict, lost: Lost | None, reconcile: bool = True
    ) -> Submitted:
        """Submit once; `lost` (from the journal) is an earlier submission whose answer may have
        been lost; `reconcile` False pays past the account's unclaimed tasks (journaled as
        dismissed: they stop no later job)."""

        async def attempt() -> Submitted:
            nonlocal lost
            if lost is not None:
                found = await self._recover(key, model, lost)
                lost = None
                if found is not None:
                    return found
            await self._reconcile(key, model, reconcile)
            await self.gates.submit(model).acquire()
            started = time.time()
            try:
                return await self._shielded(self._send(key, model, wire, started))
            except TransportError as exc:
                if exc.sent:  # the request is over for the runner: its task exists by now, or never
                    lost = Lost(started, time.time())
                raise

        return await retrying(attempt, self.retry, self.seen)

    async def _recover(self, key: str, model: str, lost: Lost) -> Submitted | None:
        """The task a lost answer named, when exactly one can be it; None when none was made."""
        if lost.until is not None:
            # the service may make the task after its sender gave up (a read timeout, a killed
            # run): never decide before the grace past that is over (capped, for a clock that
            # jumped since the journal was written)
            wait = lost.until + self.grace - time.time()
            await asyncio.sleep(min(wait, lost.until - lost.since + self.grace))
        candidates, rival = await self.find_lost(model, lost.since, lost.until, key)
        if len(candidates) > 1 or rival:
            await self.journal.record("unresolved", key, model=model, candidates=candidates)
            raise UnresolvedError(
                candidates,
                lost_answer(
                    rival or f"{len(candidates)} unclaimed tasks of {model} were made meanwhile"
                ),
            )
        if not candidates:
            return None
        await self.journal.record(
            "submitted", key, task_id=candidates[0], request_id="", model=model, adopted=True
        )
        return Submitted(candidates[0], "", adopted=True)

    async def _reconcile(self, key: str, model: str, strict: bool = True) -> None:
        """UnresolvedError when the account holds tasks of `model` from the last 24 h that may
        still bill and that neither the journal nor the lock claims: a run whose record of them
        was lost may have made one for this job. Not `strict`: they are dismissed instead."""
        listed = await self._sweep(model)
        suspects = self._suspects(listed)
        if suspects and self._recent(suspects) and model not in self._waited:
            self._waited.add(model)
            # a run that died moments ago made them: its last requests may still make tasks,
            # which must be named too (the other jobs of the model wait for this listing)
            await self._sweep(model, after=max(_created(e) for e in suspects))
        if (again := await self._sweep(model)) is not listed:  # listed again meanwhile
            suspects = self._suspects(again)
        if not suspects:
            return
        suspects.sort(key=_created)
        candidates = await self._name("unresolved" if strict else "dismissed", key, model, suspects)
        if not strict:
            return
        raise UnresolvedError(
            candidates,
            f"the account holds {len(candidates)} task(s) of {model} from the last 24 h that "
            "neither the journal nor the lock claims: a run whose local state was lost (or "
            "another client of the key, or a sibling shard) made them, and one may be this job's",
        )

    async def _name(self, event: str, key: str, model: str, suspects: list[dict]) -> list[str]:
        """Journal that job `key` names the `suspects` (as unresolved or dismissed): in full, or
        by reference to the last job that named the same ones. Each of thousands of jobs naming
        thousands of tasks in full made the journal and memory grow as their product."""
        candidates = [str(e["task_id"]) for e in suspects]
        last = self._named.get((event, model))
        if last is not None and last[0] == candidates:
            await self.journal.record(event, key, model=model, candidates_of=last[1])
            return last[0]
        self._named[(event, model)] = (candidates, key)
        await self.journal.record(event, key, model=model, candidates=candidates)
        return candidates

    def _suspects(self, listed: list[dict]) -> list[dict]:
        """The listed tasks that may still bill and that no record of this project explains."""
        mine = {e.get("api_key_id") for e in listed if self._claimed_here(e)} - {None}
        keys = mine | {None}
        unclaimed = [
            e
            for e in listed
            if self._unclaimed(e)
            and e["task_id"] not in self.journal.dismissed
            and e.get("status") not in UNBILLED
            and (not mine or e.get("api_key_id") in keys)
        ]
        if not unclaimed:  # the usual case, and every submission asks: skip the journal's windows
            return []
        windows = self._unanswered(listed).values()
        # a journaled submission whose answer was lost may have made it: that job decides
        return [
            e
            for e in unclaimed
            if not any(
                _of(e, m) and self._within(e, sent, until, floor)
                for m, sent, until, floor in windows
            )
        ]

    def _recent(self, listed: list[dict]) -> bool:
        """Whether a listed task was made less than the grace ago (service time)."""
        now = self.client.clock.now()
        return now is not None and any(_created(e) > now - self.grace * self.speed for e in listed)

    async def _sweep(self, model: str, after: float | None = None) -> list[dict]:
        """The account's tasks of `model` from the service's last 24 h, listed once per run,
        before the run's first submission of the model. `after` (service time): once the
        requests that may still make tasks since then are over, list again."""
        await self._settle()
        async with self._sweeping[model]:
            if model not in self._swept or after is not None:
                if after is not None and model in self._swept:
                    await self._outwait(after)
                async with self._gates[model].exclusive():
                    self._swept[model] = await self._listed(model)
            return self._swept[model]

    async def _settle(self) -> None:
        """Once, before the run's first listing of a model (and so before its first submission):
        when the account shows a task of any model made moments ago that no record of this project
        claims, a run that just died with its record (or another client) is at work, and may still
        have a request in the air that makes a task of a model it had not used yet; wait until such
        a request can no longer make one, so that the listings name its task."""
        if self._settled:  # every submission asks
            return
        async with self._quiet:
            if self._settled:
                return
            listed = await self._listed(None, time.time() - self.grace)
            known = self.journal.named | self.journal.dismissed  # a run before this one saw them
            recent = [e for e in listed if self._unclaimed(e) and e["task_id"] not in known]
            if self._recent(recent):
                await self._outwait(max(_created(e) for e in recent))
            self._settled = True

    async def _outwait(self, made: float) -> None:
        """Sleep until the grace past service time `made` is over: a request in the air then can
        no longer make a task (a grace from now while the service's time is not known yet)."""
        now = self.client.clock.now() or made
        await asyncio.sleep(max(0.0, (made - now) / self.speed + self.grace))

    def _claimed_here(self, entry: dict) -> bool:
        """Whether the journal or the lock names the listed task as a job's."""
        task_id = entry.get("task_id")
        return task_id in self.journal.task_ids or task_id in self.lock_claims

    async def _shielded(self, coro) -> Submitted:
        """Run a submission so that an interrupt cannot
        drop its answer before the task id is journaled."""
        task = asyncio.ensure_future(coro)
        self.in_air.add(task)
        task.add_done_callback(self.in_air.discard)
        task.add_done_callback(_retrieve)
        return await asyncio.shield(task)

    async def _send(self, key: str, model: str, wire: dict, started: float) -> Submitted:
        return await self._vetted(lambda: self._send_now(key, model, wire, started))

    async def _vetted(self, send: Callable[[], Awaitable[T]]) -> T:
        """Send; until a submission has been accepted, submissions go one at a time, so a bad
        key, a bad target or an account in arrears costs one request, not many."""
        if self._proven:
            return await send()
        async with self._first:
            if self.halt.is_set():
                # the first request stopped the run; this job winds down too
                raise asyncio.CancelledError()
            try:
                answer = await self._judged(send)
            except ApiError:
                self._proven = True  # the service judged the request itself, so it took the key
                raise
            self._proven = True
            return answer

    async def _judged(self, send: Callable[[], Awaitable[T]]) -> T:
        """Send; a failure that no other request can escape (a bad key, a target that is not
        DashScope or never answers) stops the run."""
        try:
            return await send()
        except (AccountError, EndpointError) as exc:
            self.stop(exc)
            raise
        except ConnectError as exc:
            self._refused += 1
            if self._refused >= UNREACHABLE_AFTER and not self.client.traffic.answers:
                self.stop(exc)
            raise

    async def _send_now(self, key: str, model: str, wire: dict, started: float) -> Submitted:
        async with self._gates[model].shared():
            await self.journal.record(
                "submitting", key, model=model, at=time.time(), timeout=self.window
            )
            try:
                answer = await self.client.submit(wire["path"], wire["body"], wire["headers"])
            except ApiError as exc:
                await self.journal.record("refused", key, model=model, code=exc.code)
                raise
            task_id = _task_id(answer)
            try:
                await self.journal.record(
                    "submitted", key, task_id=task_id, request_id=answer.request_id, model=model
                )
            except JournalError as exc:
                exc.task_id = task_id  # made and billed: the stop names it
                raise
        return Submitted(task_id, answer.request_id)

    async def call(self, key: str, model: str, wire: dict) -> Answer:
        """A sync call: retried only when the service surely did not get it
        (a lost answer may be billed)."""

        async def attempt() -> Answer:
            await self.gates.submit(model).acquire()
            try:
                return await self._vetted(
                    lambda: self.client.submit(
                        wire["path"], wire["body"], wire["headers"], synchronous=True
                    )
                )
            except TransportError as exc:
                if exc.sent:
                    raise OutcomeUnknownError(f"{exc.message}; the call was not repeated") from None
                raise

        return await retrying(attempt, self.retry, self.seen)

    async def find_lost(
        self, model: str, since: float, until: float | None, key: str = ""
    ) -> tuple[list[str], str | None]:
        """The listed tasks of `model` made between `since` and `until` (widened by a margin)
        that no journal entry claims, oldest first; a lone one is claimed for job `key`, unless
        it may as well be another job's lost task: then why it cannot be taken."""
        async with self._gates[model].exclusive():
            # every model's: another client shows in any of them
            listed = await self._listed(None, since - ANOTHER_CLIENT_SPAN / self.speed)
            floor = self._made_before(listed, since)
            found = [
                e
                for e in listed
                if _of(e, model) and self._unclaimed(e) and self._within(e, since, until, floor)
            ]
            found.sort(key=_created)
            candidates = [str(e["task_id"]) for e in found]
            rival = None
            if len(found) == 1:
                rival = self._rival(found[0], key, model, listed) or self._another_client(
                    listed, since
                )
            if len(candidates) == 1 and rival is None:
                self._claimed.add(candidates[0])
            return candidates, rival

    def _rival(self, entry: dict, key: str, model: str, listed: list[dict]) -> str | None:
        """Why a lone candidate may be another job's: an unresolved job named it, or it lies in
        the window of another submission of the model whose answer the journal lacks."""
        if entry["task_id"] in self.journal.named:
            return "the one task made meanwhile is named by another job whose answer was lost"
        for other, (of, sent, until, floor) in self._unanswered(listed).items():
            if other != key and of == model and self._within(entry, sent, until, floor):
                return (
                    "the one task made meanwhile may be that of another job whose answer was lost"
                )
        return None

    def _another_client(self, listed: list[dict], since: float) -> str | None:
        """Why the account looks shared: a task made since ANOTHER_CLIENT_SPAN before `since`
        that the journal does not claim and no unanswered submission of ours can have made."""
        horizon = self._service(since, -math.inf) - ANOTHER_CLIENT_SPAN
        windows = self._unanswered(listed).values()
        for entry in listed:
            if _created(entry) < horizon or not self._unclaimed(entry):
                continue
            if not any(
                _of(entry, model) and self._within(entry, sent, until, floor)
                for model, sent, until, floor in windows
            ):
                return (
                    f"the account holds task {entry['task_id']}, which this project did not "
                    "make: another project or client uses the key, and the one task made "
                    "meanwhile may be theirs"
                )
        return None

    def _unanswered(self, listed: list[dict]) -> dict[str, tuple[str, float, float | None, float]]:
        """Each journaled submission whose answer the journal lacks, by job: its model, when it
        was sent, until when it could make a task, and the earliest it can have made one."""
        return {
            key: (str(r.model), r.intent, r.deadline, self._made_before(listed, r.intent))
            for key, r in self.journal.records.items()
            if r.intent is not None
        }

    def _made_before(self, listed: list[dict], since: float) -> float:
        """The earliest service time a request sent at `since` can have made its task at.

        A task the journal saw answered at local time `a` was made at service time `c` no later
        than `a` on the service's clock; a request sent at `since` makes its task no earlier than
        `since` on it. The clocks differ by an unknown offset (and run at `speed` to one another),
        so the task is made at `c + (since - a) * speed` or later: with no clock skew to allow for,
        a task made before that is another's, such as one of a project sharing the key."""
        answered = self.journal.answered
        return max(
            (
                _created(e) + (since - answered[task_id]) * self.speed
                for e in listed
                if (task_id := str(e.get("task_id"))) in answered
            ),
            default=-math.inf,
        )

    def _unclaimed(self, entry: dict) -> bool:
        task_id = entry.get("task_id")
        return (
            isinstance(task_id, str)
            and bool(task_id)
            and task_id not in self.journal.task_ids
            and task_id not in self.lock_claims
            and task_id not in self._claimed
        )

    def _service(self, local: float, unknown: float) -> float:
        """A local time on the service's clock; `unknown` before the service told its time."""
        converted = self.client.clock.at(local)
        return unknown if converted is None else converted

    def _within(self, entry: dict, since: float, until: float | None, floor: float) -> bool:
        """Whether a submission sent at `since` (local time), able to make a task until `until`
        and no earlier than `floor` on the service's clock (`_made_before`), can have made the
        listed task."""
        created = _created(entry)
        start = self._service(since, -math.inf) - self.margin
        late = (
            until is not None
            and self.windowed
            and created > self._service(until, math.inf) + self.margin
        )
        return created >= start and not late and created >= floor

    async def _listed(self, model: str | None, since: float | None = None) -> list[dict]:
        """The account's tasks (of `model`, or every model's) made since local time `since` (or
        in the last 24 h) on the service's clock, every page. Without the service's time yet,
        the first page asks for the service's own last 24 h; its Date pins the window."""
        filters = {"model_name": model} if model else {}
        if not self.client.clock.known:
            first = await self._list_page(1, filters)
            if int(first.body.get("total_page") or 1) <= 1:
                return _entries(first)
        now = self.client.clock.now()
        assert now is not None  # every answer of the service carries its Date
        start, end = day_before(now + self.margin)
        if since is not None:
            start = max(start, list_time(self._service(since, -math.inf) - self.margin))
        filters |= {"start_time": start, "end_time": end}
        entries: list[dict] = []
        page = 1
        while True:
            answer = await self._list_page(page, filters)
            entries += _entries(answer)
            if page >= int(answer.body.get("total_page") or 1):
                return entries
            page += 1

    async def _list_page(self, page: int, filters: dict[str, str]) -> Answer:
        async def attempt() -> Answer:
            if self.halt.is_set():
                raise asyncio.CancelledError()  # the run stopped: its jobs wind down
            await self.gates.query.acquire()
            # a run's first request is a list: a bad key or target stops it at once
            return await self._judged(
                lambda: self.client.tasks(page_no=str(page), page_size=LIST_PAGE_SIZE, **filters)
            )

        return await retrying(attempt, self.retry, self.seen)


def _entries(answer: Answer) -> list[dict]:
    return [e for e in answer.body.get("data") or [] if isinstance(e, dict)]


def _created(entry: dict) -> float:
    """A listed task's creation time, epoch seconds on the service's clock (0 when missing)."""
    created = entry.get("gmt_create")
    return created / 1000 if isinstance(created, int | float) else 0.0


def _of(entry: dict, model: str) -> bool:
    """Whether a listed task can be of `model` (an entry naming no model can be of any)."""
    return entry.get("model_name", model) == model


def _task_id(answer: Answer) -> str:
    output = answer.body.get("output")
    task_id = output.get("task_id") if isinstance(output, dict) else None
    if not task_id:
        raise ServiceError(
            answer.status, "InvalidResponse", "the submission answer has no output.task_id"
        )
    return str(task_id)


def _retrieve(task: asyncio.Task) -> None:
    """Mark a shielded submission's failure as seen:
    its caller may have been cancelled before reading it."""
    if not task.cancelled():
        task.exception()
