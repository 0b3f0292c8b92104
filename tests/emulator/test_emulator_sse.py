"""Streamed answers against spec/schemas/response-sse-chunk.schema.json (and the error schema)."""

from __future__ import annotations

import json

from emulator_api import KEY, SYNC, assert_schema, data_uri, wan26
from jsonschema import Draft7Validator

from wanform.spec.models import table
from wanform.spec.schema import load_schema

SSE = {"Authorization": f"Bearer {KEY}", "X-DashScope-Sse": "enable"}


async def events(api, body: dict) -> list[tuple[str, dict]]:
    """(event name, data) of each event of a streamed call."""
    response = await api.client.post(SYNC, json=body, headers=SSE)
    assert response.content_type == "text/event-stream"
    found = []
    for block in (await response.text()).strip().split("\n\n"):
        lines = dict(line.split(":", 1) for line in block.split("\n") if not line.startswith(":"))
        found.append((lines["event"], json.loads(lines["data"])))
    return found


async def test_interleaved_chunks_match_the_schema(make_api):
    api = await make_api(speed=1000.0, models=table({"sets.count": "exact"}))
    stream = await events(api, wan26(enable_interleave=True, max_images=3))
    assert [name for name, _ in stream] == ["result"] * 6
    for _, data in stream:
        assert_schema("response-sse-chunk", data)
    assert [data["output"]["finished"] for _, data in stream] == [False] * 5 + [True]


async def test_a_whole_answer_in_one_chunk_matches_the_schema(make_api):
    api = await make_api(speed=1000.0)
    [(name, data)] = await events(api, wan26(images=(data_uri(640, 640),)))
    assert name == "result"
    assert_schema("response-sse-chunk", data)


async def test_an_error_event_matches_the_error_schema(make_api):
    rule = {"action": "fail", "model": "wan2.6-image", "code": "InternalError"}
    api = await make_api(speed=1000.0, rules=(rule,))
    [(name, data)] = await events(api, wan26(images=(data_uri(640, 640),)))
    assert name == "error"
    assert_schema("response-error", data)


def test_the_schema_refuses_what_a_chunk_cannot_be() -> None:
    validator = Draft7Validator(load_schema("response-sse-chunk"))
    good = {
        "request_id": "r",
        "output": {
            "choices": [
                {
                    "finish_reason": "null",
                    "message": {"role": "assistant", "content": [{"type": "text", "text": "a"}]},
                }
            ],
            "finished": False,
        },
        "usage": {"image_count": 0, "size": "0*0"},
    }
    assert validator.is_valid(good)
    bad_reason = json.loads(json.dumps(good))
    bad_reason["output"]["choices"][0]["finish_reason"] = None
    no_image = json.loads(json.dumps(good))
    no_image["output"]["choices"][0]["message"]["content"] = [{"type": "image"}]
    assert not validator.is_valid(bad_reason) and not validator.is_valid(no_image)
