"""The Chinese pages, rendered by the server (no browser): content, labels, errors."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from html import escape
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huiqi.discover.recommend import missing_facts
from huiqi.match import match
from huiqi.match.explain import yuan
from huiqi.profile import FIELDS
from huiqi.rules import Library
from tests.conftest import TEST_NOW

from .conftest import AS_OF, example


class Controls(HTMLParser):
    """Every form control with its id, and every <label for=…>."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.hidden: set[str] = set()
        self.labels: set[str] = set()
        self.in_label = 0
        self.fieldset_legend = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label":
            self.in_label += 1
            if a.get("for"):
                self.labels.add(str(a["for"]))
        elif tag == "input" and a.get("type") == "hidden":
            self.hidden.add(str(a.get("name")))
        elif tag in ("input", "select", "textarea"):
            self.controls.append({**a, "_wrapped": "1" if self.in_label else None})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.in_label -= 1


def controls(html: str) -> Controls:
    parser = Controls()
    parser.feed(html)
    return parser


def assert_every_control_labelled(html: str) -> None:
    c = controls(html)
    assert c.controls
    for control in c.controls:
        assert control.get("_wrapped") or control.get("id") in c.labels, control


def test_calculator_form_offers_every_field_labelled_and_optional(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    html = r.text
    assert '<html lang="zh-CN">' in html
    for spec in FIELDS.values():
        assert spec.label in html, spec.label
    assert html.count("（选填）") >= len(FIELDS)
    assert "万元" in html
    assert_every_control_labelled(html)


def test_submit_converts_wan_and_shows_grouped_results(client: TestClient) -> None:
    r = client.post(
        "/",
        data={
            "industry": "C3911",
            "region": "339903",
            "employees": "260",
            "revenue": "18000",
            "total_assets": "15000",
            "rd_expense": "900",
            "as_of": AS_OF,
        },
    )
    assert r.status_code == 200
    html = r.text
    for heading in ("可享受（", "需补充信息（", "不符合（"):
        assert heading in html
    # 18000 万元 and 900 万元 reached the engine as exact yuan amounts:
    assert f"上年营业收入 {yuan(Decimal('180000000.00'))}" in html
    assert f"上年研发费用 {yuan(Decimal('9000000.00'))}" in html
    assert "预计" in html and "怎么申请" in html
    assert 'value="C3911 计算机整机制造"' in html  # the form keeps its state
    assert 'value="18000"' in html
    assert "还需要" in html and "补充后重新计算" in html
    assert_every_control_labelled(html)


def test_missing_fact_prompt_asks_exactly_the_missing_fields(client: TestClient, library: Library) -> None:
    data = {"region": "339901", "industry": "H6210", "employees": "25", "as_of": AS_OF}
    html = client.post("/", data=data).text
    result = match({"region": "339901", "industry": "H6210", "employees": 25}, dt.date.fromisoformat(AS_OF), library)
    missing = {r.policy_id: set(r.missing) for r in result.results if r.verdict == "undetermined"}
    # One block asks for the few facts that decide the most policies (huiqi.discover.recommend);
    # the policies it decides point there instead of repeating the question on every card.
    ask = missing_facts(result.results)
    assert ask is not None
    whole = re.search(r'(<form class="ask ask-all".*?</form>)', html, re.S)
    assert whole and ask.headline in whole.group(1)
    assert {str(x["name"]) for x in controls(whole.group(1)).controls} - {"certifications_none"} == set(ask.fields)
    blocks = re.findall(r'(<form class="ask".*?</form>)', html, re.S)
    assert len(blocks) == len(missing) - len(ask.decides) > 0
    for block in blocks:
        pid = re.search(r'data-rerun="([^"]+)"', block)
        assert pid
        c = controls(block)
        asked = {str(x["name"]) for x in c.controls} - {"certifications_none"}
        # The prompt shows a control for exactly the facts that decide the policy…
        assert asked == missing[pid.group(1)], pid.group(1)
        # …and carries the rest of the form in hidden fields.
        assert {"region", "industry", "employees", "as_of"} <= c.hidden


def test_answering_the_prompt_reruns_with_the_answer(client: TestClient) -> None:
    data = {"region": "339901", "industry": "H6210", "employees": "25", "as_of": AS_OF}
    before = client.post("/", data=data).text
    assert re.search(r'class="policy v-undetermined" id="p-lj.hr.job-stabilization"', before)
    after = client.post("/", data={**data, "credit_rating": "A"}).text
    assert re.search(r'class="policy v-eligible" id="p-lj.hr.job-stabilization"', after)


def test_total_is_the_exact_sum_per_unit(client: TestClient, library: Library) -> None:
    from huiqi.web.forms import state_from_profile
    from huiqi.web.pages import totals_by_unit

    result = match(example("manufacturer"), dt.date.fromisoformat(AS_OF), library)
    sums: dict[str, Decimal] = {}
    conditional: dict[str, Decimal] = {}
    for r in result.results:
        if r.verdict == "eligible" and r.benefit and r.benefit.amount is not None:
            if r.alternative is not None and not r.alternative.chosen:
                continue  # two reduced CIT rates never add up
            # 满足前提即可享受 (已引进人才, 已招用…): summed apart, never in the 可享受 total.
            into = conditional if r.detail == "conditional" else sums
            into[r.benefit.unit] = into.get(r.benefit.unit, Decimal(0)) + Decimal(r.benefit.amount)
    assert sums.get("yuan/year") and sums.get("yuan") and conditional.get("yuan/year")
    groups = dict(totals_by_unit(result))
    assert groups["每年"] == yuan(sums["yuan/year"])
    assert groups["一次性"] == yuan(sums["yuan"])
    assert dict(totals_by_unit(result, conditional=True))["每年"] == yuan(conditional["yuan/year"])
    # The same enterprise typed into the form in 万元 shows the same totals.
    state = state_from_profile(example("manufacturer"), AS_OF)
    data: dict[str, str | list[str]] = {**state.values, "as_of": AS_OF, "certifications": state.certifications}
    html = client.post("/", data=data).text
    assert "预计可享受金额" in html
    assert f'每年 <strong class="total-amount">{groups["每年"]}</strong>' in html
    assert f'一次性 <strong class="total-amount">{groups["一次性"]}</strong>' in html
    assert f"金额未计入上面的合计：每年 {yuan(conditional['yuan/year'])}" in html


def test_policies_waiting_on_an_action_are_their_own_group(client: TestClient, library: Library) -> None:
    """Issue 9 §7: 满足前提即可享受 apart from 可享受, with the 前提 said, not in the count."""
    from huiqi.web.forms import state_from_profile

    result = match(example("manufacturer"), dt.date.fromisoformat(AS_OF), library)
    state = state_from_profile(example("manufacturer"), AS_OF)
    html = client.post("/", data={**state.values, "as_of": AS_OF, "certifications": state.certifications}).text
    assert 'id="g-conditional"' in html
    assert re.search(r'class="policy v-conditional" id="p-cn.employment.veterans-deduction"', html)
    assert "可享受，前提是已招用自主就业退役士兵" in html
    assert f"可享受 <strong>{result.totals.eligible}</strong> 项政策" in html
    assert f"{result.totals.conditional} 项满足前提即可享受" in html
    conditional = {r.policy_id for r in result.results if r.detail == "conditional"}
    eligible_group = html.split('id="g-eligible"')[1].split('id="g-conditional"')[0]
    assert not any(f'id="p-{pid}"' in eligible_group for pid in conditional)
    page = client.get("/policies/cn.employment.veterans-deduction").text
    assert "已招用自主就业退役士兵" in page and "前提：企业须已做到" in page


def test_form_errors_are_listed_and_linked(client: TestClient) -> None:
    r = client.post("/", data={"employees": "很多", "revenue": "-1", "industry": "魔法学校"})
    assert r.status_code == 422
    html = r.text
    assert 'role="alert"' in html and "有 3 处需要修改" in html
    assert '<a href="#f-employees">从业人数：应为整数</a>' in html
    assert 'aria-invalid="true"' in html
    assert 'value="很多"' in html  # what was typed stays
    assert "计算结果" not in html


def test_empty_submit_asks_for_something(client: TestClient) -> None:
    html = client.post("/", data={}).text
    assert "请至少填写一项企业信息" in html


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe\x00", b"a=" + b"%" * 1000, b"employees=1&" * 500, b"--x\r\nnot multipart"],
)
def test_malformed_form_posts_are_not_server_errors(client: TestClient, body: bytes) -> None:
    for ctype in ("application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"):
        r = client.post("/", content=body, headers={"content-type": ctype})
        assert r.status_code < 500, (ctype, r.status_code)


