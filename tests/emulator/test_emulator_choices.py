"""The emulator's own choices where the documents are silent (issue 24, item 5): each answer that
rests on one names its guess in `X-Wanform-Unverified`, and each alternative answers otherwise."""

from __future__ import annotations

import pytest
from emulator_api import (
    ASYNC,
    GENERATION,
    KEY,
    OTHER_KEY,
    SYNTHESIS,
    data_uri,
    wan26,
    wan27,
    wanx21,
)

from wanform.spec.emulator.wire import UNVERIFIED_HEADER
from wanform.spec.errors import N_MUST_BE_ONE, lookup
from wanform.spec.models import table
from wanform.spec.sizes import output_size

IMAGE = data_uri(512, 512)
PALETTE = [{"hex": "#C2D1E6", "ratio": "40.00%"}, {"hex": "#1F2A44", "ratio": "35.00%"}]


async def send(api, method: str, path: str, body: dict | None = None, key: str = KEY):
    headers = {"Authorization": f"Bearer {key}", **(ASYNC if method == "POST" else {})}
    response = await api.client.request(method, path, json=body, headers=headers)
    return response, await response.json()


def marks(response) -> list[str]:
    return [g for g in response.headers.get(UNVERIFIED_HEADER, "").split(",") if g]


def palette(hex_code: str) -> list[dict]:
    return [*PALETTE, {"hex": hex_code, "ratio": "25.00%"}]


# (guess, its alternative, the request, the status by default, the status with the alternative)
REQUESTS = [
    ("bbox.order", "sort", wan27(images=(IMAGE,), bbox_list=[[[50, 50, 10, 10]]]), 400, 200),
    ("bbox.outside", "clip", wan27(images=(IMAGE,), bbox_list=[[[0, 0, 600, 600]]]), 400, 200),
    ("palette.hex_short", "accept", wan27(color_palette=palette("#FFF")), 400, 200),
    ("palette.hex_lowercase", "refuse", wan27(color_palette=palette("#f2b880")), 200, 400),
    ("wanx2.1.function_params", "ignore", wanx21(top_scale=1.5), 400, 200),
    (
        "wan2.6.interleave_prompt_extend",
        "refuse",
        wan26(enable_interleave=True, prompt_extend=True),
        200,
        400,
    ),
]


@pytest.mark.parametrize(
    ("guess", "other", "body", "status", "other_status"), REQUESTS, ids=[r[0] for r in REQUESTS]
)
async def test_a_guessed_rule_names_itself_and_its_alternative_answers_otherwise(
    make_api, guess, other, body, status, other_status
):
    """The default's answer and the alternative's differ, and both name the guess."""
    path = SYNTHESIS if body["model"].startswith("wanx") else GENERATION
    for variants, expected in (({}, status), ({guess: other}, other_status)):
        api = await make_api(models=table(variants))
        response, answer = await send(api, "POST", path, body)
        assert (response.status, guess in marks(response)) == (expected, True), answer


async def test_wanx21_size_and_another_functions_parameter_are_answered_alike(api):
    """size (another model's) and top_scale (another function's) on colorization: both 400."""
    for extra in ({"size": "1024*1024"}, {"top_scale": 1.5}):
        response, answer = await send(api, "POST", SYNTHESIS, wanx21(**extra))
        assert (response.status, answer["code"]) == (400, "InvalidParameter")


async def test_a_pending_task_body_names_its_guess_and_can_be_bare(make_api):
    """A PENDING body's submit_time is a guess; with task.pending_body=bare it has none."""
    for value, keys in (("times", {"task_id", "task_status", "submit_time"}), ("bare", None)):
        api = await make_api(models=table({"task.pending_body": value}))
        task_id = await api.submit(wan27())
        response, answer = await send(api, "GET", f"/api/v1/tasks/{task_id}")
        assert "task.pending_body" in marks(response)
        assert set(answer["output"]) == (keys or {"task_id", "task_status"})


async def test_a_failed_messages_task_names_where_its_error_is(make_api):
    """A FAILED wan2.7 task: code and message in output by default, at the top with `top`."""
    for value, where in (("output", "output"), ("top", None)):
        api = await make_api(models=table({"task.failed_output": value}))
        await api.add_fault({"action": "fail", "code": "InternalError", "message": "boom"})
        task_id = await api.submit(wan27())
        await api.advance(120)
        response, answer = await send(api, "GET", f"/api/v1/tasks/{task_id}")
        assert "task.failed_output" in marks(response)
        assert (answer[where] if where else answer)["code"] == "InternalError"


