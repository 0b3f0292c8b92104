"""Wall-clock timestamps as wanform writes them: now, in UTC, as ISO 8601."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now(timespec: str = "milliseconds", *, zulu: bool = False) -> str:
    """Now as `2026-01-31T12:00:00.123+00:00`; `zulu` writes the offset as `Z`."""
    text = datetime.now(UTC).isoformat(timespec=timespec)
    return text.replace("+00:00", "Z") if zulu else text
