"""The admin listings the dashboard draws: accounts, tasks newest first, result thumbnails."""

from __future__ import annotations

import io

from emulator_api import KEY, OTHER_KEY, Api, wan27
from PIL import Image

from wanform.emulator.state.accounts import key_id
from wanform.spec.emulator.wire import ACCOUNTS, JOURNAL, REQUESTS, TASK_IMAGE, TASKS


async def test_tasks_newest_first_per_account(api: Api) -> None:
    """Tasks of every account come newest first; `account` keeps one account's."""
    first = await api.submit(wan27("one"))
    await api.advance(1)
    second = await api.submit(wan27("two"), key=OTHER_KEY)
    status, listed = await api.call("GET", TASKS, key=None)
    assert status == 200
    assert [t["task_id"] for t in listed["tasks"]] == [second, first]
    assert [t["prompt"] for t in listed["tasks"]] == ["two", "one"]
    assert listed["tasks"][0]["account"] == key_id(OTHER_KEY)
    _, mine = await api.call("GET", f"{TASKS}?account={key_id(KEY)}", key=None)
    assert [t["task_id"] for t in mine["tasks"]] == [first]
    _, accounts = await api.call("GET", ACCOUNTS, key=None)
    assert sorted((a["key_id"], a["tasks"]) for a in accounts["accounts"]) == sorted(
        [(key_id(KEY), 1), (key_id(OTHER_KEY), 1)]
    )
    _, last = await api.call("GET", TASKS + "?limit=1", key=None)
    assert [t["task_id"] for t in last["tasks"]] == [second]


async def test_status_times_and_thumbnails_follow_the_clock(api: Api) -> None:
    """A waiting task has no end time and no thumbnail; once SUCCEEDED it has both, and the
    thumbnail is a small PNG."""
    task_id = await api.submit(wan27("a fox", size="1K"))
    _, listed = await api.call("GET", TASKS, key=None)
    [task] = listed["tasks"]
    assert (task["status"], task["end_time"], task["thumbnails"]) == ("PENDING", None, [])
    status, _ = await api.call("GET", TASK_IMAGE.format(task_id=task_id, index=0), key=None)
    assert status == 404
    await api.advance(3600)
    _, listed = await api.call("GET", TASKS, key=None)
    [task] = listed["tasks"]
    assert task["status"] == "SUCCEEDED" and task["end_time"] is not None
    assert task["thumbnails"] == [TASK_IMAGE.format(task_id=task_id, index=0)]
    response = await api.client.get(task["thumbnails"][0])
    assert response.status == 200 and response.content_type == "image/png"
    with Image.open(io.BytesIO(await response.read())) as image:
        assert max(image.size) == 160
    for bad in ("1", "x", "-1"):
        status, _ = await api.call("GET", TASK_IMAGE.format(task_id=task_id, index=bad), key=None)
        assert status == 404


async def test_limits_are_checked(api: Api) -> None:
    """A limit that is not a whole number from 1 to 10000 is a 400, for tasks and the request
    log."""
    for path in (TASKS, REQUESTS):
        for bad in ("0", "10001", "x", "-1", "1" * 40):
            status, body = await api.call("GET", f"{path}?limit={bad}", key=None)
            assert (status, body["code"]) == (400, "InvalidParameter"), (path, bad)


async def test_request_log_limit_keeps_the_newest(api: Api) -> None:
    """`requests?limit=N` gives the last N entries, in order."""
    for prompt in ("a", "b", "c"):
        await api.submit(wan27(prompt))
    _, everything = await api.call("GET", REQUESTS, key=None)
    _, last = await api.call("GET", REQUESTS + "?limit=2", key=None)
    assert last["entries"] == everything["entries"][-2:] and len(everything["entries"]) == 3


async def test_the_request_log_answers_at_its_first_name_too(api: Api) -> None:
    """`/__emulator/journal`, the request log's first route, answers as `/__emulator/requests`,
    with the same query parameters and the same entries."""
    await api.submit(wan27("a"))
    await api.submit(wan27("b"), key=OTHER_KEY)
    for query in ("", "?limit=1", f"?account={key_id(OTHER_KEY)}"):
        now = await api.call("GET", REQUESTS + query, key=None)
        first = await api.call("GET", JOURNAL + query, key=None)
        assert (first, len(now[1]["entries"])) == (now, 2 if query == "" else 1), query
