"""POST /api/v1/certs/verify and the public pages, against a register with witnesses."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from huiqi.match import default_library
from huiqi.rules import StaticSource
from huiqi.web import create_app
from tests.certs.conftest import World


@pytest.fixture
def client(world: World) -> TestClient:
    app = create_app(StaticSource(default_library()), clock=world.clock)
    app.state.certs = world.licences
    return TestClient(app)


def test_api_verifies_a_package_and_a_lookup_is_logged_with_its_purpose(world: World, client: TestClient) -> None:
    lid = world.issue()
    r = client.post("/api/v1/certs/verify", json={"package": world.licences.package(lid)})
    assert r.status_code == 200 and r.json()["verdict"] == "valid" and r.json()["label"] == "有效"
    size = world.log.size("2026")
    r = client.post("/api/v1/certs/verify", json={"id": lid, "purpose": "precheck", "requester": "临江市科技局"})
    assert r.json()["verdict"] == "valid"
    import json

    entry = json.loads(world.log.entry("2026", r.json()["log_index"]))
    assert r.json()["log_index"] == size
    assert entry["type"] == "cert.lookup" and entry["purpose"] == "precheck" and entry["id"] == lid


def test_api_refuses_a_lookup_without_purpose_and_a_malformed_id_naming_the_field(
    world: World, client: TestClient
) -> None:
    lid = world.issue()
    size = world.log.size("2026")
    r = client.post("/api/v1/certs/verify", json={"id": lid, "requester": "某银行"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "purpose" and "用证事由" in r.json()["errors"][0]["message_zh"]
    r = client.post("/api/v1/certs/verify", json={"id": lid[:-1] + "Q", "purpose": "supervision", "requester": "x"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "id.check"
    assert world.log.size("2026") == size  # nothing logged for refused lookups


def test_the_qr_page_says_valid_then_cancelled_with_the_date(world: World, client: TestClient) -> None:
    lid = world.issue()
    token = world.licences.access_token(world.licences.credential(lid))
    page = client.get(f"/certs/v/{lid}", params={"k": token})
    assert page.status_code == 200 and 'data-verdict="valid"' in page.text and "有效" in page.text
    world.clock.advance(days=3)
    world.licences.revoke(lid, reason="企业申请注销")
    world.licences.publish()
    page = client.get(f"/certs/v/{lid}", params={"k": token})
    assert 'data-verdict="revoked"' in page.text and "已注销" in page.text and "2026-12-04" in page.text
    assert client.get(f"/certs/{lid}/qr.svg", params={"k": token}).headers["content-type"].startswith("image/svg")
    assert client.get(f"/certs/{lid}/qr.svg", params={"k": "0" * 24}).status_code == 403


def test_without_the_access_code_the_page_asks_for_a_purpose(world: World, client: TestClient) -> None:
    lid = world.issue()
    size = world.log.size("2026")
    page = client.get(f"/certs/v/{lid}")
    assert "用证事由" in page.text and "data-verdict" not in page.text
    page = client.get(f"/certs/v/{lid}", params={"k": "0" * 24})
    assert "访问码不对" in page.text and "data-verdict" not in page.text
    assert world.log.size("2026") == size  # a wrong access code is refused before anything is logged
    page = client.post("/certs/verify", data={"id": lid, "purpose": "", "requester": "x"})
    assert "请选择用证事由" in page.text
    page = client.post("/certs/verify", data={"id": lid, "purpose": "supervision", "requester": "市监局稽查"})
    assert 'data-verdict="valid"' in page.text and "已记入透明日志" in page.text


def test_walking_the_register_by_identifier_is_stopped(world: World, client: TestClient) -> None:
    """证照标识 are sequential: an anonymous client looping over them gets 30 lookups a minute,
    then 429 (nothing logged for the refused ones); the QR page and other clients still answer."""
    lid = world.issue()
    token = world.licences.access_token(world.licences.credential(lid))
    ask = {"id": lid, "purpose": "supervision", "requester": "某公司"}
    for _ in range(30):
        assert client.post("/api/v1/certs/verify", json=ask).status_code == 200
    size = world.log.size("2026")
    r = client.post("/api/v1/certs/verify", json=ask)
    assert r.status_code == 429 and "过于频繁" in r.json()["detail"] and int(r.headers["retry-after"]) > 0
    page = client.post("/certs/verify", data=ask)
    assert page.status_code == 429 and "data-verdict" not in page.text
    assert world.log.size("2026") == size  # refused lookups leave nothing to read
    assert 'data-verdict="valid"' in client.get(f"/certs/v/{lid}", params={"k": token}).text
    other = TestClient(client.app, client=("10.0.0.2", 50000))
    assert other.post("/api/v1/certs/verify", json=ask).status_code == 200
    world.clock.advance(minutes=1)  # the bucket refills with time
    assert client.post("/api/v1/certs/verify", json=ask).status_code == 200
