"""Issue, publish, verify; change and revoke: what a holder and a clerk see."""

from __future__ import annotations

import datetime as dt

from tests.certs.conftest import BUSINESS, World


def test_an_issued_licence_verifies_offline_with_its_package(any_world: World) -> None:
    w = any_world
    issued = w.licences.issue("YYZZ", BUSINESS)
    w.licences.publish()
    package = w.licences.package(str(issued.id))
    assert set(package["evidence"]) == {"issue", "key", "status"}
    from huiqi.certs.verify import Anchors, Verifier

    result = Verifier(Anchors(w.policy), clock=w.clock).verify(package)
    assert result.verdict == "valid", result.reasons
    assert result.label == "有效"
    assert result.licence and result.licence["holder"] == "临江市青禾餐饮有限公司"
    assert any("联署" in c for c in result.checks)


def test_cancel_makes_the_same_licence_cancelled_with_the_date(world: World) -> None:
    lid = world.issue()
    world.clock.advance(days=30)
    world.licences.revoke(lid, reason="企业申请注销登记")
    world.licences.publish()
    result = world.licences.verify(world.licences.credential(lid))
    assert result.verdict == "revoked"
    assert result.label == "已注销"
    assert result.event and result.event["effective"].startswith("2026-12-31")
    assert "2026-12-31" in result.reasons[0].zh and "注销" in result.reasons[0].zh


def test_a_change_supersedes_the_old_version(world: World) -> None:
    lid = world.issue()
    world.clock.advance(days=1)
    new = world.licences.change(lid, {"address": "临江市江滨区望江路 20 号"}, reason="住所变更")
    world.licences.publish()
    assert str(new.id).endswith(".002." + new.id.check)
    old = world.licences.verify(world.licences.credential(lid))
    assert old.verdict == "superseded" and str(new.id) in old.reasons[0].zh
    current = world.licences.verify(world.licences.package(str(new.id)))
    assert current.verdict == "valid", current.reasons
    history = world.licences.history(lid)
    assert [h["kind"] for h in history] == ["issue", "supersede", "change"]


def test_the_status_list_alone_tells_an_offline_verifier_of_a_revocation(world: World) -> None:
    lid = world.issue()
    package = world.licences.package(lid)
    world.clock.advance(dt.timedelta(hours=2))
    world.licences.revoke(lid, reason="吊销：虚假登记", kind="revoke")
    world.licences.publish()
    package["evidence"]["status"] = world.licences.package(lid)["evidence"]["status"]
    from huiqi.certs.verify import Anchors, Verifier

    result = Verifier(Anchors(world.policy), clock=world.clock).verify(package)
    assert result.verdict == "revoked"
    assert "状态列表" in result.reasons[0].zh


def test_concurrent_lookups_are_each_logged_once_in_shared_commits(world: World) -> None:
    from concurrent.futures import ThreadPoolExecutor

    lid = world.issue()
    before = world.log.size("2026")
    with ThreadPoolExecutor(8) as pool:
        results = list(
            pool.map(lambda n: world.licences.lookup(lid, purpose="supervision", requester=f"稽查{n}"), range(40))
        )
    assert all(r.verdict == "valid" for r in results)
    assert sorted(r.log_index for r in results) == list(range(before, before + 40))  # type: ignore[type-var]
    import json

    requesters = {json.loads(world.log.entry("2026", i))["requester"] for i in range(before, before + 40)}
    assert requesters == {f"稽查{n}" for n in range(40)}


def test_a_lookup_waits_for_its_own_commit_not_for_the_entries_queued_behind_it() -> None:
    """Group commit hands over: the leader returns once its batch is written; later arrivals lead their own."""
    import contextlib
    import threading
    from concurrent.futures import ThreadPoolExecutor
    from typing import Any

    from huiqi.certs.service import GroupAppender
    from huiqi.trust.log import LoggedEntry

    batches: list[list[str]] = []
    release = [threading.Event(), threading.Event()]
    entered = threading.Event()

    class SlowLog:
        def append_many(self, entries: list[dict[str, Any]], *, conn: Any) -> list[LoggedEntry]:
            n = len(batches)
            batches.append([e["who"] for e in entries])
            entered.set()
            release[n].wait(30)
            return [LoggedEntry("2026", "o", 100 * n + k, b"", b"") for k in range(len(entries))]

    class Writer:
        dialect = type("Dialect", (), {"name": "test"})

        def begin(self) -> contextlib.nullcontext[None]:
            return contextlib.nullcontext()

    group = GroupAppender(SlowLog(), Writer())  # type: ignore[arg-type]
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(group.append, {"who": "a"})
        assert entered.wait(10)  # a is committing
        queued = [pool.submit(group.append, {"who": w}) for w in ("b", "c")]
        while len(group._pending) < 2:
            threading.Event().wait(0.01)
        release[0].set()
        assert first.result(5).index == 0  # a returns while b and c are still being written
        assert not any(f.done() for f in queued)
        release[1].set()
        assert sorted(f.result(10).index for f in queued) == [100, 101]
    assert batches == [["a"], ["b", "c"]]  # b and c shared one commit


def test_a_licence_with_the_sm2_second_proof_verifies_offline_and_its_sm2_signature_counts(tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    from huiqi.certs.verify import Anchors, Verifier
    from tests.certs.conftest import make_world

    w = make_world(create_engine(f"sqlite:///{tmp_path / 'huiqi.db'}"), clock, tmp_path, sm2=True)
    issued = w.licences.issue("YYZZ", BUSINESS, sm2=True)
    w.licences.publish()
    package = w.licences.package(str(issued.id))
    assert [p["cryptosuite"] for p in package["credential"]["proof"]] == ["eddsa-jcs-2022", "sm2-jcs-huiqi"]
    result = Verifier(Anchors(w.policy), clock=w.clock).verify(package)  # both keys' registrations travel along
    assert result.verdict == "valid", result.reasons
    assert any("sm2-jcs-huiqi" in c for c in result.checks)
    package["credential"]["proof"][1]["created"] = "2026-12-01T09:00:01Z"  # the SM2 proof no longer matches
    result = Verifier(Anchors(w.policy), clock=w.clock).verify(package)
    assert result.verdict == "forged" and result.reasons[0].code == "tampered"
