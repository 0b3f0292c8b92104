"""What can go wrong between the runner and an S3-compatible store.

    WanformError
    └── StoreError          the store failed (unreachable, refused, lost an object)
        ├── StoreSetting    `out: s3://...` or `storage:` cannot be used as given
        ├── StoreAccess     the start check failed: credentials or bucket; nothing was sent
        └── NotStored       a billed image could not be stored; a rerun stores it, unbilled

The client's exceptions become these in one place, `s3.translate`; messages never hold a
credential or a signed URL's query string.
"""

from __future__ import annotations

from wanform.runner.api.errors import WanformError


class StoreError(WanformError):
    code = "StoreError"
    hint = "check the store's endpoint, bucket and credentials"


class StoreSetting(StoreError):
    code = "StoreSetting"
    hint = "write out as s3://BUCKET/PREFIX, and storage: {endpoint: https://..., region: ...}"


class StoreAccess(StoreError):
    code = "StoreUnreachable"
    hint = (
        "nothing was sent; set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or run "
        "with an instance role) and check that the bucket exists"
    )


class NotStored(StoreError):
    """A result image or sidecar the store did not take: its task SUCCEEDED and is billed."""

    code = "OutputNotStored"
    hint = (
        "the task SUCCEEDED and is billed; once the store works again, rerun: it stores them "
        "from the same task without paying again"
    )
