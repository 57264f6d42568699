"""The sharing pages in a real browser (Debian's Chromium, Playwright), as people use them:
an enterprise gives consent, sees its prefilled profile with sources and its 数据使用记录,
lets the calculator fill itself and corrects a fact; an officer reads the security page and
a department's page."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import uvicorn

from huiqi.library.enterprises import issue_token
from huiqi.library.source import DbLibrarySource
from huiqi.sharing.registers import hrss, tax
from huiqi.web import create_app

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync"]
pytestmark = pytest.mark.slow

if os.environ.get("HUIQI_SKIP_BROWSER") == "1":
    pytest.skip("HUIQI_SKIP_BROWSER=1: browser tests skipped on purpose", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def base_url(running, world) -> Iterator[str]:
    """The web app on a loopback port, with the running departments behind it."""
    app = create_app(DbLibrarySource(world.platform, migrate=False, clock=world.clock), clock=world.clock)
    app.state.departments = str(running.deployment.root)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the web app did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh (or set HUIQI_SKIP_BROWSER=1)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(params=["mobile", "desktop"])
def page(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    size = {"mobile": {"width": 375, "height": 812}, "desktop": {"width": 1280, "height": 900}}[request.param]
    context = browser.new_context(viewport=size, locale="zh-CN")  # type: ignore[arg-type]
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    yield pg
    context.close()
    assert not errors, f"JavaScript errors or CSP violations: {errors}"


@pytest.fixture(scope="module")
def usccs(registers) -> list[str]:
    with registers["tax"].engine.connect() as c, registers["hrss"].engine.connect() as h:
        taxed = set(c.execute(sa.select(tax.taxpayers.c.uscc)).scalars())
        insured = set(h.execute(sa.select(hrss.contributions.c.uscc)).scalars())
    return sorted(taxed & insured)[20:30]


def test_an_enterprise_consents_and_the_calculator_fills_itself(
    page: Page, base_url: str, usccs, request, tmp_path, world
):
    uscc = usccs[0 if "mobile" in request.node.name else 1]
    token = issue_token(world.platform, uscc, actor="alice", clock=world.clock)  # handed over by an officer
    page.goto(base_url + "/enterprise/data")
    expect(page.get_by_role("heading", level=1)).to_have_text("我的数据")
    page.get_by_label("统一社会信用代码").fill(uscc)
    page.get_by_label("企业令牌").fill(token)
    page.get_by_role("button", name="进入").click()
    expect(page.locator("#who")).to_have_text(uscc)
    # Before consent: registration data only (its legal basis), no tax figures.
    expect(page.locator("#profile-rows tr[data-field=name]")).to_contain_text("市场监管局")
    expect(page.locator("#profile-rows tr[data-field=revenue]")).to_have_count(0)
    page.get_by_role("button", name="同意读取税务与社保数据（一年）").click()
    expect(page.locator("#consent-rows")).to_contain_text("已同意")
    expect(page.locator("#profile-rows tr[data-field=employees]")).to_contain_text("人社局")
    expect(page.locator("#usage-rows")).to_contain_text("税务局")
    expect(page.locator("#usage-rows")).to_contain_text("政策匹配")
    page.screenshot(path=str(tmp_path / "enterprise.png"), full_page=True)

    page.goto(base_url + "/")
    page.get_by_role("button", name=re.compile("用部门数据预填")).click()
    expect(page.locator("#prefill-panel .prefill-status")).to_contain_text("已从部门数据预填")
    employees = page.locator('#profile-form [name="employees"]')
    prefilled = employees.input_value()
    assert prefilled.isdigit()
    box = page.locator("#profile-form .field", has=page.locator('[name="employees"]'))
    expect(box.locator(".provenance")).to_contain_text("人社局")
    expect(box.locator(".provenance")).to_contain_text("经企业同意")
    employees.fill(str(int(prefilled) + 5))
    expect(box.locator(".provenance")).to_contain_text("企业更正")
    page.get_by_role("button", name="计算能享受的政策").click()
    expect(page.locator("#results")).to_be_visible()

    # Withdrawn: the next call is refused, and the refusal is in the record.
    page.goto(base_url + "/enterprise/data")
    page.locator("#consent-rows button[data-action=withdraw]").first.click()
    expect(page.locator("#consent-rows")).to_contain_text("已撤回")
    expect(page.locator("#profile-rows tr[data-field=employees]")).to_have_count(0)


def _login(page: Page, base_url: str, name: str) -> None:
    page.goto(base_url + "/admin/login?next=/admin/sharing/alerts")
    page.get_by_label(re.compile("用户名|账号|姓名")).fill(name)
    page.get_by_label("密码").fill(f"{name}-password")
    page.get_by_role("button", name=re.compile("登录")).click()


def test_an_officer_reads_the_logs_and_marks_an_alert(page: Page, base_url: str, running, usccs):
    from huiqi.sharing.client import GatewayClient
    from huiqi.sharing.gateway import RefusedRequest

    # A replay performed against 税务局: the same request id twice.
    client = GatewayClient.for_system(running.deployment, "fin/grants", clock=running_clock(running))
    rid = f"replay-{page.viewport_size['width']}-{time.time_ns()}"
    for _ in range(2):
        try:
            client.query(
                "tax",
                purpose="auto_grant",
                subject={"uscc": usccs[5]},
                condition="revenue > 0",
                official="payer1",
                case_id="P-1",
                request_id=rid,
            )
        except RefusedRequest as e:
            assert e.code == "replayed_request"
    _login(page, base_url, "bob")
    page.goto(base_url + "/admin/sharing/alerts")
    page.get_by_role("button", name="读取最新日志").click()
    row = page.locator("tr.alert.open", has_text="重放请求").first
    expect(row).to_contain_text("fin/grants/payer1")
    row.get_by_role("button", name="属实").click()
    expect(page.locator("tr.alert.true", has_text="fin/grants/payer1").first).to_contain_text("属实（bob）")
    page.goto(base_url + "/admin/sharing/departments/tax")
    expect(page.get_by_role("heading", level=1)).to_contain_text("税务局")
    expect(page.locator("table").nth(1)).to_contain_text("fin/grants/payer1")


def running_clock(running):
    from huiqi.clock import FixedClock
    from tests.conftest import TEST_NOW

    return FixedClock(TEST_NOW)
