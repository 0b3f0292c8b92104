"""Admin listings the dashboard draws, also for any client: accounts, tasks, result thumbnails.

GET /__emulator/accounts                 {"accounts": [{"key_id", "uid", "tasks"}]}
GET /__emulator/tasks[?account=ID&limit=N]  tasks newest first: id, account, model, status,
                                         times, prompt, images, failures, thumbnail links
GET /__emulator/tasks/{id}/images/{i}    a small PNG of result image i (from 0) of a SUCCEEDED task
"""

from __future__ import annotations

import asyncio
import io
import itertools

from aiohttp import web
from PIL import Image

from wanform.emulator.errors import ErrorReply, invalid_parameter
from wanform.emulator.http.context import EMULATOR
from wanform.emulator.state.clock import task_time
from wanform.emulator.state.results import ResultFile
from wanform.emulator.state.tasks import Task
from wanform.spec.emulator.wire import ACCOUNTS, TASK_IMAGE, TASKS
from wanform.spec.models import TaskStatus

THUMB_EDGE = 160
DEFAULT_LIMIT = 200
MAX_LIMIT = 10_000


def limit(request: web.Request) -> int:
    """`?limit=N` (1 to MAX_LIMIT), DEFAULT_LIMIT when absent; 400 for anything else."""
    text = request.query.get("limit", str(DEFAULT_LIMIT))
    if not (text.isascii() and text.isdigit() and len(text) <= 6 and 1 <= int(text) <= MAX_LIMIT):
        raise invalid_parameter(f"limit must be a whole number from 1 to {MAX_LIMIT}, got {text!r}")
    return int(text)


def _time(value: float | None) -> str | None:
    return task_time(value) if value is not None else None


def describe(task: Task, now: float) -> dict:
    """A task as the admin API lists it; images are numbered from 0, like the result files."""
    status = task.status(now)
    done = task.succeeded_indexes() if status == TaskStatus.SUCCEEDED else []
    failures = {str(i): {"code": c, "message": m} for i, (c, m) in task.failed_images.items()}
    return {
        "task_id": task.task_id,
        "account": task.account.key_id,
        "model": task.brief.model,
        "endpoint": task.endpoint,
        "status": status,
        "submit_time": _time(task.submitted),
        "scheduled_time": _time(
            task.scheduled if task.scheduled and task.scheduled <= now else None
        ),
        "end_time": _time(task.end if task.end is not None and task.end <= now else None),
        "canceled_time": _time(task.canceled),
        "prompt": task.brief.prompt,
        "images": task.brief.count,
        "size": task.brief.size,
        "failure": _failure(task) if status == TaskStatus.FAILED else None,
        "failed_images": failures if status in (TaskStatus.SUCCEEDED, TaskStatus.FAILED) else {},
        "thumbnails": [TASK_IMAGE.format(task_id=task.task_id, index=i) for i in done],
    }


def _failure(task: Task) -> dict | None:
    """Why a FAILED task failed: its own failure, else its first failed image's."""
    found = task.failure or next(iter(task.failed_images.values()), None)
    return None if found is None else {"code": found[0], "message": found[1]}


async def accounts(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    rows = [
        {"key_id": a.key_id, "uid": a.uid, "tasks": sum(1 for _ in emulator.tasks.tasks(a))}
        for a in emulator.tasks.accounts()
    ]
    return web.json_response({"accounts": rows})


async def tasks(request: web.Request) -> web.Response:
    """Every account's tasks (or one's, `?account=KEY_ID`), newest first, at most `limit`."""
    emulator = request.app[EMULATOR]
    wanted = request.query.get("account")
    count = limit(request)
    found = [
        task
        for account in emulator.tasks.accounts()
        if wanted is None or account.key_id == wanted
        for task in emulator.tasks.tasks(account)
    ]
    found.sort(key=lambda t: t.submitted, reverse=True)
    now = emulator.clock.now()
    return web.json_response({"tasks": [describe(t, now) for t in itertools.islice(found, count)]})


def _small_png(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        image.thumbnail((THUMB_EDGE, THUMB_EDGE))
        out = io.BytesIO()
        image.save(out, "PNG")
    return out.getvalue()


async def thumbnail(request: web.Request) -> web.Response:
    """A result image, small; 404 while the task has not SUCCEEDED or the image failed."""
    emulator = request.app[EMULATOR]
    task = emulator.tasks.find(request.match_info["task_id"])
    index_text = request.match_info["index"]
    index = int(index_text) if index_text.isascii() and index_text.isdigit() else -1
    succeeded = task is not None and task.status(emulator.clock.now()) == TaskStatus.SUCCEEDED
    if task is None or not succeeded or index not in task.succeeded_indexes():
        raise ErrorReply(404, "NotFound", "no such result image")
    data = await emulator.results.png(ResultFile(task.tokens[index], task, index))
    small = await asyncio.get_running_loop().run_in_executor(emulator.executor, _small_png, data)
    return web.Response(
        body=small,
        content_type="image/png",
        headers={"Cache-Control": "private, max-age=86400"},
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get(ACCOUNTS, accounts)
    app.router.add_get(TASKS, tasks)
    app.router.add_get(TASK_IMAGE, thumbnail)
