"""A JUnit XML report of a run: one test case per job, so CI systems show jobs as tests."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from wanform.runner.engine.states import (
    ENDED,
    FAILED,
    INTERRUPTED,
    PARTIAL,
    STOPPED,
    UNRESOLVED,
    RunResult,
)
from wanform.runner.files.atomic import write_atomic
from wanform.runner.reports.run import RERUN


def junit_xml(result: RunResult) -> bytes:
    """The report as bytes; a partial job is a failure that names its failed images."""
    failures = sum(1 for j in result.jobs if j.state in (FAILED, PARTIAL)) + result.count(
        UNRESOLVED
    )
    errors = sum(
        1 for j in result.jobs if j.state in (INTERRUPTED, STOPPED) or j.state not in ENDED
    )
    suite = ET.Element(
        "testsuite",
        name="wanform run",
        tests=str(len(result.jobs)),
        failures=str(failures),
        errors=str(errors),
        skipped="0",
        time=f"{result.elapsed:.3f}",
    )
    for job in result.jobs:
        case = ET.SubElement(suite, "testcase", classname=job.recipe, name=job.job)
        if job.state == PARTIAL:
            lines = [f"image {f.index}: {f.code}: {f.message}" for f in job.failures]
            ET.SubElement(
                case, "failure", type="PartialFailure", message=lines[0]
            ).text = "\n".join([*lines, RERUN[job.rerun]])
        elif job.state in (FAILED, UNRESOLVED):
            code = job.error.code if job.error else "Failed"
            ET.SubElement(
                case, "failure", type=code, message=job.error.line() if job.error else "failed"
            )
        elif job.state in (INTERRUPTED, STOPPED) or job.state not in ENDED:
            ET.SubElement(
                case, "error", type=job.state, message=f"the job did not finish ({job.state})"
            )
        out = [f"state: {job.outcome or job.state}", f"task {job.task_id}"] + [
            f"{i.file} sha256:{i.sha256}" for i in job.images
        ]
        ET.SubElement(case, "system-out").text = "\n".join(out)
    ET.indent(suite)
    return ET.tostring(suite, encoding="utf-8", xml_declaration=True) + b"\n"


def write_junit(path: Path, result: RunResult) -> None:
    write_atomic(path, junit_xml(result))
