"""Task query answers are kept serialised per task and status: the bytes a client gets are those
a fresh answer would be, with a request_id of their own."""

from __future__ import annotations

import asyncio
import os
import uuid
from email.utils import parsedate_to_datetime

from emulator_api import KEY, SYNC, image_urls, wan27

from wanform.emulator.state import ids
from wanform.spec.emulator.wire import CLOCK, FAULT_HEADER, UI
from wanform.spec.models import HEADER_ON, MODELS, SSE_HEADER

PICKUP = 0.05  # EmulatorConfig.pending_seconds
RUN = MODELS["wan2.7-image"].typical_seconds
AUTH = {"Authorization": f"Bearer {KEY}"}


def test_ids_are_distinct_uuid4_strings():
    """Request and task ids read as version-4 RFC 4122 UUIDs, as uuid.uuid4() writes them."""
    made = [ids.uuid4() for _ in range(2000)]
    parsed = [uuid.UUID(text) for text in made]
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in parsed)
    assert [str(u) for u in parsed] == made
    assert len(set(made)) == len(made)


def test_a_forked_child_never_repeats_its_parents_ids():
    """An emulator in a forked process (multiprocessing's default on Linux) makes ids of its
    own, not the ones its parent makes next."""
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe and exits
        os.write(write, ids.uuid4().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    with os.fdopen(read, "rb") as pipe:
        theirs = pipe.read().decode()
    assert theirs != ids.uuid4()


async def test_repeated_queries_differ_only_in_request_id(api):
    """Two queries about a task in one status get the same body, each its own request_id, as
    JSON with a charset."""
    task_id = await api.submit(wan27())
    await api.advance(PICKUP)
    answers = []
    for _ in range(2):
        response = await api.client.get(f"/api/v1/tasks/{task_id}", headers=AUTH)
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        answers.append(await response.json())
    first, second = answers
    assert first["request_id"] != second["request_id"]
    assert uuid.UUID(first["request_id"]).version == 4
    assert {**first, "request_id": ""} == {**second, "request_id": ""}
    assert first["output"]["task_status"] == "RUNNING"


async def test_the_answer_follows_the_status(api):
    """A task queried while RUNNING answers SUCCEEDED, with its links, once it ended."""
    task_id = await api.submit(wan27())
    assert await api.status(task_id) == "PENDING"
    await api.advance(PICKUP)
    assert await api.status(task_id) == "RUNNING"
    await api.advance(RUN)
    done = await api.task(task_id)
    assert done["output"]["task_status"] == "SUCCEEDED" and len(image_urls(done)) == 1


async def test_result_links_name_the_host_each_query_came_to(api):
    """An ended task queried through two host names links its results under each name."""
    task_id = await api.submit(wan27())
    await api.advance(PICKUP + RUN)
    for host in ("first.test:8000", "second.test:8000", "first.test:8000"):
        _, answer = await api.call("GET", f"/api/v1/tasks/{task_id}", headers={"Host": host})
        assert image_urls(answer)[0].startswith(f"http://{host}/__results/")


async def test_every_answer_is_dated_on_the_virtual_clock(make_api):
    """JSON and admin answers, a redirect, an SSE stream and a cut-off download carry the
    emulator's clock in `Date` (here six days ahead of the machine's), not the machine's."""
    api = await make_api(speed=1000.0, clock_skew=6 * 86400)
    task_id = await api.submit(wan27(size="1K"), headers={FAULT_HEADER: '{"action": "cut"}'})
    while await api.status(task_id) != "SUCCEEDED":
        await asyncio.sleep(0.01)
    link = image_urls(await api.task(task_id))[0]
    answers = [
        api.client.get(f"/api/v1/tasks/{task_id}", headers=AUTH),
        api.client.get(CLOCK),
        api.client.get(UI.removesuffix("/"), allow_redirects=False),
        api.client.post(SYNC, json=wan27(size="1K"), headers={**AUTH, SSE_HEADER: HEADER_ON}),
        api.client.session.get(link),
    ]
    statuses = []
    for answer in answers:
        async with answer as response:
            statuses.append(response.status)
            dated = parsedate_to_datetime(response.headers["Date"]).timestamp()
        _, clock = await api.call("GET", CLOCK, key=None)
        assert clock["now"] - 60 < dated <= clock["now"]
    assert statuses == [200, 200, 302, 200, 200]
