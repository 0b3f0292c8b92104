"""DashScope's error catalogue: every documented code, its HTTP status, message and kind.

The kind says what a client should do: `rejected` (this request cannot succeed), `account`
(no request with this key can), `endpoint` (the base URL is not a DashScope API),
`throttled` and `service` (it may work later). The runner classifies answers by it and the
emulator answers with its statuses and messages, so the two cannot disagree.

Sources, named per entry: "page 000" ... "page 004" are the pages of the API documentation
set wanform is built from, by number; the error-code page
(docs.qwencloud.com/api-reference/preparation/error-messages), the Wan API references, the
task page (help.aliyun.com/zh/model-studio/manage-asynchronous-tasks), the upload page
(help.aliyun.com/zh/model-studio/get-temporary-file-url), and the SDK's code list
(dashscope v2 errors.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from wanform.spec.models import DATA_URI_MAX_BYTES

Kind = Literal["rejected", "account", "endpoint", "throttled", "service"]
RETRYABLE_KINDS: frozenset[Kind] = frozenset({"throttled", "service"})
ERROR_PAGE = "error-code page"
SDK_CODES = "SDK code list"

# Documented messages the service answers with, by meaning; from the error-code page unless
# a comment names another source.
NO_API_KEY = "No API-key provided."  # the Wan API references' error example
INVALID_API_KEY = "Invalid API-key provided."  # page 002
NOT_JSON = "The input parameter requires json format."  # BadRequest.IllegalInput
EMPTY_MODEL = 'Required parameter "model" missing from request.'
EMPTY_INPUT = "Required input parameter missing from request."
MODEL_NOT_EXIST = "Model not exist."  # a wrong model name on the native API
URL_ERROR = "url error, please check url!"  # page 003: model and endpoint do not match
TOO_LARGE = "Payload Too Large."
SYNC_NOT_SUPPORTED = "current user api does not support synchronous calls."
ASYNC_NOT_SUPPORTED = "Current user api does not support asynchronous calls."
# the task page's answer to cancelling a task that is not PENDING
CANCEL_NOT_PENDING = "Failed to cancel the task, please confirm if the task is in PENDING status."
RATE_LIMITED = "Requests rate limit exceeded, please try again later."  # and the task page
BAD_URL = "The provided URL does not appear to be valid. Ensure it is correctly formatted."
DOWNLOAD_FAILED = "Failed to download multimodal content."
PATH_NOT_FOUND = "Request path not found."
ACCESS_DENIED = "Access denied."
INTERNAL = "An internal error has occured, try again later or contact service support."
INTERNAL_TIMEOUT = (  # page 002, a partially failed task
    "An internal timeout error has occured during execution, please try again later "
    "or contact service support."
)
POLICY_EXPIRED = "Invalid according to Policy: Policy expired."  # upload page
ONE_MESSAGE = "messages length only support 1"
NO_TEXT = "lack of image or text"
N_MUST_BE_ONE = "num_images_per_prompt must be 1."
MIXED_MODAL = "The item of content should be a message of a certain modal."
# page 002 on base_image_url and mask_image_url: "URL地址中不能包含中文字符"; no message documented
URL_HAS_CHINESE = "The URL may not contain Chinese characters; percent-encode them."


def data_uri_too_large(limit: int = DATA_URI_MAX_BYTES) -> str:
    """The error page's message for a data URI over `limit` bytes (sic: the stray quote)."""
    return f"Exceeded limit on max bytes per data-uri item : {limit}'."


DATA_URI_TOO_LARGE = data_uri_too_large()


@dataclass(frozen=True)
class ErrorCode:
    """One documented code: the HTTP status it comes with, a documented message, and its kind."""

    code: str
    status: int
    message: str | None  # None: the code is known, but no message for it is documented
    kind: Kind
    source: str

    @property
    def retryable(self) -> bool:
        """Whether the same request may succeed later."""
        return self.kind in RETRYABLE_KINDS

    @property
    def account_level(self) -> bool:
        """Whether no request with this key can succeed (a run should stop)."""
        return self.kind == "account"


def _codes(kind: Kind, source: str, *rows: tuple[str, int, str | None]) -> list[ErrorCode]:
    return [ErrorCode(code, status, message, kind, source) for code, status, message in rows]