async def test_another_accounts_task_names_its_guess(make_api):
    """Another account's task id reads UNKNOWN by default, 403 with task.other_account=denied;
    an id nobody has names no guess."""
    for value, status in (("unknown", 200), ("denied", 403)):
        api = await make_api(models=table({"task.other_account": value}))
        task_id = await api.submit(wan27())
        response, _ = await send(api, "GET", f"/api/v1/tasks/{task_id}", key=OTHER_KEY)
        assert (response.status, marks(response)) == (status, ["task.other_account"])
    response, _ = await send(api, "GET", f"/api/v1/tasks/{'0' * 8}-unknown", key=OTHER_KEY)
    assert marks(response) == []


async def test_wan27_throttling_names_its_third_party_limits(make_api):
    """The sixth wan2.7 submission in a second is refused (5 RPS), the third with the value 2."""
    for value, allowed in (("5", 5), ("2", 2)):
        api = await make_api(models=table({"wan2.7.rate_limits": value}))
        for _ in range(allowed):
            await api.submit(wan27())
        response, answer = await send(api, "POST", GENERATION, wan27())
        assert (response.status, answer["code"]) == (429, "Throttling.RateQuota")
        assert "wan2.7.rate_limits" in marks(response)


async def test_interleave_usage_names_its_guess_and_can_count_images_only(make_api):
    """Interleaved output's tokens count its text by default, only 2 per image with `images`."""
    tokens = {}
    for value in ("text", "images"):
        api = await make_api(models=table({"interleave.usage": value, "sets.count": "exact"}))
        task_id = await api.submit(wan26(enable_interleave=True, max_images=1))
        await api.advance(300)
        response, answer = await send(api, "GET", f"/api/v1/tasks/{task_id}")
        assert "interleave.usage" in marks(response)
        tokens[value] = answer["usage"]["output_tokens"]
    assert tokens["images"] == 2 < tokens["text"]


def test_wanx21_output_size_follows_its_guess():
    """expand grows the image by its scales; with wanx2.1.output_size=input it does not."""
    parameters = {"top_scale": 1.5, "bottom_scale": 1.5}
    for value, size in (("function", (512, 1024)), ("input", (512, 512))):
        spec = table({"wanx2.1.output_size": value})["wanx2.1-imageedit"]
        assert output_size(spec, spec.modes["edit"], parameters, (512, 512), "expand") == size


async def test_wanx21_results_name_their_size_guess(api):
    """A wanx2.1 task's answers name wanx2.1.output_size."""
    response, _ = await send(api, "POST", SYNTHESIS, wanx21())
    assert marks(response) == ["wanx2.1.output_size"]


async def test_an_undocumented_wording_names_its_guess_and_can_be_generic(make_api):
    """A refusal no page words names errors.wording; `generic` answers with the code's catalogue
    message; a documented message names nothing."""
    body = wan27(images=(IMAGE,), bbox_list=[[[0, 0, 9, 9]] * 3])
    for value in ("own", "generic"):
        api = await make_api(models=table({"errors.wording": value}))
        response, answer = await send(api, "POST", GENERATION, body)
        assert "errors.wording" in marks(response)
        generic = answer["message"] == lookup("InvalidParameter").message
        assert generic == (value == "generic")
    response, answer = await send(api, "POST", GENERATION, wan26(enable_interleave=True, n=2))
    assert (answer["message"], marks(response)) == (N_MUST_BE_ONE, [])


async def test_a_list_status_outside_the_six_names_its_guess(make_api):
    """status=DONE is refused by default, an empty list with task.list_status=empty."""
    for value, status in (("refuse", 400), ("empty", 200)):
        api = await make_api(models=table({"task.list_status": value}))
        response, _ = await send(api, "GET", "/api/v1/tasks?status=DONE")
        assert (response.status, "task.list_status" in marks(response)) == (status, True)


async def test_a_box_let_through_by_the_alternatives_is_drawn_sorted_and_clipped(make_api):
    """With bbox.order=sort and bbox.outside=clip a reversed box past the edge is drawn: the
    result downloads as an image."""
    api = await make_api(models=table({"bbox.order": "sort", "bbox.outside": "clip"}))
    task_id = await api.submit(wan27(images=(IMAGE,), bbox_list=[[[600, 600, 10, 10]]]))
    await api.advance(120)
    url = (await api.task(task_id))["output"]["choices"][0]["message"]["content"][0]["image"]
    status, data = await api.download(url)
    assert (status, data[:4]) == (200, b"\x89PNG")
