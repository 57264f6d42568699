"""Recommendation: relevance within what the rules allow, with a reason; the missing-facts block."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from huiqi.discover.documents import policy_doc
from huiqi.discover.recommend import missing_facts, recommend
from huiqi.match import default_library, match
from huiqi.profile import parse_profile
from tests.discover import goldset

AS_OF = dt.date(2026, 6, 30)
RESTAURANT = {"region": "339901", "industry": "H6210", "employees": 12}


def recommended(profile: dict[str, Any], **kw: Any) -> Any:
    library = default_library()
    docs = {p.id: policy_doc(p, library) for p in library.policies}
    answer = match(profile, as_of=AS_OF, library=library)
    return answer, recommend(answer, parse_profile(profile).model_dump(exclude_none=True), docs, **kw)


def test_the_restaurant_sees_the_catering_policy_in_its_top_three_with_a_reason() -> None:
    answer, rec = recommended(RESTAURANT)
    by_amount = [r.policy_id for r in answer.results if r.verdict != "ineligible"]
    assert by_amount.index("lj.commerce.catering-stable-award") > 10  # the complaint of the issue
    top = [r.policy_id for r in rec.items[:3]]
    assert "lj.commerce.catering-stable-award" in top
    reason = rec.reason_of("lj.commerce.catering-stable-award")
    assert reason is not None and reason.startswith("因为您是餐饮企业") and "本区" in reason


def test_a_growing_software_firm_is_told_why_in_its_own_words() -> None:
    profile = {"region": "339903", "industry": "I6513", "employees": 60, "revenue": "20000000",
               "registered_on": "2021-03-01", "certifications": ["high_tech"]}  # fmt: skip
    _, rec = recommended(profile)
    assert rec.stage == "成长期"
    software = rec.reason_of("lj.sci.software-growth-award")
    assert software is not None and software.startswith("因为您是成长期的软件和信息技术服务企业")
    assert "lj.sci.software-growth-award" in [r.policy_id for r in rec.items[:3]]


def test_ineligible_policies_are_never_recommended() -> None:
    answer, rec = recommended(RESTAURANT)
    ineligible = {r.policy_id for r in answer.results if r.verdict == "ineligible"}
    assert ineligible and not ineligible & {r.policy_id for r in rec.items}
    assert len(rec.items) == len(answer.results) - len(ineligible)


def test_similar_enterprises_reorder_but_never_lift_over_eligibility() -> None:
    answer, plain = recommended(RESTAURANT)
    everything = {r.policy_id: 1.0 for r in answer.results}
    _, blended = recommended(RESTAURANT, similar=lambda facts, variables, ids: {"cn.tax.six-taxes-two-fees-half": 1.0})
    assert blended.blended
    # An undetermined policy with full "similar" support still cannot pass an eligible one
    # that had the same relevance (the blend weighs less than the eligibility step).
    order = [r.policy_id for r in blended.items]
    six = order.index("cn.tax.six-taxes-two-fees-half")
    assert order.index("cn.fee.disability-fund-exemption") < six
    _, flooded = recommended(RESTAURANT, similar=lambda facts, variables, ids: everything)
    assert [r.policy_id for r in flooded.items] == [r.policy_id for r in plain.items]  # uniform: no change


def test_one_form_for_the_facts_that_decide_the_most_policies() -> None:
    answer, rec = recommended(RESTAURANT)
    ask = rec.ask
    assert ask is not None and 1 <= len(ask.fields) <= 3
    pending = {r.policy_id: set(r.missing) for r in answer.results if r.verdict == "undetermined"}
    assert ask.decides and all(pending[p] <= set(ask.fields) for p in ask.decides)
    assert ask.headline == f"补充这 {len(ask.fields)} 项即可再确定 {len(ask.decides)} 项政策"
    # No other choice of as many facts decides more.
    import itertools

    fields = sorted(set().union(*pending.values()))
    best = max(sum(1 for m in pending.values() if m <= set(c)) for c in itertools.combinations(fields, len(ask.fields)))
    assert len(ask.decides) == best
    # Giving those facts does decide them.
    filled = {**RESTAURANT, "revenue": "1500000", "monthly_sales": "120000", "credit_rating": "B",
              "registered_on": "2020-01-01", "total_assets": "500000", "taxable_income": "100000",
              "taxpayer_type": "general", "certifications": [], "rd_expense": "0"}  # fmt: skip
    after = {r.policy_id: r.verdict for r in match(filled, as_of=AS_OF).results}
    assert all(after[p] != "undetermined" for p in ask.decides)


def test_no_block_when_nothing_is_undetermined() -> None:
    assert missing_facts([]) is None


@pytest.mark.slow
def test_the_ranking_beats_amount_order_on_the_held_out_gold_set() -> None:
    as_of, situations = goldset.load()
    assert len(situations) >= 60
    library = default_library()
    ids = {p.id for p in library.policies}
    for s in situations:
        parse_profile(s.profile)
        assert set(s.relevant) <= ids, s.id
    held_out = goldset.split(situations, True)
    assert len(held_out) >= 20
    scores = goldset.evaluate(held_out, goldset.runs(held_out, as_of, library=library))
    assert scores["ranking"]["ndcg@10"] > scores["amount"]["ndcg@10"] + 0.05
    assert scores["ranking"]["mrr"] > scores["amount"]["mrr"]
