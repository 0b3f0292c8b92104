"""`wanform status` and `wanform cancel`: one task, one request, a short answer."""

from __future__ import annotations

import json
from typing import TextIO

from runner.api.answers import outcome, service_times
from runner.api.client import Answer, Client, session
from runner.api.targets import Target
from runner.engine.outputs import redact


async def call(target: Target, action: str, task_id: str) -> Answer:
    """GET the task, or POST its cancel; raises runner.errors."""
    async with session(target) as http:
        client = Client(http, target)
        return await (client.task(task_id) if action == "status" else client.cancel(task_id))


def _visible(answer: Answer) -> dict:
    """The answer as it may be shown: result URLs without their signed query strings."""
    return redact(answer.body)


def print_status(task_id: str, answer: Answer, out: TextIO, fmt: str) -> None:
    body = _visible(answer)
    if fmt == "json":
        out.write(json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        return
    output = body.get("output") or {}
    out.write(f"{task_id}: {output.get('task_status', 'UNKNOWN')}\n")
    for key, value in service_times(output).items():
        out.write(f"  {key}: {value}\n")
    if output.get("code"):
        out.write(f"  error: {output['code']}: {output.get('message', '')}\n")
    found = outcome(output)
    for index, url in found.urls.items():
        out.write(f"  image {index}: {url}\n")
    for failure in found.failures:
        out.write(f"  image {failure.index} failed: {failure.code}: {failure.message}\n")


def print_cancel(task_id: str, answer: Answer, out: TextIO, fmt: str) -> None:
    if fmt == "json":
        out.write(
            json.dumps(
                {"task_id": task_id, "canceled": True, "request_id": answer.request_id}, indent=2
            )
            + "\n"
        )
    else:
        out.write(f"{task_id}: CANCELED\n")
