"""The security server in process: deny by default, consent on every call, minimisation,
masking, 可用不可见, every decision on the log — and never the data on the log."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa

from huiqi.sharing.gateway import BadRequestLogged, RefusedRequest
from huiqi.sharing.registers import mps, nhc, samr, tax
from huiqi.trust import leaf_hash


def _uscc(registers, table=tax.taxpayers, where=None) -> str:
    with registers["tax" if table is tax.taxpayers else "samr"].engine.connect() as c:
        q = sa.select(table.c.uscc).order_by(table.c.uscc)
        if where is not None:
            q = q.where(where)
        return c.execute(q.limit(1)).scalar_one()


def request(**kw):
    body = {
        "request_id": uuid.uuid4().hex,
        "consumer": "platform/huiqi",
        "official": "zhangwei",
        "case_id": "MATCH-1",
        "purpose": "policy_match",
        "service": "tax.taxpayer",
        "subject": {"uscc": kw.pop("uscc")},
        "fields": ["taxable_income", "revenue"],
    }
    body.update(kw)
    return {k: v for k, v in body.items() if v is not None}


def consent(world, uscc, *, read=("taxable_income", "revenue"), ask=("taxable_income",), approve=True):
    c = world.consents.request(
        world.store.published(),
        uscc=uscc,
        consumer="platform/huiqi",
        purpose="政策匹配",
        scope={"tax.taxpayer": {"read": list(read), "ask": list(ask)}},
        official="zhangwei",
    )
    if approve:
        world.consents.approve(c.ref, uscc=uscc)
    return c.ref


def logged(server, log_ref) -> dict:
    shard = log_ref.origin.rsplit("/", 1)[1]
    data = server.log.log.entry(shard, log_ref.index)
    assert leaf_hash(data).hex() == log_ref.leaf_hash
    return json.loads(data)


def test_consented_fields_are_released_with_their_source_and_date(world, registers, server_for):
    uscc = _uscc(registers)
    server = server_for("tax")
    ref = consent(world, uscc, read=("taxable_income",))
    answer = server.handle(
        request(uscc=uscc, consent_ref=ref, fields=["taxable_income", "revenue"]), peer="platform/huiqi"
    )
    assert set(answer.fields) == {"taxable_income"}
    released = answer.fields["taxable_income"]
    assert released.source == "税务局" and released.as_of is not None
    assert answer.refused["revenue"].code == "no_consent"  # minimisation: only what the consent covers
    entry = logged(server, answer.log)
    assert entry["decision"] == "partial" and entry["released"] == ["taxable_income"]
    assert entry["consent_ref"] == ref and entry["official"] == "platform/huiqi/zhangwei"
    # The log records hashes, never the value.
    assert str(released.value) not in json.dumps(entry)


def test_no_declaration_is_refused_and_the_refusal_is_on_the_log(registers, server_for):
    uscc = _uscc(registers)
    server = server_for("tax")
    with pytest.raises(RefusedRequest) as e:
        server.handle(request(uscc=uscc, purpose="supervision"), peer="platform/huiqi")
    assert e.value.code == "no_declaration"
    entry = logged(server, e.value.log)
    assert entry["decision"] == "deny" and entry["code"] == "no_declaration" and entry["purpose"] == "supervision"


def test_consent_based_purpose_without_consent_is_refused_and_logged(registers, server_for):
    uscc = _uscc(registers)
    server = server_for("tax")
    with pytest.raises(RefusedRequest) as e:
        server.handle(request(uscc=uscc), peer="platform/huiqi")
    assert e.value.code == "consent_required"
    assert logged(server, e.value.log)["code"] == "consent_required"


def test_withdrawn_and_expired_consents_are_refused_with_the_reason(world, registers, server_for, clock):
    uscc = _uscc(registers)
    server = server_for("tax")
    ref = consent(world, uscc)
    server.handle(request(uscc=uscc, consent_ref=ref), peer="platform/huiqi")
    world.consents.withdraw(ref, uscc=uscc)
    with pytest.raises(RefusedRequest) as e:
        server.handle(request(uscc=uscc, consent_ref=ref), peer="platform/huiqi")
    assert e.value.code == "consent_withdrawn" and "撤回" in e.value.message.zh
    ref2 = consent(world, uscc)
    clock.advance(days=400)  # the gateway's clock: the consent (365 days) has expired
    with pytest.raises(RefusedRequest) as e:
        server.handle(request(uscc=uscc, consent_ref=ref2), peer="platform/huiqi")
    assert e.value.code == "consent_expired" and "过期" in e.value.message.zh


def test_a_consent_is_bound_to_its_subject_and_consumer(world, registers, server_for):
    uscc = _uscc(registers)
    other = _uscc(registers, where=tax.taxpayers.c.uscc > uscc)
    server = server_for("tax")
    ref = consent(world, uscc)
    with pytest.raises(RefusedRequest) as e:
        server.handle(request(uscc=other, consent_ref=ref), peer="platform/huiqi")
    assert e.value.code == "consent_mismatch"


def test_unknown_field_purpose_and_subject_are_refused_by_name(registers, server_for):
    uscc = _uscc(registers)
    server = server_for("tax")
    with pytest.raises(BadRequestLogged) as e:
        server.handle(request(uscc=uscc, fields=["taxable_income", "salary"]), peer="platform/huiqi")
    assert e.value.field == "fields" and "salary" in str(e.value)
    with pytest.raises(BadRequestLogged) as e:
        server.handle(request(uscc=uscc, purpose="marketing"), peer="platform/huiqi")
    assert e.value.field == "purpose" and "marketing" in str(e.value) and "政策匹配" in str(e.value)
    with pytest.raises(BadRequestLogged) as e:
        server.handle(request(uscc="91339900MA0000000X"), peer="platform/huiqi")
    assert e.value.field == "subject.uscc"
    with pytest.raises(BadRequestLogged) as e:
        server.handle({"request_id": "x", "consumer": "platform/huiqi"}, peer="platform/huiqi")
    assert e.value.log is not None  # even a malformed request is on the log


def test_a_request_in_another_systems_name_is_refused(registers, server_for):
    server = server_for("tax")
    with pytest.raises(RefusedRequest) as e:
        server.handle(request(uscc=_uscc(registers)), peer="fin/grants")
    assert e.value.code == "consumer_mismatch"


def test_a_replayed_request_id_is_refused_and_logged_apart(world, registers, server_for):
    uscc = _uscc(registers)
    server = server_for("tax")
    ref = consent(world, uscc)
    body = request(uscc=uscc, consent_ref=ref)
    first = server.handle(body, peer="platform/huiqi")
    with pytest.raises(RefusedRequest) as e:
        server.handle(body, peer="platform/huiqi")
    assert e.value.code == "replayed_request"
    assert e.value.log.index != first.log.index


def test_condition_is_answered_without_the_value(world, registers, server_for):
    """可用不可见: the enterprise consented to conditions only; the value never leaves."""
    uscc = _uscc(registers)
    server = server_for("tax")
    ref = consent(world, uscc, read=(), ask=("taxable_income",))
    with pytest.raises(RefusedRequest):
        server.handle(request(uscc=uscc, consent_ref=ref, fields=["taxable_income"]), peer="platform/huiqi")
    answer = server.handle(
        request(uscc=uscc, consent_ref=ref, fields=None, condition="taxable_income <= 3000000"), peer="platform/huiqi"
    )
    assert answer.condition is not None and answer.condition.outcome in ("met", "unmet", "unknown")
    assert answer.fields == {}
    with registers["tax"].engine.connect() as c:
        value = registers["tax"].read(c, uscc, world.clock.today(), frozenset({"taxable_income"}))["taxable_income"][0]
    assert answer.condition.outcome == ("unknown" if value is None else ("met" if value <= 3000000 else "unmet"))
    assert str(value) not in answer.model_dump_json()


def test_a_condition_over_a_field_the_consent_does_not_cover_is_refused(world, registers, server_for):
    uscc = _uscc(registers)
    server = server_for("tax")
    ref = consent(world, uscc, read=(), ask=("taxable_income",))
    with pytest.raises(RefusedRequest) as e:
        server.handle(
            request(uscc=uscc, consent_ref=ref, fields=None, condition="revenue > 1000"), peer="platform/huiqi"
        )
    assert e.value.code == "condition_refused" and "revenue" in e.value.refused


def test_a_condition_over_another_departments_field_is_refused_by_name(world, registers, server_for):
    uscc = _uscc(registers)
    ref = consent(world, uscc)
    with pytest.raises(BadRequestLogged) as e:
        server_for("tax").handle(
            request(uscc=uscc, consent_ref=ref, fields=None, condition="employees < 10"), peer="platform/huiqi"
        )
    assert "employees" in str(e.value) and "从业人数" in e.value.message.zh


def test_health_certificates_never_leave_but_supervision_may_ask(registers, server_for):
    server = server_for("nhc")
    with registers["nhc"].engine.connect() as c:
        uscc = c.execute(sa.select(nhc.food_businesses.c.uscc).limit(1)).scalar_one()
    body = request(
        uscc=uscc,
        consumer="samr/supervision",
        purpose="supervision",
        service="nhc.health_certificates",
        fields=["all_food_handlers_certified"],
    )
    with pytest.raises(RefusedRequest) as e:
        server.handle(body, peer="samr/supervision")
    assert e.value.refused["all_food_handlers_certified"].code == "never_leaves"
    asked = server.handle(
        dict(body, request_id=uuid.uuid4().hex, fields=None, condition="all_food_handlers_certified"),
        peer="samr/supervision",
    )
    assert asked.condition.outcome in ("met", "unmet")


def test_identity_check_for_business_startup_is_masked(registers, server_for):
    with registers["samr"].engine.connect() as c:
        uscc = c.execute(sa.select(samr.enterprises.c.uscc).limit(1)).scalar_one()
        rep = registers["samr"].read(
            c, uscc, registers["samr"].sealer.clock.today(), frozenset({"legal_rep_id_number"})
        )["legal_rep_id_number"][0]
    server = server_for("mps")
    answer = server.handle(
        {
            "request_id": uuid.uuid4().hex,
            "consumer": "platform/onestop",
            "official": "liming",
            "case_id": "KB-1",
            "purpose": "企业开办",
            "service": "mps.person",
            "subject": {"id_number": rep},
            "fields": ["id_number", "name", "household_address"],
        },
        peer="platform/onestop",
    )
    shown = answer.fields["id_number"]
    assert shown.masked and shown.value == rep[:6] + "********" + rep[-4:]
    assert answer.fields["name"].masked and answer.fields["name"].value.endswith("*")
    assert answer.refused["household_address"].code == "not_declared"
    entry = logged(server, answer.log)
    assert rep not in json.dumps(entry, ensure_ascii=False)  # a person is on the log by blind index only
    assert entry["subject"].startswith("person:")
    with registers["mps"].engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(mps.persons)).scalar_one() > 0


def test_a_suspended_official_is_refused(world, registers, server_for):
    from huiqi.sharing.gateway import StaticCatalogue

    uscc = _uscc(registers)
    ref = consent(world, uscc)
    cat = world.store.published()
    cat.suspended = frozenset({"platform/huiqi/zhangwei"})
    with pytest.raises(RefusedRequest) as e:
        server_for("tax", StaticCatalogue(cat)).handle(request(uscc=uscc, consent_ref=ref), peer="platform/huiqi")
    assert e.value.refused["taxable_income"].code == "suspended"


def test_bulk_reads_need_a_bulk_declaration(registers, server_for):
    server = server_for("tax")
    body = {
        "request_id": uuid.uuid4().hex,
        "consumer": "platform/batch",
        "official": "auto-grant",
        "case_id": "RUN-1",
        "purpose": "auto_grant",
        "service": "tax.taxpayer",
        "fields": ["revenue", "taxable_income"],
        "limit": 50,
    }
    rows, cursor, log = server.bulk(body, peer="platform/batch")
    assert len(rows) == 50 and cursor == rows[-1]["subject"]
    assert logged(server, log)["count"] == 50
    with pytest.raises(RefusedRequest):
        server.bulk(dict(body, request_id=uuid.uuid4().hex, consumer="platform/huiqi"), peer="platform/huiqi")
    with pytest.raises(RefusedRequest):
        server_for("mps").bulk(
            dict(body, request_id=uuid.uuid4().hex, service="mps.person", fields=["name"]), peer="platform/batch"
        )
