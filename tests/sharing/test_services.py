"""The departments as a user runs them: ``huiqi departments up`` (six processes, mTLS)."""

from __future__ import annotations

import datetime as dt
import ssl
import subprocess
import sys

import httpx
import pytest
import sqlalchemy as sa

from huiqi.sharing.client import GatewayClient
from huiqi.sharing.errors import ProviderUnavailable
from huiqi.sharing.gateway import RefusedRequest
from huiqi.sharing.registers import tax
from huiqi.trust.tls import mtls_client

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(running, world):
    c = GatewayClient.for_system(running.deployment, "platform/huiqi", clock=world.clock)
    yield c
    c.close()


def _uscc(registers) -> str:
    with registers["tax"].engine.connect() as c:
        return c.execute(sa.select(tax.taxpayers.c.uscc).order_by(tax.taxpayers.c.uscc.desc()).limit(1)).scalar_one()


def test_a_consented_query_over_mtls_and_withdrawal_at_the_next_call(client, world, registers):
    uscc = _uscc(registers)
    consent = world.consents.request(
        world.store.published(),
        uscc=uscc,
        consumer="platform/huiqi",
        purpose="policy_match",
        scope={"tax.taxpayer": {"read": ["taxable_income"]}},
        official="zhangwei",
    )
    world.consents.approve(consent.ref, uscc=uscc)
    answer = client.query(
        "tax",
        purpose="政策匹配",
        subject={"uscc": uscc},
        fields=["taxable_income"],
        official="zhangwei",
        case_id="T-1",
        consent_ref=consent.ref,
    )
    assert answer.fields["taxable_income"].source == "税务局"
    world.consents.withdraw(consent.ref, uscc=uscc)
    with pytest.raises(RefusedRequest) as e:
        client.query(
            "tax",
            purpose="政策匹配",
            subject={"uscc": uscc},
            fields=["taxable_income"],
            official="zhangwei",
            case_id="T-1",
            consent_ref=consent.ref,
        )
    assert e.value.code == "consent_withdrawn" and e.value.log is not None
    # The refusal is on the provider's log, and the platform can read it back (the data tracker).
    entries = client.decisions("tax", f"uscc:{uscc}")
    assert entries[0]["index"] == e.value.log.index and entries[0]["entry"]["code"] == "consent_withdrawn"
    assert entries[1]["entry"]["released"] == ["taxable_income"]


def test_without_a_client_certificate_nothing_is_answered(running):
    url = running.deployment.urls()["tax"]
    ca = running.deployment.tls("platform/huiqi").ca
    with pytest.raises(httpx.HTTPError):  # the TLS handshake itself fails
        httpx.post(url + "/v1/query", json={}, verify=ssl.create_default_context(cafile=str(ca)), timeout=5)


def test_a_certificate_of_another_system_cannot_ask_in_the_calculators_name(running, world, registers):
    tls = running.deployment.tls("fin/grants")
    body = {
        "request_id": "spoof-1",
        "consumer": "platform/huiqi",
        "official": "x",
        "case_id": "c",
        "purpose": "policy_match",
        "service": "samr.enterprise",
        "subject": {"uscc": _uscc(registers)},
        "fields": ["name"],
    }
    with mtls_client(tls.cert, tls.key, tls.ca) as c:
        r = c.post(running.deployment.urls()["samr"] + "/v1/query", json=body)
        assert r.status_code == 403 and r.json()["code"] == "consumer_mismatch"
        # Only the platform's systems read the logs.
        r = c.get(running.deployment.urls()["samr"] + "/v1/summary")
        assert r.status_code == 403


def test_an_unknown_field_is_refused_by_name(client, registers):
    from huiqi.sharing.gateway import BadRequestLogged

    with pytest.raises(BadRequestLogged) as e:
        client.query(
            "samr",
            purpose="policy_match",
            subject={"uscc": _uscc(registers)},
            fields=["name", "salary"],
            official="zhangwei",
            case_id="T-2",
        )
    assert e.value.field == "fields" and "salary" in str(e.value)


def test_a_provider_that_is_down_is_named(running, world, registers):
    urls = dict(running.deployment.urls())
    urls["tax"] = "https://127.0.0.1:9"  # nothing listens there
    client = GatewayClient(
        "platform/huiqi",
        urls,
        GatewayClient.for_system(running.deployment, "platform/huiqi", clock=world.clock).ssl_context,
        world.clock,
    )
    with pytest.raises(ProviderUnavailable) as e:
        client.query(
            "tax",
            purpose="policy_match",
            subject={"uscc": _uscc(registers)},
            fields=["revenue"],
            official="zhangwei",
            case_id="T-3",
            consent_ref="CR-x",
        )
    assert e.value.message.zh == "暂时无法获取（税务局）"


def test_bulk_read_for_auto_grant_writes_the_profile_parquet(running, world, tmp_path, raw_registry, registers):
    import pyarrow.parquet as pq

    out = tmp_path / "profiles.parquet"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "huiqi.cli",
            "departments",
            "bulk",
            "--dir",
            str(running.deployment.root),
            "--out",
            str(out),
            "--as-of",
            "2026-11-30",
        ],
        check=True,
        capture_output=True,
        env={**__import__("os").environ, "HUIQI_NOW": world.clock.now().isoformat()},
    )
    table = pq.read_table(out)
    assert table.num_rows == raw_registry.num_rows
    got = {r["uscc"]: r for r in table.to_pylist()}
    for want in raw_registry.to_pylist()[:100]:
        row = got[want["uscc"]]
        for name in ("name", "industry", "registered_on", "taxable_income", "revenue", "credit_rating"):
            assert row[name] == want[name], (want["uscc"], name)
        assert row["certifications"] is None  # no register holds it: unknown, not empty
    with registers["hrss"].engine.connect() as c:
        for uscc in list(got)[:40]:
            one = registers["hrss"].read(c, uscc, dt.date(2026, 11, 30), frozenset({"employees"}))
            assert got[uscc]["employees"] == (None if one is None else one["employees"][0]), uscc
