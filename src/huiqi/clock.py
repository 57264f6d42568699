"""Time is an input: one clock, created at the edge (CLI, server, public API) and passed in.

Nothing below the edge reads the system time. ``now()`` is an aware UTC instant (what is
stored); ``today()`` is the calendar date in 临江市 (UTC+8, no daylight saving), which is
the date policies, deadlines and "in force" are decided on.

``HUIQI_NOW`` (an ISO date or datetime; a date means 09:00 in the city) pins the clock of
a whole process, for demos and for running the suite on another day; tests pass a
:class:`FixedClock` instead.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Protocol

#: 临江市 keeps China Standard Time: UTC+8 all year.
CITY_TZ = dt.timezone(dt.timedelta(hours=8), "CST")


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current instant, timezone-aware UTC."""
        ...

    def today(self) -> dt.date:
        """The current calendar date in the city."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def today(self) -> dt.date:
        return self.now().astimezone(CITY_TZ).date()


class FixedClock:
    """A clock that stands still until told to move (tests, demos, replays)."""

    def __init__(self, at: dt.datetime | dt.date):
        self.at = _instant(at)

    def now(self) -> dt.datetime:
        return self.at

    def today(self) -> dt.date:
        return self.at.astimezone(CITY_TZ).date()

    def set(self, at: dt.datetime | dt.date) -> None:
        self.at = _instant(at)

    def advance(self, delta: dt.timedelta | None = None, **kwargs: float) -> dt.datetime:
        """Move forward by ``delta`` or by ``timedelta(**kwargs)``; returns the new instant."""
        self.at += delta if delta is not None else dt.timedelta(**kwargs)
        return self.at

    def __repr__(self) -> str:
        return f"FixedClock({self.at.isoformat()})"


def _instant(at: dt.datetime | dt.date) -> dt.datetime:
    if isinstance(at, dt.datetime):
        return at.replace(tzinfo=CITY_TZ).astimezone(dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)
    return dt.datetime.combine(at, dt.time(9, 0), CITY_TZ).astimezone(dt.UTC)


def from_env(environ: dict[str, str] | None = None) -> Clock:
    """The process clock: ``HUIQI_NOW`` pins it, otherwise the system clock."""
    value = (environ if environ is not None else os.environ).get("HUIQI_NOW", "").strip()
    if not value:
        return SystemClock()
    try:
        parsed: dt.datetime | dt.date = (
            dt.datetime.fromisoformat(value) if "T" in value or " " in value else dt.date.fromisoformat(value)
        )
    except ValueError as e:
        raise ValueError(f"HUIQI_NOW 应为 ISO 日期或时间 / HUIQI_NOW must be an ISO date or datetime: {value!r}") from e
    return FixedClock(parsed)
