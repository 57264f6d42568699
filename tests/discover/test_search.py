"""Policy search: the known failures of Chinese search engines, synonyms, filters and sorts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from sqlalchemy import create_engine

from huiqi.discover.documents import PolicyDoc, max_amount, policy_doc, written_deadline
from huiqi.discover.index import library_index
from huiqi.discover.pgsearch import PgBackend
from huiqi.discover.search import Backend, SearchError, SqliteBackend, highlight, search
from huiqi.match import default_library
from tests.postgres import PG_URL, require

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


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def make_backend(request: pytest.FixtureRequest) -> Iterator[Callable[[list[PolicyDoc]], Backend]]:
    """Every search test runs on the embedded SQLite FTS5 index and on PostgreSQL's full text
    (TEMP tables of the test database: nothing is left behind)."""
    if request.param == "sqlite":
        yield SqliteBackend
        return
    require("postgresql")
    engine = create_engine(PG_URL)
    yield lambda docs: PgBackend(engine, docs)
    engine.dispose()


@pytest.fixture(scope="module")
def golden(make_backend: Callable[[list[PolicyDoc]], Backend]) -> Backend:
    return make_backend(
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


def ids(backend: Backend, q: str, **kw: object) -> list[str]:
    return [h.doc.policy_id for h in search(backend, q, today=TODAY, **kw).hits]  # type: ignore[arg-type]


def test_a_word_inside_a_long_name_finds_it(golden: Backend) -> None:
    # An engine that indexes 中国农业发展银行 as one token finds nothing for 农业 or 银行.
    assert "bank" in ids(golden, "农业")
    assert "bank" in ids(golden, "银行")
    assert set(ids(golden, "农业")) == {"bank", "farm"}
    assert set(ids(golden, "银行")) == {"bank", "icbc"}


def test_every_word_typed_must_be_found(golden: Backend) -> None:
    assert ids(golden, "农业 银行") == ["bank"]
    assert ids(golden, "银行 贴息") == ["bank"]
    assert ids(golden, "农业 水利") == []


def test_a_substring_that_jieba_cuts_differently_is_found(golden: Backend) -> None:
    # jieba cuts 测试工具箱 as 测试工具 / 箱: 工具 is a word inside, 工具箱 a substring.
    assert ids(golden, "工具") == ["toolbox"]
    assert ids(golden, "工具箱") == ["toolbox"]
    assert ids(golden, "箱") == ["toolbox"]


def test_a_shorter_word_finds_the_longer_not_the_other_way(golden: Backend) -> None:
    assert set(ids(golden, "处理")) == {"pending", "process"}
    assert ids(golden, "待处理") == ["pending"]
    assert set(ids(golden, "工程")) == {"wip", "works"}
    assert ids(golden, "在建工程") == ["wip"]


def test_two_characters_across_a_word_boundary_are_not_the_word(golden: Backend) -> None:
    # The classic: 婚庆和服务业 holds 和服 (kimono) only as characters of 和 / 服务.
    assert ids(golden, "和服") == ["kimono"]


def test_the_title_outranks_the_summary(make_backend: Callable[[list[PolicyDoc]], Backend]) -> None:
    backend = make_backend([doc("in-summary", "普惠贷款", "面向农业企业"), doc("in-title", "农业贷款", "普惠")])
    assert ids(backend, "农业") == ["in-title", "in-summary"]


def test_found_words_are_marked_for_highlighting(golden: Backend) -> None:
    hit = search(golden, "农业 银行", today=TODAY).hits[0]
    marked = [("中国", False), ("农业", True), ("发展", False), ("银行", True), ("政策性贷款贴息", False)]
    assert hit.highlight("title") == marked
    assert highlight("VAT 与 vat", ["vat"]) == [("VAT", True), (" 与 ", False), ("vat", True)]


def test_query_syntax_is_text_not_operators(golden: Backend) -> None:
    for q in ['"', "银行 OR", "NEAR(农业", "*", "%", "_", "农业 AND", "'); DROP TABLE words; --"]:
        search(golden, q, today=TODAY)  # never an FTS5 syntax error
    assert ids(golden, "%") == []


def test_a_query_too_long_is_refused_naming_the_field(golden: Backend) -> None:
    with pytest.raises(SearchError) as e:
        search(golden, "农" * 101, today=TODAY)
    assert e.value.field == "q" and "过长" in e.value.message_zh


@pytest.mark.parametrize("q", ["农业\x00", "\x00", "银\x07行"])
def test_a_query_with_control_characters_is_refused_naming_the_field(golden: Backend, q: str) -> None:
    # NUL used to end the FTS5 phrase early: a database error, a server error on the page.
    with pytest.raises(SearchError) as e:
        search(golden, q, today=TODAY)
    assert e.value.field == "q" and "控制字符" in e.value.message_zh


# --- the shipped library: words people use ------------------------------------------------------
@pytest.fixture(scope="module")
def shipped(make_backend: Callable[[list[PolicyDoc]], Backend]) -> Backend:
    return make_backend([policy_doc(p, default_library()) for p in default_library().policies])


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
def test_words_people_use_find_the_policy(shipped: Backend, query: str, first: str | None, also: set[str]) -> None:
    found = ids(shipped, query)
    if first is not None:
        assert found[0] == first
    assert also <= set(found)


def test_a_synonym_counts_less_than_the_word_typed(shipped: Backend) -> None:
    # 六税两费 also reaches the policies on 印花税 and 教育费附加, below the one it names.
    found = ids(shipped, "六税两费")
    assert found[0] == "cn.tax.six-taxes-two-fees-half"
    assert {"cn.stamp.small-micro-loan-contract", "cn.fee.education-surcharge-exemption"} <= set(found[1:])


def test_filters_and_sorts(shipped: Backend) -> None:
    rewards = search(shipped, "", today=TODAY, category="reward").hits
    assert rewards and all(h.doc.category == "reward" for h in rewards)
    gaoxin = {h.doc.region for h in search(shipped, "", today=TODAY, region="339903").hits}
    assert gaoxin == {"000000", "339900", "339903"}
    by_amount = [h.doc.max_amount for h in search(shipped, "奖励", today=TODAY, sort="amount").hits]
    known = [a for a in by_amount if a is not None]
    assert known == sorted(known, reverse=True) and by_amount[: len(known)] == known  # unknown amounts last
    newest = [h.doc.valid_from for h in search(shipped, "", today=TODAY, sort="published").hits]
    assert newest == sorted(newest, reverse=True)


def test_closing_soon_lists_the_next_deadlines_first(shipped: Backend) -> None:
    result = search(shipped, "", today=dt.date(2026, 6, 1), closing_within=30, sort="deadline")
    deadlines = [h.deadline for h in result.hits]
    assert "lj.sci.rd-subsidy" in [h.doc.policy_id for h in result.hits]  # 每年6月30日前申报上年度
    assert all(d is not None and dt.date(2026, 6, 1) <= d <= dt.date(2026, 7, 1) for d in deadlines)
    assert deadlines == sorted(deadlines)  # type: ignore[type-var]
    assert all(result.closing_soon(h) for h in result.hits)


def test_an_unknown_sort_is_refused(shipped: Backend) -> None:
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


def test_the_precomputed_scores_are_fts5_bm25_with_field_weights() -> None:
    # The words table stores each token's BM25 share; a query's score is their sum. Compare
    # with what SQLite's own bm25() gives the same documents in an FTS5 table.
    import sqlite3

    from huiqi.discover import text
    from huiqi.discover.documents import FIELDS
    from huiqi.discover.search import bm25_impacts

    docs = [policy_doc(p, default_library()) for p in default_library().policies]
    impacts: dict[tuple[str, int], float] = {(t, i): s for t, i, s in bm25_impacts(docs)}
    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE VIRTUAL TABLE f USING fts5({', '.join(FIELDS)})")
    for i, d in enumerate(docs, start=1):
        db.execute(
            f"INSERT INTO f(rowid, {', '.join(FIELDS)}) VALUES (?, {', '.join('?' for _ in FIELDS)})",
            (i, *(" ".join(text.tokens(d.field(f))) for f in FIELDS)),
        )
    weights = ", ".join(str(w) for w in FIELDS.values())
    for words in (["企业"], ["研发", "费用"], ["餐饮", "补贴", "小微企业"]):
        expr = " OR ".join(f'"{w}"' for w in words)
        fts = dict(db.execute(f"SELECT rowid, -bm25(f, {weights}) FROM f WHERE f MATCH ?", (expr,)))
        ours = {i: sum(impacts.get((w, i), 0.0) for w in words) for i in fts}
        assert fts and all(ours[i] == pytest.approx(fts[i], rel=1e-9) for i in fts)


def test_the_page_is_cut_in_the_database_and_the_total_counts_every_match(shipped: Backend) -> None:
    everything = search(shipped, "企业", today=TODAY, sort="amount", limit=1000)
    page = search(shipped, "企业", today=TODAY, sort="amount", limit=3)
    assert len(page.hits) == 3 and page.total == everything.total == len(everything.hits) > 3
    assert [h.doc.policy_id for h in page.hits] == [h.doc.policy_id for h in everything.hits[:3]]
    soon = search(shipped, "", today=dt.date(2026, 6, 1), closing_within=365, sort="deadline", limit=1)
    assert soon.total > 1 and len(soon.hits) == 1


def test_only_keeps_the_given_policies_in_the_database_query(shipped: Backend) -> None:
    keep = {"lj.commerce.catering-stable-award", "lj.sci.high-tech-award", "no.such.policy"}
    assert {h.doc.policy_id for h in search(shipped, "", today=TODAY, only=keep).hits} == keep - {"no.such.policy"}
    assert search(shipped, "奖励", today=TODAY, only=keep).total == 2
    assert search(shipped, "", today=TODAY, only=set()).total == 0


def test_a_platform_on_postgresql_searches_with_postgresql() -> None:
    library = default_library()
    assert isinstance(library_index(library), SqliteBackend)
    require("postgresql")
    engine = create_engine(PG_URL)
    try:
        index = library_index(library, engine)
        assert isinstance(index, PgBackend) and library_index(library, engine) is index
        assert search(index, "高企", today=TODAY).hits[0].doc.policy_id == "lj.sci.high-tech-award"
    finally:
        engine.dispose()


def test_a_word_found_outside_the_title_and_summary_is_shown_where_it_is(golden: Backend) -> None:
    backend_docs = [
        doc("in-title", "研发费用补助"),
        doc("in-conditions", "首台套奖励", conditions="企业自主研发的装备，已实现销售"),
    ]
    assert search(golden, "农业", today=TODAY).hits[0].snippet() is None  # the title shows it
    hits = {h.doc.policy_id: h for h in search(SqliteBackend(backend_docs), "研发", today=TODAY).hits}
    assert hits["in-title"].snippet() is None
    where = hits["in-conditions"].snippet()
    assert where is not None and where[0] == "条件"
    assert ("研发", True) in where[1] and "".join(t for t, _ in where[1]) == "企业自主研发的装备，已实现销售"
