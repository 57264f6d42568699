"""Evaluating one enterprise: three-valued logic, exact missing facts, dates and amounts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from huiqi.profile import parse_profile
from tests.builders import VARIABLES

AS_OF = dt.date(2024, 6, 30)
SIZE = (
    "CASE WHEN industry_section = 'C' AND employees >= 1000 THEN 'large' WHEN industry_section = 'C' THEN 'small' END"
)
RATE = {
    "t.rate": {
        "label": "税率",
        "values": [
            {"from": "2019-01-01", "value": "0.10", "source": "测试〔2019〕1号"},
            {"from": "2023-01-01", "value": "0.05", "source": "测试〔2023〕1号"},
        ],
    }
}


def evaluate(library, profile: dict, as_of: dt.date = AS_OF):
    variables, (ev,) = library.evaluate(parse_profile(profile), as_of)
    return variables, ev


def test_boundary_is_inclusive_for_le(make_library) -> None:
    lib = make_library(["employees <= 300"])
    assert evaluate(lib, {"employees": 300})[1].verdict == "eligible"
    assert evaluate(lib, {"employees": 301})[1].verdict == "ineligible"


def test_missing_fact_makes_policy_undetermined_and_is_named(make_library) -> None:
    lib = make_library(["employees <= 300", "revenue <= 1000"])
    ev = evaluate(lib, {"revenue": 10})[1]
    assert ev.verdict == "undetermined"
    assert ev.missing == ("employees",)
    assert ev.outcomes == (None, True)


def test_an_unmet_condition_decides_even_with_unknowns(make_library) -> None:
    lib = make_library(["employees <= 300", "revenue <= 1000"])
    assert evaluate(lib, {"revenue": 5000})[1].verdict == "ineligible"


def test_or_with_a_true_side_is_met_despite_an_unknown(make_library) -> None:
    lib = make_library(["employees <= 300 OR revenue <= 1000"])
    assert evaluate(lib, {"revenue": 10})[1].verdict == "eligible"
    ev = evaluate(lib, {"revenue": 5000})[1]
    assert ev.verdict == "undetermined" and ev.missing == ("employees",)


def test_missing_lists_only_the_facts_the_taken_branch_needs(make_library) -> None:
    cond = "CASE WHEN industry LIKE 'C%' THEN employees < 20 ELSE total_assets < 100 END"
    lib = make_library([cond])
    ev = evaluate(lib, {"industry": "C3911"})[1]
    assert ev.verdict == "undetermined" and ev.missing == ("employees",)
    ev = evaluate(lib, {"industry": "F5211"})[1]
    assert ev.missing == ("total_assets",)
    ev = evaluate(lib, {"employees": 5})[1]  # unknown industry: either branch could apply,
    assert ev.missing == ("industry",)  # and the industry is what to ask for first


def test_a_case_is_decided_when_every_open_branch_agrees(make_library) -> None:
    cond = "CASE WHEN industry LIKE 'C%' THEN employees < 20 ELSE total_assets < 100 END"
    lib = make_library([cond])
    # industry unknown, but both branches are true: met whatever the industry is
    assert evaluate(lib, {"employees": 5, "total_assets": 50})[1].verdict == "eligible"
    assert evaluate(lib, {"employees": 50, "total_assets": 500})[1].verdict == "ineligible"
    # the branches disagree: unknown (SQL's CASE would silently take the ELSE branch)
    assert evaluate(lib, {"employees": 5, "total_assets": 500})[1].verdict == "undetermined"


def test_an_unknown_test_does_not_silently_pick_the_else_branch(make_library) -> None:
    lib = make_library(
        ["employees > 0"],
        formula="CASE WHEN size_class = 'large' THEN 150 ELSE 400 END * employees",
        variables={**VARIABLES["variables"], "size_class": {"label": "规模", "expr": SIZE}},
    )
    _, ev = evaluate(lib, {"employees": 10})
    assert ev.amount is None and ev.amount_missing == ("industry",)
    _, ev = evaluate(lib, {"employees": 10, "industry": "C3911", "revenue": 10**6})
    assert ev.amount == Decimal("4000.00")


def test_declarations_are_shown_not_evaluated(make_library) -> None:
    lib = make_library(["employees > 0", {"label": "从事国家非限制和禁止行业", "declaration": True}])
    ev = evaluate(lib, {"employees": 3})[1]
    assert ev.verdict == "eligible" and len(ev.outcomes) == 1


def test_parameters_follow_the_as_of_date(make_library) -> None:
    lib = make_library(["taxable_income > 0"], formula="taxable_income * param('t.rate')", parameters=RATE)
    profile = {"taxable_income": "1000000"}
    assert evaluate(lib, profile, dt.date(2022, 12, 31))[1].amount == Decimal("100000.00")
    assert evaluate(lib, profile, dt.date(2023, 1, 1))[1].amount == Decimal("50000.00")


def test_unknown_is_never_zero_in_a_cap(make_library) -> None:
    lib = make_library(["employees >= 0"], formula="LEAST(rd_expense * 0.5, 200000)")
    ev = evaluate(lib, {"employees": 3})[1]
    assert ev.verdict == "eligible"
    assert ev.amount is None and ev.amount_missing == ("rd_expense",)
    assert evaluate(lib, {"employees": 3, "rd_expense": "1000000"})[1].amount == Decimal("200000.00")


def test_amount_rounds_half_up_to_the_cent(make_library) -> None:
    lib = make_library(["revenue > 0"], formula="revenue * 0.005")
    assert evaluate(lib, {"revenue": "1.00"})[1].amount == Decimal("0.01")  # 0.005 → 0.01


def test_division_by_zero_is_unknown(make_library) -> None:
    lib = make_library(["revenue > 0"], formula="revenue / employees")
    assert evaluate(lib, {"revenue": "10", "employees": 0})[1].amount is None
    assert evaluate(lib, {"revenue": "10", "employees": 3})[1].amount == Decimal("3.33")


def test_age_on_the_as_of_date(make_library) -> None:
    lib = make_library(["age_years >= 3"])
    assert evaluate(lib, {"registered_on": "2021-06-30"})[1].verdict == "eligible"
    variables, ev = evaluate(lib, {"registered_on": "2021-07-01"})
    assert ev.verdict == "ineligible" and variables["age_years"] == 2


def test_certifications_membership_and_empty_list(make_library) -> None:
    lib = make_library(["contains(certifications, 'high_tech')"])
    assert evaluate(lib, {"certifications": ["high_tech"]})[1].verdict == "eligible"
    assert evaluate(lib, {"certifications": []})[1].verdict == "ineligible"
    assert evaluate(lib, {"employees": 1})[1].verdict == "undetermined"


def test_policies_outside_their_validity_are_not_listed(make_library) -> None:
    lib = make_library(["employees > 0"], valid_from="2023-01-01", valid_to="2023-12-31")
    assert lib.evaluate(parse_profile({"employees": 1}), dt.date(2024, 1, 1))[1] == []
    assert len(lib.evaluate(parse_profile({"employees": 1}), dt.date(2023, 12, 31))[1]) == 1
