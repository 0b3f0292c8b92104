"""The emulator's state, held by the aiohttp application under one typed key."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from emulator.config import EmulatorConfig
    from emulator.http.results import ResultStore
    from emulator.http.uploads import UploadStore
    from emulator.state.accounts import Accounts
    from emulator.state.clock import VirtualClock
    from emulator.state.faults import FaultBook
    from emulator.state.requestlog import RequestLog
    from emulator.state.tasks import TaskStore
    from emulator.state.throttle import Throttle


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
    journal: RequestLog
    executor: Executor  # worker threads for rendering and for validating large bodies

    def base_url(self, request: web.Request) -> str:
        """Where clients reach this emulator: the configured public URL, else the request's own Host."""
        return (self.config.public_url or f"{request.scheme}://{request.host}").rstrip("/")

    def reset(self) -> None:
        """Back to a fresh start: no tasks, uploads, counters or journal, the configured faults, a rewound clock."""
        self.clock.rewind()
        for part in (
            self.throttle,
            self.faults,
            self.tasks,
            self.results,
            self.uploads,
            self.journal,
        ):
            part.reset()


EMULATOR = web.AppKey("emulator", Emulator)
