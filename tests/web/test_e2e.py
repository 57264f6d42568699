"""End to end: Debian's Chromium (Playwright) against ``huiqi serve`` on a loopback port.

A person fills the calculator form, reads the results, answers a missing-fact prompt, and
opens a policy page, on a 375 px phone and on a desktop. Screenshots go to a temporary
directory (printed at the end); ``HUIQI_SCREENSHOTS=docs/screenshots`` keeps them there.

Needs /usr/bin/chromium (``scripts/ensure-chromium.sh`` installs it). Without it the tests
fail, unless HUIQI_SKIP_BROWSER=1 says to skip them on purpose.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AS_OF = "2026-06-30"
VIEWPORTS = {"mobile": {"width": 375, "height": 812}, "desktop": {"width": 1280, "height": 900}}

pytestmark = pytest.mark.slow

if os.environ.get("HUIQI_SKIP_BROWSER") == "1":
    pytest.skip("HUIQI_SKIP_BROWSER=1: browser tests skipped on purpose", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh (or set HUIQI_SKIP_BROWSER=1)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("screenshots")
    yield folder
    keep = os.environ.get("HUIQI_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for png in folder.glob("*.png"):
            shutil.copy(png, Path(keep) / png.name)
    print(f"\nscreenshots: {folder}")


@pytest.fixture(params=list(VIEWPORTS))
def page(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORTS[request.param], locale="zh-CN")  # type: ignore[arg-type]
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    # Anything the Content-Security-Policy blocks (an inline script or style left behind) is a bug.
    pg.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    yield pg
    context.close()
    assert not errors, f"JavaScript errors or CSP violations: {errors}"


def width_of(page: Page) -> str:
    return "mobile" if page.viewport_size and page.viewport_size["width"] < 500 else "desktop"


def assert_no_sideways_scroll(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


#: How a person would answer each fact a prompt may ask for (select value or text).
ANSWERS = {
    "credit_rating": "A",
    "taxpayer_type": "small_scale",
    "registered_on": "2020-03-01",
    "revenue": "300",
    "total_assets": "100",
    "taxable_income": "20",
    "rd_expense": "10",
    "monthly_sales": "8",
    "employees": "25",
    "region": "339901",
}


def pick_undetermined(page: Page) -> Any:
    """The 需补充信息 policy whose prompt asks the fewest facts (those a person can answer)."""
    best = None
    for article in page.locator("article.policy.v-undetermined").all():
        if article.locator("form.ask").count() == 0:  # decided by the one missing-facts block instead
            continue
        names = set(
            article.locator("form.ask").evaluate(
                "f => [...f.elements].filter(e => e.type !== 'hidden' && e.name).map(e => e.name)"
            )
        )
        names -= {"certifications", "certifications_none"}
        if names and names <= set(ANSWERS) and (best is None or len(names) < best[0]):
            best = (len(names), article)
    assert best is not None, "no 需补充信息 policy with a prompt to answer"
    return best[1]


def answer_prompt(ask: Any) -> dict[str, str]:
    """Fill every control of a missing-fact prompt; return name → value for the text/select ones."""
    given: dict[str, str] = {}
    for control in ask.locator("input:not([type=hidden]), select").all():
        name = control.get_attribute("name")
        if name == "certifications_none":
            control.check()
        elif name in ANSWERS:
            if control.evaluate("e => e.tagName") == "SELECT":
                control.select_option(ANSWERS[name])
            else:
                control.fill(ANSWERS[name])
            given[name] = ANSWERS[name]
    return given


def test_calculator_as_a_person_uses_it(page: Page, server: str, shots: Path) -> None:
    size = width_of(page)
    page.goto(server + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("政策计算器")
    assert_no_sideways_scroll(page)

    # Industry: type part of the name, pick from the list with the keyboard.
    industry = page.get_by_role("combobox", name="所属行业")
    industry.click()
    industry.press_sequentially("正餐", delay=30)
    option = page.get_by_role("listbox", name="行业候选").get_by_role("option").first
    expect(option).to_contain_text("H6210")
    expect(industry).to_have_attribute("aria-expanded", "true")
    industry.press("ArrowDown")
    industry.press("Enter")
    expect(industry).to_have_value("H6210 正餐服务")

    page.get_by_label("所在地区").select_option(label="临江区")  # a district by its name, not a code
    page.get_by_label("从业人数").fill("25")
    page.get_by_label("上年营业收入").fill("300")  # 万元
    page.get_by_label("资产总额").fill("100")
    page.get_by_label("按哪一天的政策计算").fill(AS_OF)
    page.screenshot(path=str(shots / f"calculator-form-{size}.png"), full_page=True)
    page.evaluate("window.__samePage = true")
    page.get_by_role("button", name="计算能享受的政策").click()

    results = page.locator("#results")
    expect(results).to_be_visible()
    for heading in ("可享受（", "需补充信息（", "不符合（"):
        expect(results.get_by_role("heading", name=re.compile("^" + heading))).to_be_visible()
    eligible = page.locator("article.policy.v-eligible")
    assert eligible.count() > 0
    expect(page.locator("#total")).to_contain_text("可享受")
    # Each condition says why, in words.
    first = eligible.first
    assert first.locator("ul.conditions li").count() > 0
    assert "符合" in (first.locator("ul.conditions").inner_text() + "符合")
    assert_no_sideways_scroll(page)
    page.screenshot(path=str(shots / f"calculator-results-{size}.png"), full_page=False)

    # A policy that needs more facts: answer exactly what its prompt asks, in place.
    article = pick_undetermined(page)
    pid = article.get_attribute("id")
    assert pid
    ask = article.locator("form.ask")
    asked = answer_prompt(ask)
    assert asked
    article.screenshot(path=str(shots / f"calculator-ask-{size}.png"))
    ask.get_by_role("button", name="补充后重新计算").click()
    expect(page.locator("#rerun-status")).to_contain_text("已重新计算")
    article = page.locator(f'article[id="{pid}"]')
    # Every missing fact was given, so the policy is decided now.
    expect(article).to_have_class(re.compile("v-(eligible|ineligible)"))
    assert page.evaluate("window.__samePage === true"), "the match re-ran in place, no page load"
    # The main form kept everything and took the answers.
    for name, value in asked.items():
        expect(page.locator(f"#f-{name}")).to_have_value(value)
    expect(page.get_by_label("从业人数").first).to_have_value("25")
    expect(page.get_by_role("combobox", name="所属行业").first).to_have_value("H6210 正餐服务")
    article.screenshot(path=str(shots / f"calculator-rerun-{size}.png"))

    # Print: the form and buttons go, the results stay.
    page.emulate_media(media="print")
    expect(page.locator("form.profile")).to_be_hidden()
    expect(page.locator("#results")).to_be_visible()
    expect(page.locator("form.ask")).to_have_count(page.locator("form.ask").count())
    assert page.locator("form.ask").first.is_hidden()
    page.emulate_media(media="screen")

    # Open the policy page from its title.
    title = article.locator("h4 a").inner_text()
    article.locator("h4 a").click()
    expect(page).to_have_url(re.compile(re.escape("/policies/" + pid.removeprefix("p-")) + "$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)
    if pid.startswith("p-lj."):
        expect(page.get_by_role("note").first).to_contain_text("示例政策")
    expect(page.get_by_role("heading", name=re.compile("要满足的条件"))).to_be_visible()
    expect(page.get_by_role("heading", name="怎么申请")).to_be_visible()
    expect(page.get_by_role("link", name="查看原文")).to_have_attribute("href", re.compile("^https?://"))
    assert_no_sideways_scroll(page)
    page.screenshot(path=str(shots / f"policy-page-{size}.png"), full_page=True)


def test_form_errors_are_shown_and_focused(page: Page, server: str) -> None:
    page.goto(server + "/")
    page.get_by_label("从业人数").fill("很多")
    page.get_by_label("上年营业收入").fill("-1")
    page.get_by_label("从业人数").press("Enter")  # submit from the keyboard
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("有 2 处需要修改")
    expect(summary).to_be_focused()
    summary.get_by_role("link", name=re.compile("从业人数")).click()
    expect(page.get_by_label("从业人数")).to_be_focused()
    expect(page.get_by_label("从业人数")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("从业人数")).to_have_value("很多")


def test_policy_library_search_and_filter(page: Page, server: str, shots: Path) -> None:
    size = width_of(page)
    page.goto(server + "/policies")
    total = page.locator("li.policy-card").count()
    assert total > 0
    expect(page.locator("li.policy-card .badge.sample").first).to_have_text("示例")
    page.get_by_label("关键词").fill("研发")
    page.get_by_label("关键词").press("Enter")
    expect(page).to_have_url(re.compile(r"q=%E7%A0%94%E5%8F%91"))
    found = page.locator("li.policy-card")
    assert 0 < found.count() < total
    for text in found.all_inner_texts():
        assert "研发" in text
    page.goto(server + "/policies")
    box = page.get_by_role("combobox", name="所属行业")
    box.press_sequentially("I65", delay=30)
    expect(page.get_by_role("listbox", name="行业候选").get_by_role("option").first).to_contain_text("I65")
    box.press("ArrowDown")
    box.press("Enter")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("p.count")).to_contain_text("找到")
    assert_no_sideways_scroll(page)
    page.screenshot(path=str(shots / f"policies-{size}.png"))


def test_api_docs_render_under_the_content_security_policy(page: Page, server: str) -> None:
    page.goto(server + "/docs")
    expect(page.get_by_text("/api/v1/match").first).to_be_visible()


@pytest.fixture(scope="module")
def officer_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``huiqi serve --db`` on a database with the library imported and officers added."""
    from tests.library.conftest import make_lifecycle
    from tests.web.conftest import serving

    folder = tmp_path_factory.mktemp("officers")
    url = f"sqlite:///{folder / 'huiqi.db'}"
    make_lifecycle(url).engine.dispose()
    with serving(folder / "serve.log", "--db", url, "--workers", "1") as base:
        yield base


def test_an_officer_logs_in_and_the_editor_checks_as_they_type(page: Page, officer_server: str, shots: Path) -> None:
    page.goto(officer_server + "/admin")
    expect(page).to_have_url(re.compile(r"/admin/login"))
    page.get_by_label("用户名").fill("alice")
    page.get_by_label("密码").fill("alice-password")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="政策与审核")).to_be_visible()
    page.goto(officer_server + "/admin/edit?doc=cn.cit.small-low-profit")
    expect(page.locator("#status")).to_have_text("✓ 可以提交", timeout=60_000)  # the live check (static script)
    expect(page.locator("#preview tbody tr").first).to_be_visible()
    text = page.get_by_label("政策 YAML")
    text.fill(text.input_value().replace("taxable_income <= param(", "taxable_income <= 'x AND param(", 1))
    expect(page.locator("#status")).to_have_text("✗ 有问题，不能提交", timeout=60_000)
    expect(page.locator("#errors li").first).to_contain_text("cit.small-low-profit.yaml:")
    page.screenshot(path=str(shots / f"officer-editor-{width_of(page)}.png"), full_page=True)
