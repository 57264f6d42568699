"""A profile read in plain Python, for ``huiqi match``'s fast start (pydantic costs ~0.1 s
to import and to build the model).

:func:`facts` vouches only for input written the ordinary way — integers as JSON numbers,
amounts as numbers or decimal strings, dates as ``YYYY-MM-DD``, codes and enumerated
values exactly as allowed — and then gives exactly what ``parse_profile(data).facts()``
gives. Anything else, every error included, is left to ``parse_profile``, which decides and
names the field at fault (tests/profile compare the two on valid and invalid input).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from huiqi.profile.fields import FIELDS, FieldSpec, normalise

#: Not vouched for: ``parse_profile`` decides.
UNSURE: Any = object()

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: Yuan, never negative, at most 16 digits before the point and 2 after (DECIMAL(18, 2)).
_MONEY = re.compile(r"(?:0|[1-9][0-9]{0,15})(?:\.[0-9]{1,2})?")
_MAX_COUNT = 10_000_000
_CONSTRAINTS = {"min_length", "max_length"}


def facts(data: Any) -> dict[str, Any] | None:
    """``parse_profile(data).facts()`` for ordinary input; None when not sure (see module)."""
    if not isinstance(data, dict):
        return None
    out: dict[str, Any] = dict.fromkeys(FIELDS)
    for name, raw in data.items():
        spec = FIELDS.get(name)
        if spec is None:
            return None
        if raw is None:
            continue
        value = _READERS[spec.kind](spec, raw if spec.free_text else normalise(raw))
        if value is UNSURE:
            return None
        out[name] = value
    if all(v is None for v in out.values()):
        return None  # the empty profile is an error: parse_profile words it
    return out


def _string(spec: FieldSpec, value: Any) -> Any:
    if type(value) is not str or value != value.strip() or not set(spec.constraints) <= _CONSTRAINTS:
        return UNSURE
    if not spec.constraints.get("min_length", 0) <= len(value) <= spec.constraints.get("max_length", len(value)):
        return UNSURE
    if spec.values and value not in spec.values:
        return UNSURE
    if spec.check is not None:
        try:
            value = spec.check(value)
        except Exception:  # the check's own words come from parse_profile
            return UNSURE
    return value


def _integer(spec: FieldSpec, value: Any) -> Any:
    return value if type(value) is int and 0 <= value <= _MAX_COUNT else UNSURE


def _money(spec: FieldSpec, value: Any) -> Any:
    if type(value) is int and 0 <= value < 10**16:
        return Decimal(value)
    if type(value) is str and _MONEY.fullmatch(value):
        return Decimal(value)
    return UNSURE


def _date(spec: FieldSpec, value: Any) -> Any:
    if type(value) is not str or not _DATE.fullmatch(value):
        return UNSURE
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return UNSURE


def _list(spec: FieldSpec, value: Any) -> Any:
    if type(value) is not list or not all(type(v) is str and v in spec.values for v in value):
        return UNSURE
    return sorted(set(value))


_READERS: dict[str, Callable[[FieldSpec, Any], Any]] = {
    "string": _string,
    "integer": _integer,
    "money": _money,
    "date": _date,
    "list": _list,
}
