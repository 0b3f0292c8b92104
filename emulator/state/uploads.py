"""Temporary uploads: the policies `getPolicy` hands out and the files uploaded with them.

Uploaded files live 48 h (virtual) under their key and are readable as `oss://<key>` by the
same account only, in requests that carry `X-DashScope-OssResourceResolve: enable` (the
values of the temporary-upload policy are in spec/models.py).
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

from wanform.emulator.errors import OssError
from wanform.emulator.state.accounts import Account
from wanform.emulator.state.clock import VirtualClock
from wanform.spec.errors import POLICY_EXPIRED
from wanform.spec.models import (
    MB,
    SERVICE_TIMEZONE,
    UPLOAD_BUCKET,
    UPLOAD_CAPACITY_LIMIT_MB,
    UPLOAD_FORBID_OVERWRITE,
    UPLOAD_MAX_FILE_MB,
    UPLOAD_OBJECT_ACL,
    UPLOAD_POLICY_SECONDS,
    UPLOAD_TTL_SECONDS,
)

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
        """The `data` of a getPolicy answer: a form-upload credential for a fresh directory."""
        now = self._clock.now()
        day = datetime.fromtimestamp(now, SERVICE_TIMEZONE)
        directory = f"{UPLOAD_BUCKET}/{account.key_id}/{day:%Y-%m-%d}/{uuid.uuid4()}"
        document = {
            "expiration": _iso(now + UPLOAD_POLICY_SECONDS),
            "expires": now + UPLOAD_POLICY_SECONDS,
            "conditions": [
                ["content-length-range", 0, UPLOAD_MAX_FILE_MB * MB],
                ["starts-with", "$key", directory],
            ],
        }
        policy = base64.b64encode(json.dumps(document).encode()).decode()
        return {
            "policy": policy,
            "signature": self._sign(policy),
            "upload_dir": directory,
            "upload_host": upload_host,
            "expire_in_seconds": UPLOAD_POLICY_SECONDS,
            "max_file_size_mb": UPLOAD_MAX_FILE_MB,
            "capacity_limit_mb": UPLOAD_CAPACITY_LIMIT_MB,
            "oss_access_key_id": ACCESS_KEY_ID,
            "x_oss_object_acl": UPLOAD_OBJECT_ACL,
            "x_oss_forbid_overwrite": UPLOAD_FORBID_OVERWRITE,
        }

    def accept(self, fields: dict[str, str], data: bytes | None) -> str:
        """Store a form upload once its policy checks out as OSS's would; the uploader's key id."""
        for name in ("policy", "Signature", "key"):
            if not fields.get(name):
                raise OssError(400, "InvalidArgument", f"The form field {name} is missing.")
        given = fields["Signature"].encode("utf-8", "surrogateescape")  # compare_digest: not str
        if not hmac.compare_digest(given, self._sign(fields["policy"]).encode("utf-8")):
            raise OssError(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        document = json.loads(base64.b64decode(fields["policy"]))
        if self._clock.now() >= document["expires"]:
            raise OssError(403, "AccessDenied", POLICY_EXPIRED)
        directory = document["conditions"][1][2]
        key = fields["key"]
        if not key.startswith(directory + "/") or "/.." in key:
            raise OssError(
                403,
                "AccessDenied",
                "Invalid according to Policy: Policy Condition failed: "
                f'["starts-with", "$key", "{directory}"]',
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
