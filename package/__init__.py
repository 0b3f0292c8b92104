"""wanform: declarative, reproducible image jobs for DashScope's Wan models, and an offline
emulator of the API.

From Python, `Project` validates, plans and runs a project as `wanform validate`, `plan` and
`run` do, returning results and raising `Error` (see the README's "From Python"):

    import wanform
    project = wanform.Project("path/to/project")
    outcome = project.run(settings=wanform.RunSettings(target="emulator"))

The repository's folders install as the parts of this one package:

    wanform.spec      spec/       the API contract both sides share (schemas, limits, checks)
    wanform.runner    runner/     recipes, the run engine, gitops, reports and the CLI
    wanform.emulator  emulator/   the offline DashScope emulator and its pytest plugin

Importing `wanform` imports none of them: each name below is imported when first used.
"""

from __future__ import annotations

import importlib

# name -> the module that defines it
_WHERE = {
    "Project": "wanform.runner.app.project",
    "RunSettings": "wanform.runner.app.settings",
    "ValidationResult": "wanform.runner.app.results",
    "PlanResult": "wanform.runner.app.results",
    "RunOutcome": "wanform.runner.app.results",
    "Plan": "wanform.runner.gitops.plan",
    "RunResult": "wanform.runner.engine.states",
    "Error": "wanform.runner.app.errors",
    "ProjectFileError": "wanform.runner.app.errors",
    "InvalidRecipes": "wanform.runner.app.errors",
    "SettingError": "wanform.runner.app.errors",
    "UnknownJob": "wanform.runner.app.errors",
    "DestinationError": "wanform.runner.app.errors",
    "UnsafeLink": "wanform.runner.app.errors",
    "LockError": "wanform.runner.app.errors",
    "ProjectBusy": "wanform.runner.app.errors",
    "OverBudget": "wanform.runner.app.errors",
    "StartError": "wanform.runner.app.errors",
    "RecordError": "wanform.runner.app.errors",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> object:
    """Import an exported name from its module when it is first used (PEP 562)."""
    if name not in _WHERE:
        raise AttributeError(f"module 'wanform' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
