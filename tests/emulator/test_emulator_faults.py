"""Fault rules: each action, each way to match, each way to set them, and seeded replay."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from emulator_api import (
    ASYNC,
    GENERATION,
    KEY,
    OTHER_KEY,
    SYNC,
    SYNTHESIS,
    assert_schema,
    data_uri,
    image_urls,
    wan25,
    wan26,
    wan27,
    wanx21,
)
from yarl import URL

from wanform.emulator import EmulatorConfig, create_app
from wanform.emulator.state.accounts import key_id
from wanform.spec.emulator.wire import FAULT_HEADER, FAULTS, RESET

TIMEOUT = (
    "An internal timeout error has occured during execution, please try again later "
    "or contact service support."
)


async def finish(api, task_id: str) -> dict:
    await api.advance(61)
    return await api.task(task_id)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            {"code": "Arrearage"},
            (400, "Arrearage", "Access denied, make sure your account is in good standing."),
        ),
        (
            {},
            (
                500,
                "InternalError",
                "An internal error has occured, try again later or contact service support.",
            ),
        ),
        (
            {"code": "DataInspectionFailed"},
            (400, "DataInspectionFailed", "Input data may contain inappropriate content."),
        ),
        (
            {"code": "IPInfringementSuspect"},
            (
                400,
                "IPInfringementSuspect",
                "Input data is suspected of being involved in IP infringement.",
            ),
        ),
        ({"code": "Throttling"}, (429, "Throttling", "Requests throttling triggered.")),
        ({"code": "Custom.Code", "status": 503, "message": "down"}, (503, "Custom.Code", "down")),
    ],
    ids=["arrearage", "default", "inspection", "ip", "throttling", "custom"],
)
async def test_error_rule_answers_with_the_code(api, rule, expected):
    """An `error` rule answers a submission with its code, by default its status and message."""
    await api.add_fault({"action": "error", **rule})
    status, answer = await api.call("POST", GENERATION, wan27(), headers=ASYNC)
    assert (status, answer["code"], answer["message"]) == expected
    _, listed = await api.call("GET", "/api/v1/tasks")
    assert listed["total"] == 0


async def test_fail_rule_fails_a_messages_style_task(api):
    """A `fail` rule ends a wan2.7 task FAILED, code and message inside output, without usage."""
    await api.add_fault(
        {
            "action": "fail",
            "code": "DataInspectionFailed",
            "message": "Output data may contain inappropriate content.",
        }
    )
    body = await finish(api, await api.submit(wan27()))
    assert_schema("response-task", body)
    assert body["output"]["task_status"] == "FAILED"
    assert (body["output"]["code"], body["output"]["message"]) == (
        "DataInspectionFailed",
        "Output data may contain inappropriate content.",
    )
    assert "usage" not in body and "choices" not in body["output"]


async def test_fail_rule_fails_a_results_style_task(api):
    """A failed wan2.5 task reports all its images failed in task_metrics, as documented."""
    await api.add_fault({"action": "fail", "code": "InvalidParameter", "message": "xxxxxx"})
    body = await finish(api, await api.submit(wan25(n=4), path=SYNTHESIS))
    assert body["output"]["task_metrics"] == {"TOTAL": 4, "SUCCEEDED": 0, "FAILED": 4}
    assert (body["output"]["code"], body["output"]["message"]) == ("InvalidParameter", "xxxxxx")


async def test_fail_rule_on_a_sync_call_answers_with_the_error(api):
    """A sync call whose task fails answers, after running, with the rule's HTTP error."""
    await api.add_fault({"action": "fail", "code": "InternalError.Timeout"})
    call = asyncio.ensure_future(api.call("POST", SYNC, wan27()))
    await asyncio.sleep(0.02)
    await api.advance(31)
    status, answer = await call
    assert (status, answer["code"], answer["message"]) == (500, "InternalError.Timeout", TIMEOUT)


async def test_partial_failure_in_results_style(api):
    """k of n images fail with their code and message; the task SUCCEEDS, usage counts the rest."""
    await api.add_fault({"action": "partial", "failed": 1})
    body = await finish(api, await api.submit(wan25(n=2), path=SYNTHESIS))
    assert_schema("response-task", body)
    output = body["output"]
    assert output["task_status"] == "SUCCEEDED"
    assert output["results"][1] == {"code": "InternalError.Timeout", "message": TIMEOUT}
    assert "url" in output["results"][0]
    assert output["task_metrics"] == {"TOTAL": 2, "SUCCEEDED": 1, "FAILED": 1}
    assert body["usage"] == {"image_count": 1}


