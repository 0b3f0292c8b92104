"""The JUnit report: one test case per job, with partial and failed jobs counted as failures."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from wanform.runner.api.answers import ImageFailure
from wanform.runner.api.errors import TaskFailedError
from wanform.runner.engine.states import (
    FAILED,
    INTERRUPTED,
    PARTIAL,
    SKIPPED,
    SUCCEEDED,
    ImageOut,
    JobState,
    RunResult,
)
from wanform.runner.reports.junit import junit_xml


def job(name: str, state: str, **fields) -> JobState:
    return JobState("r.yaml", name, "wan2.7-image", state=state, task_id=f"t-{name}", **fields)


def report() -> ET.Element:
    partial = job(
        "half",
        PARTIAL,
        images=[ImageOut(1, "out/r/half-1.png", "ab", 10)],
        failures=[ImageFailure(2, "DataInspectionFailed", "Output data may contain ...")],
    )
    failed = job("none", FAILED, error=TaskFailedError("InternalError.Algo", "it broke"))
    jobs = [job("ok", SUCCEEDED), partial, failed, job("kept", SKIPPED), job("cut", INTERRUPTED)]
    return ET.fromstring(junit_xml(RunResult("emulator", jobs, elapsed=1.5)))


def test_the_suite_counts_partial_and_failed_jobs_as_failures_and_unfinished_as_errors():
    """Five jobs: the partial and the failed one are failures, the interrupted one an error."""
    suite = report()
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped", "time")} == {
        "tests": "5",
        "failures": "2",
        "errors": "1",
        "skipped": "0",
        "time": "1.500",
    }


def test_each_case_says_why_it_did_not_succeed():
    """A partial job names its failed image, a failed job its code, an interrupted job its state."""
    outcomes = {
        case.get("name"): [(c.tag, c.get("type"), c.get("message")) for c in case]
        for case in report().iter("testcase")
    }
    assert outcomes == {
        "ok": [("system-out", None, None)],
        "half": [
            (
                "failure",
                "PartialFailure",
                "image 2: DataInspectionFailed: Output data may contain ...",
            ),
            ("system-out", None, None),
        ],
        "none": [
            (
                "failure",
                "InternalError.Algo",
                "InternalError.Algo: it broke "
                "(the task failed on the service side; failed tasks are not billed)",
            ),
            ("system-out", None, None),
        ],
        "kept": [("system-out", None, None)],
        "cut": [
            ("error", "interrupted", "the job did not finish (interrupted)"),
            ("system-out", None, None),
        ],
    }
