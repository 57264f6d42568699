"""Working days (工作日) by the State Council's holiday calendar, through ``chinese-calendar``.

The calendar knows only the years the State Council has announced (2026 at most in the
installed release). For a later year we count Monday to Friday and say so: every answer
carries ``estimated`` — true when a day it counted over lies in a year the calendar does
not know — and pages show “按周一至周五估算”.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache

import chinese_calendar

#: 快申快享: the money is paid within this many working days of acceptance.
PAY_WITHIN = 60
#: 诉求: an answer is due within this many working days.
REPLY_WITHIN = 5


@cache
def known_years() -> frozenset[int]:
    return frozenset(d.year for d in chinese_calendar.holidays)


@cache
def is_workday(day: dt.date) -> tuple[bool, bool]:
    """(is a working day, estimated because the year is not announced)."""
    if day.year in known_years():
        return bool(chinese_calendar.is_workday(day)), False
    return day.weekday() < 5, True


@dataclass(frozen=True)
class WorkdayAnswer:
    day: dt.date
    estimated: bool

    @property
    def note(self) -> str:
        return "（该年度放假安排尚未公布，按周一至周五估算）" if self.estimated else ""


def add_workdays(start: dt.date, count: int) -> WorkdayAnswer:
    """The ``count``-th working day after ``start``."""
    day, left, estimated = start, count, False
    while left > 0:
        day += dt.timedelta(days=1)
        work, guess = is_workday(day)
        estimated |= guess
        left -= work
    return WorkdayAnswer(day, estimated)


def workdays_between(start: dt.date, end: dt.date) -> tuple[int, bool]:
    """Working days after ``start`` up to and including ``end`` (negative when ``end`` is earlier)."""
    sign = 1 if end >= start else -1
    lo, hi = (start, end) if sign > 0 else (end, start)
    count, estimated, day = 0, False, lo
    while day < hi:
        day += dt.timedelta(days=1)
        work, guess = is_workday(day)
        estimated |= guess
        count += work
    return sign * count, estimated


_DATED = re.compile(r"(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日前")
_YEARLY = re.compile(r"每年(?P<m>\d{1,2})月(?P<d>\d{1,2})日前")
_MONTH_END = re.compile(r"每年(?P<m>\d{1,2})月底前")


def next_deadline(text: str, today: dt.date) -> dt.date | None:
    """The next 申报截止 a policy's ``apply.deadline`` names, or None when it names no date
    (常年受理, 纳税申报期内 …: nothing to remind of, and nothing is guessed)."""
    if m := _DATED.search(text):
        day = dt.date(int(m["y"]), int(m["m"]), int(m["d"]))
        return day if day >= today else None
    month_day: tuple[int, int] | None = None
    if m := _YEARLY.search(text):
        month_day = int(m["m"]), int(m["d"])
    elif m := _MONTH_END.search(text):
        month = int(m["m"])
        following = dt.date(today.year + (month == 12), month % 12 + 1, 1)
        month_day = month, (following - dt.timedelta(days=1)).day
    if month_day is None:
        return None
    this_year = dt.date(today.year, *month_day)
    return this_year if this_year >= today else dt.date(today.year + 1, *month_day)
