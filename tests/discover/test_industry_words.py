"""The industry picker understands the words people use, puts the usual choice first, says why."""

from __future__ import annotations

import pytest

from huiqi.discover.industry_words import entries, suggest
from huiqi.profile import industry as gbt4754


def codes(q: str, n: int = 5) -> list[str]:
    return [c.code for c in suggest(q, n)]


@pytest.mark.parametrize(
    ("typed", "first"),
    [
        ("饭馆", "H6210"),
        ("火锅", "H6210"),
        ("我开了一家火锅店", "H6210"),
        ("奶茶店", "H6239"),
        ("奶茶", "H6239"),
        ("小卖部", "F5219"),
        ("网店", "F5292"),
        ("装修", "E5012"),
        ("理发", "O8040"),
        ("搞软件", "I6513"),
        ("软件", "I6513"),
        ("餐饮", "H6210"),
        ("饭店", "H6210"),
        ("计算机整机制造", "C3911"),  # the standard's own name still works
        ("C39", "C39"),  # and codes
    ],
)
def test_everyday_words_find_the_usual_class_first(typed: str, first: str) -> None:
    assert codes(typed)[0] == first


def test_catering_before_catering_delivery_and_restaurants_before_hotels() -> None:
    catering = codes("餐饮", 10)
    assert catering.index("H6210") < catering.index("H6241")
    hotel = codes("饭店", 10)
    assert hotel[0] == "H6210" and "H6110" in hotel and hotel.index("H6110") > hotel.index("H6210")


def test_every_result_says_why() -> None:
    first = suggest("饭馆")[0]
    assert first.name == "正餐服务" and "正餐服务" in first.why and first.path[0] == "住宿和餐饮业"
    assert suggest("计算机整机制造")[0].why == "行业名称就是“计算机整机制造”"
    assert suggest("C39")[0].why == "代码以 C39 开头"
    assert all(c.why for q in ("饭馆", "餐饮", "服装", "稻谷") for c in suggest(q))


def test_the_notes_of_the_standard_are_searched_last() -> None:
    # 稻谷 is in the name 稻谷种植 and in the notes of 谷物种植 (指…包括稻谷、小麦…).
    found = suggest("稻谷", 10)
    assert found[0].code == "A0111"
    assert any(c.code == "A011" and c.why.startswith("分类说明") for c in found)


def test_the_table_names_only_real_codes_and_no_word_twice() -> None:
    seen: set[str] = set()
    for e in entries():
        assert e.why
        for code in e.codes:
            assert gbt4754.lookup(code) is not None, code
            assert len(code) == 5, f"{code}: the table maps to 小类 (4 digits)"
        for w in e.words:
            assert w not in seen, w
            seen.add(w)


def test_nothing_typed_or_nothing_known() -> None:
    assert suggest("   ") == []
    assert suggest("量子纠缠咨询") == []
