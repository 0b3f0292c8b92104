"""The project and its recipes checked: the step `validate`, `plan`, `run`, `render` and `report`
share."""

from __future__ import annotations

import os
from collections.abc import Mapping

from wanform.runner.app.errors import InvalidRecipes, ProjectFileError
from wanform.runner.app.results import ValidationResult
from wanform.runner.recipes.check import Validation, validate_paths
from wanform.runner.recipes.projectfile import ProjectFile, open_project
from wanform.spec.models import ModelSpec
from wanform.spec.problems import Finding, Report


def open_file(root: str | os.PathLike | None) -> ProjectFile:
    """The project `root` names, or the one found walking up from the current directory;
    ProjectFileError if its wanform.yaml is invalid."""
    project = open_project(None if root is None else str(root))
    if project.problems:
        shown = project.problems[0][0].file
        result = Validation(Report(files=[shown]), [], invalid={shown})
        for location, problem in project.problems:
            result.report.add(location, [problem])
        raise ProjectFileError(result)
    return project


def targets(paths: tuple[str, ...], project: ProjectFile) -> list[str]:
    """What to validate: `paths`, else the project's recipes, else the root's recipes/."""
    return list(paths) or (
        [str(p) for p in project.recipe_files()]
        if project.path
        else [str(project.root / "recipes")]
    )


def checked(
    paths: tuple[str, ...], project: ProjectFile, models: Mapping[str, ModelSpec]
) -> ValidationResult:
    """The recipes under `paths` checked (default: the project's recipes, else the root's
    recipes/); `missing` says where there were none."""
    result = validate_paths(
        targets(paths, project), root=project.root, models=models, project=project
    )
    if result.recipes or result.invalid:
        return ValidationResult(result)
    shown = ", ".join(
        paths or (project.globs if project.path else (str(project.root / "recipes"),))
    )
    return ValidationResult(result, f"no recipe files (*.yaml, *.yml) under {shown}")


def valid(
    paths: tuple[str, ...], project: ProjectFile, models: Mapping[str, ModelSpec]
) -> ValidationResult:
    """The recipes checked, or InvalidRecipes if one has an error or there is none."""
    result = checked(paths, project, models)
    if not result.ok():
        raise InvalidRecipes(result)
    return result


def warning_line(finding: Finding) -> str:
    """A finding as `wanform` prints it: `path:line:col: severity[CODE]: message`."""
    p = finding.problem
    return f"{finding.location}: {p.severity}[{p.code}]: {p.message}"
