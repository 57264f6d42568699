"""Online applications: the status machine, four-eyes, attachments, the ledger, isolation, audit."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from huiqi.errors import InputError, NotFound, PermissionDenied
from huiqi.portal import STATUSES, TRANSITIONS, Conflict
from huiqi.portal import schema as ps
from huiqi.portal.applications import DECLARATION
from huiqi.store.models import AuditEntry
from tests.portal.conftest import OTHER, OTHER_REP, applicable_policy

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def draft(world, actor):
    policy = applicable_policy(world)
    app_id = world.portal.applications.create(actor, policy.id, {"region": "339900", "credit_rating": "A"})
    for material in policy.definition.apply.materials:
        world.portal.applications.attach(actor, app_id, material, f"{material}.pdf", PDF)
    world.portal.applications.sign(actor, app_id, signer_name="王青禾")
    return app_id


def test_the_contract_statuses_and_one_transition_table():
    assert list(STATUSES) == [
        "draft",
        "submitted",
        "prechecked",
        "accepted",
        "reviewed",
        "announced",
        "paid",
        "returned",
        "rejected",
        "withdrawn",
    ]
    targets = {t.target for t in TRANSITIONS.values()}
    assert targets == set(STATUSES) - {"draft"} | {"draft"}  # every status is reachable
    assert TRANSITIONS["revise"].sources == {"returned"} and TRANSITIONS["revise"].target == "draft"


def test_an_application_from_draft_to_paid_with_four_eyes_and_the_ledger(world):
    apps = world.portal.applications
    me, _ = world.register()
    app_id = draft(world, me)
    form = apps.get(me, app_id)
    assert (
        form["form"]["credit_rating"] == "A"
        and form["form"]["registered_on"] is None
        and form["declaration"]["text"] == DECLARATION
    )
    apps.act(me, app_id, "submit")
    found = apps.precheck(app_id)
    assert not [f for f in found if f.blocking]  # materials attached, promise signed
    assert {f.message for f in found} == {"未填写：成立日期", "未填写：企业资质"}
    alice, bob, carol = (world.officer(n) for n in ("alice", "bob", "carol"))
    apps.act(alice, app_id, "accept")
    assert apps.get(me, app_id)["pay_by"] is not None
    apps.propose(bob, app_id, "200000.00", reason="按认定当年奖励标准")
    with pytest.raises(PermissionDenied, match="双人复核"):
        apps.act(bob, app_id, "review")  # the proposer cannot also review
    with pytest.raises(PermissionDenied):
        apps.act(alice, app_id, "review")  # an editor cannot fix an amount
    apps.act(carol, app_id, "review")
    apps.act(alice, app_id, "announce")
    apps.act(carol, app_id, "pay", voucher="GK2026-0001")
    done = apps.get(me, app_id)
    assert done["status"] == "paid" and done["amount_approved"] == Decimal("200000.00")
    assert [e["to_status"] for e in done["events"]] == [
        "submitted",
        "prechecked",
        "accepted",
        "reviewed",
        "announced",
        "paid",
    ]
    ledger = apps.ledger(me.uscc)
    assert ledger[0]["amount"] == Decimal("200000.00") and ledger[0]["voucher"] == "GK2026-0001"
    with pytest.raises(Conflict):
        apps.act(carol, app_id, "pay", voucher="GK2026-0002")  # never paid twice
    notices = world.portal.profiles.notices(me.uscc)
    assert any("已兑现" in n["title"] for n in notices)


def test_every_state_change_is_on_the_audit_log(world):
    me, _ = world.register()
    app_id = draft(world, me)
    world.portal.applications.act(me, app_id, "submit")
    world.portal.applications.act(me, app_id, "withdraw")
    with world.portal.engine.connect() as c:
        actions = (
            c.execute(
                sa.select(AuditEntry.action)
                .where(AuditEntry.target == f"application:{app_id}")
                .order_by(AuditEntry.seq)
            )
            .scalars()
            .all()
        )
    assert actions[-2:] == ["portal.application.submit", "portal.application.withdraw"]
    assert "portal.application.create" in actions and "portal.application.sign" in actions


def test_return_sends_it_back_to_draft_and_a_reason_is_required(world):
    apps = world.portal.applications
    me, _ = world.register()
    app_id = draft(world, me)
    apps.act(me, app_id, "submit")
    apps.precheck(app_id)
    with pytest.raises(InputError):
        apps.act(world.officer("alice"), app_id, "return")
    apps.act(world.officer("alice"), app_id, "return", reason="请补充高新技术企业证书扫描件")
    assert apps.get(me, app_id)["status"] == "returned"
    apps.act(me, app_id, "revise")
    again = apps.get(me, app_id)
    assert again["status"] == "draft" and again["declaration"] is None  # the promise is signed again


def test_a_stale_officer_action_is_refused_not_lost(world):
    apps = world.portal.applications
    me, _ = world.register()
    app_id = draft(world, me)
    apps.act(me, app_id, "submit")
    apps.precheck(app_id)
    version = apps.get(world.officer("alice"), app_id)["version"]
    apps.act(world.officer("alice"), app_id, "accept", expected_version=version)
    with pytest.raises(Conflict):
        apps.act(world.officer("bob"), app_id, "reject", reason="重复", expected_version=version)
    assert apps.get(me, app_id)["status"] == "accepted"


def test_precheck_findings_name_the_missing_material(world):
    apps = world.portal.applications
    me, _ = world.register()
    policy = applicable_policy(world)
    app_id = apps.create(me, policy.id, {})
    apps.sign(me, app_id, signer_name="王青禾")
    apps.act(me, app_id, "submit")
    found = apps.precheck(app_id)
    assert {f.code for f in found} >= {"missing_material"}
    assert apps.get(me, app_id)["findings"][0]["message"].startswith("缺少材料")


def test_attachments_are_checked_by_content_and_size(world):
    apps = world.portal.applications
    me, _ = world.register()
    policy = applicable_policy(world)
    material = policy.definition.apply.materials[0]
    app_id = apps.create(me, policy.id, {})
    with pytest.raises(InputError, match="PDF"):
        apps.attach(me, app_id, material, "x.pdf", b"MZ\x90\x00 not a pdf")  # an executable named .pdf
    with pytest.raises(InputError, match="5 MB"):
        apps.attach(me, app_id, material, "big.pdf", b"%PDF-" + b"0" * (5 * 1024 * 1024))
    att = apps.attach(me, app_id, material, "../../etc/passwd.pdf", PDF)
    name, kind, content = apps.attachment(me, app_id, att)
    assert kind == "application/pdf" and content == PDF and "/" not in name


def test_one_enterprise_never_sees_another_ones_application(world):
    apps = world.portal.applications
    me, _ = world.register()
    other, _ = world.register(OTHER, OTHER_REP, login="other")
    app_id = draft(world, me)
    with pytest.raises(NotFound):
        apps.get(other, app_id)
    with pytest.raises(NotFound):
        apps.act(other, app_id, "withdraw")
    outsider = world.portal.officer("dave", "publisher")  # no desk: no office
    with pytest.raises(NotFound):
        apps.get(outsider, app_id)


def test_the_60_working_day_promise_is_tracked_and_overdue_flagged(world):
    apps = world.portal.applications
    me, _ = world.register()
    app_id = draft(world, me)
    apps.act(me, app_id, "submit")
    apps.precheck(app_id)
    apps.act(world.officer("alice"), app_id, "accept")
    pay_by = apps.get(me, app_id)["pay_by"]
    # 2026-12-01 + 60 working days: 22 left in December 2026 (announced calendar), then 38
    # weekdays of 2027, whose holidays the State Council has not announced: an estimate
    assert pay_by == dt.date(2027, 2, 23)
    assert not apps.get(me, app_id)["overdue"]
    world.clock.set(dt.datetime.combine(pay_by + dt.timedelta(days=1), dt.time(9), tzinfo=dt.UTC))
    assert apps.get(me, app_id)["overdue"]
    assert [a["id"] for a in apps.overdue()] == [app_id]
    assert apps.ledger(me.uscc)[0]["overdue"]


def test_agent_without_the_sign_right_cannot_sign(world):
    me, _ = world.register()
    from tests.portal.conftest import AGENT

    code = world.portal.accounts.invite_agent(me, AGENT[0], AGENT[1], ["view", "apply"])
    account_id, secret = world.portal.accounts.accept_invite(code, "daiban", "agent password 1")
    import pyotp

    token, _ = world.portal.accounts.login("daiban", "agent password 1", allow_unconfirmed=True)
    _, sess = world.portal.accounts.second_factor(token, pyotp.TOTP(secret).at(world.clock.now()))
    agent = sess.actor
    policy = applicable_policy(world)
    app_id = world.portal.applications.create(agent, policy.id, {})
    with pytest.raises(PermissionDenied):
        world.portal.applications.sign(agent, app_id, signer_name=AGENT[0])
    with world.portal.engine.connect() as c:
        assert (
            c.execute(sa.select(ps.applications.c.created_by).where(ps.applications.c.id == app_id)).scalar()
            == account_id
        )
