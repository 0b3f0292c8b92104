"""The service's clock, as its answers' `Date` headers tell it.

A lost submission's window must be compared with the task times the service writes, and the
machine's clock may be minutes or hours off the service's: every answer's `Date` pairs a service
time with the local time it was heard at, and local times convert through the latest pair.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from wanform.spec.models import SERVICE_TIMEZONE, TASK_LIST_TIME_FORMAT

DAY = 86400.0
# a Date header has whole seconds and arrives a round trip late: how far a converted time may be off
UNCERTAINTY = 2.0


class ServiceClock:
    """Service time from local time; `speed` is service seconds per local second (an emulator's
    clock may run faster than real time)."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self._pair: tuple[float, float] | None = None  # (service epoch, local epoch)
        self._date: tuple[str, float] = ("", 0.0)  # the last Date header read, as epoch seconds

    def heard(self, date: str | None, sent: float, received: float) -> None:
        """Take an answer's `Date` header (None or unreadable: ignored); `sent` and `received`
        are the local times around the request."""
        if not date:
            return
        if date != self._date[0]:  # answers of one second share their Date: parse it once
            try:
                self._date = (date, parsedate_to_datetime(date).timestamp())
            except (TypeError, ValueError, IndexError, OverflowError):
                return
        service = self._date[1]
        # the header's second was truncated: its middle is the best guess
        self._pair = (service + 0.5, (sent + received) / 2)

    @property
    def known(self) -> bool:
        return self._pair is not None

    def at(self, local: float) -> float | None:
        """The service's time when the local clock read `local`; None before any Date was heard."""
        if self._pair is None:
            return None
        service, heard = self._pair
        return service + (local - heard) * self.speed

    def now(self) -> float | None:
        return self.at(time.time())


def list_time(epoch: float) -> str:
    """Epoch seconds as the task list's filters take them: `YYYYMMDDhhmmss` in Beijing time."""
    return datetime.fromtimestamp(epoch, SERVICE_TIMEZONE).strftime(TASK_LIST_TIME_FORMAT)


def day_before(end: float) -> tuple[str, str]:
    """A list filter for the day up to the second after `end`: the longest span the service takes
    (24 h), whole seconds, so the last task made by `end` is in it."""
    last = datetime.fromtimestamp(end, SERVICE_TIMEZONE).replace(microsecond=0) + timedelta(
        seconds=1
    )
    return list_time(last.timestamp() - DAY + 1), list_time(last.timestamp())
