"""The HTTP client: one aiohttp session, one attempt per call, every failure raised as a class of
`wanform.runner.api.errors`.

Retries, rate limits and bookkeeping live above this layer. The key goes only into the Authorization
header of requests to the target; uploads and result downloads (other hosts) never carry it.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from wanform.runner.api import errors, transport
from wanform.runner.api.clock import ServiceClock
from wanform.runner.api.errors import RejectedError, ServiceError, safe_url
from wanform.runner.api.targets import Target
from wanform.spec.models import OSS_SCHEME

USER_AGENT = "wanform/0.1 (+aiohttp)"
CHUNK = 64 * 1024  # what aiohttp reads at a time: a download holds no more than it has to
# DashScope's task ids are UUIDs; allow a little more, never a path, query or escape character
TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


def task_path(task_id: str, action: str = "") -> str:
    """The API path of a task (`/tasks/<id>[/action]`); RejectedError if the id is not an id."""
    if not TASK_ID.fullmatch(task_id):
        raise RejectedError(
            0,
            "InvalidTaskId",
            f"{task_id!r} is not a task id (letters, digits, - and _, at most 128)",
        )
    path = "/tasks/" + quote(task_id, safe="")  # the id is a single path segment, whatever it holds
    return f"{path}/{action}" if action else path


@dataclass(frozen=True)
class Timeouts:
    """Seconds per phase: `connect` includes waiting for a free pooled connection, `read` is the
    longest silence between bytes."""

    connect: float = 15.0
    read: float = 60.0
    sync_read: float = 300.0  # a sync call answers when the image is ready (the SDK waits 300 s)
    upload_read: float = 300.0

    def client(self, read: float | None = None) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(
            total=None,
            connect=self.connect,
            sock_connect=self.connect,
            sock_read=self.read if read is None else read,
        )


@dataclass
class Traffic:
    """What the run sent and heard: requests by kind, answers, 429s, and failures tried again."""

    requests: Counter = field(default_factory=Counter)
    answers: int = 0  # answers of any status: proof the target is reachable
    throttled: int = 0
    retried: int = 0  # failures that were tried again


@dataclass(frozen=True)
class Answer:
    """A 2xx answer's JSON body."""

    body: dict
    status: int

    @property
    def request_id(self) -> str:
        return str(self.body.get("request_id") or "")


