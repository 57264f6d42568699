"""Discovery in Chromium: the search box on every page, highlighted results, the industry
picker in everyday words, and the calculator ordered by relevance with reasons and the one
missing-facts block."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

if os.environ.get("HUIQI_SKIP_BROWSER") == "1":
    pytest.skip("HUIQI_SKIP_BROWSER=1: browser tests skipped on purpose", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh (or set HUIQI_SKIP_BROWSER=1)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    yield pg
    context.close()
    assert not errors, f"JavaScript errors or CSP violations: {errors}"


def test_the_search_box_on_every_page_finds_by_abbreviation_and_marks_the_words(page: Page, server: str) -> None:
    for path in ("/", "/policies", "/policies/lj.hr.job-stabilization"):
        page.goto(server + path)
        expect(page.get_by_role("search", name="搜索政策").first).to_be_visible()
    page.get_by_role("searchbox", name="搜索政策").fill("高企")
    page.get_by_role("searchbox", name="搜索政策").press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?q="))
    expect(page.locator("#search-count")).to_contain_text("找到")
    expect(page.locator("#search-count")).to_contain_text("高新技术企业")  # the synonym it also searched
    first = page.locator("li.hit").first
    expect(first.locator("h2 a")).to_have_attribute("href", "/policies/lj.sci.high-tech-award")
    expect(first.locator("mark").first).to_have_text("高新技术企业")
    # Two words: both must be found.
    page.goto(server + "/search?q=" + "小微 贴息")
    titles = page.locator("li.hit h2").all_inner_texts()
    assert titles and all("贴息" in t for t in titles)


def test_closing_soon_and_sorting_by_deadline(page: Page, server: str) -> None:
    page.goto(server + "/search?q=&sort=deadline&closing=1")
    expect(page.locator("#search-count")).to_contain_text("找到")
    for meta in page.locator("li.hit .meta").all_inner_texts():
        assert "即将截止" in meta


def test_everyday_industry_words_and_the_restaurant_sees_its_policy_first(page: Page, server: str) -> None:
    page.goto(server + "/")
    industry = page.get_by_role("combobox", name="所属行业")
    industry.click()
    industry.press_sequentially("饭馆", delay=30)
    option = page.get_by_role("listbox", name="行业候选").get_by_role("option").first
    expect(option).to_contain_text("H6210")
    expect(option).to_contain_text("正餐服务")
    expect(option.locator("small.why")).to_contain_text("堂食")
    industry.press("ArrowDown")
    industry.press("Enter")
    expect(industry).to_have_value("H6210 正餐服务")
    page.get_by_label("所在地区").select_option("339901")
    page.get_by_label("从业人数").fill("12")
    page.get_by_label("按哪一天的政策计算").fill("2026-06-30")
    page.get_by_role("button", name="计算能享受的政策").click()

    block = page.locator("form.ask-all")
    expect(block).to_be_visible()
    expect(block.get_by_role("heading")).to_have_text(re.compile(r"补充这 \d 项即可再确定 \d+ 项政策"))
    cards = page.locator("article.policy.v-undetermined")
    first = cards.first
    expect(first).to_have_id("p-lj.commerce.catering-stable-award")
    expect(first.locator("p.reason")).to_contain_text("因为您是餐饮企业")
    # 12 staff already make it small or micro: only its own two facts are left, asked on its card.
    ask = first.locator("form.ask")
    expect(ask).to_contain_text("上年营业收入、月销售额")
    ask.get_by_label("上年营业收入").fill("150")
    ask.get_by_label("月销售额").fill("12")
    ask.get_by_role("button", name="补充后重新计算").click()
    expect(page.locator("#rerun-status")).to_contain_text("已重新计算")
    expect(page.locator("#p-lj\\.commerce\\.catering-stable-award")).not_to_have_class(re.compile("v-undetermined"))


def test_the_policy_library_searches_and_marks_the_words_typed(page: Page, server: str) -> None:
    page.goto(server + "/policies")
    page.get_by_label("关键词").fill("小微 贴息")
    page.get_by_role("button", name="筛选").click()
    expect(page).to_have_url(re.compile(r"/policies\?q="))
    expect(page.locator("p.count")).to_contain_text("找到")
    cards = page.locator("li.policy-card")
    expect(cards.first).to_be_visible()
    for card in cards.all():  # every word typed, or a synonym of it, is found and marked
        marks = card.locator("mark").all_inner_texts()
        assert "贴息" in marks, marks
    expect(page.locator("p.count")).to_contain_text("同时搜索了：小微（小微企业")
    # The same search narrowed to the enterprises of one industry (conditions read) and sorted.
    page.get_by_label("排序").select_option("amount")
    page.get_by_role("button", name="筛选").click()
    expect(page.get_by_label("排序")).to_have_value("amount")
    expect(page.get_by_label("关键词")).to_have_value("小微 贴息")


def test_the_calculator_orders_eligible_policies_by_relevance_with_a_reason_each(page: Page, server: str) -> None:
    page.goto(server + "/")
    industry = page.get_by_role("combobox", name="所属行业")
    industry.click()
    industry.press_sequentially("I6513", delay=30)
    option = page.get_by_role("listbox", name="行业候选").get_by_role("option").first
    expect(option).to_contain_text("I6513")  # the list of the whole code, not of a prefix typed before
    option.click()
    expect(industry).to_have_value(re.compile(r"^I6513 "))
    page.get_by_label("所在地区").select_option("339903")
    page.get_by_label("从业人数").fill("40")
    page.get_by_label("成立日期").fill("2021-03-01")
    page.get_by_label("按哪一天的政策计算").fill("2026-06-30")
    page.get_by_role("button", name="计算能享受的政策").click()
    cards = page.locator("article.policy.v-eligible, article.policy.v-undetermined")
    expect(cards.first).to_be_visible()
    reasons = cards.locator("p.reason").all_inner_texts()
    assert len(reasons) == cards.count() and all(r.endswith("。") for r in reasons)
    # The software enterprise of 成长期 sees a policy written for software first among those open to it.
    expect(page.locator("article.policy.v-undetermined p.reason").first).to_contain_text("成长期的软件")