async def test_partial_failure_in_messages_style(api):
    """In messages style failed images are left out of choices; usage.image_count counts others."""
    await api.add_fault({"action": "partial", "failed": 2, "code": "DataInspectionFailed"})
    body = await finish(api, await api.submit(wan27(n=3, size="1K")))
    assert body["output"]["task_status"] == "SUCCEEDED"
    assert len(image_urls(body)) == 1
    assert body["usage"]["image_count"] == 1


async def test_partial_failure_of_every_image_fails_the_task(api):
    """When all n images fail the task is FAILED with the images' code."""
    await api.add_fault({"action": "partial", "failed": 3, "code": "DataInspectionFailed"})
    body = await finish(api, await api.submit(wanx21(n=2), path=SYNTHESIS))
    assert body["output"]["task_status"] == "FAILED"
    assert body["output"]["code"] == "DataInspectionFailed"
    assert body["output"]["task_metrics"] == {"TOTAL": 2, "SUCCEEDED": 0, "FAILED": 2}


async def test_latency_waits_on_the_virtual_clock(api):
    """A `latency` rule holds the answer until that many virtual seconds have passed."""
    await api.add_fault({"action": "latency", "seconds": 5})
    call = asyncio.ensure_future(api.call("POST", GENERATION, wan27(), headers=ASYNC))
    await asyncio.sleep(0.05)
    assert not call.done()
    await api.advance(5)
    status, _ = await call
    assert status == 200


@pytest.mark.parametrize(("when", "tasks"), [("before", 0), ("after", 1)])
async def test_drop_closes_the_connection(api, when, tasks):
    """A `drop` rule closes the connection with no answer, before or after the task is created."""
    await api.add_fault({"action": "drop", "when": when})
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.call("POST", GENERATION, wan27(), headers=ASYNC)
    _, listed = await api.call("GET", "/api/v1/tasks")
    assert listed["total"] == tasks
    logged = await api.requests()
    assert (logged[0]["status"], logged[0]["faults"]) == (None, ["r1"])


async def test_cut_download_sends_half_then_closes(api):
    """A `cut` rule promises the whole PNG and closes after half; with times: 1 a retry succeeds."""
    await api.add_fault({"action": "cut", "times": 1})
    body = await finish(api, await api.submit(wan27(size="1K")))
    url = image_urls(body)[0]
    with pytest.raises(aiohttp.ClientPayloadError):
        await api.download(url)
    status, data = await api.download(url)
    assert status == 200 and data.startswith(b"\x89PNG")


async def test_cut_from_a_request_header_applies_to_that_tasks_downloads(api):
    """A `cut` rule sent in X-Wanform-Fault goes with the task it created, and no other."""
    header = {FAULT_HEADER: json.dumps({"action": "cut"})}
    marked = await api.submit(wan27(size="1K"), headers=header)
    plain = await api.submit(wan27(size="1K"))
    await api.advance(31)
    with pytest.raises(aiohttp.ClientPayloadError):
        await api.download(image_urls(await api.task(marked))[0])
    assert (await api.download(image_urls(await api.task(plain))[0]))[0] == 200


async def test_header_rule_applies_to_its_request_only(api):
    """An `error` rule in X-Wanform-Fault fails that request; the next one is unaffected."""
    header = {FAULT_HEADER: json.dumps({"action": "error", "code": "Arrearage"})}
    status, answer = await api.call("POST", GENERATION, wan27(), headers={**ASYNC, **header})
    assert (status, answer["code"]) == (400, "Arrearage")
    assert (await api.call("POST", GENERATION, wan27(), headers=ASYNC))[0] == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/tasks/{id}"),
        ("POST", "/api/v1/tasks/{id}/cancel"),
        ("GET", "/api/v1/tasks"),
        ("GET", "/api/v1/uploads?action=getPolicy&model=wan2.7-image"),
    ],
)
async def test_header_rule_on_the_task_api_and_upload_policy(api, method, path):
    """The header works on every DashScope endpoint; a rule naming none fails its own request."""
    task_id = await api.submit(wan27())
    header = {FAULT_HEADER: json.dumps({"action": "error", "code": "InternalError"})}
    status, answer = await api.call(method, path.format(id=task_id), headers=header)
    assert (status, answer["code"]) == (500, "InternalError")
    assert (await api.call(method, path.format(id=task_id)))[0] == 200


