"""What stops `wanform.Project` from validating, planning or running, as one exception tree.

    Error                 base: `message` says what and what to do; `exit_code` is `wanform`'s
    ├── ProjectFileError  wanform.yaml is invalid (its located problems in `validation`)
    ├── InvalidRecipes    a recipe is invalid, or none was found (the report in `validation`)
    ├── SettingError      a setting's value cannot be used: target, shard, limits, speed
    │   └── UnknownJob    a job name matches no job, or several (exit 2, as a usage error)
    ├── DestinationError  a folder the run writes cannot be written
    │   └── UnsafeLink    a symlink leads a folder the run writes out of the project
    ├── LockError         the lock file cannot be read, or records a path out of the project
    ├── ProjectBusy       another run holds the project's run guard
    ├── OverBudget        the run could bill more than max_images or max_cost allow
    ├── StartError        the run could not start (the target, the store, or a local file)
    └── RecordError       the jobs ran but the lock or JUnit report could not be written (exit 4)

All but RecordError mean nothing was sent. A run that starts ends with a `RunResult` rather than
an exception, even when the service stops it (`RunResult.stopped`, exit 4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wanform.runner.exits import Exit

if TYPE_CHECKING:
    from wanform.runner.app.results import ValidationResult
    from wanform.runner.engine.states import RunResult
    from wanform.runner.recipes.check import Validation


class Error(Exception):
    """Base of every error `wanform.Project` raises; `message` is one line for a person."""

    exit_code: int = Exit.INVALID

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ProjectFileError(Error):
    """The project's wanform.yaml is invalid; `validation` holds its located problems."""

    def __init__(self, validation: Validation) -> None:
        super().__init__(f"{validation.report.files[0]}: invalid project file")
        self.validation = validation


class InvalidRecipes(Error):
    """A recipe is invalid, or there was none; `validation` holds the report, `missing` says
    where no recipe file was found."""

    def __init__(self, result: ValidationResult) -> None:
        errors = len(result.validation.report.errors())
        super().__init__(result.missing or f"{errors} error(s) in the recipes; nothing was sent")
        self.validation = result.validation
        self.missing = result.missing


class SettingError(Error):
    """A setting's value cannot be used (target, shard, rate limits, emulator speed)."""


class UnknownJob(SettingError):
    """A job name matches no job of the recipes, or several."""

    exit_code = Exit.USAGE


class DestinationError(Error):
    """A folder the run writes in (state, lock, report, images) cannot be written."""


class UnsafeLink(DestinationError):
    """A symlink leads a folder the run writes or sweeps out of the project (or output folder)."""


class LockError(Error):
    """The lock file cannot be read, or records a path outside the project and output folder."""


class ProjectBusy(Error):
    """Another wanform run holds the project's run guard."""


class OverBudget(Error):
    """The chosen jobs could bill more images, or cost more, than the budget allows."""


class StartError(Error):
    """The run could not start: the target could not be used, or a local file not opened."""


class RecordError(Error):
    """The jobs ran but the lock or the JUnit report could not be written; `result` is the run,
    whose images are on disk and whose tasks the journal holds."""

    exit_code = Exit.STOPPED

    def __init__(self, message: str, result: RunResult) -> None:
        super().__init__(message)
        self.result = result
