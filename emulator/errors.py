"""DashScope's error answers: the documented codes and messages, and the exceptions handlers raise to send them.

Every error a client can see leaves the emulator through `error_body`, so its shape
(`{request_id, code, message}`, API-FACTS §1.1) is decided in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from xml.sax.saxutils import escape

# Documented messages the emulator answers with (API-FACTS §1.2, docs 002).
NO_API_KEY = "No API-key provided."
INVALID_API_KEY = "Invalid API-key provided."
NOT_JSON = "The input parameter requires json format."
EMPTY_MODEL = 'Required parameter "model" missing from request.'
EMPTY_INPUT = "Required input parameter missing from request."
MODEL_NOT_EXIST = "Model not exist."
URL_ERROR = "url error, please check url!"
TOO_LARGE = "Payload Too Large."
SYNC_NOT_SUPPORTED = "current user api does not support synchronous calls."
ASYNC_NOT_SUPPORTED = "Current user api does not support asynchronous calls."
CANCEL_NOT_PENDING = "Failed to cancel the task, please confirm if the task is in PENDING status."
RATE_LIMITED = "Requests rate limit exceeded, please try again later."
BAD_URL = "The provided URL does not appear to be valid. Ensure it is correctly formatted."
DOWNLOAD_FAILED = "Failed to download multimodal content."
PATH_NOT_FOUND = "Request path not found."
INTERNAL = "An internal error has occured, try again later or contact service support."

# Code -> (HTTP status, typical message), for fault rules that name only a code (API-FACTS §1.2).
CATALOGUE: Mapping[str, tuple[int, str]] = MappingProxyType(
    {
        "InvalidParameter": (
            400,
            "Required parameter(s) missing or invalid, please check the request parameters.",
        ),
        "DataInspectionFailed": (400, "Input data may contain inappropriate content."),
        "IPInfringementSuspect": (
            400,
            "Input data is suspected of being involved in IP infringement.",
        ),
        "Arrearage": (400, "Access denied, make sure your account is in good standing."),
        "InvalidApiKey": (401, INVALID_API_KEY),
        "AccessDenied": (403, "Access denied."),
        "AccessDenied.Unpurchased": (
            403,
            "Access to model denied. Make sure you are eligible for using the model.",
        ),
        "Throttling": (429, "Requests throttling triggered."),
        "Throttling.RateQuota": (429, RATE_LIMITED),
        "Throttling.BurstRate": (
            429,
            "Request rate increased too quickly. To ensure system stability, please adjust "
            "your client logic to scale requests more smoothly over time.",
        ),
        "Throttling.AllocationQuota": (
            429,
            "Allocated quota exceeded, please increase your quota limit.",
        ),
        "InternalError": (500, INTERNAL),
        "InternalError.Algo": (500, "An internal error has occured during algorithm execution."),
        "InternalError.Timeout": (
            500,
            "An internal timeout error has occured during execution, please try again later "
            "or contact service support.",
        ),
        "SystemError": (500, "An system error has occured, try again later."),
        "ModelServiceFailed": (500, "Failed to request model service."),
        "RequestTimeOut": (500, "Request timed out, try again later."),
        "ModelServingError": (
            503,
            "Too many requests. Your requests are being throttled due to system capacity "
            "limits. Try again later.",
        ),
        "ModelUnavailable": (503, "Model is unavailable, try again later."),
    }
)


class ErrorReply(Exception):
    """An answer in DashScope's flat error shape; raise it anywhere below a handler."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class OssError(Exception):
    """An object-storage refusal (uploads, result files), answered as OSS does: XML with Code and Message."""

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
        f"  <Message>{escape(message)}</Message>\n  <RequestId>{escape(request_id)}</RequestId>\n</Error>\n"
    )


def no_such_key() -> OssError:
    return OssError(404, "NoSuchKey", "The specified key does not exist.")


def bad_request(code: str, message: str) -> ErrorReply:
    return ErrorReply(400, code, message)


def invalid_parameter(message: str) -> ErrorReply:
    return ErrorReply(400, "InvalidParameter", message)


def rate_limited() -> ErrorReply:
    return ErrorReply(429, "Throttling.RateQuota", RATE_LIMITED)
