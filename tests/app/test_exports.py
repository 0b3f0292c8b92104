"""`import wanform`: the Python API and nothing internal, each name documented, loaded lazily."""

from __future__ import annotations

import pydoc
import subprocess
import sys

import wanform

API = {
    "Project",
    "RunSettings",
    "ValidationResult",
    "PlanResult",
    "RunOutcome",
    "Plan",
    "RunResult",
    "Error",
    "ProjectFileError",
    "InvalidRecipes",
    "SettingError",
    "UnknownJob",
    "DestinationError",
    "UnsafeLink",
    "LockError",
    "ProjectBusy",
    "OverBudget",
    "StartError",
    "RecordError",
}


def test_all_lists_the_api_and_each_name_has_a_docstring():
    """`wanform.__all__` is the API, and every name in it resolves to a documented object."""
    assert set(wanform.__all__) == API
    undocumented = [n for n in wanform.__all__ if not (getattr(wanform, n).__doc__ or "").strip()]
    assert undocumented == []


def test_every_error_is_a_wanform_error_with_an_exit_code():
    """Every exported exception derives from wanform.Error and carries an exit code."""
    errors = [getattr(wanform, n) for n in API if n.endswith(("Error", "Recipes", "Link"))]
    errors += [wanform.UnknownJob, wanform.ProjectBusy, wanform.OverBudget]
    assert all(issubclass(e, wanform.Error) and isinstance(e.exit_code, int) for e in errors)


def test_dir_and_help_show_the_api():
    """dir(wanform) lists the API, and help(wanform) shows its classes."""
    assert set(dir(wanform)) >= API
    text = pydoc.render_doc(wanform, renderer=pydoc.plaintext)
    assert "class Project" in text and "class InvalidRecipes" in text and "run_async" in text


def test_importing_wanform_loads_none_of_its_parts():
    """`import wanform` imports no runner, emulator or spec module until a name is used."""
    code = "import sys, wanform; print(sorted(m for m in sys.modules if m.startswith('wanform.')))"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout == "[]\n"


def test_the_emulator_api_stays_importable():
    """The emulator's API is still `wanform.emulator.start` and `EmulatorConfig`."""
    from wanform.emulator import EmulatorConfig, start

    assert callable(start) and EmulatorConfig.__doc__
