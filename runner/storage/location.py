"""`s3://bucket/prefix`: which store an `out` names, and the keys a run writes under it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from wanform.runner.storage.errors import StoreSetting

SCHEME = "s3://"
# S3's bucket rule (3-63 of a-z 0-9 . -, a letter or digit at each end); OSS and MinIO take it too
BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def is_stored(text: str | None) -> bool:
    """Whether an `out`, or a path the lock or journal records, names an object in a store."""
    return text is not None and text.startswith(SCHEME)


@dataclass(frozen=True, slots=True)
class StoredImage:
    """An image in a store, as a job that takes it knows it: where, and the digest it must have."""

    uri: str
    sha256: str  # `sha256:<hex>`


@dataclass(frozen=True, slots=True)
class Location:
    """A bucket and the prefix a project's outputs go under (no slash at either end)."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, text: str) -> Location:
        """`s3://bucket/prefix` as a Location; StoreSetting saying what is wrong otherwise."""
        bucket, _, prefix = text.removeprefix(SCHEME).partition("/")
        prefix = prefix.strip("/")
        if not is_stored(text) or not BUCKET.fullmatch(bucket):
            raise StoreSetting(f"{text!r} is not s3://BUCKET/PREFIX with a valid bucket name")
        if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
            raise StoreSetting(f"{text!r}: the prefix has an empty, . or .. part")
        return cls(bucket, prefix)

    def key(self, relative: str) -> str:
        """The object key of a file named `relative` (forward slashes) under the prefix."""
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def uri(self, key: str) -> str:
        return f"{SCHEME}{self.bucket}/{key}"

    def key_of(self, uri: str) -> str | None:
        """The key `uri` names when it lies under this bucket and prefix, else None."""
        bucket, _, key = uri.removeprefix(SCHEME).partition("/")
        inside = not self.prefix or key.startswith(self.prefix + "/")
        parts = key.split("/")
        if is_stored(uri) and bucket == self.bucket and inside and ".." not in parts:
            return key
        return None

    def __str__(self) -> str:
        return self.uri(self.prefix) if self.prefix else f"{SCHEME}{self.bucket}"
