"""Rate limits and the in-flight cap, per account and model, on the virtual clock."""

from __future__ import annotations

from emulator_api import ASYNC, GENERATION, KEY, OTHER_KEY, SYNTHESIS, wan25, wan27, wanx21

from wanform.spec.emulator.wire import UNVERIFIED_HEADER
from wanform.spec.models import MODELS, TASK_QUERY_RPS, table

QUEUEING = table({"service.over_cap": "queue"})

RATE_LIMITED = (
    429,
    "Throttling.RateQuota",
    "Requests rate limit exceeded, please try again later.",
)


async def submit_status(api, body, path=GENERATION, key=KEY) -> int:
    status, _ = await api.call("POST", path, body, key=key, headers=ASYNC)
    return status


async def test_submission_rate_per_account_and_model(make_api):
    """In a virtual second an account may submit `submit_rps` tasks of a model; the next is 429."""
    api = await make_api(models=QUEUEING)  # the cap would refuse the last one too
    rps = int(MODELS["wan2.7-image"].submit_rps)
    assert [await submit_status(api, wan27()) for _ in range(rps)] == [200] * rps
    status, answer = await api.call("POST", GENERATION, wan27(), headers=ASYNC)
    assert (status, answer["code"], answer["message"]) == RATE_LIMITED
    assert (
        await submit_status(api, wan25(), path=SYNTHESIS) == 200
    )  # another model has its own budget
    assert await submit_status(api, wan27(), key=OTHER_KEY) == 200  # and so has another account
    await api.advance(1 / MODELS["wan2.7-image"].submit_rps)
    assert await submit_status(api, wan27()) == 200


async def test_tasks_over_the_cap_wait_as_pending(make_api):
    """With service.over_cap=queue a task beyond max_in_flight stays PENDING until a slot frees,
    and its answers say they rest on that guess."""
    api = await make_api(models=QUEUEING)
    spec = MODELS["wanx2.1-imageedit"]
    cap = spec.max_in_flight
    ids = [await api.submit(wanx21(), path=SYNTHESIS) for _ in range(cap)]
    await api.advance(1)  # refills the submission budget; the first `cap` tasks start
    response = await api.client.post(
        SYNTHESIS, json=wanx21(), headers={**ASYNC, "Authorization": f"Bearer {KEY}"}
    )
    assert response.headers[UNVERIFIED_HEADER] == "service.over_cap,wanx2.1.output_size"
    waiting = (await response.json())["output"]["task_id"]
    await api.advance(1)
    assert [await api.status(i) for i in ids] == ["RUNNING"] * cap
    assert await api.status(waiting) == "PENDING"
    await api.advance(spec.typical_seconds - 2 + 0.05)
    assert await api.status(waiting) == "RUNNING"
    scheduled = (await api.task(waiting))["output"]["scheduled_time"]
    first_end = (await api.task(ids[0]))["output"]["end_time"]
    assert scheduled == first_end


async def test_tasks_over_the_cap_get_429_by_default(api):
    """A task beyond max_in_flight gets 429 until one finishes, marked as the guess it is."""
    spec = MODELS["wanx2.1-imageedit"]
    for _ in range(spec.max_in_flight):
        await api.submit(wanx21(), path=SYNTHESIS)
    await api.advance(1)
    response = await api.client.post(
        SYNTHESIS, json=wanx21(), headers={**ASYNC, "Authorization": f"Bearer {KEY}"}
    )
    answer = await response.json()
    assert (response.status, answer["code"], answer["message"]) == RATE_LIMITED
    assert response.headers[UNVERIFIED_HEADER] == "service.over_cap"
    await api.advance(spec.typical_seconds)
    assert await submit_status(api, wanx21(), path=SYNTHESIS) == 200


async def test_canceling_a_queued_task_frees_its_place(make_api):
    """A canceled queued task never runs, and the task behind it moves up."""
    api = await make_api(models=QUEUEING)
    cap = MODELS["wanx2.1-imageedit"].max_in_flight
    for _ in range(cap):
        await api.submit(wanx21(), path=SYNTHESIS)
    await api.advance(1)
    queued = [await api.submit(wanx21(), path=SYNTHESIS) for _ in range(2)]
    status, _ = await api.call("POST", f"/api/v1/tasks/{queued[0]}/cancel")
    assert status == 200
    await api.advance(MODELS["wanx2.1-imageedit"].typical_seconds)
    assert [await api.status(i) for i in queued] == ["CANCELED", "RUNNING"]


async def test_task_queries_are_limited_per_account(api):
    """Task queries, cancels and lists share TASK_QUERY_RPS per account; others are unaffected."""
    statuses = [(await api.call("GET", "/api/v1/tasks/x"))[0] for _ in range(TASK_QUERY_RPS)]
    assert statuses == [200] * TASK_QUERY_RPS
    status, answer = await api.call("GET", "/api/v1/tasks")
    assert (status, answer["code"], answer["message"]) == RATE_LIMITED
    status, _ = await api.call("POST", "/api/v1/tasks/x/cancel")
    assert status == 429
    assert (await api.call("GET", "/api/v1/tasks/x", key=OTHER_KEY))[0] == 200
    await api.advance(1)
    assert (await api.call("GET", "/api/v1/tasks/x"))[0] == 200


async def test_query_rate_can_be_raised_for_benchmarks(make_api):
    """query_rps replaces DashScope's task-query rate, as the runner bench raises it."""
    api = await make_api(query_rps=3 * TASK_QUERY_RPS)
    queries = [(await api.call("GET", "/api/v1/tasks/x"))[0] for _ in range(3 * TASK_QUERY_RPS)]
    assert set(queries) == {200}
    assert (await api.call("GET", "/api/v1/tasks/x"))[0] == 429


async def test_throttle_off_lets_everything_through(make_api):
    """With throttle=False neither the rates nor the cap apply (for benchmarks)."""
    api = await make_api(throttle=False)
    statuses = [await submit_status(api, wanx21(), path=SYNTHESIS) for _ in range(10)]
    queries = [(await api.call("GET", "/api/v1/tasks/x"))[0] for _ in range(3 * TASK_QUERY_RPS)]
    assert set(statuses) == {200} and set(queries) == {200}
    _, listed = await api.call("GET", "/api/v1/tasks?status=PENDING")
    assert listed["total"] == 10
    await api.advance(1)
    _, listed = await api.call("GET", "/api/v1/tasks?status=RUNNING")
    assert listed["total"] == 10
