"""The temporary-upload flow: `GET /api/v1/uploads?action=getPolicy` and the OSS form upload it points to.

The policy's `upload_host` is the emulator itself (`/__oss/upload`); uploaded files live 48 h
(virtual) under their key and are readable as `oss://<key>` by the same account only, in requests
that carry `X-DashScope-OssResourceResolve: enable` (the upload page; spec/models.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import BodyPartReader, web

from emulator.http.errors import OssError, bad_request, invalid_parameter
from emulator.state.accounts import Account
from emulator.state.clock import BEIJING, VirtualClock
from emulator.state.faults import HEADER, Context, enact_after, enact_before
from emulator.state.instance import EMULATOR
from emulator.state.requestlog import note, request_id
from spec.errors import EMPTY_MODEL, MODEL_NOT_EXIST, POLICY_EXPIRED, URL_ERROR
from spec.models import MB, UPLOAD_TTL_SECONDS
from spec.models import UPLOAD_CAPACITY_LIMIT_MB as CAPACITY_LIMIT_MB
from spec.models import UPLOAD_MAX_FILE_MB as MAX_FILE_MB
from spec.models import UPLOAD_POLICY_SECONDS as POLICY_SECONDS

UPLOAD_PATH = "/__oss/upload"
BUCKET = "dashscope-instant"
ACCESS_KEY_ID = "LTAI5tWanformUploads"
FIELD_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class StoredFile:
    """An uploaded file and who uploaded it."""

    account_id: str
    data: bytes
    stored: float


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class UploadStore:
    """Upload policies (signed, stateless) and the files uploaded with them."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock
        self._secret = secrets.token_bytes(16)
        self._files: dict[str, StoredFile] = {}

    def policy(self, account: Account, upload_host: str) -> dict:
        """The `data` of a getPolicy answer: a form-upload credential for a fresh directory of `account`."""
        now = self._clock.now()
        directory = f"{BUCKET}/{account.key_id}/{datetime.fromtimestamp(now, BEIJING):%Y-%m-%d}/{uuid.uuid4()}"
        document = {
            "expiration": _iso(now + POLICY_SECONDS),
            "expires": now + POLICY_SECONDS,
            "conditions": [
                ["content-length-range", 0, MAX_FILE_MB * MB],
                ["starts-with", "$key", directory],
            ],
        }
        policy = base64.b64encode(json.dumps(document).encode()).decode()
        return {
            "policy": policy,
            "signature": self._sign(policy),
            "upload_dir": directory,
            "upload_host": upload_host,
            "expire_in_seconds": POLICY_SECONDS,
            "max_file_size_mb": MAX_FILE_MB,
            "capacity_limit_mb": CAPACITY_LIMIT_MB,
            "oss_access_key_id": ACCESS_KEY_ID,
            "x_oss_object_acl": "private",
            "x_oss_forbid_overwrite": "true",
        }

    def accept(self, fields: dict[str, str], data: bytes | None) -> str:
        """Store a form upload after checking its policy as OSS would; returns the uploader's key id."""
        for name in ("policy", "Signature", "key"):
            if not fields.get(name):
                raise OssError(400, "InvalidArgument", f"The form field {name} is missing.")
        if not hmac.compare_digest(fields["Signature"], self._sign(fields["policy"])):
            raise OssError(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        document = json.loads(base64.b64decode(fields["policy"]))
        if self._clock.now() >= document["expires"]:
            raise OssError(403, "AccessDenied", POLICY_EXPIRED)
        directory, key = document["conditions"][1][2], fields["key"]
        if not key.startswith(directory + "/") or "/.." in key:
            raise OssError(
                403,
                "AccessDenied",
                f'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "{directory}"]',
            )
        if data is None:
            raise OssError(400, "InvalidArgument", "The form field file is missing.")
        if self.get_file(key) is not None:
            raise OssError(
                409,
                "FileAlreadyExists",
                "The object you specified already exists and can not be overwritten.",
            )
        account_id = directory.split("/")[1]
        self._files[key] = StoredFile(account_id, data, self._clock.now())
        return account_id

    def get_file(self, key: str) -> StoredFile | None:
        stored = self._files.get(key)
        if stored is not None and self._clock.now() >= stored.stored + UPLOAD_TTL_SECONDS:
            del self._files[key]
            return None
        return stored

    def get(self, account: Account, key: str) -> bytes | None:
        """The bytes of `oss://key` for `account`; None when missing, expired or someone else's."""
        stored = self.get_file(key)
        return stored.data if stored is not None and stored.account_id == account.key_id else None

    def reset(self) -> None:
        self._files.clear()

    def _sign(self, policy: str) -> str:
        return base64.b64encode(
            hmac.new(self._secret, policy.encode(), hashlib.sha1).digest()
        ).decode()


async def get_policy(request: web.Request) -> web.Response:
    """GET /api/v1/uploads?action=getPolicy&model=M."""
    emulator = request.app[EMULATOR]
    account = emulator.accounts.authenticate(request)
    note(request, account=account.key_id)
    if request.query.get("action") != "getPolicy":
        raise invalid_parameter(URL_ERROR)
    model = request.query.get("model")
    if not model:
        raise bad_request("BadRequest.EmptyModel", EMPTY_MODEL)
    if model not in emulator.config.models:
        raise invalid_parameter(MODEL_NOT_EXIST)
    note(request, model=model)
    emulator.throttle.policy(account, model)
    decision = emulator.faults.decide(
        Context("policy", account, model),
        emulator.faults.header_rules(request.headers.get(HEADER), "policy"),
    )
    note(request, faults=decision.fired)
    await enact_before(decision, emulator.clock)
    data = emulator.uploads.policy(account, emulator.base_url(request) + UPLOAD_PATH)
    enact_after(decision)
    return web.json_response({"request_id": request_id(request), "data": data})


async def _read_part(part: BodyPartReader, limit: int, too_large: OssError) -> bytes:
    chunks, total = [], 0
    while chunk := await part.read_chunk(256 * 1024):
        total += len(chunk)
        if total > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_form(request: web.Request) -> tuple[dict[str, str], bytes | None]:
    """The form fields and the file of an OSS PostObject request, each within its size limit."""
    malformed = OssError(
        400,
        "MalformedPOSTRequest",
        "The body of your POST request is not well-formed multipart/form-data.",
    )
    too_large = OssError(
        400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size."
    )
    if not request.content_type.startswith("multipart/form-data"):
        raise malformed
    fields: dict[str, str] = {}
    data = None
    try:
        async for part in await request.multipart():
            if not isinstance(part, BodyPartReader) or not part.name:
                raise malformed
            if part.name == "file":
                data = await _read_part(part, MAX_FILE_MB * MB, too_large)
            else:
                fields[part.name] = (await _read_part(part, FIELD_MAX_BYTES, too_large)).decode(
                    "utf-8", "replace"
                )
    except (ValueError, AssertionError, RuntimeError):
        raise malformed from None
    return fields, data


async def form_upload(request: web.Request) -> web.Response:
    """POST /__oss/upload: the form upload `upload_host` points to; answers `success_action_status`."""
    emulator = request.app[EMULATOR]
    decision = emulator.faults.decide(Context("upload"))
    note(request, faults=decision.fired)
    await enact_before(decision, emulator.clock)
    fields, data = await _read_form(request)
    note(request, account=emulator.uploads.accept(fields, data))
    enact_after(decision)
    status = fields.get("success_action_status", "204")
    return web.Response(status=int(status) if status in ("200", "201", "204") else 204)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/uploads", get_policy)
    app.router.add_post(UPLOAD_PATH, form_upload)
