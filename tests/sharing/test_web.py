"""The sharing pages and API in the web app, against the running departments."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from huiqi.library.enterprises import issue_token
from huiqi.library.source import DbLibrarySource
from huiqi.sharing.registers import hrss, tax
from huiqi.web import create_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app(running, world):
    app = create_app(DbLibrarySource(world.platform, migrate=False, clock=world.clock), clock=world.clock)
    app.state.departments = str(running.deployment.root)
    return app


@pytest.fixture(scope="module")
def uscc(registers) -> str:
    with registers["tax"].engine.connect() as c, registers["hrss"].engine.connect() as h:
        taxed = set(c.execute(sa.select(tax.taxpayers.c.uscc)).scalars())
        insured = set(h.execute(sa.select(hrss.contributions.c.uscc)).scalars())
    return sorted(taxed & insured)[10]


@pytest.fixture
def enterprise(app, world, uscc):
    """The enterprise, with the token an officer issued to it (``huiqi enterprise token issue``)."""
    token = issue_token(world.platform, uscc, actor="alice", clock=world.clock)
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as c:
        yield c


def test_consent_prefill_with_provenance_and_the_data_usage_record(enterprise, uscc):
    base = f"/api/v1/enterprises/{uscc}"
    before = enterprise.get(f"{base}/profile", params={"purpose": "政策匹配"})
    assert before.status_code == 200
    body = before.json()
    assert body["consent"] is None and body["provenance"]["name"]["source"] == "市场监管局"
    assert "revenue" in body["missing"]  # no consent yet: tax figures are not read
    asked = enterprise.post(
        f"{base}/consents",
        json={
            "purpose": "policy_match",
            "scope": {
                "tax.taxpayer": {"read": ["revenue", "taxable_income"], "ask": ["credit_rating"]},
                "hrss.insurance": {"read": ["employees"]},
            },
        },
    )
    assert asked.status_code == 201 and asked.json()["state"] == "requested"
    ref = asked.json()["ref"]
    assert enterprise.post(f"{base}/consents/{ref}/approve").json()["state"] == "granted"
    after = enterprise.get(f"{base}/profile").json()
    assert after["consent"]["ref"] == ref
    assert after["provenance"]["employees"]["source"] == "人社局"
    if "revenue" in after["profile"]:
        assert after["provenance"]["revenue"]["consent_ref"] == ref
        assert re.fullmatch(r"\d+(\.\d+)?", after["form"]["revenue"])  # 万元 for the calculator form
    assert {v["label"] for v in after["verified"]} >= {"纳税信用等级不是D级"}  # asked, not read
    usage = enterprise.get(f"{base}/data-usage").json()
    mine = [r for r in usage["records"] if r["consent_ref"] == ref]
    assert mine and {r["provider"] for r in mine} >= {"tax", "hrss"}
    assert all(r["log"]["leaf_hash"] for r in mine)
    assert enterprise.post(f"{base}/consents/{ref}/withdraw").json()["state"] == "withdrawn"
    gone = enterprise.get(f"{base}/profile").json()
    assert gone["consent"] is None and "employees" not in gone["profile"]


def test_a_corrected_fact_is_used_for_the_calculation_and_never_written_back(enterprise, uscc, registers):
    def rows():
        with registers["hrss"].engine.connect() as c:
            return c.execute(sa.select(hrss.contributions).where(hrss.contributions.c.uscc == uscc)).all()

    before = rows()
    base = f"/api/v1/enterprises/{uscc}"
    r = enterprise.post(f"{base}/match", json={"corrections": {"employees": 7}, "as_of": "2026-11-30"})
    assert r.status_code == 200
    assert r.json()["corrected"] == ["employees"] and r.json()["match"]["results"]
    assert rows() == before  # the register is untouched by the correction
    bad = enterprise.post(f"{base}/match", json={"corrections": {"employees": "many"}})
    assert bad.status_code == 422 and "employees" in bad.text


def test_without_its_own_token_nothing_is_answered(app, world, uscc, registers):
    base = f"/api/v1/enterprises/{uscc}"
    with TestClient(app) as c:
        for r in (c.get(f"{base}/profile"), c.get(f"{base}/data-usage"), c.post(f"{base}/consents/x/approve")):
            assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    with registers["tax"].engine.connect() as conn:
        neighbour = sorted(set(conn.execute(sa.select(tax.taxpayers.c.uscc)).scalars()) - {uscc})[0]
    theirs = issue_token(world.platform, neighbour, actor="alice", clock=world.clock)
    with TestClient(app, headers={"Authorization": f"Bearer {theirs}"}) as c:
        for r in (c.get(f"{base}/profile"), c.get(f"{base}/consents"), c.post(f"{base}/match", json={})):
            assert r.status_code == 403, r.text  # a token of another enterprise
        assert c.get(f"/api/v1/enterprises/{neighbour}/consents").status_code == 200
        assert "no-store" in c.get(f"/api/v1/enterprises/{neighbour}/consents").headers["cache-control"]


def _login(client: TestClient, name: str) -> str:
    page = client.get("/admin/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    data = {"name": name, "password": f"{name}-password"}
    if csrf:
        data["csrf"] = csrf.group(1)
    client.post("/admin/login", data=data)
    sharing_page = client.get("/admin/sharing")
    assert sharing_page.status_code == 200, sharing_page.text[:500]
    return re.search(r'name="csrf" value="([^"]+)"', sharing_page.text).group(1)


def test_declarations_are_published_by_another_officer(app):
    text = (
        "kind: purpose\nid: platform.huiqi.precheck.hrss\nconsumer: platform/huiqi\npurpose: precheck\n"
        "service: hrss.insurance\ntitle: 预审：参保人数\nfields: [employees]\nbasis: consent\n"
    )
    with TestClient(app) as alice, TestClient(app) as bob:
        a = _login(alice, "alice")
        r = alice.post(
            "/admin/sharing/declarations/draft",
            data={"csrf": a, "content": text, "note": "新增"},
            follow_redirects=False,
        )
        assert r.status_code == 303
        page = alice.get("/admin/sharing").text
        vid = re.search(r'id="v-(\d+)">\s*<td><code>platform.huiqi.precheck.hrss', page).group(1)
        alice.post("/admin/sharing/declarations/submit", data={"csrf": a, "version_id": vid})
        own = alice.post("/admin/sharing/declarations/publish", data={"csrf": a, "version_id": vid})
        assert own.status_code == 403  # an editor, and the author: four-eyes
        b = _login(bob, "bob")
        done = bob.post(
            "/admin/sharing/declarations/publish", data={"csrf": b, "version_id": vid}, follow_redirects=False
        )
        assert done.status_code == 303
        assert "platform.huiqi.precheck.hrss" in bob.get("/admin/sharing").text
        bob.post(
            "/admin/sharing/declarations/withdraw", data={"csrf": b, "declaration_id": "platform.huiqi.precheck.hrss"}
        )


def test_department_page_and_security_page(app):
    with TestClient(app) as bob:
        b = _login(bob, "bob")
        page = bob.get("/admin/sharing/departments/tax")
        assert page.status_code == 200 and "税务局" in page.text and "tax.taxpayer" in page.text
        assert "拒绝" in page.text or "已答复" in page.text
        polled = bob.post("/admin/sharing/alerts/poll", data={"csrf": b}, follow_redirects=False)
        assert polled.status_code == 303
        alerts = bob.get("/admin/sharing/alerts")
        assert alerts.status_code == 200 and "数据共享安全告警" in alerts.text
        assert re.search(r"已读取日志，新告警 \d+ 条", bob.get(polled.headers["location"]).text)


def test_officer_pages_say_only_what_the_server_wrote(app):
    """Issue 10 finding 12: a link with ?done=<any text> must not put that text on an officer's page."""
    fake = "系统通知：请将密码发送至 attacker@example.com"
    with TestClient(app) as bob:
        _login(bob, "bob")
        for path in ("/admin/sharing", "/admin/sharing/alerts", "/admin/sharing/departments/tax"):
            page = bob.get(path, params={"done": fake, "raised": fake, "msg": fake})
            assert page.status_code == 200 and fake not in page.text, path
            assert page.headers["cache-control"] == "no-store"
        assert "已发布" in bob.get("/admin/sharing", params={"done": "publish"}).text
        forged = bob.post("/admin/sharing/alerts/poll", data={"csrf": "forged"}, follow_redirects=False)
        assert forged.status_code == 403
