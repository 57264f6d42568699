"""The enterprise space's pages and API in the web app (in process)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.portal.conftest import REP, USCC, applicable_policy, csrf_of, login_page

PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def test_register_set_up_the_authenticator_and_log_in(client, world):
    r = client.post(
        "/my/register",
        data={
            "uscc": USCC,
            "name": REP[0],
            "id_number": REP[1][:-1] + "0",
            "login": "qinghe",
            "password": "correct horse 1",
        },
    )
    assert "核验" in r.text or "身份证" in r.text  # a wrong number: refused, named
    assert 'aria-invalid="true"' in r.text
    r = client.post(
        "/my/register",
        data={"uscc": USCC, "name": REP[0], "id_number": REP[1], "login": "qinghe", "password": "correct horse 1"},
    )
    assert r.status_code == 200 and "<svg" in r.text
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', r.text).group(1)
    login_page(client, "qinghe", "correct horse 1", secret, world.clock)
    home = client.get("/my")
    assert home.status_code == 200 and "临江市青禾餐饮有限公司" in home.text
    cookie = next(c for c in client.cookies.jar if c.name == "huiqi_my")
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.path == "/"
    assert home.headers["cache-control"] == "no-store"


def test_a_page_needs_a_login_and_a_form_needs_its_token(client, world):
    r = client.get("/my/applications", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/my/login")
    world.register()
    r = client.post("/my/login", data={"login": "qinghe", "password": "correct horse 1"}, follow_redirects=False)
    assert "已过期" in r.text  # no form token: a login posted from elsewhere is refused


def test_apply_with_an_attachment_through_the_pages_and_the_officer_queue(client, world):
    me, secret = world.register()
    login_page(client, "qinghe", "correct horse 1", secret, world.clock)
    policy = applicable_policy(world)
    page = client.get("/my/applications")
    r = client.post(
        "/my/applications", data={"csrf": csrf_of(page.text), "policy_id": policy.id}, follow_redirects=False
    )
    assert r.status_code == 303
    url = r.headers["location"].split("?")[0]
    page = client.get(url)
    csrf = csrf_of(page.text)
    assert (
        client.post(
            url + "/attachments",
            data={"csrf": "wrong", "material": policy.definition.apply.materials[0]},
            files={"file": ("a.pdf", PDF, "application/pdf")},
        ).status_code
        == 403
    )
    for material in policy.definition.apply.materials:
        client.post(
            url + "/attachments",
            data={"csrf": csrf, "material": material},
            files={"file": (f"{material}.pdf", PDF, "application/pdf")},
        )
    client.post(url + "/sign", data={"csrf": csrf, "agree": "yes", "signer": REP[0]})
    r = client.post(url + "/act", data={"csrf": csrf, "action": "submit"})
    assert "已预审" in r.text
    app_id = int(url.rsplit("/", 1)[1])
    assert world.portal.applications.get(me, app_id)["status"] == "prechecked"
    api = client.get("/api/v1/my/applications").json()
    assert api[0]["id"] == app_id and api[0]["status"] == "prechecked"
    # the API refuses a change without the session's CSRF header
    assert client.post(f"/api/v1/my/applications/{app_id}/withdraw").status_code == 403


def test_one_enterprise_cannot_read_another_ones_inbox(client, world):
    from tests.portal.conftest import OTHER, OTHER_REP

    _, secret = world.register(OTHER, OTHER_REP, login="other")
    login_page(client, "other", "correct horse 1", secret, world.clock)
    assert client.get("/api/v1/inbox").status_code == 200
    assert client.get(f"/api/v1/inbox/{USCC}").status_code == 403
    assert client.get(f"/api/v1/enterprises/{USCC}/consents").status_code == 403
    assert client.get("/api/v1/my/profile").json()["uscc"] == OTHER


def test_a_saved_answer_is_shared_by_a_hash_without_the_enterprise(client, world):
    me, secret = world.register()
    world.portal.profiles.correct(me, "employees", 12)
    world.portal.profiles.correct(me, "region", "339901")
    login_page(client, "qinghe", "correct horse 1", secret, world.clock)
    home = client.get("/my")
    r = client.post("/my/save", data={"csrf": csrf_of(home.text)}, follow_redirects=False)
    link = r.headers["location"].split("?")[0]
    assert re.fullmatch(r"/shared/[0-9a-f]{64}", link) and USCC not in link
    with TestClient(client.app) as stranger:
        page = stranger.get(link)
    assert page.status_code == 200 and "从业人数" in page.text
    assert USCC not in page.text and "青禾" not in page.text


def test_correcting_a_fact_is_marked_and_kept_in_the_history(client, world):
    _me, secret = world.register()
    login_page(client, "qinghe", "correct horse 1", secret, world.clock)
    page = client.get("/my/profile")
    r = client.post("/my/profile/facts", data={"csrf": csrf_of(page.text), "field": "employees", "value": "35"})
    assert "企业更正" in r.text
    r = client.post("/my/profile/facts", data={"csrf": csrf_of(page.text), "field": "employees", "value": "many"})
    assert "从业人数" in r.text  # the field is named
    history = client.get("/api/v1/my/profile").json()["history"]
    assert history[0]["field"] == "employees" and history[0]["after"] == 35 and history[0]["origin"] == "enterprise"
