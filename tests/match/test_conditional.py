"""Issue 9 §7: 可享受 only when the known facts establish it.

A policy whose precondition is an action the enterprise may not have taken (已招用退役士兵,
已取得首笔贷款) is ``eligible`` with ``detail: conditional`` — 满足前提即可享受 — and the
answer names the precondition; the 可享受 count and total hold only the rest.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from huiqi.match import answer, default_library, match
from huiqi.profile import parse_profile
from huiqi.rules import lint_library, load_library
from huiqi.rules.library import choose
from huiqi.vocab import precondition_text
from tests.builders import files_for, policy_yaml

AS_OF = dt.date(2025, 6, 30)
HIRED = {"id": "hired", "label": "已招用自主就业退役士兵", "action": True}


def test_an_action_makes_eligible_conditional_and_keeps_it_out_of_the_total() -> None:
    plain = policy_yaml(["employees > 0"], "employees * 100", id="cn.test.plain")
    hiring = policy_yaml(["employees > 0", HIRED], "employees * 1000", id="cn.test.hiring")
    library = load_library(files=files_for(plain, hiring))
    data = answer({"employees": 10}, AS_OF, library)
    by_id = {r["policy_id"]: r for r in data["results"]}
    assert by_id["cn.test.hiring"]["verdict"] == "eligible"  # the contract's verdict stays
    assert by_id["cn.test.hiring"]["detail"] == "conditional"
    assert by_id["cn.test.hiring"]["preconditions"] == ["已招用自主就业退役士兵"]
    assert by_id["cn.test.hiring"]["declarations"] == []  # an action is not a declaration
    assert by_id["cn.test.plain"]["detail"] is None and by_id["cn.test.plain"]["preconditions"] == []
    totals = data["totals"]
    assert (totals["eligible"], totals["conditional"]) == (1, 1)
    assert totals["eligible_amount"] == "1000.00"  # the plain policy only
    assert totals["conditional_amount_by_unit"] == {"yuan/year": "10000.00"}
    result = match({"employees": 10}, AS_OF, library)  # the typed model carries it too
    assert precondition_text(result.results[0].preconditions) == "可享受，前提是已招用自主就业退役士兵"


def test_an_undetermined_policy_still_names_its_precondition_but_is_not_conditional() -> None:
    library = load_library(files=files_for(policy_yaml(["employees > 0", HIRED], id="cn.test.hiring")))
    (result,) = answer({"name": "示例公司"}, AS_OF, library)["results"]
    assert result["verdict"] == "undetermined" and result["detail"] is None
    assert result["preconditions"] == ["已招用自主就业退役士兵"]


def test_a_member_waiting_on_an_action_is_never_the_chosen_alternative() -> None:
    group = {"group": "t.rate", "name": "甲优惠"}
    big = policy_yaml(["employees > 0", HIRED], "employees * 1000", id="cn.test.big", alternative=group)
    small = policy_yaml(
        ["employees > 0"], "employees * 10", id="cn.test.small", alternative={**group, "name": "乙优惠"}
    )
    library = load_library(files=files_for(big, small))
    _, evaluations = library.evaluate(parse_profile({"employees": 5}), AS_OF)
    assert choose(evaluations)["t.rate"].chosen.policy.id == "cn.test.small"  # type: ignore[union-attr]
    assert answer({"employees": 5}, AS_OF, library)["totals"]["eligible_amount"] == "50.00"


def test_a_condition_is_one_kind_only() -> None:
    both = policy_yaml(["employees > 0", {**HIRED, "declaration": True}])
    _, problems = lint_library(files=files_for(both))
    errors = [str(p) for p in problems if p.severity == "error"]
    assert any("action: true" in e and "p0.yaml:" in e for e in errors), errors


def test_shipped_hiring_loan_and_contract_policies_wait_on_their_action() -> None:
    """A manufacturer with staff is told it can claim the veterans' deduction only once it has
    hired one — not counted among what it can claim today."""
    profile = {
        "region": "339901",
        "industry": "C3911",
        "employees": 120,
        "revenue": "50000000",
        "total_assets": "40000000",
        "registered_on": "2015-03-01",
        "certifications": ["tech_sme"],
        "credit_rating": "A",
    }
    data = answer(profile, dt.date(2026, 6, 30), default_library())
    by_id = {r["policy_id"]: r for r in data["results"]}
    expected = {
        "cn.employment.veterans-deduction": "已招用自主就业退役士兵",
        "cn.employment.key-groups-deduction": "已招用脱贫人口",
        "cn.stamp.small-micro-loan-contract": "已向银行等金融机构借款",
        "lj.finance.first-loan-interest": "首次从本市银行业金融机构取得经营性贷款",
        "lj.sci.tech-contract-award": "登记技术开发或转让合同",
        "lj.hr.graduate-employment": "已招用毕业年度",
    }
    for pid, words in expected.items():
        r = by_id[pid]
        assert (r["verdict"], r["detail"]) == ("eligible", "conditional"), pid
        assert any(words in p for p in r["preconditions"]), (pid, r["preconditions"])
    established = [r for r in data["results"] if r["verdict"] == "eligible" and r["detail"] is None]
    assert data["totals"]["eligible"] == len(established)
    assert data["totals"]["conditional"] == sum(r["detail"] == "conditional" for r in data["results"])
    left_out = {m for a in data["alternatives"] for m in a["members"] if m != a["chosen"]}
    counted = sum(
        (Decimal(r["benefit"]["amount"]) for r in established if r["benefit"] and r["benefit"]["amount"]
         and r["policy_id"] not in left_out),
        Decimal(0),
    )  # fmt: skip
    assert Decimal(data["totals"]["eligible_amount"]) == counted
    graduate = by_id["lj.hr.graduate-employment"]["benefit"]["amount"]
    assert data["totals"]["conditional_amount_by_unit"]["yuan/person"] == graduate
