"""What the generated evaluator calls (``huiqi.rules.pygen`` writes the code that calls it).

Plain Python, no sqlglot: ``huiqi match`` loads the generated code from the disk cache and
runs it with these alone (``huiqi.match.lean``). The rule functions' implementations are
here too; ``huiqi.rules.functions`` declares each (types, SQL) once, and ``pygen`` checks
that every one of them is in :data:`RUNTIME` under its name.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

MAX_SCALE = 6  # decimal places kept by every arithmetic step, in both backends
_Q6 = Decimal(1).scaleb(-MAX_SCALE)


# --- the rule functions ------------------------------------------------------------------
def years_between(a: dt.date, b: dt.date) -> int:
    """Whole years from ``a`` to ``b`` (an anniversary not yet reached does not count)."""
    return b.year - a.year - (1 if (b.month, b.day) < (a.month, a.day) else 0)


def months_between(a: dt.date, b: dt.date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month - (1 if b.day < a.day else 0)


def within(code: str, prefix: str) -> bool | None:
    """Is the classification code inside ``prefix``? Unknown when the code is coarser.

    A GB/T 4754 code names every class below it: ``C`` may be ``C16`` 烟草制品业 or not,
    so ``within('C', 'C16')`` is unknown, while ``within('C3911', 'C16')`` is false.
    """
    if code.startswith(prefix):
        return True
    if prefix.startswith(code):
        return None
    return False


def either(a: Any, b: Any) -> Any:
    """One of two values, we do not know which: known only when they agree."""
    return a if a == b else None


# --- runtime helpers the generated code calls -------------------------------------------
def q6(x: Any) -> Decimal:
    if type(x) is Decimal:
        return x.quantize(_Q6, ROUND_HALF_UP)
    return Decimal(x).quantize(_Q6, ROUND_HALF_UP)


_CENT = Decimal("0.01")


def q2(x: Any) -> Decimal:
    """A final amount, to the cent, half away from zero (as DECIMAL(18,2) casts do)."""
    if type(x) is Decimal:
        return x.quantize(_CENT, ROUND_HALF_UP)
    return Decimal(x).quantize(_CENT, ROUND_HALF_UP)


def div(a: Any, b: Any) -> Decimal | None:
    if b == 0:
        return None
    return (Decimal(a) / Decimal(b)).quantize(_Q6, ROUND_HALF_UP)


def floor(x: Any) -> Decimal:
    return Decimal(x).to_integral_value(ROUND_FLOOR)


def ceil(x: Any) -> Decimal:
    return Decimal(x).to_integral_value(ROUND_CEILING)


def round_half_up(x: Any, places: int) -> Decimal:
    return Decimal(x).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)


def like_regex(pattern: str) -> re.Pattern[str]:
    """SQL LIKE (``%`` any run, ``_`` one character) as an anchored regular expression."""
    parts = (".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


RUNTIME: dict[str, Any] = {
    "Decimal": Decimal,
    "_q6": q6,
    "_div": div,
    "_ybt": years_between,
    "_mbt": months_between,
    "_within": within,
    "_either": either,
    "_floor": floor,
    "_ceil": ceil,
    "_round": round_half_up,
}
