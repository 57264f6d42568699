"""The enterprise space as people use it: Debian's Chromium (Playwright) against the app, with the
five departments running as processes over mTLS (``huiqi departments up``).

The story of issue 15: the legal representative registers (checked against 法人库 and 人口库
through the gateway), sets up the authenticator, logs in with the code, consents and gets the
profile prefilled with its sources, applies online with attachments and the signed promise;
officers accept, fix the amount with four-eyes (the proposer cannot review), announce and pay;
the enterprise sees the money in its 兑现 ledger. On a 375 px phone. Screenshots as in
tests/web/test_e2e.py (``HUIQI_SCREENSHOTS=docs/screenshots`` keeps them).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyotp
import pytest
import sqlalchemy as sa

from huiqi.batch.registry import iter_batches
from huiqi.clock import FixedClock
from huiqi.library import Lifecycle
from huiqi.library.source import DbLibrarySource
from huiqi.portal import Portal
from huiqi.portal.identity import SYSTEM, GatewayIdentity
from huiqi.sharing.catalogue import shipped_declarations
from huiqi.sharing.catalogue_store import CatalogueStore
from huiqi.sharing.client import GatewayClient
from huiqi.sharing.deployment import Deployment, init
from huiqi.sharing.registers import hrss, tax
from huiqi.sharing.runtime import free_port
from huiqi.trust.fields import Keyring, Vault
from tests.conftest import TEST_NOW
from tests.portal.conftest import OFFICE

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
PHONE = {"width": 375, "height": 812}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

pytestmark = pytest.mark.slow

if os.environ.get("HUIQI_SKIP_BROWSER") == "1":
    pytest.skip("HUIQI_SKIP_BROWSER=1: browser tests skipped on purpose", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402


@dataclass
class Stack:
    url: str
    portal: Portal
    deployment: Deployment
    clock: FixedClock
    enterprise: dict[str, str]


def _enterprise(deployment: Deployment, clock: FixedClock) -> dict[str, str]:
    """An active enterprise with tax and insurance records, and its legal representative."""
    regs = {m: deployment.register(m, clock=clock) for m in ("samr", "tax", "hrss")}
    with regs["tax"].engine.connect() as t, regs["hrss"].engine.connect() as h, regs["samr"].engine.connect() as s:
        taxed = set(t.execute(sa.select(tax.taxpayers.c.uscc)).scalars())
        insured = set(h.execute(sa.select(hrss.contributions.c.uscc)).scalars())
        for uscc in sorted(taxed & insured):
            row = regs["samr"].read(
                s, uscc, clock.today(), frozenset({"name", "status", "legal_rep_name", "legal_rep_id_number"})
            )
            if row and row["status"][0] == "存续":
                return {"uscc": uscc, "name": row["name"][0], "rep": row["legal_rep_name"][0],
                        "id_number": row["legal_rep_id_number"][0]}  # fmt: skip
    raise AssertionError("no active enterprise with tax and insurance records")


@pytest.fixture(scope="module")
def stack(seed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("portal-e2e")
    clock = FixedClock(TEST_NOW)
    shutil.copy(seed, root / "platform.db")
    url = f"sqlite:///{root / 'platform.db'}"
    lifecycle = Lifecycle.open(url, clock=clock)
    batches = pa.Table.from_batches(list(iter_batches(300, 7))).to_batches()
    deployment, _ = init(root / "dep", batches, clock=clock, platform_db=url, seed=7)
    CatalogueStore(lifecycle.engine, clock=clock).import_texts(shipped_declarations())
    log = root / "up.log"
    env = dict(os.environ, PYTHONUNBUFFERED="1", HUIQI_NOW=TEST_NOW.isoformat(), HUIQI_CATALOGUE_TTL="0")
    with log.open("w", encoding="utf-8") as out:
        up = subprocess.Popen([sys.executable, "-m", "huiqi.cli", "departments", "up", "--dir", str(deployment.root)],
                              cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)  # fmt: skip
    server = None
    try:
        deadline = time.monotonic() + 120
        while "部门服务已启动" not in log.read_text(encoding="utf-8"):
            if up.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(log.read_text(encoding="utf-8"))
            time.sleep(0.2)
        deployment = Deployment.load(deployment.root)
        import uvicorn

        from huiqi.web import create_app

        source = DbLibrarySource(lifecycle.engine, migrate=False, clock=clock)
        app = create_app(source, clock=clock)
        app.state.departments = str(deployment.root)
        vault = Vault(lifecycle.engine, Keyring.from_dict(Keyring.generate("k1", "aes-256-gcm")), store="platform",
                      clock=clock, profile="aes-256-gcm")  # fmt: skip
        identity = GatewayIdentity(GatewayClient.for_system(deployment, SYSTEM, clock=clock))
        portal = Portal(lifecycle.engine, clock, source.current, vault, identity)
        for officer in ("alice", "bob", "carol"):
            portal.assign(officer, OFFICE)
        app.state.portal = portal
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        yield Stack(f"http://127.0.0.1:{port}", portal, deployment, clock, _enterprise(deployment, clock))
    finally:
        if server is not None:
            server.should_exit = True
        up.terminate()
        try:
            up.wait(timeout=20)
        except subprocess.TimeoutExpired:
            up.kill()
        lifecycle.engine.dispose()


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
    folder = tmp_path_factory.mktemp("portal-shots")
    yield folder
    keep = os.environ.get("HUIQI_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for png in folder.glob("*.png"):
            shutil.copy(png, Path(keep) / png.name)


def _page(browser: Browser, errors: list[str]) -> Page:
    page = browser.new_context(viewport=PHONE, locale="zh-CN").new_page()  # type: ignore[arg-type]
    page.set_default_timeout(20_000)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    return page


def _no_sideways_scroll(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"


def _officer(browser: Browser, stack: Stack, name: str, errors: list[str]) -> Page:
    page = _page(browser, errors)
    page.goto(f"{stack.url}/admin/login?next=/admin/queue")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(f"{name}-password")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("申报办理")
    return page


def _act(page: Page, label: str, **fields: str) -> None:
    form = page.locator("form", has=page.get_by_role("button", name=label, exact=True))
    for name, value in fields.items():
        form.locator(f"[name={name}]").fill(value)
    form.get_by_role("button", name=label, exact=True).click()


def test_register_log_in_prefill_apply_and_see_the_money(browser: Browser, stack: Stack, shots: Path) -> None:
    errors: list[str] = []
    ent = stack.enterprise
    me = _page(browser, errors)

    # 1. registration: checked against 法人库 and 人口库 through the gateway
    me.goto(f"{stack.url}/my/register")
    me.get_by_label("统一社会信用代码").fill(ent["uscc"])
    me.get_by_label("法定代表人姓名").fill(ent["rep"])
    me.get_by_label("法定代表人身份证号").fill(ent["id_number"][:-4] + "0000")
    me.get_by_label("登录名（3–64 位字母、数字或 _.-）").fill("boss")
    me.get_by_label("密码（至少 10 位）").fill("correct horse 1")
    me.get_by_role("button", name="核验并注册").click()
    expect(me.get_by_role("alert")).to_contain_text("身份证")  # a wrong number is refused, named
    me.get_by_label("法定代表人身份证号").fill(ent["id_number"])
    me.get_by_label("密码（至少 10 位）").fill("correct horse 1")
    me.get_by_role("button", name="核验并注册").click()
    expect(me.get_by_role("heading", level=1)).to_have_text("核验通过：请设置动态口令")
    secret = me.locator("#totp-secret").inner_text()
    me.screenshot(path=str(shots / "portal-setup-mobile.png"), full_page=True)

    # 2. login: password, then the code (2FA)
    me.get_by_role("link", name="去登录").click()
    me.get_by_label("登录名", exact=True).fill("boss")
    me.get_by_label("密码", exact=True).fill("correct horse 1")
    me.get_by_role("button", name="下一步").click()
    expect(me.get_by_role("heading", level=1)).to_have_text("第二步：动态口令")
    me.get_by_label("身份验证器上的 6 位数字").fill("000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    me.get_by_role("button", name="登录").click()
    expect(me.get_by_role("alert")).to_contain_text("动态口令不正确")
    me.get_by_label("身份验证器上的 6 位数字").fill(pyotp.TOTP(secret).at(stack.clock.now()))
    me.get_by_role("button", name="登录").click()
    expect(me.get_by_role("heading", level=1)).to_have_text(ent["name"])
    _no_sideways_scroll(me)

    # 3. prefill with consent: sources named per fact
    me.get_by_role("navigation", name="企业空间").get_by_role("link", name="企业画像").click()
    me.get_by_role("button", name="同意并获取数据").click()
    expect(me.get_by_role("status")).to_contain_text("已从部门获取数据")
    expect(me.locator("tr[data-field=employees] td").nth(1)).to_contain_text("人社局")
    expect(me.locator("tr[data-field=revenue] td").nth(1)).to_contain_text("税务局")
    expect(me.locator("tr[data-field=name] td").nth(1)).to_contain_text("市场监管局")
    _no_sideways_scroll(me)
    me.screenshot(path=str(shots / "portal-profile-mobile.png"), full_page=True)

    # 4. apply online with attachments and the signed promise
    me.get_by_role("navigation", name="企业空间").get_by_role("link", name="在线申报").click()
    me.get_by_label("政策（申报享受、申请审批类）").select_option("lj.sci.high-tech-award")
    me.get_by_role("button", name="生成申报表").click()
    expect(me.get_by_role("heading", level=1)).to_contain_text("临江市高新技术企业认定奖励")
    materials = me.locator("#material option").all_inner_texts()
    for material in materials[:-1]:  # every listed material ("其他材料" is optional)
        me.get_by_label("材料", exact=True).select_option(material)
        me.get_by_label("文件（PDF、PNG 或 JPEG，不超过 5 MB）").set_input_files(
            {"name": f"{material}.pdf", "mimeType": "application/pdf", "buffer": PDF}
        )
        me.get_by_role("button", name="上传").click()
        expect(me.get_by_role("status")).to_contain_text(f"已上传：{material}")
    me.get_by_label("我已阅读并承诺").check()
    me.get_by_label(re.compile("签名")).fill(ent["rep"])
    me.get_by_role("button", name="签署").click()
    expect(me.get_by_role("status")).to_contain_text("已签署告知承诺书")
    me.get_by_role("button", name="提交申报").click()
    expect(me.locator("#status")).to_have_text("已预审")
    _no_sideways_scroll(me)
    me.screenshot(path=str(shots / "portal-application-mobile.png"), full_page=True)
    app_url = me.url.split("?")[0]
    app_id = app_url.rsplit("/", 1)[1]

    # 5. officers: accept, fix the amount with four-eyes, announce, pay
    alice = _officer(browser, stack, "alice", errors)
    alice.get_by_role("link", name=f"#{app_id}").click()
    _act(alice, "受理")
    expect(alice.locator("#status")).to_have_text("已受理")
    bob = _officer(browser, stack, "bob", errors)
    bob.goto(f"{stack.url}/admin/queue/{app_id}")
    _act(bob, "核定金额", amount="200000.00", reason="按认定当年奖励标准")
    _act(bob, "审核通过（复核金额）")
    expect(bob.get_by_role("alert")).to_contain_text("双人复核")  # the proposer cannot review
    carol = _officer(browser, stack, "carol", errors)
    carol.goto(f"{stack.url}/admin/queue/{app_id}")
    _act(carol, "审核通过（复核金额）")
    expect(carol.locator("#status")).to_have_text("已审核")
    alice.goto(f"{stack.url}/admin/queue/{app_id}")
    _act(alice, "公示")
    carol.goto(f"{stack.url}/admin/queue/{app_id}")
    _act(carol, "兑现", voucher="GK2026-12-0001")
    expect(carol.locator("#status")).to_have_text("已兑现")

    # 6. the enterprise sees 兑现
    me.goto(f"{stack.url}/my/ledger")
    expect(me.locator("#ledger-total")).to_have_text("200,000.00 元")
    expect(me.get_by_role("cell", name="GK2026-12-0001")).to_be_visible()
    me.goto(f"{stack.url}/my")
    expect(me.get_by_role("region", name="通知")).to_contain_text("申报进度：已兑现")
    _no_sideways_scroll(me)
    me.screenshot(path=str(shots / "portal-ledger-mobile.png"), full_page=True)
    assert not errors, f"JavaScript errors or CSP violations: {errors}"
