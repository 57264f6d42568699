"""Issue 9 §6: texts that quote numbers are rendered from the parameters in force, and lint
refuses a number that no parameter and no rule says."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest

from huiqi.match import answer, default_library
from huiqi.rules import lint_library, load_library
from huiqi.rules.text import TextError, numbers_in, parse, word
from tests.builders import files_for, policy_yaml

LOWERED = dt.date(2025, 7, 1)  # the day the threshold drops from 1000万元 to 100万元
PARAMETERS = {
    "t.min_revenue": {
        "label": "营业收入下限",
        "unit": "元",
        "values": [
            {"from": dt.date(2024, 1, 1), "value": 10000000, "source": "测试〔2024〕1号 第二条"},
            {"from": LOWERED, "value": 1000000, "source": "测试〔2025〕3号 第一条"},
        ],
    },
    "t.max_revenue": {
        "label": "营业收入上限",
        "unit": "元",
        "values": [{"from": dt.date(2024, 1, 1), "value": 100000000, "source": "测试〔2024〕1号 第二条"}],
    },
    "t.rate": {
        "label": "奖励比例",
        "values": [{"from": dt.date(2024, 1, 1), "value": "0.005", "source": "测试〔2024〕1号 第三条"}],
    },
}
BAND = "{param:t.min_revenue|万元}至{param:t.max_revenue|亿元}"


def revenue_policy(**texts: Any) -> dict[str, Any]:
    condition = {
        "id": "revenue",
        "label": texts.pop("label", f"上年营业收入在{BAND}之间"),
        "when": "revenue BETWEEN param('t.min_revenue') AND param('t.max_revenue')",
    }
    doc = policy_yaml(
        [condition],
        "revenue * param('t.rate')",
        valid_from=dt.date(2024, 1, 1),
        summary=texts.pop("summary", f"上年营业收入{BAND}的企业，按营业收入的{{param:t.rate|%}}奖励。"),
    )
    doc["benefit"]["explain"] = texts.pop("explain", "按上年营业收入的{param:t.rate|%}计算。")
    doc.update(texts)
    return doc


def lint_errors(doc: dict[str, Any]) -> list[str]:
    _, problems = lint_library(files=files_for(doc, parameters=PARAMETERS))
    return [str(p) for p in problems if p.severity == "error"]


# --- the syntax --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "fmt", "text"),
    [
        (Decimal(10000000), "万元", "1000万元"),
        (Decimal(1000000), "万元", "100万元"),
        (Decimal(100000000), "亿元", "1亿元"),
        (Decimal(150000), "万元", "15万元"),
        (Decimal(12345), "万元", "1.2345万元"),
        (Decimal(6000), "元", "6000元"),
        (Decimal("0.005"), "%", "0.5%"),
        (Decimal("0.25"), "%", "25%"),
        (Decimal("0.00005"), "‰", "0.05‰"),
        (Decimal(300), "人", "300人"),
        (Decimal(3), "年", "3年"),
        (dt.date(2027, 12, 31), "日期", "2027年12月31日"),
        (None, "万元", "（暂无规定）"),
    ],
)
def test_a_slot_words_the_value_in_chinese_units(value: Any, fmt: str, text: str) -> None:
    assert word(value, fmt) == text


def test_a_slot_is_a_name_and_a_format_nothing_else() -> None:
    assert parse("不超过{param:a.b|万元}").parameters == {"a.b"}
    for bad in ["{param:a.b|upper()}", "{param:a.b|%|x}", "{{7*7}}", "{param:a b}", "{ param:a }", "未闭合{param:a"]:
        with pytest.raises(TextError):
            parse(bad)


def test_numbers_that_are_not_thresholds_are_not_read() -> None:
    text = (
        "依据财税〔2019〕13号第二条、财政部 税务总局公告2023年第12号，2020年以后成立、"
        "2025年3月1日起施行，行业代码C3911，GB/T 4754-2017，电话0599-81230022，执行至2027-12-31"
    )
    assert numbers_in(text) == []
    assert numbers_in("不超过300万元，按５％，最高1.2亿元，30人") == [
        ("300万", Decimal(3000000)),
        ("5%", Decimal("0.05")),
        ("1.2亿", Decimal(120000000)),
        ("30", Decimal(30)),
    ]


# --- lint ---------------------------------------------------------------------------------------
def test_lint_refuses_a_number_that_matches_no_parameter_with_file_and_line() -> None:
    errors = lint_errors(revenue_policy(label="上年营业收入在1000万元至2亿元之间"))
    assert len(errors) == 2, errors
    stale, unknown = errors
    assert re.match(r"<db>/cn/p0\.yaml:\d+: error: conditions\.0\.label: ", stale)
    # 1000万元 was a value of t.min_revenue: lint names the parameter to quote instead.
    assert "数字 “1000万” 是参数 t.min_revenue 的取值" in stale and "write it as a slot" in stale
    assert "数字 “2亿” 与任何参数或规则中的数都不符" in unknown and "matches no parameter" in unknown


def test_lint_reads_summaries_and_explanations_too() -> None:
    errors = lint_errors(revenue_policy(summary="营业收入达标的企业奖励营业收入的0.5%。", explain="最高40万元。"))
    assert any("summary: 数字 “0.5%” 是参数 t.rate 的取值" in e for e in errors), errors
    assert any("benefit.explain: 数字 “40万”" in e for e in errors), errors


def test_lint_accepts_years_document_numbers_articles_and_the_rules_own_literals() -> None:
    doc = revenue_policy(
        summary="依据测试〔2024〕1号第二条，2020年以后成立、营业收入达标的企业按比例奖励。",
        label=f"上年营业收入在{BAND}之间",
    )
    doc["conditions"].append({"id": "age", "label": "成立满3年", "when": "age_years >= 3"})
    doc["conditions"].append({"id": "pledge", "label": "近2年无失信记录", "declaration": True})
    assert lint_errors(doc) == []


def test_lint_refuses_bad_slots_naming_the_line() -> None:
    errors = lint_errors(revenue_policy(label="上年营业收入不低于{param:t.nope|万元}"))
    assert any(re.search(r"p0\.yaml:\d+: error: conditions\.0\.label: 未定义的参数 “t\.nope”", e) for e in errors)
    errors = lint_errors(revenue_policy(explain="按{param:t.rate|万元}计算"))
    assert any("单位是 “无”，不能写成 “万元”" in e for e in errors), errors
    errors = lint_errors(revenue_policy(explain="按{param:t.rate|百分比}计算"))
    assert any("未知的格式 “百分比”" in e for e in errors), errors


def test_every_shipped_text_is_rendered_on_every_date() -> None:
    library = default_library()
    for year in range(2019, 2028):
        for texts in library.texts_at(dt.date(year, 6, 30)):
            for text in [texts.summary, *texts.labels, texts.explain or "", texts.amount_note or ""]:
                assert "{" not in text and "}" not in text, text


# --- rendering follows the parameter in force ---------------------------------------------------
def test_the_text_changes_the_day_the_parameter_does() -> None:
    library = load_library(files=files_for(revenue_policy(), parameters=PARAMETERS))
    firm = {"revenue": "2000000"}

    def said(as_of: dt.date) -> tuple[str, str, str, str]:
        (result,) = answer(firm, as_of, library)["results"]
        (condition,) = result["conditions"]
        return result["verdict"], condition["text"], condition["reason"], result["summary"]

    before = said(LOWERED - dt.timedelta(days=1))
    after = said(LOWERED)
    assert before[:2] == ("ineligible", "上年营业收入在1000万元至1亿元之间")
    assert after[:2] == ("eligible", "上年营业收入在100万元至1亿元之间")
    assert after[2] == "上年营业收入在100万元至1亿元之间：符合（上年营业收入 200 万元）"
    assert before[3].startswith("上年营业收入1000万元至1亿元的企业") and after[3].startswith(
        "上年营业收入100万元至1亿元"
    )
    assert "1000万" not in str(after)
