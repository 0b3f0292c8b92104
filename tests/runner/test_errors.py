"""The error hierarchy's one mapping from aiohttp exceptions and DashScope codes,
and what is retried."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime

import aiohttp
import pytest

from wanform.runner.api import errors
from wanform.runner.api.errors import (
    AccountError,
    ConnectError,
    DisconnectedError,
    EndpointError,
    ReadTimeoutError,
    RejectedError,
    ServiceError,
    ThrottledError,
    from_answer,
)
from wanform.runner.api.retries import backoff
from wanform.runner.api.transport import TRANSPORT, from_transport
from wanform.spec.errors import CATALOGUE

NEVER_RETRIED = (
    "InvalidParameter",
    "DataInspectionFailed",
    "IPInfringementSuspect",
    "InvalidApiKey",
    "Arrearage",
    "AccessDenied",
)
WHERE = "POST http://127.0.0.1:1/api/v1/tasks"


def aiohttp_exceptions() -> list[type]:
    """Every exception class aiohttp exports."""
    return sorted(
        {
            obj
            for _, obj in inspect.getmembers(aiohttp, inspect.isclass)
            if issubclass(obj, aiohttp.ClientError)
        },
        key=lambda c: c.__name__,
    )


@pytest.mark.parametrize("cls", aiohttp_exceptions(), ids=lambda c: c.__name__)
def test_every_aiohttp_exception_is_mapped_by_name(cls):
    """Each aiohttp exception class has its own entry in the mapping,
    so a new one fails here, not in a run."""
    assert cls in TRANSPORT


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_catalogued_code_is_classified_as_the_catalogue_says(code):
    """The runner's answer to each documented code, at its documented status, matches its kind."""
    entry = CATALOGUE[code]
    error = from_answer(entry.status, {"code": code, "message": entry.message}, where=WHERE)
    assert (bool(backoff(error)), isinstance(error, AccountError)) == (
        entry.retryable,
        entry.account_level,
    )
    assert errors.KIND_CLASSES[entry.kind] is type(error)


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_a_code_classifies_the_same_at_any_status(code):
    """The code decides, not the status: a catalogued code at an unlikely status keeps its class."""
    odd_status = 400 if CATALOGUE[code].status != 400 else 503
    error = from_answer(odd_status, {"code": code, "message": "m"}, where=WHERE)
    assert type(error) is errors.KIND_CLASSES[CATALOGUE[code].kind]


@pytest.mark.parametrize("code", NEVER_RETRIED)
def test_codes_that_cannot_succeed_later_are_never_retried(code):
    """InvalidParameter, moderation, IP, key, arrears and access answers are final."""
    entry = CATALOGUE[code]
    answer = {"code": code, "message": entry.message}
    assert backoff(from_answer(entry.status, answer, where=WHERE)) is False


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("InvalidApiKey", AccountError),
        ("Arrearage", AccountError),
        ("AccessDenied", AccountError),
        ("InvalidParameter", RejectedError),
        ("DataInspectionFailed", RejectedError),
        ("Throttling.RateQuota", ThrottledError),
        ("InternalError.Algo", ServiceError),
        ("ModelUnavailable", ServiceError),
        ("NotFound", EndpointError),
    ],
)
def test_codes_map_to_their_class(code, cls):
    """The code decides the class, whatever the status."""
    assert type(from_answer(400, {"code": code, "message": "m"}, where=WHERE)) is cls


@pytest.mark.parametrize(
    ("status", "cls"),
    [(429, ThrottledError), (503, ServiceError), (401, AccountError), (400, RejectedError)],
)
def test_unknown_codes_fall_back_to_the_status(status, cls):
    """A code DashScope has not documented is judged by its HTTP status."""
    assert type(from_answer(status, {"code": "Brand.New", "message": "m"}, where=WHERE)) is cls


def test_a_404_without_a_dashscope_body_is_a_wrong_target():
    """An HTML 404 means the target is not a DashScope API:
    the run stops rather than failing each job."""
    error = from_answer(404, "<html>Not Found</html>", where=WHERE)
    assert type(error) is EndpointError
    assert error.line() == (
        "HTTP404: HTTP 404 without a DashScope error body: <html>Not Found</html> (the target "
        "should be a DashScope API base URL, such as https://dashscope.aliyuncs.com/api/v1)"
    )


def test_retry_after_is_honoured_in_seconds_and_as_a_date():
    """Retry-After becomes the wait before the next attempt, in either of its two forms."""
    assert (
        backoff(from_answer(429, {"code": "Throttling"}, where=WHERE, retry_after_header="3"))
        == 3.0
    )
    now = datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC)
    assert errors.retry_after("Thu, 01 Jan 2026 00:00:07 GMT", now) == 7.0
    assert backoff(from_answer(429, {"code": "Throttling"}, where=WHERE)) is True


@pytest.mark.parametrize(
    ("exc", "cls", "sent"),
    [
        (aiohttp.ServerDisconnectedError(), DisconnectedError, True),
        (aiohttp.ClientPayloadError("Response payload is not completed"), DisconnectedError, True),
        (aiohttp.SocketTimeoutError("Timeout on reading data from socket"), ReadTimeoutError, True),
        (aiohttp.ConnectionTimeoutError("Connection timeout to host"), ConnectError, False),
        (TimeoutError(), ReadTimeoutError, True),
    ],
)
def test_transport_failures_say_whether_the_request_may_have_arrived(exc, cls, sent):
    """A failure after sending leaves the outcome unknown; one before connecting does not."""
    error = from_transport(exc, where=WHERE)
    assert (type(error), error.sent, backoff(error)) == (cls, sent, True)


def test_transport_messages_drop_signed_queries():
    """A URL inside aiohttp's message loses its query string (OSS signatures live there)."""
    exc = aiohttp.ClientPayloadError("GET http://oss/x.png?Expires=1&Signature=abc failed")
    assert "Signature" not in from_transport(exc, where="GET http://oss/x.png").message


def test_an_exception_outside_the_mapping_is_not_swallowed():
    """Anything that is not a transport failure is a bug and keeps its traceback."""
    with pytest.raises(KeyError):
        from_transport(KeyError("x"), where=WHERE)


def test_a_result_host_error_keeps_only_its_code_and_message():
    """An OSS error body is cut to Code and Message; an expired link is not retried, a 503 is."""
    body = (
        "<?xml version='1.0'?><Error><Code>AccessDenied</Code>"
        "<Message>Request has expired.</Message>"
        "<SignatureProvided>abc</SignatureProvided></Error>"
    )
    expired = errors.from_result_status(403, body, where="GET http://oss/x.png")
    assert (expired.line(), backoff(expired)) == (
        "FileTransfer: GET http://oss/x.png answered HTTP 403: AccessDenied: Request has expired. "
        "(result URLs expire 24 h after the task ends; rerun to fetch what is still there)",
        False,
    )
    assert backoff(errors.from_result_status(503, "", where="GET http://oss/x.png")) is True
