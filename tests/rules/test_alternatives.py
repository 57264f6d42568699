"""Benefits that interact: exclusive groups (alternative:) and the applicable CIT rate (cit_rate).

A 高新技术企业 that is also a 小型微利企业 pays one reduced rate, never both; the deduction of
研发费用加计扣除 is worth the rate the enterprise actually pays.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pytest

from huiqi.match import answer, default_library
from huiqi.profile import parse_profile
from huiqi.rules import LibraryError, lint_library, load_library
from huiqi.rules.library import choose
from huiqi.rules.sqlquery import PROFILE_COLUMNS, match_query
from tests.builders import files_for, policy_yaml

HIGH_TECH, SMALL, RD = "cn.cit.high-tech", "cn.cit.small-low-profit", "cn.cit.rd-super-deduction"
CIT = [HIGH_TECH, SMALL, RD]
GROUP = "cit.reduced-rate"
RATE = Decimal("0.25")
YEARS = range(2019, 2028)
INCOMES = [
    Decimal(0),
    Decimal("500000"),
    Decimal("1000000"),
    Decimal("1000000.01"),
    Decimal("2000000"),
    Decimal(3000000),
]


def high_tech_small(income: Decimal, **extra: object) -> dict[str, object]:
    return {
        "industry": "I6513",
        "employees": 80,
        "total_assets": 20_000_000,
        "taxable_income": str(income),
        "certifications": ["high_tech"],
        **extra,
    }


@pytest.mark.parametrize("year", YEARS)
@pytest.mark.parametrize("income", INCOMES)
def test_cit_savings_never_exceed_the_cit_at_25_percent(year: int, income: Decimal) -> None:
    result = answer(high_tech_small(income), dt.date(year, 6, 30), policy_ids=[HIGH_TECH, SMALL])
    by_id = {r["policy_id"]: r for r in result["results"]}
    assert by_id[HIGH_TECH]["verdict"] == by_id[SMALL]["verdict"] == "eligible"
    (group,) = result["alternatives"]
    total = Decimal(result["totals"]["eligible_amount_by_unit"]["yuan/year"])
    assert total == Decimal(group["amount"]) <= income * RATE
    if income == 0:  # nothing to save: both are worth 0, the totals take one of them
        assert total == 0 and group["chosen"] in (SMALL, HIGH_TECH)
        return
    # the totals take one rate: the small low-profit one, always the better (≤ 10% against 15%)
    assert group["chosen"] == SMALL and group["note"] == "两项择优享受，按小型微利企业优惠计"
    assert by_id[SMALL]["alternative"]["chosen"] and not by_id[HIGH_TECH]["alternative"]["chosen"]
    assert total == Decimal(by_id[SMALL]["benefit"]["amount"])
    # before: both added up, more than the whole tax for any positive income
    both = Decimal(by_id[SMALL]["benefit"]["amount"]) + Decimal(by_id[HIGH_TECH]["benefit"]["amount"])
    assert income == 0 or both > income * RATE


@pytest.mark.parametrize("year", YEARS)
@pytest.mark.parametrize("income", INCOMES)
def test_with_rd_the_savings_stay_within_the_cit_on_income_before_the_deduction(year: int, income: Decimal) -> None:
    rd = Decimal(5_000_000)
    as_of = dt.date(year, 6, 30)
    result = answer(high_tech_small(income, rd_expense=str(rd)), as_of, policy_ids=CIT)
    total = Decimal(result["totals"]["eligible_amount_by_unit"]["yuan/year"])
    ratio = default_library().params_at(as_of)["cit.rd.extra_deduction_ratio"]
    assert total <= (income + rd * ratio) * RATE


@pytest.mark.parametrize(
    ("profile", "rate"),
    [
        ({"certifications": [], "employees": 500}, "0.25"),
        ({"certifications": ["high_tech"], "employees": 500}, "0.15"),
        ({"certifications": [], "employees": 50, "total_assets": 1_000_000, "taxable_income": 500_000}, "0.05"),
        ({"certifications": ["high_tech"], "employees": 50, "total_assets": 1_000_000, "taxable_income": 0}, "0.05"),
        ({"certifications": ["high_tech"]}, None),  # 5% or 15%: is it a small low-profit enterprise?
        ({"employees": 500}, None),  # 15% or 25%: is it a high-tech enterprise?
    ],
)
def test_the_applicable_rate_is_unknown_when_the_facts_that_decide_it_are(profile: dict, rate: str | None) -> None:
    variables = default_library().derive(parse_profile(profile), dt.date(2024, 6, 30))
    assert variables["cit_rate"] == (None if rate is None else Decimal(rate))


@pytest.mark.parametrize(
    ("profile", "amount"),
    [
        ({"employees": 500, "certifications": []}, "250000.00"),  # 25%
        ({"employees": 500, "certifications": ["high_tech"]}, "150000.00"),  # 15%
        (high_tech_small(Decimal(1_000_000)), "50000.00"),  # small low-profit 5%, the better rate
        ({"certifications": []}, None),  # 5% or 25%: not known, never assumed
    ],
)
def test_rd_savings_follow_the_applicable_rate(profile: dict, amount: str | None) -> None:
    profile = {"industry": "C3911", "rd_expense": 1_000_000, **profile}
    (r,) = answer(profile, dt.date(2024, 6, 30), policy_ids=[RD])["results"]
    assert r["benefit"]["amount"] == amount
    if amount is None:
        assert set(r["benefit"]["missing"]) >= {"employees"}


def test_python_and_sql_choose_the_same_member() -> None:
    library = default_library()
    profiles = [
        high_tech_small(Decimal(800_000)),
        high_tech_small(Decimal(800_000), certifications=[]),
        {"certifications": ["high_tech"], "taxable_income": 2_000_000, "employees": 500},
        {"certifications": ["high_tech"], "taxable_income": 2_000_000},  # small low-profit undetermined
        {"certifications": ["high_tech"], "employees": 80, "total_assets": 1_000_000},  # amounts unknown
        {"employees": 5},
    ]
    con = duckdb.connect()
    cols = ", ".join(f'"{n}" {t}' for n, t in PROFILE_COLUMNS.items())
    con.execute(f"CREATE TABLE profiles (row_id INTEGER, {cols})")
    facts = [parse_profile(p).facts() for p in profiles]
    con.executemany(
        f"INSERT INTO profiles VALUES ({', '.join('?' * (len(PROFILE_COLUMNS) + 1))})",
        [[i, *f.values()] for i, f in enumerate(facts)],
    )
    for year in YEARS:
        as_of = dt.date(year, 6, 30)
        cur = con.execute(match_query(library, as_of, key="row_id", policy_ids=CIT) + " ORDER BY row_id")
        header = [d[0] for d in cur.description]
        for profile, row in zip(profiles, cur.fetchall(), strict=True):
            sql = dict(zip(header, row, strict=True))
            choice = choose(library.evaluate(parse_profile(profile), as_of, CIT)[1])[GROUP]
            assert sql[f"{GROUP}:chosen"] == (choice.chosen.policy.id if choice.chosen else None), (year, profile)
            assert sql[f"{GROUP}:amount"] == (choice.chosen.amount if choice.chosen else None), (year, profile)


def _group(i: int, formula: str, unit: str = "yuan/year") -> dict:
    doc = policy_yaml(
        ["employees > 0"], formula, id=f"cn.test.member{i}", alternative={"group": "t.g", "name": f"第{i}项"}
    )
    doc["benefit"]["unit"] = unit
    return doc


def test_ties_go_to_the_earlier_member_and_unknown_amounts_are_not_compared() -> None:
    library = load_library(files=files_for(_group(0, "revenue"), _group(1, "revenue"), _group(2, "total_assets")))
    as_of = dt.date(2024, 6, 30)
    result = answer({"employees": 3, "revenue": 100}, as_of, library)
    (group,) = result["alternatives"]
    assert group["chosen"] == "cn.test.member0"  # 100 = 100: the earlier one
    assert group["note"] == "三项择优享受，按第0项计（第2项的金额无法估算，未作比较）"
    assert result["totals"]["eligible_amount"] == "100.00"  # never 100 + 100
    result = answer({"employees": 3, "revenue": 100, "total_assets": 101}, as_of, library)
    assert result["alternatives"][0]["chosen"] == "cn.test.member2"
    assert result["totals"]["eligible_amount"] == "101.00"


def test_a_group_needs_members_with_benefits_in_one_unit() -> None:
    # one member left (the other withdrawn): allowed, with a warning
    library, problems = lint_library(files=files_for(_group(0, "revenue")))
    assert library is not None and any("只有这一项政策" in p.message for p in problems)
    with pytest.raises(LibraryError) as e:
        load_library(files=files_for(_group(0, "revenue"), _group(1, "revenue", unit="yuan")))
    assert "单位相同" in "\n".join(e.value.details())
