"""Tasks and their lifecycle on the virtual clock: PENDING -> RUNNING -> SUCCEEDED | FAILED, or
CANCELED.

Each account and model has a lane: tasks queue in submission order behind `max_in_flight`
slots. A task waits `pending_seconds` before it can start, then runs for the model's
`typical_seconds`. Lanes are simulated lazily: every read first replays the events up to
the current virtual time, so no timer can be missed and no task can be left stuck.
"""

from __future__ import annotations

import heapq
import math
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wanform.emulator.images.brief import Brief
from wanform.emulator.state import ids
from wanform.emulator.state.accounts import Account
from wanform.emulator.state.clock import VirtualClock
from wanform.spec.models import (
    ENDED_STATUSES,
    RESULT_TTL_SECONDS,
    TASK_RETENTION_SECONDS,
    ModelSpec,
    TaskStatus,
)

if TYPE_CHECKING:
    from wanform.emulator.state.faultbook import Rule

Failure = tuple[str, str]  # (code, message)


@dataclass(eq=False)
class Task:
    """One generation: what it makes, what goes wrong with it, and when it starts and ends."""

    task_id: str
    request_id: str
    account: Account
    endpoint: str  # the route it was submitted to: "sync", "async" or "synthesis"
    brief: Brief
    submitted: float
    ready: float  # earliest start
    duration: float
    visible: bool = True  # sync calls are tasks too, but nobody can query them
    failure: Failure | None = None  # the whole task FAILS with this
    failed_images: Mapping[int, Failure] = field(default_factory=dict)
    rules: tuple[
        Rule, ...
    ] = ()  # fault rules that came with the request and apply to its downloads
    tokens: tuple[str, ...] = ()  # result file names, one per image
    # bit i: image i will succeed and is not drawn yet; while any is, the task needs its inputs
    undrawn: int = 0
    unverified: tuple[str, ...] = ()  # guesses (spec/guesses.yaml ids) its answers rest on
    scheduled: float | None = None
    end: float | None = None
    canceled: float | None = None

    def status(self, now: float) -> str:
        """The state at `now`; valid once the task's lane has been advanced to `now`."""
        if self.canceled is not None:
            return TaskStatus.CANCELED
        if self.end is not None and self.end <= now:
            return TaskStatus.FAILED if self.failed() else TaskStatus.SUCCEEDED
        return TaskStatus.RUNNING if self.scheduled is not None else TaskStatus.PENDING

    def failed(self) -> bool:
        """Whether the task ends FAILED: a whole-task failure, or every one of its images failed."""
        return self.failure is not None or (
            bool(self.failed_images) and len(self.failed_images) >= self.brief.count
        )

    def succeeded_indexes(self) -> list[int]:
        return (
            []
            if self.failed()
            else [i for i in range(self.brief.count) if i not in self.failed_images]
        )

    def closed_at(self) -> float:
        """When the task stopped changing (or was submitted, while it still waits)."""
        return max(self.submitted, self.canceled or self.end or self.submitted)


class Lane:
    """The tasks of one account and model: a FIFO queue in front of `cap` running slots."""

    def __init__(self, cap: float) -> None:
        self.cap = cap
        self.waiting: deque[Task] = deque()
        self.running: list[
            tuple[float, int, Task]
        ] = []  # a heap by end time: uncapped lanes hold thousands
        self.cursor = -math.inf  # time of the last event replayed

    def in_flight(self) -> int:
        return len(self.waiting) + len(self.running)

    def advance(self, now: float) -> None:
        """Replay every start and end up to `now`, in time order (an end first on a tie)."""
        while True:
            start = self._next_start()
            end = self._next_end()
            if end <= start and end <= now:
                heapq.heappop(self.running)
                self.cursor = end
            elif start <= now:
                task = self.waiting.popleft()
                task.scheduled = start
                task.end = start + task.duration
                heapq.heappush(self.running, (task.end, id(task), task))
                self.cursor = start
            else:
                return

    def next_event(self) -> float:
        return min(self._next_start(), self._next_end())

    def _next_start(self) -> float:
        if not self.waiting or len(self.running) >= self.cap:
            return math.inf
        return max(self.waiting[0].ready, self.cursor)

    def _next_end(self) -> float:
        return self.running[0][0] if self.running else math.inf


