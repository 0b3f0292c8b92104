"""DashScope's error answers: the exceptions handlers raise to send them, and their bodies.

Every error a client can see leaves the emulator through `error_body`, so its shape
(`{request_id, code, message}`, page 002) is decided in one place. The codes, statuses and
messages themselves are facts of the API, in spec/errors.py.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from wanform.spec.errors import RATE_LIMITED


class ErrorReply(Exception):
    """An answer in DashScope's flat error shape; raise it anywhere below a handler."""

    def __init__(
        self, status: int, code: str, message: str, unverified: tuple[str, ...] = ()
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.unverified = unverified  # ids of the guesses (spec/guesses.yaml) this answer rests on


class OssError(Exception):
    """An object-storage refusal (uploads, result files),
    answered as OSS does: XML with Code and Message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class ConnectionDropped(Exception):
    """Close the client's connection without any answer (an injected fault)."""


def error_body(request_id: str, code: str, message: str) -> dict:
    """The flat error object every DashScope endpoint answers with."""
    return {"request_id": request_id, "code": code, "message": message}


def oss_error_body(request_id: str, code: str, message: str) -> str:
    """OSS's XML error document."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n  <Code>{escape(code)}</Code>\n'
        f"  <Message>{escape(message)}</Message>\n"
        f"  <RequestId>{escape(request_id)}</RequestId>\n</Error>\n"
    )


def no_such_key() -> OssError:
    return OssError(404, "NoSuchKey", "The specified key does not exist.")


def input_gone() -> OssError:
    """A result whose input the input store evicted: refused, never drawn without it."""
    return OssError(
        404,
        "NoSuchKey",
        "The specified key does not exist: the emulator's input store evicted this task's input "
        "image to stay under its cap (wanform emulator --input-store-mb), and a result is never "
        "drawn without it. Download results soon after tasks end, or raise the cap.",
    )


def bad_request(code: str, message: str, unverified: tuple[str, ...] = ()) -> ErrorReply:
    return ErrorReply(400, code, message, unverified)


def invalid_parameter(message: str, unverified: tuple[str, ...] = ()) -> ErrorReply:
    return ErrorReply(400, "InvalidParameter", message, unverified)


def rate_limited(unverified: tuple[str, ...] = ()) -> ErrorReply:
    return ErrorReply(429, "Throttling.RateQuota", RATE_LIMITED, unverified)
