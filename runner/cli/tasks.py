"""`wanform status` and `wanform cancel`: one task, one request, a short answer."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import TextIO

import click

from wanform.runner.api.answers import outcome, service_times
from wanform.runner.api.client import Answer, Client, session, task_path
from wanform.runner.api.errors import AccountError, EndpointError, RejectedError, WanformError
from wanform.runner.api.targets import EMULATOR_KEY, Target
from wanform.runner.cli.options import task_target_option
from wanform.runner.cli.steps import fail, resolve_target
from wanform.runner.engine.outputs import redact
from wanform.runner.exits import Exit

output_option = click.option(
    "-o", "--output", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)


@click.command()
@click.argument("task_id")
@task_target_option
@output_option
def status(task_id: str, target: str | None, fmt: str) -> None:
    """Show a task's status, times and result files (URLs without their signatures)."""
    _task_command("status", task_id, target, fmt)


@click.command()
@click.argument("task_id")
@task_target_option
@output_option
def cancel(task_id: str, target: str | None, fmt: str) -> None:
    """Cancel a task; DashScope cancels only tasks still PENDING."""
    _task_command("cancel", task_id, target, fmt)


def _task_command(action: str, task_id: str, target: str | None, fmt: str) -> None:
    """One request to the target the task was submitted to, and its answer printed."""
    try:
        task_path(task_id)
    except RejectedError as exc:
        fail(exc.message)
    chosen = resolve_target(target)
    if chosen.embedded:
        fail(
            f"{action} needs the target the task was submitted to: set DASHSCOPE_API_KEY or pass "
            "--target"
        )
    if not os.environ.get("DASHSCOPE_API_KEY", "").strip():  # a URL, else resolve refused
        fail(
            f"{action} --target URL needs DASHSCOPE_API_KEY, the key the task was submitted with "
            f"(its tasks are its own); `wanform run` without one used {EMULATOR_KEY}"
        )
    try:
        answer = asyncio.run(call(chosen, action, task_id))
    except (AccountError, EndpointError) as exc:
        fail(exc.line(), Exit.STOPPED)
    except WanformError as exc:
        fail(exc.line(), Exit.FAILED)
    (print_status if action == "status" else print_cancel)(task_id, answer, sys.stdout, fmt)


async def call(target: Target, action: str, task_id: str) -> Answer:
    """GET the task, or POST its cancel; raises wanform.runner.api.errors classes."""
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
