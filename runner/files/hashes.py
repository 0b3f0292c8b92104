"""Content hashes of files."""

from __future__ import annotations

import hashlib
from typing import Any


def file_sha256(f: Any) -> str:
    """The sha256 of an open binary file, read from its start."""
    f.seek(0)
    digest = hashlib.sha256()
    while chunk := f.read(1 << 16):  # a thread per download hashes: small reads, small buffers
        digest.update(chunk)
    return digest.hexdigest()
