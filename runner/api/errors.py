"""Everything that can go wrong between the runner and DashScope, as one exception hierarchy.

    WanformError              one line for a person: what failed, the DashScope code, what to do
    ├── TargetError           the target cannot be used as given (bad URL, missing workspace id)
    ├── TransportError        no answer from the service; retried
    │   ├── ConnectError      no connection was made, so nothing was sent
    │   ├── DisconnectedError the connection broke after the request went out: outcome unknown
    │   └── ReadTimeoutError  the answer did not come in time: outcome unknown
    ├── ApiError              the service answered with an error body (status, code, message)
    │   ├── RetryableError    it may work later; retried
    │   │   ├── ThrottledError  429 Throttling*, with the server's Retry-After if any
    │   │   └── ServiceError    5xx InternalError, ModelUnavailable, ...
    │   ├── RejectedError     this request cannot succeed (InvalidParameter, ...)
    │   ├── AccountError      nothing can succeed with this key (InvalidApiKey, ...): stops the run
    │   └── EndpointError     the target is not a DashScope API (404/405, no error body): stops
    ├── TaskFailedError       the task ended FAILED (code and message from the task body)
    ├── OutcomeUnknownError   a sync call broke after sending: maybe billed; not retried
    └── FileError             an upload or a result file failed, or a result is not what it claims

Which kind each DashScope code is (and so which class it becomes) is spec/errors.py's. aiohttp's
exceptions and DashScope's codes become these classes in exactly two places:
`transport.from_transport` and `from_answer`. Messages never hold a key or a signed URL's query
string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import MappingProxyType
from urllib.parse import urlsplit, urlunsplit

from wanform.spec.errors import Kind, kind_of_status, lookup


class WanformError(Exception):
    """Base of every error the runner reports;
    `where` is the request (method and URL without its query)."""

    code = "WanformError"
    hint = ""

    def __init__(self, message: str, *, where: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.where = where

    def line(self) -> str:
        """The error as one line: code, message, and what to do."""
        text = f"{self.code}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class TargetError(WanformError):
    code = "TargetError"


class TransportError(WanformError):
    """No answer from the service. `sent` tells whether the request may have reached it."""

    code = "ConnectionError"
    sent = True
    hint = "check the network and the target URL"


class ConnectError(TransportError):
    sent = False


class DisconnectedError(TransportError):
    code = "Disconnected"


class ReadTimeoutError(TransportError):
    code = "Timeout"


class ApiError(WanformError):
    """An error answer: HTTP status, DashScope code and message, and the service's request id."""

    def __init__(
        self, status: int, code: str, message: str, *, request_id: str = "", where: str = ""
    ) -> None:
        super().__init__(message, where=where)
        self.status = status
        self.code = code
        self.request_id = request_id


class RetryableError(ApiError):
    retry_after: float | None = None


class ThrottledError(RetryableError):
    hint = "the account's rate limit was hit; lower --submit-rps, --max-in-flight or --query-rps"


class ServiceError(RetryableError):
    hint = "a DashScope-side failure; try again later"


class RejectedError(ApiError):
    hint = "the service refused this request; `wanform render` shows exactly what was sent"


class AccountError(ApiError):
    hint = (
        "check DASHSCOPE_API_KEY, its region (keys are per region) and the account in the "
        "Model Studio console"
    )


class EndpointError(ApiError):
    hint = "the target should be a DashScope API base URL, such as https://dashscope.aliyuncs.com/api/v1"


class TaskFailedError(WanformError):
    """The task ended FAILED; `code` is the task's own code."""

    hint = "the task failed on the service side; failed tasks are not billed"

    def __init__(self, code: str, message: str, *, task_id: str = "") -> None:
        super().__init__(message)
        self.code = code or "TaskFailed"
        self.task_id = task_id


class OutcomeUnknownError(WanformError):
    code = "OutcomeUnknown"
    hint = (
        "the image may have been made and billed; check the Model Studio console before "
        "running the job again"
    )


class FileError(WanformError):
    code = "FileTransfer"
    hint = "result URLs expire 24 h after the task ends; rerun to fetch what is still there"


# Hints for codes whose remedy is more specific than their class's.
HINTS: Mapping[str, str] = MappingProxyType(
    {
        "InvalidApiKey": "set DASHSCOPE_API_KEY to a key of the target's region",
        "NOT AUTHORIZED": "DASHSCOPE_WORKSPACE_ID or the workspace host does not match the key",
        "Arrearage": "the account is in arrears; top it up in the Alibaba Cloud console",
        "DataInspectionFailed": (
            "content moderation refused the input or output; change the prompt or images"
        ),
        "IPInfringementSuspect": "the input looks like protected IP; change the prompt or images",
        "AccessDenied": "this key may not use this model or endpoint in this region",
        "UnsupportedOperation": (
            "only a task still PENDING can be cancelled; `wanform status` shows where it is"
        ),
        "Throttling.AllocationQuota": "the account's quota is used up; raise it in the console",
    }
)

# What each kind of documented error (spec/errors.py) becomes.
KIND_CLASSES: Mapping[Kind, type[ApiError]] = MappingProxyType(
    {
        "account": AccountError,
        "rejected": RejectedError,
        "endpoint": EndpointError,
        "throttled": ThrottledError,
        "service": ServiceError,
    }
)


def safe_url(url: object) -> str:
    """A URL without its query string and fragment (signed URLs carry their credentials there)."""
    parts = urlsplit(str(url))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def api_class(code: str) -> type[ApiError] | None:
    """The class of a documented code, or of its family (`InternalError.X` -> InternalError)."""
    known = lookup(code)
    return KIND_CLASSES[known.kind] if known else None


def _by_status(status: int) -> type[ApiError]:
    return KIND_CLASSES[kind_of_status(status)]


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header
    (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def from_answer(
    status: int, body: object, *, where: str, retry_after_header: str | None = None
) -> ApiError:
    """The error for a non-2xx answer: the body's code decides,
    the HTTP status when the code is unknown."""
    data = body if isinstance(body, dict) else {}
    code = str(data.get("code") or f"HTTP{status}")
    message = str(data.get("message") or data.get("msg") or _no_body_message(status, body))
    cls = api_class(code) or (
        EndpointError if not data and status in (404, 405) else _by_status(status)
    )
    error = cls(status, code, message, request_id=str(data.get("request_id") or ""), where=where)
    if isinstance(error, RetryableError):
        error.retry_after = retry_after(retry_after_header)
    if code in HINTS:
        error.hint = HINTS[code]
    return error


def _no_body_message(status: int, body: object) -> str:
    text = body if isinstance(body, str) else ""
    detail = " ".join(text.split())[:120]
    return f"HTTP {status} without a DashScope error body{': ' + detail if detail else ''}"


def _oss_detail(text: str) -> str:
    """An OSS error body's Code and Message only
    (its other fields may echo the request's signature)."""
    fields = [
        m.group(1)
        for m in (re.search(f"<{tag}>([^<]*)</{tag}>", text) for tag in ("Code", "Message"))
        if m
    ]
    return ": ".join(fields) if fields else " ".join(text.split())[:120]


def from_result_status(status: int, text: str, *, where: str) -> WanformError:
    """The error for a non-2xx answer from a file host
    (uploads, result files): 429 and 5xx may pass."""
    detail = _oss_detail(text) if text.lstrip().startswith("<") else " ".join(text.split())[:120]
    message = f"{where} answered HTTP {status}{': ' + detail if detail else ''}"
    if status == 429 or status >= 500:
        return ServiceError(status, f"HTTP{status}", message, where=where)
    return FileError(message, where=where)
