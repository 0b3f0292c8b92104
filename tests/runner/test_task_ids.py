"""Task ids go into URLs only when they are ids: anything else is refused before a request."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from wanform.runner.api.client import task_path
from wanform.runner.api.errors import RejectedError
from wanform.runner.cli import main
from wanform.spec.emulator.wire import REQUESTS

# a task id that would climb out of /api/v1/tasks/ to the emulator's admin API
CLIMBING = "../../.." + REQUESTS
BAD = [CLIMBING, "..", "a.b", "a/b", "a%2fb", "a?b", "a#b", "a b", "", "a\n"]


@pytest.mark.parametrize("task_id", BAD)
def test_what_is_not_an_id_gets_no_path(task_id):
    """Dots, slashes, escapes, queries, fragments and whitespace are refused as task ids."""
    with pytest.raises(RejectedError, match="is not a task id"):
        task_path(task_id)


def test_an_id_is_one_path_segment():
    """A UUID-like id becomes `/tasks/<id>` and `/tasks/<id>/cancel`."""
    task_id = "0385dc79-5ff8-4d82-bcb6-xxxxxx_1"
    assert task_path(task_id) == f"/tasks/{task_id}"
    assert task_path(task_id, "cancel") == f"/tasks/{task_id}/cancel"


@pytest.mark.parametrize("command", ["status", "cancel"])
def test_the_cli_refuses_a_bad_id_before_sending(command):
    """`status`/`cancel` with a path for an id exit 1 in one line, without trying the target."""
    env = {"DASHSCOPE_API_KEY": "sk-test", "DASHSCOPE_HTTP_BASE_URL": None}
    # port 9 refuses connections: a request sent would exit 3, not 1
    args = [command, CLIMBING, "--target", "http://127.0.0.1:9/api/v1"]
    result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    assert (result.exit_code, result.stderr) == (
        1,
        f"error: '{CLIMBING}' is not a task id (letters, digits, - and _, at most 128)\n",
    )
