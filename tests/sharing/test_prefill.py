"""Prefill by USCC over the running departments, and 可用不可见 folded into the calculator."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import sqlalchemy as sa

from huiqi.match.engine import answer as match_answer
from huiqi.sharing.client import GatewayClient
from huiqi.sharing.prefill import apply_conditions, prefill
from huiqi.sharing.registers import hrss, tax

pytestmark = pytest.mark.slow
AS_OF = dt.date(2026, 11, 30)


def _covered(registers) -> str:
    """An enterprise in every register."""
    with registers["tax"].engine.connect() as c, registers["hrss"].engine.connect() as h:
        taxed = set(c.execute(sa.select(tax.taxpayers.c.uscc)).scalars())
        insured = set(h.execute(sa.select(hrss.contributions.c.uscc)).scalars())
    return sorted(taxed & insured)[3]


def _consent(world, uscc, scope):
    c = world.consents.request(
        world.store.published(),
        uscc=uscc,
        consumer="platform/huiqi",
        purpose="policy_match",
        scope=scope,
        official="portal",
    )
    return world.consents.approve(c.ref, uscc=uscc)


def test_prefill_from_three_registers_with_provenance(running, world, registers, library, raw_registry):
    uscc = _covered(registers)
    consent = _consent(
        world,
        uscc,
        {
            "tax.taxpayer": {"read": ["taxable_income", "revenue", "taxpayer_type"]},
            "hrss.insurance": {"read": ["employees"]},
        },
    )
    client = GatewayClient.for_system(running.deployment, "platform/huiqi", clock=world.clock)
    got = asyncio.run(
        prefill(
            client,
            world.store.published(),
            uscc,
            consent=consent,
            library=library,
            as_of=AS_OF,
            official="portal",
            case_id="PREFILL-1",
        )
    )
    raw = next(r for r in raw_registry.to_pylist() if r["uscc"] == uscc)
    assert got.profile["name"] == raw["name"] and got.provenance["name"].source == "市场监管局"
    assert got.provenance["name"].consent_ref is None and "企业信息公示" in got.provenance["name"].legal_basis
    if raw["revenue"] is not None:
        assert got.profile["revenue"] == str(raw["revenue"])
        assert got.provenance["revenue"].source == "税务局" and got.provenance["revenue"].consent_ref == consent.ref
        assert got.provenance["revenue"].log is not None
    assert got.provenance["employees"].source == "人社局"
    assert "credit_rating" in got.missing  # not consented: the calculator asks the enterprise
    assert not got.unavailable


def test_a_department_down_is_named_and_the_rest_still_prefills(running, world, registers, library):
    uscc = _covered(registers)
    consent = _consent(world, uscc, {"tax.taxpayer": {"read": ["revenue"]}})
    base = GatewayClient.for_system(running.deployment, "platform/huiqi", clock=world.clock)
    urls = {**base.urls, "tax": "https://127.0.0.1:9"}
    client = GatewayClient("platform/huiqi", urls, base.ssl_context, world.clock, timeout=2)
    got = asyncio.run(
        prefill(
            client,
            world.store.published(),
            uscc,
            consent=consent,
            library=library,
            as_of=AS_OF,
            official="portal",
            case_id="PREFILL-2",
        )
    )
    assert got.unavailable == {"tax": "暂时无法获取（税务局）"}
    assert "name" in got.profile and "revenue" in got.missing


def test_a_tax_condition_decided_without_the_value_agrees_with_the_raw_data(
    running, world, registers, library, raw_registry
):
    """The calculator's verdicts with 可用不可见 answers equal those on the raw tax data."""
    checked = 0
    rows = {r["uscc"]: r for r in raw_registry.to_pylist()}
    with registers["tax"].engine.connect() as c:
        usccs = c.execute(sa.select(tax.taxpayers.c.uscc).order_by(tax.taxpayers.c.uscc).limit(6)).scalars().all()
    client = GatewayClient.for_system(running.deployment, "platform/huiqi", clock=world.clock)
    for uscc in usccs:
        consent = _consent(
            world,
            uscc,
            {
                "tax.taxpayer": {
                    "ask": [
                        "taxable_income",
                        "total_assets",
                        "revenue",
                        "credit_rating",
                        "monthly_sales",
                        "rd_expense",
                        "taxpayer_type",
                    ]
                }
            },
        )
        got = asyncio.run(
            prefill(
                client,
                world.store.published(),
                uscc,
                consent=consent,
                library=library,
                as_of=AS_OF,
                official="portal",
                case_id=f"PREFILL-{uscc}",
            )
        )
        assert not any(f in got.profile for f in ("taxable_income", "revenue"))  # no value left 税务局
        assert got.verified
        raw = {k: v for k, v in rows[uscc].items() if v is not None}
        known = {
            k: v
            for k, v in raw.items()
            if k
            not in (
                "taxable_income",
                "total_assets",
                "revenue",
                "credit_rating",
                "monthly_sales",
                "rd_expense",
                "taxpayer_type",
            )
        }
        folded = apply_conditions(match_answer(known, AS_OF, library), library, got.verified)
        truth = match_answer(raw, AS_OF, library)
        want = {r["policy_id"]: r["verdict"] for r in truth["results"]}
        for r in folded["results"]:
            answered = [c for c in r["conditions"] if c.get("verified_by") == "tax"]
            if answered and r["verdict"] != "undetermined":
                assert r["verdict"] == want[r["policy_id"]], (uscc, r["policy_id"])
                checked += 1
    assert checked >= 10