def test_policies_page_lists_and_filters(client: TestClient, library: Library) -> None:
    html = client.get("/policies").text
    assert f"共 {len(library.policies)} 项政策" in html
    assert html.count('class="policy-card"') == len(library.policies)
    assert html.count('class="badge sample"') >= sum(p.definition.sample for p in library.policies)
    assert_every_control_labelled(html)
    found = client.get("/policies", params={"q": "餐饮"}).text
    n = found.count('class="policy-card"')
    assert 0 < n < len(library.policies)
    assert f"找到 {n} 项政策" in found
    by_name = client.get("/policies", params={"industry": "正餐服务"}).text
    assert 'value="H6210 正餐服务"' in by_name
    assert "研发费用税前加计扣除" not in by_name
    bad = client.get("/policies", params={"region": "abc", "in_force_on": "x", "category": "?"})
    assert bad.status_code == 422
    assert "请从列表中选择所在地区" in bad.text
    nul = client.get("/policies", params={"q": "农业\x00"})  # FTS5 read NUL as the end of the phrase: 500
    assert nul.status_code == 422 and "控制字符" in nul.text


def test_policies_page_searches_with_synonyms_and_marks_the_words(client: TestClient, library: Library) -> None:
    # The library page uses the discover search: an abbreviation finds the policy by its full
    # name, the word found is marked, the synonyms searched are named, the best match first.
    html = client.get("/policies", params={"q": "高企"}).text
    cards = re.findall(r'<li class="policy-card" id="policy-([^"]+)"', html)
    assert cards[0] == "lj.sci.high-tech-award" and "cn.cit.high-tech" in cards
    assert "<mark>高新技术企业</mark>" in html and "同时搜索了：高企（高新技术企业" in html
    # Filters narrow the same search; every word typed must be found.
    rewards = client.get("/policies", params={"q": "高企", "category": "reward"}).text
    found = re.findall(r'id="policy-([^"]+)"', rewards)
    assert found[0] == "lj.sci.high-tech-award" and "cn.cit.high-tech" not in found
    assert all(library.by_id[p].definition.category == "reward" for p in found)
    assert 'id="policy-' not in client.get("/policies", params={"q": "高企 火锅"}).text
    by_amount = client.get("/policies", params={"q": "奖励", "sort": "amount"})
    assert by_amount.status_code == 200 and '<option value="amount" selected>' in by_amount.text
    bad = client.get("/policies", params={"q": "高企", "sort": "random"})
    assert bad.status_code == 422 and "排序方式只能是" in bad.text and 'id="policy-lj.sci.high-tech-award"' in bad.text