_ACCOUNT = _codes(
    "account",
    ERROR_PAGE,
    ("InvalidApiKey", 401, INVALID_API_KEY),
    (
        "NOT AUTHORIZED",
        401,
        "Access denied: Either you are not authorized to access this workspace, or the "
        "workspace does not exist. Please:\nVerify the workspace configuration.\nCheck your "
        "API endpoint settings. Ensure you are targeting the correct environment.",
    ),
    ("Arrearage", 400, "Access denied, make sure your account is in good standing."),
    ("AccessDenied", 403, ACCESS_DENIED),
    (
        "AccessDenied.Unpurchased",
        403,
        "Access to model denied. Make sure you are eligible for using the model.",
    ),
    ("Model.AccessDenied", 403, "Model access denied."),
    ("App.AccessDenied", 403, "App access denied."),
    ("Workspace.AccessDenied", 403, "Workspace access denied."),
    (
        "AllocationQuota.FreeTierOnly",
        403,
        "The free tier of the model has been exhausted. If you want to continue access the "
        'model on a paid basis, please disable the "use free tier only" mode.',
    ),
    ("WorkSpaceNotFound", 404, "WorkSpace can not be found."),
    ("CommodityNotPurchased", 429, "Commodity has not purchased yet."),
    ("PrepaidBillOverdue", 429, "The prepaid bill is overdue."),
    ("PostpaidBillOverdue", 429, "The postpaid bill is overdue."),
    # a 429 that waiting does not cure: the quota must be raised
    (
        "Throttling.AllocationQuota",
        429,
        "Allocated quota exceeded, please increase your quota limit.",
    ),
)
# page 002 lists these three itself (InvalidParameter's message from the error-code page)
_REJECTED_002 = _codes(
    "rejected",
    "page 002",
    (
        "InvalidParameter",
        400,
        "Required parameter(s) missing or invalid, please check the request parameters.",
    ),
    ("DataInspectionFailed", 400, "Input data may contain inappropriate content."),
    (
        "IPInfringementSuspect",
        400,
        "Input data is suspected of being involved in IP infringement.",
    ),
)
_REJECTED = _codes(
    "rejected",
    ERROR_PAGE,
    (
        "InvalidParameter.DataInspection",
        400,
        "Unable to download the media resource during the data inspection process.",
    ),
    ("UnsupportedOperation", 400, "The operation is unsupported on the referee object."),
    ("InvalidURL", 400, "Invalid URL provided in your request."),
    ("InvalidURL.ConnectionRefused", 400, None),
    ("InvalidURL.Timeout", 400, None),
    ("BadRequest.EmptyInput", 400, EMPTY_INPUT),
    ("BadRequest.EmptyParameters", 400, 'Required parameter "parameters" missing from request.'),
    ("BadRequest.EmptyModel", 400, EMPTY_MODEL),
    ("BadRequest.IllegalInput", 400, NOT_JSON),
    ("BadRequest.InputDownloadFailed", 400, None),
    ("BadRequest.UnsupportedFileFormat", 400, "Input file format is not supported."),
    ("BadRequest.TooLarge", 400, TOO_LARGE),
    (
        "InvalidImage.FileFormat",
        400,
        "Invalid image type. Ensure the uploaded file is a valid image.",
    ),
    ("InvalidImageFormat", 400, "The input image is in invalid format."),
    ("InvalidImageResolution", 400, "The input image resolution is too large or small."),
    ("InvalidImage.ImageSize", 400, "The size of image is beyond limit."),
    ("InvalidFile", 400, None),
    ("ModelNotFound", 404, "Model can not be found."),
)
# The SDK knows these codes but no page shows their status: the statuses are our reading of
# the names (a missing model is a 400 on the native API, as "Model not exist." is).
_REJECTED_SDK = _codes("rejected", SDK_CODES, ("Model.NotExist", 400, None))
# "Request path not found.": the base URL is wrong, for every job alike
_ENDPOINT = _codes("endpoint", ERROR_PAGE, ("NotFound", 404, PATH_NOT_FOUND))
_THROTTLED = _codes(
    "throttled",
    ERROR_PAGE,
    ("Throttling", 429, "Requests throttling triggered."),
    ("Throttling.RateQuota", 429, RATE_LIMITED),
    (
        "Throttling.BurstRate",
        429,
        "Request rate increased too quickly. To ensure system stability, please adjust "
        "your client logic to scale requests more smoothly over time.",
    ),
)
_SERVICE = _codes(
    "service",
    ERROR_PAGE,
    ("InternalError", 500, INTERNAL),
    ("InternalError.Algo", 500, "An internal error has occured during algorithm execution."),
    ("InternalError.Timeout", 500, INTERNAL_TIMEOUT),
    ("InternalError.FileUpload", 500, "oss upload error."),
    ("InternalError.Upload", 500, "Failed to upload result."),
    ("SystemError", 500, "An system error has occured, try again later."),
    ("ModelServiceFailed", 500, "Failed to request model service."),
    ("RequestTimeOut", 500, "Request timed out, try again later."),
    (
        "ModelServingError",
        503,
        "Too many requests. Your requests are being throttled due to system capacity "
        "limits. Try again later.",
    ),
    ("ModelUnavailable", 503, "Model is unavailable, try again later."),
)
_SERVICE_SDK = _codes(
    "service", SDK_CODES, ("ServiceUnavailable", 503, None), ("GatewayTimeout", 504, None)
)
CATALOGUE: Mapping[str, ErrorCode] = MappingProxyType(
    {
        e.code: e
        for e in (
            *_ACCOUNT,
            *_REJECTED_002,
            *_REJECTED,
            *_REJECTED_SDK,
            *_ENDPOINT,
            *_THROTTLED,
            *_SERVICE,
            *_SERVICE_SDK,
        )
    }
)


# Every message a page gives word for word; an answer with any other message words it itself
# (the guess errors.wording).
DOCUMENTED_MESSAGES = frozenset(
    {
        NO_API_KEY,
        NOT_JSON,
        MODEL_NOT_EXIST,
        URL_ERROR,
        SYNC_NOT_SUPPORTED,
        ASYNC_NOT_SUPPORTED,
        CANCEL_NOT_PENDING,
        RATE_LIMITED,
        BAD_URL,
        DOWNLOAD_FAILED,
        INTERNAL,
        INTERNAL_TIMEOUT,
        POLICY_EXPIRED,
        ONE_MESSAGE,
        NO_TEXT,
        N_MUST_BE_ONE,
        MIXED_MODAL,
        DATA_URI_TOO_LARGE,
        *(e.message for e in CATALOGUE.values() if e.message),
    }
)


def lookup(code: str) -> ErrorCode | None:
    """A documented code, or its family's (`InternalError.X` is an InternalError)."""
    return CATALOGUE.get(code) or CATALOGUE.get(code.split(".")[0])


def kind_of_status(status: int) -> Kind:
    """The kind of an error answer whose code is not documented, judged by its HTTP status."""
    if status == 429:
        return "throttled"
    if status >= 500 or status == 408:
        return "service"
    return "account" if status in (401, 403) else "rejected"
