"""`wanform.Project`: a project folder, its wanform.yaml and its recipes, to validate, plan and
run from Python as `wanform validate`, `plan` and `run` do."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from wanform.runner.app import validating
from wanform.runner.app.results import PlanResult, ValidationResult
from wanform.runner.app.settings import RunSettings
from wanform.spec.models import MODELS, ModelSpec

if TYPE_CHECKING:
    from wanform.runner.app.results import RunOutcome
    from wanform.runner.app.running import Scope
    from wanform.runner.reports.events import Callback

# what `run(progress=...)` takes: a callable given each event as `-o ndjson` prints it
OnEvent = Callable[[dict], None]


class Project:
    """A wanform project: its root folder, its wanform.yaml (if any) and its recipes.

    `Project()` finds the project as `wanform` does, walking up from the current directory to a
    wanform.yaml; `Project(root)` takes `root` as it is. `models` replaces the model table (as
    `--variants` does), `env` the environment the target, key and limits come from (default:
    os.environ). Raises ProjectFileError if wanform.yaml is invalid. Nothing is printed, and every
    failure is a `wanform.Error`.
    """

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        *,
        models: Mapping[str, ModelSpec] = MODELS,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.file = validating.open_file(root)
        self.models = models
        self.env: Mapping[str, str] = dict(os.environ if env is None else env)

    def __repr__(self) -> str:
        return f"<wanform.Project {self.root}>"

    @property
    def root(self) -> Path:
        """The project's root folder: images, the lock and the journal are placed from it."""
        return self.file.root

    def validate(self, paths: Sequence[str] = ()) -> ValidationResult:
        """Check the recipes under `paths` (default: the project's), sending nothing; invalid
        recipes are in the result, not raised."""
        return validating.checked(_listed(paths), self.file, self.models)

    def plan(
        self, paths: Sequence[str] = (), *, target: str | None = None, lock: str | None = None
    ) -> PlanResult:
        """What a run on `target` would do, against `lock` (default: ROOT/wanform.lock), sending
        nothing; raises InvalidRecipes, LockError, SettingError."""
        from wanform.runner.app.checks import store_of, target_of
        from wanform.runner.app.planning import build_plan
        from wanform.runner.gitops.lockfile import LOCK_NAME

        lock_file = Path(lock) if lock else self.root / LOCK_NAME
        made_on = target_of(self.file, target, self.env, sending=False).made_on
        store = store_of(self.file, self.file.out or "out", self.env)
        return build_plan(_listed(paths), self.file, lock_file, self.models, made_on, store)

    def run(
        self,
        paths: Sequence[str] = (),
        settings: RunSettings | None = None,
        *,
        progress: OnEvent | None = None,
        handle_signals: bool = False,
    ) -> RunOutcome:
        """Run the recipes under `paths` (default: the project's) as `wanform run` does, with
        `settings` (default: `RunSettings()`), and record them in the lock.

        `progress` gets each event `wanform run -o ndjson` prints, as a dict, and the outcome's
        notices as `notice` events. With `handle_signals` (main thread only), Ctrl-C and SIGTERM
        cancel the PENDING tasks and end the run with exit code 130 or 143; otherwise the
        caller's handlers stay (a KeyboardInterrupt leaves the journal for a rerun to resume).
        Raises a `wanform.Error` for what stops a run before anything is sent.
        """
        from wanform.runner.app import running

        reporter, note = self._reporting(progress)
        chosen = settings or RunSettings()
        return running.run(self.scope(), _listed(paths), chosen, reporter, note, handle_signals)

    async def validate_async(self, paths: Sequence[str] = ()) -> ValidationResult:
        """`validate` in a worker thread, leaving the event loop free."""
        import asyncio  # here: `wanform validate` starts without asyncio

        return await asyncio.to_thread(self.validate, paths)

    async def plan_async(
        self, paths: Sequence[str] = (), *, target: str | None = None, lock: str | None = None
    ) -> PlanResult:
        """`plan` in a worker thread, leaving the event loop free."""
        import asyncio

        return await asyncio.to_thread(self.plan, paths, target=target, lock=lock)

    async def run_async(
        self,
        paths: Sequence[str] = (),
        settings: RunSettings | None = None,
        *,
        progress: OnEvent | None = None,
        handle_signals: bool = False,
    ) -> RunOutcome:
        """`run` on the running event loop (validating and planning block it briefly)."""
        from wanform.runner.app import running

        reporter, note = self._reporting(progress)
        chosen = settings or RunSettings()
        return await running.run_async(
            self.scope(), _listed(paths), chosen, reporter, note, handle_signals
        )

    def scope(self) -> Scope:
        """What a run of this project is of, for the run transaction."""
        from wanform.runner.app.running import Scope

        return Scope(self.file, self.models, self.env)

    @staticmethod
    def _reporting(progress: OnEvent | None) -> tuple[Callback, Callable[[str], None]]:
        """The engine's reporter and the notice sink for a `progress` callback (or none)."""
        from wanform.runner.reports.events import Callback

        send = progress or _ignore
        reporter = Callback(send)
        return reporter, reporter.notice


def _listed(paths: Sequence[str]) -> tuple[str, ...]:
    """`paths` as a tuple of strings; one path given as a string is one path, not its letters."""
    return (paths,) if isinstance(paths, str) else tuple(str(p) for p in paths)


def _ignore(event: dict) -> None:
    """A progress callback that drops every event."""
