"""The calculator's answer: the JSON contract of ARCHITECTURE.md and its plain-Chinese reasons."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from huiqi.match import match
from huiqi.profile import ProfileError
from huiqi.rules import load_library
from tests.builders import files_for, policy_yaml

AS_OF = dt.date(2024, 6, 30)


@pytest.fixture(scope="module")
def library():
    small = policy_yaml(
        ["employees <= 300", "taxable_income <= 3000000", {"label": "从事国家非限制和禁止行业", "declaration": True}],
        formula="LEAST(taxable_income, 1000000) * 0.2",
        id="cn.test.small",
        title="小企业优惠",
    )
    tech = policy_yaml(
        ["contains(certifications, 'high_tech')"], formula="taxable_income * 0.1", id="cn.test.tech", title="高新优惠"
    )
    return load_library(files=files_for(small, tech))


def test_result_follows_the_contract(library) -> None:
    result = match({"employees": 350, "taxable_income": "500000", "registered_on": "2020-01-01"}, AS_OF, library)
    data = json.loads(result.model_dump_json())
    assert data["as_of"] == "2024-06-30"
    assert data["variables"] == {"age_years": 4, "industry_section": None}
    by_id = {r["policy_id"]: r for r in data["results"]}
    small = by_id["cn.test.small"]
    assert small["verdict"] == "ineligible"
    assert [c["outcome"] for c in small["conditions"]] == ["unmet", "met"]
    assert small["conditions"][0]["values"] == {"employees": 350}
    assert small["declarations"] == ["从事国家非限制和禁止行业"]
    assert set(small) >= {"policy_id", "title", "verdict", "conditions", "missing", "benefit", "apply"}
    tech = by_id["cn.test.tech"]
    assert tech["verdict"] == "undetermined" and tech["missing"] == ["certifications"]
    assert tech["benefit"]["amount"] == "50000.00"  # an estimate, if it qualifies


def test_reason_reads_like_a_person_wrote_it(library) -> None:
    result = match({"employees": 350, "taxable_income": "500000"}, AS_OF, library)
    small = next(r for r in result.results if r.policy_id == "cn.test.small")
    assert small.conditions[0].reason == "从业人数 350 人，超过上限 300 人"
    assert small.conditions[1].reason == "上年应纳税所得额 50 万元，不超过 300 万元"


def test_eligible_first_with_amount_as_decimal_string_and_total(library) -> None:
    result = match({"employees": 10, "taxable_income": "2000000", "certifications": ["high_tech"]}, AS_OF, library)
    assert [r.verdict for r in result.results] == ["eligible", "eligible"]
    assert [r.benefit.amount for r in result.results if r.benefit] == ["200000.00", "200000.00"]
    assert result.totals.eligible_amount == "400000.00"


def test_bad_profile_raises_profile_error(library) -> None:
    with pytest.raises(ProfileError) as exc:
        match({"employees": "many"}, AS_OF, library)
    assert exc.value.problems[0].field == "employees"


def test_region_codes_of_the_sample_city_are_named() -> None:
    from huiqi.match.explain import value_text

    assert value_text("region", "339903") == "339903（临江高新区）"
    assert value_text("region", "110000") == "110000"


def test_a_restaurant_with_12_staff_is_small_or_micro_without_its_revenue() -> None:
    # the example: no revenue needed to know a catering firm with < 100 staff is small or micro
    result = match({"industry": "H6210", "employees": 12}, AS_OF, policy_ids=["cn.stamp.small-micro-loan-contract"])
    assert result.variables["size_class"] is None  # not one class …
    assert result.possible["size_class"] == ["small", "micro"]  # … but only these two
    (r,) = result.results
    assert r.verdict == "eligible" and r.missing == []
    (size,) = [c for c in r.conditions if c.id == "size"]
    assert size.outcome == "met" and "小型或微型" in size.reason


def test_a_coarse_industry_is_not_taken_as_outside_an_excluded_class() -> None:
    # C may be 烟草制品业 (C16): the R&D negative list cannot be decided from the section alone
    r = match({"industry": "C", "rd_expense": 1000000}, AS_OF, policy_ids=["cn.cit.rd-super-deduction"]).results[0]
    assert r.verdict == "undetermined" and r.missing == ["industry"]
    (tobacco,) = [c for c in r.conditions if c.outcome == "unknown"]
    assert "不够具体" in tobacco.reason and "缺少" not in tobacco.reason
    sure = match({"industry": "C3911", "rd_expense": 1000000}, AS_OF, policy_ids=["cn.cit.rd-super-deduction"])
    assert [c.outcome for c in sure.results[0].conditions] == ["met"] * 4


def test_an_enterprise_is_not_evaluated_before_it_was_registered() -> None:
    # a negative age would make it a start-up eligible for opening subsidies
    data = {"registered_on": "2026-07-01", "employees": 5, "region": "339901"}
    with pytest.raises(ProfileError) as e:
        match(data, dt.date(2026, 6, 30))
    assert [p.field for p in e.value.problems] == ["registered_on"]
    assert match(data, dt.date(2026, 7, 1)).variables["age_years"] == 0
