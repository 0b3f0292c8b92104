"""File names made from recipe and job names: portable, short enough, distinct."""

from __future__ import annotations

import hashlib
import re

UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_STEM = (
    120  # file systems allow 255 bytes; leave room for the index, suffix and temp-file decoration
)


def safe_name(name: str) -> str:
    """A file name from a recipe or job name: `fox[size=1K,seed=1]` -> `fox-size-1K-seed-1`; long
    ones end in a hash."""
    plain = UNSAFE.sub("-", name).strip("-.") or "job"
    if len(plain) <= MAX_STEM:
        return plain
    return (
        plain[: MAX_STEM - 9].rstrip("-.")
        + "-"
        + hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    )