async def test_header_rule_for_tasks_cannot_fail_a_query(api):
    """A task outcome (`fail`) is for submissions: on a task query the header is refused."""
    task_id = await api.submit(wan27())
    header = {FAULT_HEADER: json.dumps({"action": "fail"})}
    status, answer = await api.call("GET", f"/api/v1/tasks/{task_id}", headers=header)
    assert (status, answer["code"]) == (400, "InvalidParameter")
    assert answer["message"].startswith(
        f"{FAULT_HEADER}: a `fail` rule applies only to the endpoints "
        "submit, sync, async, synthesis"
    )


@pytest.mark.parametrize(
    "value",
    ["{not json", json.dumps({"action": "explode"}), json.dumps({"action": "error", "bogus": 1})],
)
async def test_malformed_header_rule_is_invalid_parameter(api, value):
    """A malformed X-Wanform-Fault header is 400 InvalidParameter naming the header."""
    status, answer = await api.call(
        "POST", GENERATION, wan27(), headers={**ASYNC, FAULT_HEADER: value}
    )
    assert (status, answer["code"]) == (400, "InvalidParameter")
    assert answer["message"].startswith(f"{FAULT_HEADER}: ")


async def test_nth_and_times(api):
    """`nth: 2` fires on the second matching request only; `times: 2` fires twice, then stops."""
    await api.add_fault(
        {"action": "error", "code": "Throttling", "nth": 2, "model": "wan2.7-image"}
    )
    await api.add_fault(
        {"action": "error", "code": "Arrearage", "times": 2, "model": "wan2.5-i2i-preview"}
    )
    wan27_statuses = [
        (await api.call("POST", GENERATION, wan27(), headers=ASYNC))[0] for _ in range(3)
    ]
    await api.advance(1)
    wan25_statuses = [
        (await api.call("POST", SYNTHESIS, wan25(), headers=ASYNC))[0] for _ in range(3)
    ]
    assert (wan27_statuses, wan25_statuses) == ([200, 429, 200], [400, 400, 200])


async def test_prompt_account_and_endpoint_matching(api):
    """Rules match on a prompt regex, an account (key or key id) and an endpoint."""
    await api.add_fault(
        {"action": "error", "code": "DataInspectionFailed", "prompt": "(?i)forbidden"}
    )
    await api.add_fault({"action": "error", "code": "Arrearage", "account": key_id(OTHER_KEY)})
    await api.add_fault(
        {"action": "error", "code": "InternalError", "endpoint": "task", "account": KEY}
    )
    assert (await api.call("POST", GENERATION, wan27("a FORBIDDEN thing"), headers=ASYNC))[1][
        "code"
    ] == "DataInspectionFailed"
    assert (await api.call("POST", GENERATION, wan27(), key=OTHER_KEY, headers=ASYNC))[1][
        "code"
    ] == "Arrearage"
    task_id = await api.submit(wan27())
    status, answer = await api.call("GET", f"/api/v1/tasks/{task_id}")
    assert (status, answer["code"]) == (500, "InternalError")
    assert await api.status(task_id, key=OTHER_KEY) == "UNKNOWN"


async def probability_run(make_api, seed: int) -> list[int]:
    api = await make_api(seed=seed, throttle=False)
    await api.add_fault({"action": "error", "probability": 0.5})
    return [(await api.call("POST", GENERATION, wan27(), headers=ASYNC))[0] for _ in range(16)]


async def test_probability_is_seeded(make_api):
    """The same seed replays the same choices; the choices are a real mix."""
    first = await probability_run(make_api, 7)
    again = await probability_run(make_api, 7)
    assert first == again
    assert set(first) == {200, 500}


