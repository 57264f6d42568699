"""Officer pages and the notification API, through the real app (FastAPI TestClient)."""

import pytest
from fastapi.testclient import TestClient

from huiqi.library import DbLibrarySource
from huiqi.web import create_app
from tests.library.officer_client import attempt_login, login

PID = "cn.cit.small-low-profit"
OLD_TITLE, NEW_TITLE = "小型微利企业所得税优惠", "小型微利企业所得税优惠（网页修订）"


@pytest.fixture
def app(sqlite_lc):
    source = DbLibrarySource(sqlite_lc.engine, poll_interval=0, clock=sqlite_lc.clock)
    return create_app(source, clock=sqlite_lc.clock)


def _login(app, name, password):
    return login(app, name, password)


def test_pages_need_a_login(app):
    client = TestClient(app, follow_redirects=False)
    r = client.get("/admin")
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/login")
    r = attempt_login(client, "bob", "wrong-password")
    assert r.status_code == 401 and "用户名或密码不正确" in r.text
    assert client.post("/admin/api/lint", json={"text": "x"}).status_code == 401
    assert client.post("/admin/versions/1/publish", data={"csrf": "x"}).status_code == 401


def test_edit_lint_submit_review_publish_goes_live(app, text_of):
    alice, alice_csrf = _login(app, "alice", "alice-password")
    page = alice.get(f"/admin/edit?doc={PID}")
    assert page.status_code == 200 and "政策 YAML" in page.text and OLD_TITLE in page.text
    text = text_of().replace(f"title: {OLD_TITLE}", f"title: {NEW_TITLE}")
    # live lint: needs the CSRF header, reports tests and a preview on the example enterprises
    assert alice.post("/admin/api/lint", json={"text": text}).status_code == 403
    r = alice.post("/admin/api/lint", json={"text": text}, headers={"X-CSRF-Token": alice_csrf})
    data = r.json()
    assert data["ok"] and data["document_id"] == PID and data["cases_passed"] > 100
    assert {p["enterprise"] for p in data["preview"]} >= {"临江星河智能计算机有限公司"}
    broken = text.replace("taxable_income <= param(", "taxable_income <= 'x' AND param(")
    bad = alice.post("/admin/api/lint", json={"text": broken}, headers={"X-CSRF-Token": alice_csrf}).json()
    assert not bad["ok"] and bad["errors"]
    # submit for review
    r = alice.post(
        "/admin/drafts", data={"text": text, "note": "标题", "csrf": alice_csrf, "doc_id": PID, "submit": "1"}
    )
    assert r.status_code == 303
    version_url = r.headers["location"].split("?")[0]
    page = alice.get(version_url)
    assert "待审核" in page.text and f"+title: {NEW_TITLE}" in page.text
    # the author, even with publisher rights, may not publish: here alice is only an editor
    version_id = version_url.rsplit("/", 1)[1]
    r = alice.post(f"/admin/versions/{version_id}/publish", data={"csrf": alice_csrf})
    assert r.status_code == 403
    bob, bob_csrf = _login(app, "bob", "bob-password")
    assert "审核通过并发布" in bob.get(version_url).text
    impact = bob.get(f"{version_url}/impact")  # no registry configured: says so, runs nothing
    assert impact.status_code == 200 and "没有配置企业库" in impact.text and "<svg" not in impact.text
    impact = bob.get(f"{version_url}/impact?on=examples")  # asked for: on the examples, and it says so
    assert impact.status_code == 200 and "<svg" in impact.text and "示例企业（演示用）" in impact.text
    r = bob.post(f"/admin/versions/{version_id}/publish", data={"csrf": bob_csrf, "note": "同意"})
    assert r.status_code == 303 and "error" not in r.headers["location"]
    # the public calculator serves the new title at once (same app, no restart)
    policy = TestClient(app).get(f"/policies/{PID}")
    assert policy.status_code == 200 and NEW_TITLE in policy.text
    assert NEW_TITLE in bob.get("/admin").text
    audit = bob.get("/admin/audit?verify=1").text
    assert "哈希链完整" in audit and "publish" in audit


def test_four_eyes_on_the_page(app, text_of, sqlite_lc):
    v = sqlite_lc.create_draft(text_of().replace(OLD_TITLE, NEW_TITLE), author="carol", note="x")
    sqlite_lc.submit(v.id, actor="carol")
    carol, csrf = _login(app, "carol", "carol-password")
    assert "四眼原则" in carol.get(f"/admin/versions/{v.id}").text
    r = carol.post(f"/admin/versions/{v.id}/publish", data={"csrf": csrf})
    assert r.status_code == 403 and "四眼原则" in r.text
    assert sqlite_lc.version(v.id).state == "in_review"


def test_inbox_and_subscription_api(app, sqlite_lc, text_of):
    from huiqi.library.enterprises import issue_token

    client = TestClient(app)
    token = issue_token(sqlite_lc.engine, "91339901MA3C9W1E2F", actor="alice", clock=sqlite_lc.clock)
    auth = {"Authorization": f"Bearer {token}"}
    profile = {"region": "339901", "credit_rating": "A", "revenue": "3000000"}
    r = client.post(
        "/api/v1/subscriptions",
        json={"uscc": "91339901MA3C9W1E2F", "profile": profile, "kind": "new_eligible"},
        headers=auth,
    )
    assert r.status_code == 201, r.text
    assert client.get("/api/v1/inbox/91339901MA3C9W1E2F", headers=auth).json() == []
    text = text_of("lj/tax.credit-a-award.yaml")
    old = "      - {from: 2025-01-01, value: 5000000, source: 临发改〔2025〕17号 第二条}\n"
    text = text.replace(old, old + "      - {from: 2026-09-01, value: 2000000, source: 临发改〔2026〕3号}\n")
    import datetime as dt

    v = sqlite_lc.create_draft(text, author="alice", note="降低门槛")
    sqlite_lc.submit(v.id, actor="alice")
    sqlite_lc.publish(v.id, actor="bob", effective=dt.date(2026, 12, 1))
    inbox = client.get("/api/v1/inbox", headers=auth).json()
    assert len(inbox) == 1 and inbox[0]["policy_id"] == "lj.tax.credit-a-award" and inbox[0]["verdict"] == "eligible"
    bad = client.post("/api/v1/subscriptions", json={"uscc": "x", "profile": {}, "kind": "nope"}, headers=auth)
    assert bad.status_code == 422
