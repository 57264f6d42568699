"""Policy search: the known failures of Chinese search engines, synonyms, filters and sorts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from huiqi.discover.documents import PolicyDoc, max_amount, written_deadline
from huiqi.discover.search import SearchError, SqliteBackend, highlight, library_index, search
from huiqi.match import default_library

TODAY = dt.date(2026, 6, 30)


def doc(pid: str, title: str, summary: str = "示例摘要", **kw: object) -> PolicyDoc:
    fields: dict[str, object] = {
        "policy_id": pid,
        "title": title,
        "summary": summary,
        "conditions": "",
        "apply": "",
        "text": "",
        "category": "subsidy",
        "region": "000000",
        "valid_from": dt.date(2025, 1, 1),
        "valid_to": None,
        "deadline_text": "常年受理",
        "max_amount": None,
    }
    fields.update(kw)
    return PolicyDoc(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def golden() -> SqliteBackend:
    return SqliteBackend(
        [
            doc("bank", "中国农业发展银行政策性贷款贴息"),
            doc("toolbox", "软件测试工具箱购置补贴"),
            doc("pending", "待处理事项清单"),
            doc("process", "废水处理设施补助"),
            doc("wip", "在建工程贷款贴息"),
            doc("works", "水利工程建设奖励"),
            doc("farm", "农业机械购置补贴"),
            doc("icbc", "工商银行普惠贷款"),
            doc("wedding", "婚庆和服务业补贴"),
            doc("kimono", "和服文化节奖励"),
        ]
    )


def ids(backend: SqliteBackend, q: str, **kw: object) -> list[str]:
    return [h.doc.policy_id for h in search(backend, q, today=TODAY, **kw).hits]  # type: ignore[arg-type]


def test_a_word_inside_a_long_name_finds_it(golden: SqliteBackend) -> None:
    # An engine that indexes 中国农业发展银行 as one token finds nothing for 农业 or 银行.
    assert "bank" in ids(golden, "农业")
    assert "bank" in ids(golden, "银行")
    assert set(ids(golden, "农业")) == {"bank", "farm"}
    assert set(ids(golden, "银行")) == {"bank", "icbc"}


def test_every_word_typed_must_be_found(golden: SqliteBackend) -> None:
    assert ids(golden, "农业 银行") == ["bank"]
    assert ids(golden, "银行 贴息") == ["bank"]
    assert ids(golden, "农业 水利") == []


def test_a_substring_that_jieba_cuts_differently_is_found(golden: SqliteBackend) -> None:
    # jieba cuts 测试工具箱 as 测试工具 / 箱: 工具 is a word inside, 工具箱 a substring.
    assert ids(golden, "工具") == ["toolbox"]
    assert ids(golden, "工具箱") == ["toolbox"]
    assert ids(golden, "箱") == ["toolbox"]


def test_a_shorter_word_finds_the_longer_not_the_other_way(golden: SqliteBackend) -> None:
    assert set(ids(golden, "处理")) == {"pending", "process"}
    assert ids(golden, "待处理") == ["pending"]
    assert set(ids(golden, "工程")) == {"wip", "works"}
    assert ids(golden, "在建工程") == ["wip"]


def test_two_characters_across_a_word_boundary_are_not_the_word(golden: SqliteBackend) -> None:
    # The classic: 婚庆和服务业 holds 和服 (kimono) only as characters of 和 / 服务.
    assert ids(golden, "和服") == ["kimono"]


def test_the_title_outranks_the_summary() -> None:
    backend = SqliteBackend([doc("in-summary", "普惠贷款", "面向农业企业"), doc("in-title", "农业贷款", "普惠")])
    assert ids(backend, "农业") == ["in-title", "in-summary"]


def test_found_words_are_marked_for_highlighting(golden: SqliteBackend) -> None:
    hit = search(golden, "农业 银行", today=TODAY).hits[0]
    marked = [("中国", False), ("农业", True), ("发展", False), ("银行", True), ("政策性贷款贴息", False)]
    assert hit.highlight("title") == marked
    assert highlight("VAT 与 vat", ["vat"]) == [("VAT", True), (" 与 ", False), ("vat", True)]


def test_query_syntax_is_text_not_operators(golden: SqliteBackend) -> None:
    for q in ['"', "银行 OR", "NEAR(农业", "*", "%", "_", "农业 AND", "'); DROP TABLE words; --"]:
        search(golden, q, today=TODAY)  # never an FTS5 syntax error
    assert ids(golden, "%") == []


def test_a_query_too_long_is_refused_naming_the_field(golden: SqliteBackend) -> None:
    with pytest.raises(SearchError) as e:
        search(golden, "农" * 101, today=TODAY)
    assert e.value.field == "q" and "过长" in e.value.message_zh


# --- the shipped library: words people use ------------------------------------------------------
@pytest.fixture(scope="module")
def shipped() -> SqliteBackend:
    return library_index(default_library())


@pytest.mark.parametrize(
    ("query", "first", "also"),
    [
        ("高企", "lj.sci.high-tech-award", {"cn.cit.high-tech"}),
        ("高新技术企业", "lj.sci.high-tech-award", {"cn.cit.high-tech"}),
        ("六税两费", "cn.tax.six-taxes-two-fees-half", set()),
        ("稳岗", "lj.hr.job-stabilization", set()),
        ("社保补贴", None, {"lj.hr.job-stabilization", "lj.hr.graduate-employment"}),
        ("专精特新", "lj.industry.specialized-new-award", set()),
        ("小巨人", "lj.industry.specialized-new-award", set()),
        ("首贷", "lj.finance.first-loan-interest", set()),
        ("残保金", "cn.fee.disability-fund-exemption", set()),
        ("饭馆", "lj.commerce.catering-stable-award", set()),
        ("网店", "lj.commerce.small-shop-online", set()),
        ("小微 贴息", None, {"lj.finance.first-loan-interest", "lj.finance.startup-guarantee-loan"}),
    ],
)
def test_words_people_use_find_the_policy(
    shipped: SqliteBackend, query: str, first: str | None, also: set[str]
) -> None:
    found = ids(shipped, query)
    if first is not None:
        assert found[0] == first
    assert also <= set(found)


def test_a_synonym_counts_less_than_the_word_typed(shipped: SqliteBackend) -> None:
    # 六税两费 also reaches the policies on 印花税 and 教育费附加, below the one it names.
    found = ids(shipped, "六税两费")
    assert found[0] == "cn.tax.six-taxes-two-fees-half"
    assert {"cn.stamp.small-micro-loan-contract", "cn.fee.education-surcharge-exemption"} <= set(found[1:])


def test_filters_and_sorts(shipped: SqliteBackend) -> None:
    rewards = search(shipped, "", today=TODAY, category="reward").hits
    assert rewards and all(h.doc.category == "reward" for h in rewards)
    gaoxin = {h.doc.region for h in search(shipped, "", today=TODAY, region="339903").hits}
    assert gaoxin == {"000000", "339900", "339903"}
    by_amount = [h.doc.max_amount for h in search(shipped, "奖励", today=TODAY, sort="amount").hits]
    known = [a for a in by_amount if a is not None]
    assert known == sorted(known, reverse=True) and by_amount[: len(known)] == known  # unknown amounts last
    newest = [h.doc.valid_from for h in search(shipped, "", today=TODAY, sort="published").hits]
    assert newest == sorted(newest, reverse=True)


def test_closing_soon_lists_the_next_deadlines_first(shipped: SqliteBackend) -> None:
    result = search(shipped, "", today=dt.date(2026, 6, 1), closing_within=30, sort="deadline")
    deadlines = [h.deadline for h in result.hits]
    assert "lj.sci.rd-subsidy" in [h.doc.policy_id for h in result.hits]  # 每年6月30日前申报上年度
    assert all(d is not None and dt.date(2026, 6, 1) <= d <= dt.date(2026, 7, 1) for d in deadlines)
    assert deadlines == sorted(deadlines)  # type: ignore[type-var]
    assert all(result.closing_soon(h) for h in result.hits)


def test_an_unknown_sort_is_refused(shipped: SqliteBackend) -> None:
    with pytest.raises(SearchError) as e:
        search(shipped, "", today=TODAY, sort="random")  # type: ignore[arg-type]
    assert e.value.field == "sort"


@pytest.mark.parametrize(
    ("text", "today", "expected"),
    [
        ("2026年12月15日前", dt.date(2026, 6, 30), dt.date(2026, 12, 15)),
        ("2026年12月15日前", dt.date(2026, 12, 16), None),
        ("每年5月31日前申报上年度", dt.date(2026, 6, 30), dt.date(2027, 5, 31)),
        ("每年9月底前集中拨付", dt.date(2026, 6, 30), dt.date(2026, 9, 30)),
        ("次年5月31日前完成年度汇算清缴", dt.date(2026, 5, 31), dt.date(2026, 5, 31)),
        ("常年受理", dt.date(2026, 6, 30), None),
    ],
)
def test_deadlines_are_read_from_the_how_to_apply_text(text: str, today: dt.date, expected: dt.date | None) -> None:
    assert written_deadline(text, today) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("按上年营业收入的0.5%计算，四舍五入到万元，最高40万元。", Decimal(400000)),
        ("一次性奖励：小型企业2万元，微型企业1万元。", Decimal(20000)),
        ("上年营业收入50万元以上奖励5万元，500万元以上奖励10万元。", Decimal(100000)),
        ("按实际应缴的六税两费减半；画像中没有这些税费的应纳税额，无法估算金额。", None),
        ("名额为从业人数的5%（不足1人按1人，最多50人），每人每月1000元，按年计", None),
    ],
)
def test_the_amount_named_is_what_is_paid_not_a_threshold(text: str, expected: Decimal | None) -> None:
    assert max_amount(text) == expected