async def test_scenario_file_and_reset(tmp_path, make_api):
    """A YAML scenario's rules act from the start and again after a reset; admin rules do not."""
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        "faults:\n  - action: error\n    code: Arrearage\n    model: wan2.5-i2i-preview\n",
        encoding="utf-8",
    )
    api = await make_api(scenario=str(scenario))
    await api.add_fault({"action": "error", "code": "Throttling"})
    _, listed = await api.call("GET", FAULTS, key=None)
    assert [(r["id"], r["code"]) for r in listed["faults"]] == [
        ("r1", "Arrearage"),
        ("r2", "Throttling"),
    ]
    await api.call("POST", RESET, key=None)
    _, listed = await api.call("GET", FAULTS, key=None)
    assert [r["id"] for r in listed["faults"]] == ["r1"]
    assert (await api.call("POST", SYNTHESIS, wan25(), headers=ASYNC))[1]["code"] == "Arrearage"


async def test_admin_lists_deletes_and_clears_rules(api):
    """The admin API shows counters, deletes one rule by id and clears all."""
    added = await api.add_fault(
        [
            {"action": "latency", "seconds": 1, "endpoint": "task"},
            {"action": "error", "endpoint": "list"},
        ]
    )
    assert [r["id"] for r in added] == ["r1", "r2"]
    await api.call("GET", "/api/v1/tasks")
    _, listed = await api.call("GET", FAULTS, key=None)
    assert [(r["id"], r["seen"], r["fired"]) for r in listed["faults"]] == [
        ("r1", 0, 0),
        ("r2", 1, 1),
    ]
    assert (await api.call("DELETE", FAULTS + "/r2", key=None))[0] == 200
    assert (await api.call("DELETE", FAULTS + "/r2", key=None))[0] == 404
    assert (await api.call("GET", "/api/v1/tasks"))[0] == 200
    await api.call("DELETE", FAULTS, key=None)
    assert (await api.call("GET", FAULTS, key=None))[1] == {"faults": []}


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"action": "error", "code": "Made.Up"},
            "code 'Made.Up' is not in the error catalogue (spec/errors.py): "
            "give `status` and `message`",
        ),
        (
            {"action": "fail", "endpoint": "task"},
            "a `fail` rule applies only to the endpoints "
            "submit, sync, async, synthesis, got 'task'",
        ),
        ({"action": "latency"}, "a `latency` rule needs `seconds`: a number in (0, 86400]"),
        (
            {"action": "error", "prompt": "("},
            "`prompt` is not a valid regular expression: missing ) at position 1",
        ),
        (
            {"action": "error", "probability": 2},
            "`probability` must be a number from 0 to 1, got 2",
        ),
        ({"action": "drop", "when": "later"}, "`when` must be before or after, got 'later'"),
        (
            {"action": "error", "endpoint": "nowhere"},
            "`endpoint` must be one of submit, any, sync, async, synthesis, task, cancel, list, "
            "policy, upload, result, got 'nowhere'",
        ),
    ],
    ids=[
        "unknown-code",
        "fail-on-task",
        "latency-without-seconds",
        "bad-regex",
        "probability",
        "when",
        "endpoint",
    ],
)
async def test_invalid_rules_are_refused_with_a_reason(api, rule, message):
    """The admin API refuses an invalid rule with 400 and a sentence saying what is wrong."""
    status, answer = await api.call("POST", FAULTS, rule, key=None)
    assert (status, answer["code"], answer["message"]) == (400, "InvalidParameter", message)


async def test_faults_on_upload_policy_and_messages_models(api):
    """Rules can target the upload-policy endpoint; a wan2.6 task can be failed like the others."""
    await api.add_fault({"action": "error", "code": "Throttling.RateQuota", "endpoint": "policy"})
    status, answer = await api.call("GET", "/api/v1/uploads?action=getPolicy&model=wan2.6-image")
    assert (status, answer["code"]) == (429, "Throttling.RateQuota")
    await api.add_fault({"action": "fail", "model": "wan2.6-image"})
    body = await finish(api, await api.submit(wan26(images=(data_uri(800, 600),))))
    assert body["output"]["task_status"] == "FAILED"


