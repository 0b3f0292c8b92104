"""Reporters for validation results: text for people, JSON for machines, from the same objects."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TextIO

from wanform.runner import versions
from wanform.runner.recipes.check import Validation


def _summary(result: Validation, strict: bool) -> dict:
    report = result.report
    return {
        "recipes": result.recipes,
        "invalid": len(result.invalid),
        "jobs": len(result.jobs),
        "errors": len(report.errors()),
        "warnings": len(report.warnings()),
        "ok": report.ok(strict) and result.recipes > 0,
    }


def text(result: Validation, out: TextIO, strict: bool) -> None:
    """`path:line:col: error[CODE]: message`, one line a problem, then a summary line."""
    for finding in result.report.findings:
        p = finding.problem
        out.write(f"{finding.location}: {p.severity}[{p.code}]: {p.message}\n")
    s = _summary(result, strict)
    verdict = "ok" if s["ok"] else "failed"
    out.write(
        f"{verdict}: {s['recipes']} recipes ({s['jobs']} jobs), {s['invalid']} invalid, "
        f"{s['errors']} errors, {s['warnings']} warnings{' (strict)' if strict else ''}\n"
    )


def as_json(result: Validation, out: TextIO, strict: bool) -> None:
    """A stable JSON document with the same facts as the text report."""
    doc = {
        "version": versions.VALIDATION_REPORT,
        "summary": _summary(result, strict),
        "files": [{"file": f, "valid": f not in result.invalid} for f in result.report.files],
        "problems": [f.as_dict() for f in result.report.findings],
    }
    out.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")


REPORTERS: dict[str, Callable[[Validation, TextIO, bool], None]] = {"text": text, "json": as_json}
