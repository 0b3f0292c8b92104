"""Schemathesis against a running emulator: spec/openapi.yaml and the server agree.

Cases come from the document (its examples, coverage and fuzzing phases, seeded and bounded),
each against an emulator reset just before it, so no case sees what an earlier one left behind
(a fault rule, an advanced clock, a task). The slow tier fuzzes each operation ten times longer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from schemathesis import Case
from schemathesis.config import SchemathesisConfig

from wanform.emulator import EmulatorConfig
from wanform.emulator.pytest_plugin import API_KEY, AdminClient, EmulatorThread
from wanform.spec.emulator.wire import FAULT_HEADER

OPENAPI = Path(__file__).resolve().parents[1] / "spec" / "openapi.yaml"
SEED = 20260301
# fuzzing cases per operation (coverage and examples add their own): the slow tier's, a tenth of it
# in the default run
MAX_EXAMPLES = 100
REQUEST_TIMEOUT_SECONDS = 10  # every request, generated or admin, gives up after this
OPERATION_TIMEOUT_SECONDS = 60  # one operation's cases take a few seconds
# Tasks end within moments of real time, so a sync call that succeeds answers quickly.
SPEED = 100_000.0

# Checks that hold for every operation, and positive_data_acceptance where the schema says all.
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "unsupported_method",
    "negative_data_rejection",
    "positive_data_acceptance",
]

# positive_data_acceptance (a schema-valid request gets no 400) does not hold for these: the
# server checks something no JSON Schema can state.
POSITIVE_EXCEPTIONS = {
    "generateSync": "input images must be fetchable, decodable images whose size, format and "
    "bytes fit the model (a bbox inside the real image, a MIME type matching the bytes); the "
    "schema can state only a URL's form",
    "generateAsync": "as generateSync: the images behind the URLs, not the URLs, decide",
    "imageSynthesis": "as generateSync; and a mask must match its base image's size",
    "adminAddFaults": "`prompt` must compile as a Python regular expression, and an error code "
    "outside the catalogue needs its status and message "
    "(spec/emulator/faultrules.py's semantic checks)",
    "cancelTask": "only a task that exists and is PENDING can be canceled: server state",
    "cancelTaskSlash": "as cancelTask",
    "adminHold": "`model` must name a model the emulator serves",
    "adminRelease": "as adminHold",
    "listTasks": "end_time must fall within 24 h after start_time (a rule across two "
    "parameters), and a date must exist in the calendar (no Feb 30)",
    "listTasksSlash": "as listTasks",
}

# The fault header gets one fixed value, an empty rule list: a generated rule would inject the
# errors, drops and delays it names, and the answer would be the rule's, not the contract's.
FIXED_PARAMETERS = {f"header.{FAULT_HEADER}": "[]"}

OFF = {"enabled": False}


def schema(max_examples: int, every_phase: bool) -> schemathesis.BaseSchema:
    """The document, its cases seeded and bounded: `max_examples` fuzzed ones per operation, after
    its examples and coverage cases unless not `every_phase` (those two are made while tests are
    collected, in every pytest-xdist worker, selected or not)."""
    once = {"enabled": every_phase}
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            # no crash cache on disk: every run sends the same cases, whatever ran before
            "cache": {"enabled": False},
            "headers": {"Authorization": f"Bearer {API_KEY}"},
            "request-timeout": REQUEST_TIMEOUT_SECONDS,
            "parameters": FIXED_PARAMETERS,
            "generation": {
                "max-examples": max_examples,
                "deterministic": True,
                "database": "none",
            },
            "phases": {"examples": once, "coverage": once, "stateful": OFF},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "operations": [
                *(
                    {"include-operation-id": operation, "checks": {"positive_data_acceptance": OFF}}
                    for operation in POSITIVE_EXCEPTIONS
                ),
            ],
        }
    )
    return schemathesis.openapi.from_path(OPENAPI, config=config)


BRIEF = schema(MAX_EXAMPLES // 10, every_phase=True)
FULL = schema(MAX_EXAMPLES, every_phase=False)

pytestmark = pytest.mark.timeout(OPERATION_TIMEOUT_SECONDS)


@pytest.fixture(scope="module")
def emulator_server() -> Iterator[EmulatorThread]:
    """An emulator of this module's own, on a loopback port."""
    server = EmulatorThread(EmulatorConfig(host="127.0.0.1", port=0, speed=SPEED))
    server.start()  # waits at most START_TIMEOUT_SECONDS, and stops the thread if it fails
    yield server
    try:
        server.stop()  # each of its waits is bounded too
    except BaseException:
        # The runner's cleanup overran (a handler still busy): stop() gave up before stopping
        # the loop, whose daemon thread would run on; stop it, with a bounded join, regardless.
        server._halt()
        raise


def check(case: Case, emulator_server: EmulatorThread) -> None:
    AdminClient(emulator_server.root_url, timeout=REQUEST_TIMEOUT_SECONDS).reset()
    case.call_and_validate(base_url=emulator_server.root_url, timeout=REQUEST_TIMEOUT_SECONDS)


@BRIEF.parametrize()
def test_emulator_keeps_the_document(case: Case, emulator_server: EmulatorThread) -> None:
    """A generated request, sent to a freshly reset emulator, gets an answer the document allows."""
    check(case, emulator_server)


@pytest.mark.slow
# ten times the fuzzing: one operation took 71 s on two cores under a load of 12
@pytest.mark.timeout(3 * OPERATION_TIMEOUT_SECONDS)
@FULL.parametrize()
def test_emulator_keeps_the_document_at_length(case: Case, emulator_server: EmulatorThread) -> None:
    """As above, with ten times the fuzzed requests per operation (the examples and coverage
    cases are the default run's)."""
    check(case, emulator_server)