def test_policy_page_has_checklist_amount_apply_and_source(client: TestClient, library: Library) -> None:
    for p in library.policies:
        r = client.get(f"/policies/{p.id}")
        assert r.status_code == 200
        html = r.text
        d = p.definition
        # Texts as of the page's date (the clock's today, or the nearest day the policy is in force).
        said = library.texts_of(p, TEST_NOW.date())
        assert d.title in html and escape(said.summary) in html
        assert d.document_number in html and f'href="{d.source_url}"' in html
        for label in said.labels:
            assert escape(label) in html
        assert "{param:" not in html
        assert "怎么申请" in html and d.apply.channel in html
        assert ("示例政策：" in html) == d.sample
        assert html.count("☐") == len(p.conditions)


def test_unknown_pages_are_friendly_404s(client: TestClient) -> None:
    r = client.get("/policies/no.such")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    assert "找不到" in r.text
    r = client.get("/nowhere")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    r = client.delete("/policies")
    assert r.status_code == 405 and "GET" in r.headers["allow"]


def test_print_stylesheet_hides_the_form(client: TestClient) -> None:
    css = client.get("/static/app.css").text
    assert "@media print" in css
    assert re.search(r"@media print \{[^@]*form\.profile", css)


FIELD_NAMES = [*FIELDS, "as_of", "certifications_none", "junk"]
texts = st.text(max_size=40) | st.sampled_from(["", "0", "-1", "1e999", "NaN", "C3911", "339901", "2026-02-30"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(FIELD_NAMES), texts, max_size=8))
def test_any_form_input_gives_a_page_not_a_server_error(client: TestClient, data: dict[str, str]) -> None:
    r = client.post("/", data=data)
    assert r.status_code in (200, 422), r.status_code
    assert "text/html" in r.headers["content-type"]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["q", "category", "region", "industry", "in_force_on"]), texts, max_size=5))
def test_any_filter_gives_a_page_not_a_server_error(client: TestClient, params: dict[str, str]) -> None:
    r = client.get("/policies", params=params)
    assert r.status_code in (200, 422), r.status_code
