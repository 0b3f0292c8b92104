"""Playing a case against a target over aiohttp: its requests, paced to the documented limits,
then its tasks polled to their end, each answer kept as the snapshot's observation.

Pacing and polling run on the target's time: an emulator's virtual clock runs `speed` times
faster than the wall clock, so its waits shrink by that factor.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp

from wanform.runner.api import transport
from wanform.runner.api.client import USER_AGENT
from wanform.runner.api.errors import safe_url
from wanform.runner.contract import normalise
from wanform.runner.contract.suite import INVALID_KEY, UNKNOWN_TASK, Call, Case
from wanform.spec.emulator.wire import FAULT_HEADER, HOLD, RELEASE, UNVERIFIED_HEADER
from wanform.spec.models import ENDED_STATUSES, MODELS, TASK_QUERY_RPS, TaskStatus

POLL_SECONDS = 2.0  # between task queries to DashScope
EMULATOR_POLL_SECONDS = 0.5  # to an emulator, on its clock: no running task ends unseen
TASK_BUDGET_SECONDS = 15 * 60  # a task still running after this (target time) is given up
RATE_MARGIN = 1.25  # requests are spaced a quarter more than the documented rate needs
READ_SECONDS = 330.0  # a synchronous call answers when its image is ready
TASK_QUERY = "GET /tasks/{task}"  # how snapshots name a task's query and cancel
TASK_CANCEL = "POST /tasks/{task}/cancel"


@dataclass(frozen=True)
class Where:
    """The target as the suite calls it: base URL, key (never shown), and its clock speed
    (1 for DashScope; an emulator's own speed)."""

    base_url: str
    api_key: str = field(repr=False)
    emulator: bool = False
    speed: float = 1.0


class CannotPlay(Exception):
    """This target cannot play the case (the message says why); nothing was sent for it."""


class Pacer:
    """Keeps each kind of request at its documented rate on the target's clock."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.next: dict[str, float] = {}

    async def wait(self, kind: str, rate: float) -> None:
        now = time.monotonic()
        start = max(now, self.next.get(kind, now))
        self.next[kind] = start + RATE_MARGIN / rate / self.speed
        await asyncio.sleep(start - now)


def _headers(where: Where, call: Call, fault: Mapping | None) -> dict[str, str]:
    out = {"User-Agent": USER_AGENT, "Accept": "application/json", **call.headers}
    if call.auth != "none":
        key = where.api_key if call.auth == "key" else INVALID_KEY
        out["Authorization"] = f"Bearer {key}"
    if call.body is not None:
        out["Content-Type"] = "application/json"
    if fault is not None:
        out[FAULT_HEADER] = json.dumps(fault)
    return out


def _payload(body: Mapping | str | None) -> io.BytesIO | None:
    """The body as a stream: aiohttp sends a stream of megabytes (the oversized data URI)
    without holding up the event loop."""
    if body is None:
        return None
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    return io.BytesIO(text.encode("utf-8"))


def _sse(text: str) -> tuple[list[object], list[str]]:
    """The JSON payloads of an event stream's `data:` lines and the names of its line fields (a
    comment line `:X/...` counts as `:X`)."""
    events: list[object] = []
    fields: set[str] = set()
    for line in text.splitlines():
        if not line:
            continue
        name, _, value = line.partition(":")
        fields.add(name or ":" + value.split("/")[0])
        if name == "data":
            try:
                events.append(json.loads(value))
            except ValueError:
                events.append(value)
    return events, sorted(fields)


def observe(call: str, status: int, headers: Mapping[str, str], text: str) -> dict:
    """One answer as a snapshot keeps it."""
    stream = "text/event-stream" in headers.get("Content-Type", "")
    if stream:
        events, fields = _sse(text)
    else:
        try:
            events, fields = [json.loads(text) if text else None], []
        except ValueError:
            events, fields = [text], []
    keys: dict[str, str] = {}
    for event in events:
        keys.update(normalise.key_paths(event))
    code, message = normalise.error_of(events[-1] if events else None)
    counts = [normalise.image_count(e) for e in events]
    out = {
        "call": call,
        "status": status,
        "code": code,
        "message": message,
        "keys": dict(sorted(keys.items())),
        "images": sum(c for c in counts if c) if any(c is not None for c in counts) else None,
    }
    if stream:
        out["stream"] = fields
    unverified = headers.get(UNVERIFIED_HEADER, "")
    out["unverified"] = sorted({g.strip() for g in unverified.split(",") if g.strip()})
    return out


class Player:
    """Plays cases against one target through one aiohttp session."""

    def __init__(self, http: aiohttp.ClientSession, where: Where) -> None:
        self.http = http
        self.where = where
        self.pacer = Pacer(where.speed)
        self.unknown = str(uuid.uuid4())  # a task id nobody has, the same for the whole run

    async def send(
        self, call: Call, fault: Mapping | None = None, model: str = "", label: str = ""
    ) -> tuple:
        """(observation, parsed body) of one request; `label` names it in the snapshot instead
        of its path (which may hold a task id)."""
        path = call.path.replace(UNKNOWN_TASK, self.unknown)
        url = self.where.base_url + path
        rate = MODELS[model].submit_rps if model in MODELS else TASK_QUERY_RPS
        await self.pacer.wait(model or "tasks", rate)
        try:
            async with self.http.request(
                call.method,
                url,
                data=_payload(call.body),
                headers=_headers(self.where, call, fault),
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=READ_SECONDS),
            ) as resp:
                text = await resp.text(errors="replace")
                status, headers = resp.status, resp.headers
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise transport.from_transport(exc, where=f"{call.method} {safe_url(url)}") from None
        seen = observe(label or call.describe(), status, headers, text)
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        return seen, body

    async def poll(self, task_id: str, first: str) -> dict:
        """Query a task until it ends; its status sequence (repeats collapsed), images and the
        shape of its last answer."""
        statuses = [first]
        deadline = time.monotonic() + TASK_BUDGET_SECONDS / self.where.speed
        while True:
            pause = EMULATOR_POLL_SECONDS if self.where.emulator else POLL_SECONDS
            await asyncio.sleep(pause / self.where.speed)
            seen, body = await self.send(Call("GET", f"/tasks/{task_id}"), label=TASK_QUERY)
            status = normalise.task_status(body) or f"HTTP {seen['status']}"
            if status != statuses[-1]:
                statuses.append(status)
            over = time.monotonic() > deadline
            if over or seen["status"] != 200 or status in (*ENDED_STATUSES, TaskStatus.UNKNOWN):
                return {
                    "statuses": statuses + (["(gave up waiting)"] if over else []),
                    "images": seen["images"] or 0,
                    "keys": seen["keys"],
                    "code": seen["code"],
                    "message": seen["message"],
                    "unverified": seen["unverified"],
                }

    async def _admin(self, route: str, model: str) -> bool:
        """Ask an emulator to hold or release a model's new tasks; False if it cannot."""
        parts = urlsplit(self.where.base_url)
        url = f"{parts.scheme}://{parts.netloc}{route}"
        try:
            async with self.http.post(url, json={"model": model}, allow_redirects=False) as resp:
                return resp.status == 200
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise transport.from_transport(exc, where=f"POST {safe_url(url)}") from None

    async def _cancel(self, task_id: str) -> dict:
        return (await self.send(Call("POST", f"/tasks/{task_id}/cancel"), label=TASK_CANCEL))[0]

    async def play(self, case: Case) -> dict:
        """Every request of `case`, its tasks polled to their end: the observation a snapshot
        holds (before `record` adds the case's description)."""
        fault = case.fault if self.where.emulator else None
        # a cancel at once is certain only while the emulator holds the model's tasks in PENDING
        held = case.cancel == "at-once"
        if held and not await self._admin(HOLD, case.model):
            raise CannotPlay(f"this emulator cannot hold tasks in PENDING (POST {HOLD})")
        answers, created = [], []
        for call in case.calls:
            submits = call.method == "POST" and call.path.startswith("/services/")
            seen, body = await self.send(call, fault, case.model if submits else "")
            answers.append(seen)
            output = body.get("output") if isinstance(body, dict) else None
            if seen["status"] == 200 and isinstance(output, dict) and output.get("task_id"):
                created.append((str(output["task_id"]), str(output.get("task_status"))))
        cancel = None
        if case.cancel == "at-once" and created:
            cancel = await self._cancel(created[0][0])
        if held:
            await self._admin(RELEASE, case.model)
        # polled side by side, so that no task ends unseen while another is watched
        tasks = list(await asyncio.gather(*(self.poll(*pair) for pair in created)))
        if case.cancel == "after" and created:
            cancel = await self._cancel(created[0][0])
        sync_images = sum(a["images"] or 0 for a in answers if a["status"] == 200)
        return {
            "answers": answers,
            "tasks": tasks,
            "cancel": cancel,
            "images": sync_images + sum(t["images"] for t in tasks),
        }
