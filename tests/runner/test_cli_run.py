"""The commands around a run: `run`'s refusals and report, `render`, `status`, `cancel`, and the
exit codes."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess

import aiohttp
import pytest
from click.testing import CliRunner
from runner_kit import KEY, REPO

from wanform.emulator import EmulatorConfig
from wanform.emulator.pytest_plugin import EmulatorThread
from wanform.runner.cli import main

PALETTE = """\
    model: wan2.7-image
    prompt: A poster of a fox.
    inputs:
      - path: images/portrait.png
    n: 1
    seed: 3
    """
MASKED = (REPO / "recipes" / "wanx21-description-edit-with-mask.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def server():
    thread = EmulatorThread(
        EmulatorConfig(port=0, speed=0)
    )  # frozen: tasks stay PENDING until cancelled
    thread.start()
    yield thread
    thread.stop()


CLEAN_ENV = dict.fromkeys(
    (
        "DASHSCOPE_API_KEY",
        "DASHSCOPE_HTTP_BASE_URL",
        "DASHSCOPE_API_REGION",
        "DASHSCOPE_WORKSPACE_ID",
        "WANFORM_SUBMIT_RPS",
        "WANFORM_MAX_IN_FLIGHT",
        "WANFORM_QUERY_RPS",
    )
)


def invoke(*args: str, env: dict | None = None):
    """The CLI in this process, with none of the caller's DashScope or WANFORM settings."""
    return CliRunner().invoke(
        main, list(args), env={**CLEAN_ENV, **(env or {})}, catch_exceptions=False
    )


@pytest.fixture
def here(project, monkeypatch):
    monkeypatch.chdir(project.root)
    return project


def test_help_documents_the_exit_codes():
    """`wanform --help` and `wanform run --help` list every exit code."""
    for args in ([], ["run"]):
        text = CliRunner().invoke(main, [*args, "--help"]).output
        assert (
            "0    success" in text
            and "1    invalid input" in text
            and "3    `run`: some jobs or images failed" in text
        )
        assert "4    the run stopped early" in text and "130  interrupted (Ctrl-C)" in text
        assert "143  terminated (SIGTERM" in text and "or a disk error (a journal, lock" in text


def test_an_invalid_recipe_stops_the_run_as_validate_reports_it(here):
    """`run` prints exactly what `validate` prints for an invalid recipe, exits 1, and starts
    nothing."""
    here.recipe("bad", PALETTE.replace("n: 1", "n: 9"))
    validated = invoke("validate", "bad.yaml")
    ran = invoke("run", "bad.yaml", "--target", "http://127.0.0.1:9/api/v1")
    assert (ran.exit_code, ran.stdout) == (1, validated.stdout)
    assert not (here.root / ".wanform").exists()


def test_a_bad_target_is_one_line_and_exit_1(here):
    """A target that is not a URL is refused with one line, before anything is sent."""
    here.recipe("ok", PALETTE)
    result = invoke("run", "ok.yaml", "--target", "ftp://example.com")
    assert (result.exit_code, result.stderr) == (
        1,
        "error: --target 'ftp://example.com' is not emulator, dashscope or "
        "an http(s) URL such as http://127.0.0.1:8000/api/v1\n",
    )


def test_a_refused_connection_stops_the_run_with_exit_4(here):
    """Nothing listening at the target: a stop line naming the address and what to check, exit 4, no
    traceback."""
    here.recipe("ok", PALETTE)
    result = invoke("run", "ok.yaml", "--target", "http://127.0.0.1:9/api/v1")
    assert result.exit_code == 4
    assert result.stdout.splitlines()[-2] == (
        "stopped: ConnectionError: "  # the first request lists the account's tasks of the model
        "GET http://127.0.0.1:9/api/v1/tasks: "
        "cannot connect to 127.0.0.1:9 (Connection refused) (check the network and the target URL)"
    )
    assert "Traceback" not in result.stdout + result.stderr


def test_run_reports_json_and_keeps_the_key_out_of_everything(here, server):
    """`-o json` prints one document with each job; neither it nor any file written holds the
    key."""
    here.recipe("ok", PALETTE)
    server_fast = EmulatorThread(EmulatorConfig(port=0, speed=100))
    base = server_fast.start()
    try:
        result = invoke(
            "run",
            "ok.yaml",
            "--target",
            base,
            "--emulator-speed",
            "100",
            "-o",
            "json",
            env={"DASHSCOPE_API_KEY": KEY},
        )
    finally:
        server_fast.stop()
    report = json.loads(result.stdout)
    assert (result.exit_code, report["exit_code"], report["summary"]["images"]) == (0, 0, 1)
    assert [(j["job"], j["status"]) for j in report["jobs"]] == [("ok", "succeeded")]
    assert KEY not in result.stdout + result.stderr and KEY.encode() not in here.written()