class Client:
    """DashScope's HTTP API against one target."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        target: Target,
        timeouts: Timeouts = Timeouts(),
        traffic: Traffic | None = None,
    ) -> None:
        self.session = session
        self.target = target
        self.timeouts = timeouts
        self.traffic = traffic if traffic is not None else Traffic()
        self.clock = ServiceClock()  # the target's time, from its answers' Date headers
        # made once: a run sends thousands of requests with the same headers and timeout
        self._headers = {"Authorization": f"Bearer {target.api_key}", "Accept": "application/json"}
        self._json_headers = {**self._headers, "Content-Type": "application/json"}
        self._timeout = timeouts.client()

    async def _call(
        self,
        kind: str,
        method: str,
        path: str,
        *,
        body: dict | None = None,
        headers: Mapping[str, str] = {},
        params: Mapping[str, str] | None = None,
        read: float | None = None,
    ) -> Answer:
        """One request to the API; the single place its answers and failures become runner
        errors."""
        url = self.target.base_url + path
        self.traffic.requests[kind] += 1
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        sent = self._headers if data is None else self._json_headers
        sent_at = time.time()
        try:
            async with self.session.request(
                method,
                url,
                data=data,
                headers={**sent, **headers} if headers else sent,
                params=params,
                timeout=self._timeout if read is None else self.timeouts.client(read),
                allow_redirects=False,
            ) as resp:
                parsed = _parsed(await resp.read(), resp)
                status, retry_after = resp.status, resp.headers.get("Retry-After")
                self.clock.heard(resp.headers.get("Date"), sent_at, time.time())
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise transport.from_transport(exc, where=f"{method} {safe_url(url)}") from None
        return self._answer(status, parsed, method, url, retry_after)

    def _answer(
        self, status: int, parsed: Any, method: str, url: str, retry_after: str | None
    ) -> Answer:
        self.traffic.answers += 1
        if status == 429:
            self.traffic.throttled += 1
        # an error-shaped body is an error even under a 200: DashScope's own v2 SDK expects its
        # gateway to answer so
        ok = 200 <= status < 300
        if ok and isinstance(parsed, dict) and not _error_shaped(parsed):
            return Answer(parsed, status)
        where = f"{method} {safe_url(url)}"  # made only for an error
        if not ok:
            raise errors.from_answer(status, parsed, where=where, retry_after_header=retry_after)
        if not isinstance(parsed, dict):
            raise ServiceError(
                status,
                "InvalidResponse",
                f"{where} answered {status} with a body that is not a JSON object",
                where=where,
            )
        raise errors.from_answer(status, parsed, where=where)

    async def submit(
        self, path: str, body: dict, headers: Mapping[str, str], synchronous: bool = False
    ) -> Answer:
        """POST a generation request; async answers carry `output.task_id`."""
        read = self.timeouts.sync_read if synchronous else None
        return await self._call("submit", "POST", path, body=body, headers=headers, read=read)

    async def task(self, task_id: str) -> Answer:
        return await self._call("query", "GET", task_path(task_id))

    async def cancel(self, task_id: str) -> Answer:
        return await self._call("cancel", "POST", task_path(task_id, "cancel"))

    async def tasks(self, **params: str) -> Answer:
        """One page of the account's task list (filters: model_name, status, start_time,
        end_time, page_no, page_size)."""
        return await self._call("list", "GET", "/tasks", params=params)

    async def upload(self, model: str, name: str, data: bytes, mime: str) -> str:
        """The temporary-upload flow: a policy, then a form POST to its host; returns the file's
        `oss://` URL."""
        policy = (
            await self._call(
                "policy", "GET", "/uploads", params={"action": "getPolicy", "model": model}
            )
        ).body
        fields = policy.get("data") or {}
        try:
            key = f"{fields['upload_dir']}/{name}"
            form = aiohttp.FormData()
            for field_name, source in (
                ("OSSAccessKeyId", "oss_access_key_id"),
                ("Signature", "signature"),
                ("policy", "policy"),
                ("key", None),
                ("x-oss-object-acl", "x_oss_object_acl"),
                ("x-oss-forbid-overwrite", "x_oss_forbid_overwrite"),
            ):
                form.add_field(field_name, key if source is None else str(fields[source]))
            host = str(fields["upload_host"])
        except KeyError as exc:
            raise ServiceError(
                200, "InvalidResponse", f"the upload policy lacks {exc}", where="GET /uploads"
            ) from None
        form.add_field("success_action_status", "200")
        form.add_field("x-oss-content-type", mime)
        form.add_field("file", data, filename=name, content_type=mime)
        await self._form_post(host, form)
        return f"{OSS_SCHEME}{key}"

    async def _form_post(self, host: str, form: aiohttp.FormData) -> None:
        where = f"POST {safe_url(host)}"
        self.traffic.requests["upload"] += 1
        headers = {
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "Date": format_datetime(datetime.now(UTC), usegmt=True),
        }
        try:
            async with self.session.post(
                host,
                data=form,
                headers=headers,
                allow_redirects=False,
                timeout=self.timeouts.client(self.timeouts.upload_read),
            ) as resp:
                text = await resp.text(errors="replace")
                status = resp.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise transport.from_transport(exc, where=where) from None
        if not 200 <= status < 300:
            raise errors.from_result_status(status, text, where=where)

    async def download(self, url: str, sink: Callable[[bytes], Awaitable[None]]) -> int:
        """Stream a result file into `sink` and return its size; a cut-off body raises
        DisconnectedError."""
        where = f"GET {safe_url(url)}"
        self.traffic.requests["download"] += 1
        size = 0
        try:
            async with self.session.get(
                url,
                headers={"User-Agent": USER_AGENT},
                allow_redirects=True,
                timeout=self.timeouts.client(),
            ) as resp:
                if not 200 <= resp.status < 300:
                    raise errors.from_result_status(
                        resp.status, await resp.text(errors="replace"), where=where
                    )
                async for chunk in resp.content.iter_chunked(CHUNK):
                    try:
                        await sink(chunk)
                    except OSError as exc:
                        raise errors.FileError(
                            f"cannot write the download: {exc.strerror or exc}"
                        ) from None
                    size += len(chunk)
                expected = resp.content_length
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise transport.from_transport(exc, where=where) from None
        if expected is not None and size != expected:
            raise errors.DisconnectedError(f"{where}: got {size} of {expected} bytes", where=where)
        return size


def _error_shaped(body: dict) -> bool:
    """Whether a body reads as page 002's error response: a code, and no output or data."""
    return bool(body.get("code")) and "output" not in body and "data" not in body


def _parsed(raw: bytes, resp: aiohttp.ClientResponse) -> Any:
    """An answer's body: its JSON, or its text when it is not JSON (an HTML error page). UTF-8
    JSON, the usual body, is parsed from the bytes, with no text made of them."""
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        pass
    text = raw.decode(resp.get_encoding(), errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def session(target: Target, limit: int = 100) -> aiohttp.ClientSession:
    """The run's one session; proxies from the environment apply except to a loopback target."""
    connector = aiohttp.TCPConnector(limit=limit, ttl_dns_cache=300)
    return aiohttp.ClientSession(
        connector=connector, headers={"User-Agent": USER_AGENT}, trust_env=not target.loopback
    )
