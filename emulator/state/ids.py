"""Random ids in UUID4 form, as DashScope's request and task ids are, made cheaply."""

from __future__ import annotations

import random

# version 4 in bits 76-79, the RFC 4122 variant (binary 10) in bits 62-63
_VERSION_VARIANT = (0x4 << 76) | (0x2 << 62)
_FIXED_BITS = (0xF << 76) | (0x3 << 62)
# seeded from os.urandom once: uuid.uuid4() reads it (a system call) for every id
_BITS = random.Random()


def uuid4() -> str:
    """A random UUID4 string (`xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx`), as `uuid.uuid4()`
    would give, at a third of its cost; not for secrets."""
    text = f"{_BITS.getrandbits(128) & ~_FIXED_BITS | _VERSION_VARIANT:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
