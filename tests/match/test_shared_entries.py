"""Condition entries shared between answers (``huiqi.match.engine``): an answer with a warm
cache is exactly the answer with an empty one — values written differently (300 and
300.00), other dates (other parameters) and other missing facts never borrow an entry."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
from pathlib import Path
from typing import Any

import pytest

from huiqi.match import answer, engine
from huiqi.match.engine import default_library

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [json.loads(p.read_text("utf-8")) for p in sorted((ROOT / "examples").glob("*.json"))]
DATES = [dt.date(2025, 12, 31), dt.date(2026, 6, 30)]  # 2026: other VAT parameters


def variants() -> list[dict[str, Any]]:
    """The examples, and each with money written with and without cents, facts left out,
    other staff counts and certifications."""
    out = []
    for profile in EXAMPLES:
        out.append(profile)
        out.append(
            {k: (v.removesuffix(".00") if isinstance(v, str) and v.endswith(".00") else v) for k, v in profile.items()}
        )
        for drop in ("revenue", "employees", "certifications", "industry", "taxable_income"):
            out.append({k: v for k, v in profile.items() if k != drop})
        out.append({**profile, "employees": 12, "certifications": ["tech_sme"]})
        out.append({**profile, "employees": 999, "certifications": []})
    return out


def cold(profile: dict[str, Any], as_of: dt.date) -> dict[str, Any]:
    engine._ENTRIES.pop(default_library(), None)
    return answer(profile, as_of, default_library())


def test_warm_answers_equal_cold_ones() -> None:
    cases = [(p, d) for p, d in itertools.product(variants(), DATES) if p["registered_on"] <= d.isoformat()]
    expected = [cold(p, d) for p, d in cases]
    order = list(range(len(cases)))
    random.Random(17).shuffle(order)
    engine._ENTRIES.pop(default_library(), None)
    for i in order:
        profile, as_of = cases[i]
        assert answer(profile, as_of, default_library()) == expected[i], (profile, as_of)


def test_money_written_with_cents_is_shown_with_cents() -> None:
    profile = EXAMPLES[0]
    plain = {**profile, "revenue": "180000000"}
    cents = {**profile, "revenue": "180000000.00"}
    engine._ENTRIES.pop(default_library(), None)
    first = answer(plain, DATES[1], default_library())
    second = answer(cents, DATES[1], default_library())
    shown = lambda a: {c["values"].get("revenue") for r in a["results"] for c in r["conditions"]} - {None}  # noqa: E731
    assert shown(first) == {"180000000"}
    assert shown(second) == {"180000000.00"}


@pytest.mark.parametrize("limit", [1, 7])
def test_the_shared_entries_are_bounded(limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """When full, the shared entries are emptied before the next answer (and answers stay exact)."""
    monkeypatch.setattr(engine, "MAX_ENTRIES", limit)
    engine._ENTRIES.pop(default_library(), None)
    for profile in variants()[:5]:
        expected = cold(profile, DATES[1])
        got = answer(profile, DATES[1], default_library())
        assert got == expected
        one_answer = sum(len(r["conditions"]) for r in got["results"])
        assert 0 < len(engine._ENTRIES[default_library()]) <= one_answer
