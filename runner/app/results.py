"""What `wanform.Project` returns: the facts `-o json` prints, as objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wanform.runner.recipes.check import Validation
from wanform.spec.problems import Finding

if TYPE_CHECKING:
    from wanform.runner.engine.states import RunResult
    from wanform.runner.gitops.plan import Plan


@dataclass(frozen=True)
class ValidationResult:
    """The recipes checked: `validation` holds the report (every finding, located) and the
    checked jobs; `missing` says where no recipe file was found, when none was."""

    validation: Validation
    missing: str | None = None

    def ok(self, strict: bool = False) -> bool:
        """Whether there were recipes and none has an error (nor, if `strict`, a warning)."""
        return self.validation.report.ok(strict) and self.validation.recipes > 0

    @property
    def warnings(self) -> list[Finding]:
        """The warnings, each with its location."""
        return self.validation.report.warnings()


@dataclass(frozen=True)
class PlanResult:
    """What a run would do: `plan` holds every job with its verdict (new, changed, unchanged,
    orphaned) and the billable images and cost; `warnings` are the recipes' warnings."""

    plan: Plan
    warnings: list[Finding] = field(default_factory=list)

    @property
    def pending(self) -> bool:
        """Whether a run would do anything: a job to run, or an orphan to prune."""
        return bool(self.plan.pending() or self.plan.orphaned())


@dataclass(frozen=True)
class RunOutcome:
    """A run that ended: `result` holds every job's state, the summary and the exit code; `plan`
    the plan it ran from; `notices` the lines `wanform run` prints on stderr about the project
    (recipe warnings, stale files removed, pruned files, nothing to run, history warnings)."""

    result: RunResult
    plan: Plan
    notices: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """What `wanform run` exits with: 0 when every job succeeded (see `wanform --help`)."""
        return int(self.result.exit_code)