def test_render_prints_the_exact_request_with_the_key_as_a_variable(here):
    """The body carries the real data URI; the key is `$DASHSCOPE_API_KEY`, even when one is set."""
    here.recipe("ok", PALETTE)
    result = invoke("render", "ok.yaml", env={"DASHSCOPE_API_KEY": KEY})
    data = base64.b64encode((here.root / "images" / "portrait.png").read_bytes()).decode()
    assert result.exit_code == 0 and KEY not in result.stdout
    lines = result.stdout.splitlines()
    assert lines[:6] == [
        "# ok.yaml: ok (wan2.7-image, async)",
        "curl -sS -X POST "
        "https://dashscope.aliyuncs.com/api/v1/services/aigc/image-generation/generation \\",
        '  -H "Authorization: Bearer $DASHSCOPE_API_KEY" \\',
        "  -H 'Content-Type: application/json' \\",
        "  -H 'X-DashScope-Async: enable' \\",
        "  --data-binary @- <<'JSON'",
    ]
    body = json.loads(result.stdout.split("<<'JSON'\n")[1].split("\nJSON\n")[0])
    assert body["input"]["messages"][0]["content"][0] == {"image": "data:image/png;base64," + data}


def test_render_short_abbreviates_data_uris_and_names_uploads(here):
    """--short cuts data URIs to their head; a wanx2.1 mask shows as the upload it will become."""
    (here.root / "masked.yaml").write_text(MASKED, encoding="utf-8")
    result = invoke("render", "masked.yaml", "--short")
    body = json.loads(result.stdout.split("<<'JSON'\n")[1].split("\nJSON\n")[0])
    assert body["input"]["base_image_url"].endswith(" base64 chars)")
    assert (
        body["input"]["mask_image_url"]
        == "oss://<uploaded at run time: images/table-vase-mask.png>"
    )
    assert "  -H 'X-DashScope-OssResourceResolve: enable' \\" in result.stdout.splitlines()


@pytest.mark.skipif(
    shutil.which("curl") is None or shutil.which("bash") is None, reason="needs bash and curl"
)
def test_the_rendered_command_is_accepted_by_the_service(here, server):
    """Running render's output with bash sends a request the emulator accepts as a new task."""
    here.recipe("ok", PALETTE)
    script = invoke("render", "ok.yaml", "--target", server.base_url).stdout
    done = subprocess.run(
        ["bash"],
        input=script,
        capture_output=True,
        text=True,
        env={"DASHSCOPE_API_KEY": KEY},
        timeout=30,
        check=True,
    )
    assert json.loads(done.stdout)["output"]["task_status"] == "PENDING"


async def _create_task(base_url: str) -> str:
    body = {
        "model": "wan2.7-image",
        "input": {"messages": [{"role": "user", "content": [{"text": "a fox"}]}]},
        "parameters": {"n": 1},
    }
    headers = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            base_url + "/services/aigc/image-generation/generation", json=body, headers=headers
        ) as r,
    ):
        return (await r.json())["output"]["task_id"]


def test_status_and_cancel_talk_to_the_target(here, server):
    """`status` shows a PENDING task, `cancel` cancels it, `status` then says CANCELED; a second
    cancel exits 3."""
    task_id = asyncio.run(_create_task(server.base_url))
    env = {"DASHSCOPE_API_KEY": KEY}
    status = invoke("status", task_id, "--target", server.base_url, env=env)
    assert (status.exit_code, status.stdout.splitlines()[0]) == (0, f"{task_id}: PENDING")
    cancel = invoke("cancel", task_id, "--target", server.base_url, env=env)
    assert (cancel.exit_code, cancel.stdout) == (0, f"{task_id}: CANCELED\n")
    again = invoke("cancel", task_id, "--target", server.base_url, env=env)
    assert (again.exit_code, again.stderr) == (
        3,
        "error: UnsupportedOperation: Failed to cancel the task, please "
        "confirm if the task is in PENDING status. (only a task still "
        "PENDING can be cancelled; `wanform status` shows where it is)\n",
    )
    shown = invoke("status", task_id, "--target", server.base_url, "-o", "json", env=env)
    assert json.loads(shown.stdout)["output"]["task_status"] == "CANCELED"


def test_status_without_a_target_says_where_to_look(here):
    """Without a key or --target there is no service that knows the task."""
    result = invoke("status", "abc")
    assert (result.exit_code, result.stderr) == (
        1,
        "error: status needs the target the task was submitted to: set "
        "DASHSCOPE_API_KEY or pass --target\n",
    )


@pytest.mark.parametrize("action", ["status", "cancel"])
def test_a_task_command_with_a_url_and_no_key_says_the_key_is_missing(here, server, action):
    """A URL target without DASHSCOPE_API_KEY cannot see the task (tasks belong to a key): exit 1
    saying so, before anything is sent."""
    task_id = asyncio.run(_create_task(server.base_url))
    result = invoke(action, task_id, "--target", server.base_url)
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        f"error: {action} --target URL needs DASHSCOPE_API_KEY, the key the task was submitted "
        "with (its tasks are its own); `wanform run` without one used sk-wanform-emulator\n",
    )


@pytest.mark.parametrize("action", ["status", "cancel"])
def test_task_command_help_promises_no_target_it_refuses(action):
    """`status --help` offers dashscope or a URL, never the embedded emulator it refuses."""
    shown = " ".join(invoke(action, "--help").stdout.split())
    assert "embedded emulator" not in shown
    assert (
        "--target TARGET dashscope (the default; needs DASHSCOPE_API_KEY) or the base URL" in shown
    )