class TaskStore:
    """Every account's tasks, kept 24 h (virtual) after they close, then forgotten: `on_purge`
    hears of each task forgotten, by expiry or by `reset`."""

    def __init__(
        self,
        clock: VirtualClock,
        models: Mapping[str, ModelSpec],
        pending_seconds: float,
        capped: bool,
        on_purge: Callable[[Task], None],
    ) -> None:
        self._clock = clock
        self._models = models
        self._pending = pending_seconds
        self._capped = capped
        self._on_purge = on_purge
        self._tasks: dict[str, OrderedDict[str, Task]] = {}
        self._lanes: dict[str, dict[str, Lane]] = {}
        self._held: dict[str, list[Task]] = {}  # model -> its tasks held in PENDING

    def hold(self, model: str) -> None:
        """Keep the model's new tasks PENDING (for any account) until `release(model)`."""
        self._held.setdefault(model, [])

    def release(self, model: str) -> int:
        """Let the model's held tasks start (each after its usual wait); returns how many."""
        now = self._clock.now()
        held = self._held.pop(model, [])
        for task in held:
            task.ready = now + self._pending
        self._clock.wake()  # a sync call waiting on a held task re-reads its lane
        return len(held)

    def held(self) -> list[str]:
        return sorted(self._held)

    def in_flight(self, account: Account, model: str) -> int:
        lane = self._lane(account, model)
        lane.advance(self._clock.now())
        return lane.in_flight()

    def submit(
        self, account: Account, brief: Brief, endpoint: str, request_id: str, visible: bool = True
    ) -> Task:
        """Queue a new task in its lane; it starts when a slot is free."""
        now = self._clock.now()
        self._purge(account, now)
        lane = self._lane(account, brief.model)
        lane.advance(now)
        task = Task(
            ids.uuid4(),
            request_id,
            account,
            endpoint,
            brief,
            now,
            math.inf if brief.model in self._held else now + self._pending,
            self._models[brief.model].typical_seconds,
            visible=visible,
        )
        if brief.model in self._held:
            self._held[brief.model].append(task)
        lane.waiting.append(task)
        self._tasks.setdefault(account.key, OrderedDict())[task.task_id] = task
        return task

    def get(self, account: Account, task_id: str) -> Task | None:
        """The account's task, advanced to now; None when unknown, expired or not queryable."""
        now = self._clock.now()
        tasks = self._tasks.get(account.key)
        task = tasks.get(task_id) if tasks is not None else None
        if task is None or not task.visible or now >= task.submitted + TASK_RETENTION_SECONDS:
            return None
        self._lane(account, task.brief.model).advance(now)
        return task

    def held_elsewhere(self, account: Account, task_id: str) -> bool:
        """Whether another account has a task with this id (queryable or not)."""
        return any(task_id in tasks for key, tasks in self._tasks.items() if key != account.key)

    def cancel(self, account: Account, task_id: str) -> bool:
        """Cancel a PENDING task; False when the task is not PENDING (or not known)."""
        now = self._clock.now()
        task = self.get(account, task_id)
        if task is None or task.status(now) != TaskStatus.PENDING:
            return False
        self._lane(account, task.brief.model).waiting.remove(task)
        task.canceled = now
        return True

    def tasks(self, account: Account) -> Iterator[Task]:
        """The account's queryable tasks, oldest first, all advanced to now."""
        now = self._clock.now()
        self._purge(account, now)
        for lane in self._lanes.get(account.key, {}).values():
            lane.advance(now)
        for task in self._tasks.get(account.key, {}).values():
            if task.visible and now < task.submitted + TASK_RETENTION_SECONDS:
                yield task

    def accounts(self) -> list[Account]:
        """Every account that has submitted a task since the last reset."""
        return [next(iter(t.values())).account for t in self._tasks.values() if t]

    def find(self, task_id: str) -> Task | None:
        """A queryable task of any account, advanced to now (for the admin API)."""
        for tasks in self._tasks.values():
            task = tasks.get(task_id)
            if task is not None:
                return self.get(task.account, task_id)
        return None

    async def reached(self, task: Task, states: frozenset[str]) -> str:
        """Wait on the virtual clock until `task` is in one of `states`; returns that state."""
        lane = self._lane(task.account, task.brief.model)
        while True:
            now = self._clock.now()
            lane.advance(now)
            status = task.status(now)
            if status in states:
                return status
            await self._clock.sleep_until(lane.next_event())

    async def finished(self, task: Task) -> str:
        return await self.reached(task, ENDED_STATUSES)

    def reset(self) -> None:
        for tasks in self._tasks.values():
            for task in tasks.values():
                self._on_purge(task)
        self._tasks.clear()
        self._lanes.clear()
        self._held.clear()

    def _lane(self, account: Account, model: str) -> Lane:
        lanes = self._lanes.setdefault(account.key, {})
        if model not in lanes:
            lanes[model] = Lane(self._models[model].max_in_flight if self._capped else math.inf)
        return lanes[model]

    def _purge(self, account: Account, now: float) -> None:
        """Forget closed tasks whose 24 h are over; submission order makes the oldest come first."""
        tasks = self._tasks.get(account.key)
        while tasks:
            oldest = next(iter(tasks.values()))
            if now < oldest.closed_at() + RESULT_TTL_SECONDS:
                return
            del tasks[oldest.task_id]
            self._on_purge(oldest)
