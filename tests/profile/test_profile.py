import datetime as dt
from decimal import Decimal

import pytest
from stdnum.cn import uscc as stdnum_uscc

from huiqi.profile import ProfileError, industry, parse_profile, regions, uscc


def with_check(first17: str) -> str:
    return first17 + uscc.check_character(first17)


def problems(data: dict) -> dict[str, str]:
    with pytest.raises(ProfileError) as exc:
        parse_profile(data)
    return {p.field: str(p) for p in exc.value.problems}


def test_valid_uscc_is_normalized() -> None:
    assert parse_profile({"uscc": " 91110000600037341l "}).uscc == "91110000600037341L"


def test_letter_registration_authority_is_accepted_where_stdnum_refuses() -> None:
    farm_coop = with_check("N2339901MA2B3C4D5")  # N = 农业 registration authority
    assert not stdnum_uscc.is_valid(farm_coop)
    assert parse_profile({"uscc": farm_coop}).uscc == farm_coop


def test_wrong_check_character_names_the_field_and_the_right_character() -> None:
    msg = problems({"uscc": "91110000600037341X"})["uscc"]
    assert "统一社会信用代码" in msg and "“L”" in msg and "check character" in msg


@pytest.mark.parametrize("code", ["91110000600037341", "Z1110000600037341L", "9111000060003734IL"])
def test_malformed_uscc_is_rejected(code: str) -> None:
    assert "uscc" in problems({"uscc": code})


@pytest.mark.parametrize("code", ["C", "C39", "C391", "C3911", "i6513"])
def test_industry_codes_at_every_level(code: str) -> None:
    assert parse_profile({"industry": code}).industry == code.upper()


@pytest.mark.parametrize("code", ["C99", "A069", "C3999"])
def test_unknown_industry_codes_are_rejected(code: str) -> None:
    assert f"GB/T 4754-2017 中没有代码 {code}" in problems({"industry": code})["industry"]


@pytest.mark.parametrize("code", ["X12", "C3", "C39111", "39"])
def test_malformed_industry_codes_are_rejected(code: str) -> None:
    assert "应为门类字母加2–4位数字" in problems({"industry": code})["industry"]


def test_industry_search_by_name_and_code() -> None:
    assert industry.search("软件开发")[0].code == "I651"
    assert [i.code for i in industry.search("I6513")] == ["I6513"]
    assert industry.path("C3911")[0].name == "制造业"


def test_every_bad_field_is_reported_at_once_in_both_languages() -> None:
    found = problems(
        {
            "employees": -1,
            "revenue": "abc",
            "taxpayer_type": "small",
            "foo": 1,
            "registered_on": "2024-13-01",
            "certifications": ["hightech"],
        }
    )
    assert set(found) == {"employees", "revenue", "taxpayer_type", "foo", "registered_on", "certifications.0"}
    assert "不能为负数" in found["employees"]
    assert "small_scale（小规模纳税人）" in found["taxpayer_type"]
    assert "不是企业画像中的字段" in found["foo"]


def test_money_is_exact_and_limited_to_cents() -> None:
    assert parse_profile({"revenue": "1234567.89"}).revenue == Decimal("1234567.89")
    assert "最多两位小数" in problems({"revenue": "1.001"})["revenue"]


def test_empty_profile_and_non_object_are_rejected() -> None:
    assert "不能为空" in problems({})[""]
    with pytest.raises(ProfileError):
        parse_profile(["not", "an", "object"])


def test_unknown_stays_unknown() -> None:
    facts = parse_profile({"employees": 0}).facts()
    assert facts["employees"] == 0 and facts["revenue"] is None and facts["certifications"] is None


@pytest.mark.parametrize(
    ("data", "field"),
    [({"employees": True}, "employees"), ({"revenue": False}, "revenue"), ({"registered_on": 0}, "registered_on")],
)
def test_values_of_the_wrong_kind_are_not_coerced(data: dict, field: str) -> None:
    assert field in problems(data)


def test_industry_search_puts_names_that_begin_with_the_words_first() -> None:
    assert [i.code for i in industry.search("软件")[:2]] == ["I651", "I65"]


# ---- inputs people actually type (issue 9 §8) ---------------------------------------------


def test_full_width_digits_and_letters_are_read_as_ascii() -> None:
    p = parse_profile(
        {
            "employees": "３０",
            "revenue": "２００．５",
            "region": "３３９９０１",
            "industry": "Ｃ３９１１",
            "registered_on": "２０２０－０１－０２",
            "credit_rating": "Ａ",
        }
    )
    assert (p.employees, p.revenue, p.region, p.industry) == (30, Decimal("200.5"), "339901", "C3911")
    assert p.registered_on == dt.date(2020, 1, 2) and p.credit_rating == "A"


@pytest.mark.parametrize("typed", ["٣٣٩٩٠١", "३३९९०१", "３３９９０１", "339901"])
def test_any_unicode_digits_name_the_same_region(typed: str) -> None:
    assert parse_profile({"region": typed}).region == "339901"


def test_an_unknown_region_code_is_refused_with_the_citys_districts() -> None:
    message = problems({"region": "110000"})["region"]
    assert "所在地区" in message
    for code, name in regions.SAMPLE_REGIONS.items():
        assert f"{code}（{name}）" in message


def test_the_name_is_kept_as_typed() -> None:
    assert parse_profile({"name": "临江（中国）食品厂１号店"}).name == "临江（中国）食品厂１号店"


def test_a_registration_date_after_the_evaluation_date_is_refused() -> None:
    data = {"registered_on": "2026-07-01", "employees": 5}
    assert parse_profile(data).registered_on == dt.date(2026, 7, 1)  # no date to compare with
    with pytest.raises(ProfileError) as e:
        parse_profile(data, as_of=dt.date(2026, 6, 30))
    (p,) = e.value.problems
    assert p.field == "registered_on" and "晚于评估日期" in p.message_zh
