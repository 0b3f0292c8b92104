"""Unique ids in UUID4 form, as DashScope's request and task ids are, made cheaply."""

from __future__ import annotations

import itertools
import os
import random
import uuid
from collections.abc import Iterator

# One random UUID4 per process gives every id its first 20 hex digits (the version and variant
# among them); the last 12 count up from a random start. uuid.uuid4() would read os.urandom (a
# system call) for every id, and every answer carries one.
_LAST = 0xFFFF_FFFF_FFFF
_PREFIX = ""
_NEXT: Iterator[int] = iter(())


def _start() -> None:
    """A fresh prefix and count: at import, and in a forked child, which would otherwise repeat
    its parent's ids."""
    global _PREFIX, _NEXT
    _PREFIX = str(uuid.uuid4())[:24]
    _NEXT = itertools.count(random.randrange(_LAST // 2))


_start()
os.register_at_fork(after_in_child=_start)


def uuid4() -> str:
    """A UUID4 string (`xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx`) no other call in this
    process returns; unpredictable only in part: not for secrets."""
    return f"{_PREFIX}{next(_NEXT) & _LAST:012x}"
