"""免申即享 end to end: list → approval → grants and notices → bank account → payment, exactly once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from huiqi.errors import PermissionDenied
from huiqi.portal import Conflict
from huiqi.portal import schema as ps
from huiqi.store.models import AuditEntry
from tests.portal.conftest import GRANT_POLICY as POLICY


class Crash(Exception):
    pass


def _grants(world) -> list[tuple[str, str]]:
    with world.portal.engine.connect() as c:
        return c.execute(sa.select(ps.grants.c.key, ps.grants.c.uscc)).all()


def test_a_crash_mid_way_then_a_rerun_neither_loses_nor_duplicates_a_grant(world, run):
    grants = world.portal.grants
    bob, carol = world.officer("bob"), world.officer("carol")
    list_id = grants.import_list(bob, run, POLICY)
    assert grants.import_list(bob, run, POLICY) == list_id  # importing again: the same list
    with pytest.raises(PermissionDenied, match="双人复核"):
        grants.approve(bob, list_id)  # the importer cannot approve
    with pytest.raises(PermissionDenied):
        grants.approve(world.officer("alice"), list_id)  # an editor cannot approve money
    with pytest.raises(Conflict):
        grants.issue(list_id)  # not approved yet: nothing granted
    grants.approve(carol, list_id)
    expected = grants.lists()[0]["count"]
    assert expected > 60, "the run should grant enough enterprises for three chunks"

    def crash_after_two(done: int) -> None:
        if done >= 40:
            raise Crash(f"worker killed after {done}")

    with pytest.raises(Crash):
        grants.issue(list_id, chunk=20, after_chunk=crash_after_two)
    assert len(_grants(world)) == 40  # two whole chunks committed, nothing half-written
    assert grants.issue(list_id, chunk=20) == expected - 40  # the re-run writes the rest
    assert grants.issue(list_id, chunk=20) == 0  # and a third run nothing
    rows = _grants(world)
    assert len(rows) == expected and len({k for k, _ in rows}) == expected
    with world.portal.engine.connect() as c:
        notices = c.execute(
            sa.select(sa.func.count()).select_from(ps.notices).where(ps.notices.c.kind == "grant")
        ).scalar()
        logged = c.execute(sa.select(sa.func.count()).where(AuditEntry.action == "portal.grant.create")).scalar()
    assert notices == expected and logged == expected


def test_the_enterprise_confirms_its_account_and_sees_the_payment_once(world, run):
    grants = world.portal.grants
    list_id = grants.import_list(world.officer("alice"), run, POLICY)
    grants.approve(world.officer("bob"), list_id)
    grants.issue(list_id)
    uscc = _grants(world)[0][1]
    # this enterprise registers (the test registers answer for it) and finds its grant
    from tests.portal.conftest import REP

    world.identity.enterprises[uscc] = ("某企业", *REP)
    me, _ = world.register(uscc, REP, login="granted")
    mine = grants.of_enterprise(uscc)
    assert len(mine) == 1 and mine[0]["state"] == "granted"
    assert any(n["kind"] == "grant" for n in world.portal.profiles.notices(uscc))
    with pytest.raises(Conflict):
        grants.pay(world.officer("carol"), mine[0]["id"], voucher="GK-1")  # no account yet
    grants.confirm_account(me, mine[0]["id"], "6222 0200 1234 5678 901", "某企业")
    with world.portal.engine.connect() as c:
        sealed = c.execute(sa.select(ps.grants.c.bank_account).where(ps.grants.c.id == mine[0]["id"])).scalar()
    assert "1234" not in sealed and sealed.startswith("hq1.")  # sealed at rest
    assert grants.pay(world.officer("carol"), mine[0]["id"], voucher="GK-1") is True
    assert grants.pay(world.officer("carol"), mine[0]["id"], voucher="GK-1") is False  # the key is unique
    ledger = world.portal.applications.ledger(uscc)
    paid = [r for r in ledger if r["state"] == "paid"]
    assert len(paid) == 1 and paid[0]["amount"] == mine[0]["amount"] and paid[0]["voucher"] == "GK-1"
