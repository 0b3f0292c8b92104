"""`wanform contract record` and `check` over real sockets: emulators on daemon threads, the CLI
in-process."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from wanform.emulator import EmulatorConfig
from wanform.emulator.pytest_plugin import EmulatorThread
from wanform.runner.cli import main
from wanform.runner.contract import snapshots
from wanform.spec.models import table

SPEED = 50.0
# one case of each kind: a refusal, a documented message, a task with a cancel, a guess, a stream
SUBSET = (
    "auth.no-key",
    "wan2.7.n-over-4",
    "task.succeeds",
    "guess.wan2.7-n-omitted",
    "guess.sse-framing",
)
CLEAN = {
    "DASHSCOPE_API_KEY": None,
    "DASHSCOPE_HTTP_BASE_URL": None,
    "DASHSCOPE_API_REGION": None,
    "WANFORM_VARIANTS": None,
}


@pytest.fixture
def emulators(request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """Base URLs of the emulators the test asks for by their configs (the param)."""
    threads = [EmulatorThread(config) for config in request.param]
    try:
        yield [thread.start() for thread in threads]
    finally:
        for thread in threads:
            thread.stop()


def contract(*args: str, env: dict | None = None):
    result = CliRunner().invoke(main, ["contract", *args], env={**CLEAN, **(env or {})})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def _cases() -> list[str]:
    return [arg for case in SUBSET for arg in ("--case", case)]


PLAIN = EmulatorConfig(port=0, speed=SPEED)
N_DEFAULT_1 = EmulatorConfig(port=0, speed=SPEED, models=table({"wan2.7.n_default": "1"}))
FAILING = EmulatorConfig(
    port=0,
    speed=SPEED,
    rules=({"action": "fail", "model": "wanx2.1-imageedit", "code": "InternalError"},),
)


@pytest.mark.parametrize("emulators", [(PLAIN, PLAIN, N_DEFAULT_1, FAILING)], indirect=True)
def test_record_on_one_emulator_then_check_others(emulators: list[str], tmp_path: Path) -> None:
    """Snapshots recorded on one emulator agree with a second and name the differing case on a
    third with another variant and a fourth with a fault scenario."""
    first, second, variant, failing = emulators
    out = tmp_path / "snaps"
    recorded = contract("record", "--target", first, "--out", str(out), *_cases())
    assert recorded.exit_code == 0, recorded.output
    assert sorted(p.stem for p in out.glob("*.json")) == sorted([*SUBSET, "provenance"])

    agree = contract("check", "--target", second, "--snapshots", str(out), *_cases())
    assert agree.exit_code == 0, agree.output
    assert "differs" not in agree.output
    assert f"{len(SUBSET)} cases played" in agree.output

    other = contract("check", "--target", variant, "--snapshots", str(out), *_cases())
    assert other.exit_code == 3, other.output
    differing = [line for line in other.output.splitlines() if line.startswith("differs")]
    assert len(differing) == 1
    assert differing[0].startswith("differs guess.wan2.7-n-omitted: ")
    assert "1 images in all, expected 4" in differing[0]

    broken = contract("check", "--target", failing, "--snapshots", str(out), *_cases())
    assert broken.exit_code == 3, broken.output
    differing = [line for line in broken.output.splitlines() if line.startswith("differs")]
    assert len(differing) == 1
    assert "differs task.succeeds: " in differing[0]
    assert "PENDING > RUNNING > FAILED, expected PENDING > RUNNING > SUCCEEDED" in differing[0]


@pytest.mark.parametrize("emulators", [(PLAIN,)], indirect=True)
def test_snapshots_hold_no_ids_urls_or_keys(emulators: list[str], tmp_path: Path) -> None:
    """A recording keeps shapes and facts, never the key, a task or request id, a URL or a time."""
    out = tmp_path / "snaps"
    key = "sk-contract-secret-123"
    env = {"DASHSCOPE_API_KEY": key}
    recorded = contract("record", "--target", emulators[0], "--out", str(out), *_cases(), env=env)
    assert recorded.exit_code == 0, recorded.output
    text = "".join(p.read_text(encoding="utf-8") for p in sorted(out.glob("*.json")))
    assert key not in text
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", text)  # task and request ids
    assert "http" not in text.replace('"host"', "")
    assert not re.search(r"\d{2}:\d{2}:\d{2}", text)
    provenance = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["target"] == "emulator"
    assert provenance["host"] == "127.0.0.1"


@pytest.mark.parametrize("emulators", [(PLAIN, PLAIN)], indirect=True)
def test_dashscope_snapshots_settle_the_guesses(emulators: list[str], tmp_path: Path) -> None:
    """Snapshots that came from DashScope count as verified and report each guess they settle."""
    out = tmp_path / "snaps"
    assert contract("record", "--target", emulators[0], "--out", str(out), *_cases()).exit_code == 0
    origin = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    (out / "provenance.json").write_text(json.dumps({**origin, "target": "dashscope"}))
    checked = contract("check", "--target", emulators[1], "--snapshots", str(out), *_cases())
    assert checked.exit_code == 0, checked.output
    assert "settled wan2.7.n_default by case guess.wan2.7-n-omitted: DashScope agrees" in (
        checked.output
    )
    assert f"{len(SUBSET)} agree with DashScope" in checked.output


def test_check_refuses_unreadable_snapshots(tmp_path: Path) -> None:
    """A snapshot folder without provenance, or with a broken snapshot, exits 1 before playing."""
    missing = contract("check", "--snapshots", str(tmp_path))
    assert missing.exit_code == 1
    assert "provenance.json: missing" in missing.output
    origin = snapshots.provenance("emulator", "http://127.0.0.1:1/api/v1", None, {}, {})
    (tmp_path / "provenance.json").write_text(json.dumps(origin))
    (tmp_path / "auth.no-key.json").write_text("{not json")
    broken = contract("check", "--snapshots", str(tmp_path))
    assert broken.exit_code == 1
    assert "auth.no-key.json: unreadable" in broken.output
    (tmp_path / "auth.no-key.json").unlink()
    empty = contract("check", "--snapshots", str(tmp_path))
    assert empty.exit_code == 1
    assert "no snapshot of any case to compare with" in empty.output


def test_record_against_the_service_refuses_to_spend_over_max_cost(tmp_path: Path) -> None:
    """Against a target that is not an emulator the suite's list price is printed and, over
    --max-cost (default 0), nothing is sent."""
    env = {"DASHSCOPE_API_KEY": "sk-test", "DASHSCOPE_HTTP_BASE_URL": "http://127.0.0.1:9/api/v1"}
    result = contract("record", "--target", "dashscope", "--out", str(tmp_path), env=env)
    assert result.exit_code == 1, result.output
    assert re.search(r"\d+ billable images, \d+\.\d\d CNY at list price", result.output)
    assert "over --max-cost 0; nothing was sent" in result.output
    assert not list(tmp_path.glob("*.json"))


@pytest.mark.parametrize("emulators", [(N_DEFAULT_1,)], indirect=True)
def test_a_differing_settled_guess_names_the_value_dashscope_follows(
    emulators: list[str], tmp_path: Path
) -> None:
    """Checked on the embedded emulator, a guess that DashScope's snapshot contradicts is
    reported with the value of the guess under which the emulator answers as DashScope did."""
    out = tmp_path / "snaps"
    only = ("--case", "guess.wan2.7-n-omitted")
    recorded = contract("record", "--target", emulators[0], "--out", str(out), *only)
    assert recorded.exit_code == 0, recorded.output
    assert (
        "departs guess.wan2.7-n-omitted from its documented expectation: "
        "1 images, the case declares 4" in recorded.output
    )
    origin = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    (out / "provenance.json").write_text(json.dumps({**origin, "target": "dashscope"}))
    checked = contract("check", "--snapshots", str(out), *only)
    assert checked.exit_code == 3, checked.output
    assert (
        "settled wan2.7.n_default by case guess.wan2.7-n-omitted: DashScope differs from the "
        "target, whose choice is wan2.7.n_default=4; DashScope answers as wan2.7.n_default=1 "
        "(--variants wan2.7.n_default=1)" in checked.output
    )


def test_the_embedded_emulator_agrees_with_the_shipped_expectations() -> None:
    """`wanform contract check` with no options plays every shipped case and finds no
    difference (after a change to the emulator, rerun scripts/contract_expectations.py)."""
    result = contract("check")
    assert result.exit_code == 0, result.output
    assert "differs" not in result.output
    assert " 0 differ, " in result.output


@pytest.mark.parametrize("variants", ["wan2.7.n_default=4", "wan2.7.n_default=1"])
def test_record_gates_on_the_worst_case_under_either_guess(tmp_path: Path, variants: str) -> None:
    """A wan2.7 request without `n` is gated at 4 images, whichever default the guess picks."""
    env = {
        "DASHSCOPE_API_KEY": "sk-test",
        "DASHSCOPE_HTTP_BASE_URL": "http://127.0.0.1:9/api/v1",
        "WANFORM_VARIANTS": variants,
    }
    only = ("--case", "guess.wan2.7-n-omitted")
    args = ("record", "--target", "dashscope", "--out", str(tmp_path), *only)
    refused = contract(*args, "--max-cost", "0.79", env=env)
    assert refused.exit_code == 1, refused.output
    assert "at most 4 images, 0.80 CNY" in refused.output
    assert "the suite could cost 0.80 CNY, over --max-cost 0.79" in refused.output
