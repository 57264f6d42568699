"""Every year from 2019 answers with its own rules (issue 9 §4, §5).

For every policy of the shipped library and every year 2019–2027, an enterprise that gave
every fact gets a decided answer from the rules in force that day: each parameter the
policy reads has a value then, the verdict is eligible or ineligible (nothing is left
undetermined when no fact is missing), and the answer cites the document in force. A
policy not in force in some year must be listed below with the reason.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

import pytest

from huiqi.match import answer
from huiqi.match.engine import default_library
from huiqi.profile import FIELDS

YEARS = range(2019, 2028)

#: An enterprise that gave every fact of the profile (founded before 2019).
EVERY_FACT: dict[str, Any] = {
    "uscc": "91339901MA2XYQ123H",
    "name": "临江市示例制造有限公司",
    "region": "339901",
    "industry": "C3911",
    "registered_on": "2015-03-01",
    "entity_type": "enterprise",
    "employees": 50,
    "staff_on_payroll": 45,
    "revenue": "20000000",
    "total_assets": "10000000",
    "taxable_income": "1000000",
    "rd_expense": "1000000",
    "taxpayer_type": "small_scale",
    "monthly_sales": "200000",
    "certifications": ["high_tech", "tech_sme"],
    "credit_rating": "A",
}

#: National policies that did not exist in some of the years, and why. (The 临江市 samples
#: are fictional and start in 2025 or later: they have no predecessors.)
NOT_YET_IN_FORCE = {
    "cn.vat.advanced-manufacturing-credit": (
        2023,
        "先进制造业企业加计抵减5%自2023-01-01起（财政部 税务总局公告2023年第43号）；此前的加计抵减"
        "针对生产、生活性服务业，是另一项政策",
    ),
}


def test_the_profile_gives_every_fact() -> None:
    assert set(EVERY_FACT) == set(FIELDS)


@cache
def _answer(year: int) -> dict[str, dict[str, Any]]:
    data = answer(EVERY_FACT, dt.date(year, 6, 30), default_library())
    return {r["policy_id"]: r for r in data["results"]}


def _cases() -> list[tuple[str, int]]:
    return [(p.id, year) for p in default_library().policies for year in YEARS]


@pytest.mark.parametrize(("policy_id", "year"), _cases())
def test_every_policy_answers_every_year_with_the_rules_then(policy_id: str, year: int) -> None:
    library = default_library()
    policy = next(p for p in library.policies if p.id == policy_id)
    d = policy.definition
    as_of = dt.date(year, 6, 30)
    results = _answer(year)
    if not d.in_force(as_of):
        if d.sample:
            return  # fictional, no predecessor
        first, why = NOT_YET_IN_FORCE[policy_id]
        assert year < first, why
        return
    result = results[policy_id]
    for name in policy.parameters:
        assert library.parameters[name].at(as_of) is not None, f"{name} has no value on {as_of}"
    assert result["verdict"] in ("eligible", "ineligible"), (result["missing"], result["conditions"])
    assert all(c["outcome"] != "unknown" for c in result["conditions"])
    cited = {d.document_number, *(doc.number for doc in d.documents)}
    assert result["document_number"] in cited


def test_national_policies_cover_2019_to_2027_unless_listed() -> None:
    """A national policy that stops short of 2019–2027 must say why (NOT_YET_IN_FORCE)."""
    for p in default_library().policies:
        if p.definition.sample:
            continue
        years = [y for y in YEARS if p.definition.in_force(dt.date(y, 6, 30))]
        first = NOT_YET_IN_FORCE.get(p.id, (2019, ""))[0]
        assert years == list(range(first, 2028)), p.id


@pytest.mark.parametrize(
    ("as_of", "document"),
    [
        ("2019-06-30", "财税〔2019〕13号"),
        ("2021-03-31", "财税〔2019〕13号"),
        ("2021-04-01", "财政部 税务总局公告2021年第11号"),
        ("2022-12-31", "财政部 税务总局公告2021年第11号"),
        ("2023-01-01", "财政部 税务总局公告2023年第19号"),
        ("2025-12-31", "财政部 税务总局公告2023年第19号"),
        ("2026-01-01", "财政部 税务总局公告2026年第10号"),
        ("2027-12-31", "财政部 税务总局公告2026年第10号"),
    ],
)
def test_the_small_scale_exemption_cites_the_document_in_force(as_of: str, document: str) -> None:
    data = answer({"taxpayer_type": "small_scale", "monthly_sales": "50000"}, dt.date.fromisoformat(as_of))
    result = next(r for r in data["results"] if r["policy_id"] == "cn.vat.small-scale-exemption")
    assert result["verdict"] == "eligible"
    assert result["document_number"] == document


def test_from_2026_exactly_100000_a_month_is_taxed_at_1pct_citing_2026_no_10() -> None:
    """增值税法 第二十三条: sales that reach the 起征点 are taxed in full."""
    before = answer({"taxpayer_type": "small_scale", "monthly_sales": "100000"}, dt.date(2025, 12, 31))
    after = answer({"taxpayer_type": "small_scale", "monthly_sales": "100000"}, dt.date(2026, 1, 1))
    verdicts = [
        {r["policy_id"]: (r["verdict"], r["document_number"]) for r in data["results"]} for data in (before, after)
    ]
    assert verdicts[0]["cn.vat.small-scale-exemption"] == ("eligible", "财政部 税务总局公告2023年第19号")
    assert verdicts[0]["cn.vat.small-scale-1pct"] == ("ineligible", "财政部 税务总局公告2023年第19号")
    assert verdicts[1]["cn.vat.small-scale-exemption"] == ("ineligible", "财政部 税务总局公告2026年第10号")
    assert verdicts[1]["cn.vat.small-scale-1pct"] == ("eligible", "财政部 税务总局公告2026年第10号")


def test_past_years_answer_with_their_own_thresholds() -> None:
    """12万元 a month: exempt only from 2021-04 to 2022 (15万); 3% sales exempt in 2022-04…12."""
    profile = {"taxpayer_type": "small_scale", "monthly_sales": "120000"}

    def verdicts(day: dt.date) -> dict[str, tuple[str, str | None]]:
        data = answer(profile, day)
        return {
            r["policy_id"]: (r["verdict"], r["benefit"]["amount"])
            for r in data["results"]
            if r["policy_id"].startswith("cn.vat.small-scale")
        }

    assert verdicts(dt.date(2019, 6, 30)) == {
        "cn.vat.small-scale-exemption": ("ineligible", None),
        "cn.vat.small-scale-1pct": ("ineligible", None),  # no reduction in 2019: 3%
    }
    assert verdicts(dt.date(2020, 6, 30))["cn.vat.small-scale-1pct"] == ("eligible", "28800.00")
    assert verdicts(dt.date(2021, 6, 30))["cn.vat.small-scale-exemption"] == ("eligible", "43200.00")
    assert verdicts(dt.date(2022, 6, 30))["cn.vat.small-scale-1pct"] == ("eligible", "43200.00")
    assert verdicts(dt.date(2024, 6, 30))["cn.vat.small-scale-1pct"] == ("eligible", "28800.00")


@pytest.mark.slow  # one SQL plan per tested date: ≈20 s
def test_python_and_sql_agree_on_every_test_case_of_the_national_policies_in_its_year() -> None:
    """The national policies' own boundary cases (2018–2027) through both evaluators, on each case's
    date, for the policies tested that day: the batch engine's SQL answers the past as the
    calculator does."""
    import duckdb

    from huiqi.profile import parse_profile
    from huiqi.rules.sqlquery import PROFILE_COLUMNS, match_query

    library = default_library()
    by_date: dict[dt.date, list[dict[str, Any]]] = {}
    tested: dict[dt.date, set[str]] = {}
    for p in library.policies:
        for case in [] if p.definition.sample else p.definition.tests:
            by_date.setdefault(case.as_of, []).append(case.profile)
            tested.setdefault(case.as_of, set()).add(p.id)
    con = duckdb.connect()
    cols = ", ".join(f'"{name}" {sql_type}' for name, sql_type in PROFILE_COLUMNS.items())
    compared = 0
    for as_of, profiles in sorted(by_date.items()):
        con.execute("DROP TABLE IF EXISTS profiles")
        con.execute(f'CREATE TABLE profiles ("row" INTEGER, {cols})')
        expected: dict[int, dict[str, tuple[str, Any]]] = {}
        for row, raw in enumerate(profiles):
            profile = parse_profile(raw)
            facts = profile.facts()
            con.execute(f"INSERT INTO profiles VALUES (?{', ?' * len(facts)})", [row, *facts.values()])
            _, evaluations = library.evaluate(profile, as_of, sorted(tested[as_of]))
            expected[row] = {ev.policy.id: (ev.verdict, ev.amount) for ev in evaluations}
        result = con.execute(match_query(library, as_of, key="row", policy_ids=tested[as_of]))
        names = [d[0] for d in result.description]
        for values in result.fetchall():
            got = dict(zip(names, values, strict=True))
            for policy_id, (verdict, amount) in expected[got["row"]].items():
                assert (got[f"{policy_id}:verdict"], got[f"{policy_id}:amount"]) == (verdict, amount), (
                    as_of,
                    profiles[got["row"]],
                    policy_id,
                )
                compared += 1
    assert compared > 250


DATED = [
    {"from": "2019-01-01", "number": "旧〔2019〕1号"},
    {"number": "只作沿革〔2020〕2号"},
    {"from": "2023-01-01", "number": "测试〔2024〕1号"},
]


def test_an_answer_cites_the_dated_document_in_force_on_its_day() -> None:
    from huiqi.rules import load_library
    from tests.builders import files_for, policy_yaml

    library = load_library(files=files_for(policy_yaml(["employees > 0"], documents=DATED)))
    cited = [
        answer({"employees": 1}, dt.date.fromisoformat(day), library)["results"][0]["document_number"]
        for day in ("2019-01-01", "2022-12-31", "2023-01-01")
    ]
    assert cited == ["旧〔2019〕1号", "旧〔2019〕1号", "测试〔2024〕1号"]


@pytest.mark.parametrize(
    "documents",
    [list(reversed(DATED)), [*DATED[:2], {"from": "2023-01-01", "number": "别的〔2023〕9号"}]],
    ids=["out of order", "last dated is not document_number"],
)
def test_dated_documents_must_be_in_order_and_end_with_the_document_number(documents: list[dict]) -> None:
    from huiqi.rules import LibraryError, load_library
    from tests.builders import files_for, policy_yaml

    with pytest.raises(LibraryError, match=r"documents|document_number"):
        load_library(files=files_for(policy_yaml(["employees > 0"], documents=documents)))
