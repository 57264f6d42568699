"""Impact analysis: who gains, who loses, and amounts that cannot be computed are not zero."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from huiqi.library.impact import impact
from huiqi.profile import uscc
from huiqi.rules import load_library
from tests.builders import files_for, policy_yaml

AS_OF = dt.date(2025, 6, 30)


def code(n: int) -> str:
    first17 = f"91339901MA{n:07d}"
    return first17 + uscc.check_character(first17)


def library(min_employees: int):
    return load_library(files=files_for(policy_yaml([f"employees >= {min_employees}"], formula="rd_expense * 0.1")))


def test_counts_deltas_and_unknown_amounts() -> None:
    firms = [
        {"uscc": code(1), "employees": 5, "rd_expense": "100000"},  # newly eligible: +10,000
        {"uscc": code(2), "employees": 50, "rd_expense": "200000"},  # eligible before and after
        {"uscc": code(3), "employees": 50},  # eligible both times, amount unknown
    ]
    report = impact(library(10), library(5), firms, AS_OF)
    (policy,) = report.policies
    assert policy.counts["newly_eligible"] == 1 and policy.counts["no_longer_eligible"] == 0
    assert policy.amount_delta == Decimal("10000.00")
    assert policy.amount_unknown == 1
    assert "1 家金额待定" in policy.amount_text
    (change,) = report.changes
    assert change.uscc == code(1) and change.kind == "newly_eligible"


def test_an_invalid_profile_is_refused_not_skipped() -> None:
    with pytest.raises(ValueError, match="#2"):
        impact(library(10), library(5), [{"uscc": code(1), "employees": 5}, {"employees": -1}], AS_OF)
