"""The emulator's state: one object that holds every part and can reset them together."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wanform.emulator.config import EmulatorConfig
    from wanform.emulator.images.draw import PngCache
    from wanform.emulator.images.inputstore import InputStore
    from wanform.emulator.state.accounts import Accounts
    from wanform.emulator.state.answers import QueryAnswers
    from wanform.emulator.state.clock import VirtualClock
    from wanform.emulator.state.faultbook import FaultBook
    from wanform.emulator.state.requestlog import RequestLog
    from wanform.emulator.state.results import ResultStore
    from wanform.emulator.state.tasks import TaskStore
    from wanform.emulator.state.throttle import Throttle
    from wanform.emulator.state.uploads import UploadStore


@dataclass
class Emulator:
    """Everything one emulator instance knows; `reset` forgets all but the configuration."""

    config: EmulatorConfig
    clock: VirtualClock
    accounts: Accounts
    throttle: Throttle
    faults: FaultBook
    tasks: TaskStore
    results: ResultStore
    uploads: UploadStore
    inputs: InputStore  # the tasks' input images, on disk
    request_log: RequestLog
    answers: QueryAnswers  # task query answers, serialised
    pngs: PngCache  # rendered result images, shared by downloads and inputs that point back
    executor: Executor  # worker threads for rendering and for validating large bodies

    def reset(self) -> None:
        """Back to a fresh start: no tasks (nor their input files), uploads, counters, log entries
        or rendered images; the configured fault rules only; the clock rewound to the real present.
        """
        self.clock.rewind()
        for part in (
            self.throttle,
            self.faults,
            self.tasks,
            self.results,
            self.uploads,
            self.request_log,
            self.answers,
        ):
            part.reset()
        self.pngs.clear()
