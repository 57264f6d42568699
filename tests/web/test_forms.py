"""The calculator form: 万元 → yuan exactly, industry lookup, every field's error."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import FormData

from huiqi.profile import parse_profile
from huiqi.web import forms


@pytest.mark.parametrize(
    ("text", "yuan"),
    [
        ("35.5", "355000.00"),
        ("1200", "12000000.00"),
        ("1,200", "12000000.00"),
        (" 0.000001 ", "0.01"),
        ("0", "0.00"),
        ("0.1", "1000.00"),
        ("12.345678", "123456.78"),
        ("300万元", "3000000.00"),
        ("300万", "3000000.00"),
        ("1e3", "10000000.00"),
        ("99999999999", "999999999990000.00"),
    ],
)
def test_wan_to_yuan_is_exact(text: str, yuan: str) -> None:
    value = forms.wan_to_yuan(text)
    assert isinstance(value, Decimal)
    assert str(value) == yuan


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("abc", "请填写数字"),
        ("", "请填写数字"),
        ("1.2.3", "请填写数字"),
        ("NaN", "有限"),
        ("Infinity", "有限"),
        ("-1", "负数"),
        ("0.0000001", "分"),
        ("1e12", "过大"),
        ("1e999999999", "过大"),
    ],
)
def test_wan_to_yuan_refuses_in_words(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        forms.wan_to_yuan(text)


@given(st.decimals(min_value=0, max_value=Decimal("9999999999999999.99"), places=2))
def test_yuan_survives_the_round_trip_through_wan(yuan: Decimal) -> None:
    assert forms.wan_to_yuan(forms.yuan_to_wan(yuan)) == yuan


def test_float_would_have_been_wrong() -> None:
    """The reason for Decimal: 0.07 万元 is 700 yuan, not 700.0000000000001."""
    assert 0.07 * 10000 != 700
    assert forms.wan_to_yuan("0.07") == Decimal("700.00")


def test_resolve_industry() -> None:
    assert forms.resolve_industry("C3911") == "C3911"
    assert forms.resolve_industry("c3911") == "C3911"
    assert forms.resolve_industry("C3911 计算机整机制造") == "C3911"
    assert forms.resolve_industry("计算机整机制造") == "C3911"
    with pytest.raises(ValueError, match="C3911"):
        forms.resolve_industry("计算机")  # several: suggest codes
    with pytest.raises(ValueError, match="找不到"):
        forms.resolve_industry("魔法学校")


def form(**fields: str | list[str]) -> FormData:
    items: list[tuple[str, str]] = []
    for k, v in fields.items():
        items += [(k, x) for x in v] if isinstance(v, list) else [(k, v)]
    return FormData(items)


def test_parse_form_builds_a_valid_profile() -> None:
    state = forms.parse_form(
        form(
            name="临江测试有限公司",
            industry="计算机整机制造",
            region="339901 临江区",
            employees="1,260",
            revenue="18000",
            total_assets="0.5",
            taxpayer_type="general",
            certifications=["high_tech", "tech_sme", "bogus"],
            registered_on="2016-04-12",
            as_of="2026-06-30",
        )
    )
    assert state.errors == {}
    assert state.profile is not None
    profile = parse_profile(state.profile)
    assert profile.industry == "C3911"
    assert profile.region == "339901"
    assert profile.employees == 1260
    assert profile.revenue == Decimal("180000000.00")
    assert profile.total_assets == Decimal("5000.00")
    assert profile.certifications == ["high_tech", "tech_sme"]
    assert state.as_of_date is not None and state.as_of_date.isoformat() == "2026-06-30"
    assert state.values["industry"] == "C3911 计算机整机制造"  # shown back with its name
    assert state.values["revenue"] == "18000"  # as typed


def test_parse_form_certifications_none_means_empty_not_unknown() -> None:
    assert forms.parse_form(form(certifications_none="1")).profile == {"certifications": []}
    assert forms.parse_form(form(employees="3")).profile == {"employees": "3"}


def test_parse_form_errors_name_each_field() -> None:
    state = forms.parse_form(form(employees="很多", revenue="-3", industry="魔法学校", region="12", as_of="2026-02-30"))
    assert state.profile is None
    assert set(state.errors) == {"employees", "revenue", "industry", "region", "as_of"}
    assert state.errors["revenue"].startswith("不能为负数")
    assert state.errors["employees"] == "应为整数"


def test_empty_form_asks_for_one_field() -> None:
    state = forms.parse_form(form(name="", employees="  "))
    assert state.profile is None and "" in state.errors


def test_last_non_empty_value_wins() -> None:
    """A missing-fact prompt carries the form state and adds the answer."""
    state = forms.parse_form(form(employees=["", "12"], credit_rating=["", "A"]))
    assert state.profile == {"employees": "12", "credit_rating": "A"}


def test_state_from_profile_shows_money_in_wan() -> None:
    state = forms.state_from_profile({"revenue": "180000000.00", "employees": 5, "certifications": []})
    assert state.values == {"revenue": "18000", "employees": "5"}
    assert state.certifications_none