def test_invalid_scenario_stops_the_emulator_from_starting(tmp_path):
    """A bad rule, bad YAML, or no rules at all stop the emulator, naming file, line and column.

    A rule's problem points at the offending value and names the rule's number.
    """
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        "- action: latency\n  seconds: 1\n- action: error\n  nth: 0\n", encoding="utf-8"
    )
    with pytest.raises(
        ValueError,
        match=rf"^{scenario}:4:8: rule 2: `nth` must be an integer of at least 1, got 0$",
    ):
        create_app(EmulatorConfig(scenario=str(scenario)))
    scenario.write_text("faults:\n  - action: error\n  - action: explode\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"^{scenario}:3:13: rule 2: `action` must be one of"):
        create_app(EmulatorConfig(scenario=str(scenario)))
    scenario.write_text("faults:\n  - action: error\n    action: drop\n", encoding="utf-8")
    with pytest.raises(
        ValueError, match=rf"^{scenario}:3:5: cannot read the scenario: duplicate key"
    ):
        create_app(EmulatorConfig(scenario=str(scenario)))
    with pytest.raises(ValueError, match="cannot read the scenario"):
        create_app(EmulatorConfig(scenario=str(tmp_path / "missing.yaml")))
    scenario.write_text("faults: 3\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected a list of fault rules"):
        create_app(EmulatorConfig(scenario=str(scenario)))


async def test_drop_after_a_sync_call_loses_a_finished_result(api):
    """On the sync route, `drop` after closes the connection once the generation has run."""
    await api.add_fault({"action": "drop", "when": "after", "endpoint": "sync"})
    call = asyncio.ensure_future(api.call("POST", SYNC, wan27()))
    await asyncio.sleep(0.02)
    assert not call.done()
    await api.advance(31)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await call
    assert [(e["path"], e["status"]) for e in await api.requests()] == [(SYNC, None)]


async def _result_url(api) -> str:
    return image_urls(await finish(api, await api.submit(wan27(size="1K"))))[0]


ROUTE_REQUESTS = {
    "sync": ("POST", SYNC, wan27(), {}),
    "async": ("POST", GENERATION, wan27(), ASYNC),
    "synthesis": ("POST", SYNTHESIS, wan25(), ASYNC),
    "task": ("GET", "/api/v1/tasks/{id}", None, {}),
    "cancel": ("POST", "/api/v1/tasks/{id}/cancel", None, {}),
    "list": ("GET", "/api/v1/tasks", None, {}),
    "policy": ("GET", "/api/v1/uploads?action=getPolicy&model=wan2.7-image", None, {}),
    "upload": ("POST", "/__oss/upload", None, {}),
    "result": ("GET", "{url}", None, {}),
}


@pytest.mark.parametrize("endpoint", ROUTE_REQUESTS)
async def test_each_route_consults_the_rules_of_its_endpoint(api, endpoint):
    """A rule for one endpoint fires on that endpoint's route and is noted in its request log
    entry."""
    url = await _result_url(api)
    task_id = await api.submit(wan27())
    method, path, body, headers = ROUTE_REQUESTS[endpoint]
    path = path.format(id=task_id, url=URL(url).path_qs)
    [rule] = await api.add_fault({"action": "error", "code": "Arrearage", "endpoint": endpoint})
    status, _ = await api.call(method, path, body, headers=headers)
    last = (await api.requests())[-1]
    assert (status, last["path"], last["faults"]) == (400, path.partition("?")[0], [rule["id"]])


async def test_upload_and_result_routes_ignore_the_header(api):
    """X-Wanform-Fault is for the DashScope API: the form upload and result downloads ignore it."""
    url = await _result_url(api)
    header = {FAULT_HEADER: json.dumps({"action": "error", "endpoint": "any"})}
    upload_status, upload_answer = await api.call("POST", "/__oss/upload", headers=header)
    async with api.client.session.get(url, headers=header) as response:
        download_status = response.status
    assert (upload_status, "MalformedPOSTRequest" in upload_answer, download_status) == (
        400,
        True,
        200,
    )


async def test_drop_after_a_streamed_sync_call_leaves_the_stream_unfinished(api):
    """On a streamed sync call, `drop` after sends every event, then closes without ending."""
    await api.add_fault({"action": "drop", "when": "after", "endpoint": "sync"})
    headers = {"X-DashScope-Sse": "enable", "Authorization": f"Bearer {KEY}"}
    received = []

    async def read() -> None:
        async with api.client.post(SYNC, json=wan27(), headers=headers) as response:
            async for line in response.content:
                received.append(line)

    reading = asyncio.ensure_future(read())
    await asyncio.sleep(0.02)
    await api.advance(31)
    with pytest.raises(aiohttp.ClientPayloadError):
        await reading
    events = sum(line.startswith(b"data:") for line in received)
    assert (events, (await api.requests())[-1]["status"]) == (1, None)
