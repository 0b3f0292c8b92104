"""Times as people read them: on one clock (UTC, which the page's script shows in the reader's
own time zone), under names that say what happened. The sidecar keeps the raw fields."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from wanform.spec.models import SERVICE_TIMEZONE

# What each recorded time means, in the order they happen: the runner's own (ISO 8601 with an
# offset) and the service's (`submit_time` and the others, in the service's time zone).
NAMES = {
    "submitted_at": "sent",
    "submit_time": "accepted by the service",
    "scheduled_time": "started by the service",
    "end_time": "finished by the service",
    "finished_at": "answer received",
    "downloaded_at": "images saved",
}


def moment(text: str) -> dict:
    """A time for the page: `utc` (ISO 8601, for the script) and `text` (UTC, labelled), or only
    `text` as given when it is no time."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return {"utc": None, "text": text}
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=SERVICE_TIMEZONE)
    utc = parsed.astimezone(UTC)
    return {
        "utc": utc.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "text": utc.strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


def moments(recorded: Mapping[str, str]) -> list[dict]:
    """The recorded times in the order they happen, each under its name for people."""
    order = list(NAMES)
    ranked = sorted(recorded, key=lambda k: (order.index(k) if k in order else len(order), k))
    return [{"name": NAMES.get(k, k.replace("_", " "))} | moment(recorded[k]) for k in ranked]
