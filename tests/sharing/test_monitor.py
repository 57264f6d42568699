"""Anomaly and intrusion detection: attacks performed against a gateway are caught, and the
simulator's labelled attacks are found with the precision and recall the note reports."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
import sqlalchemy as sa

from huiqi.clock import CITY_TZ
from huiqi.sharing.gateway import RefusedRequest
from huiqi.sharing.monitor import Detector, Event, Monitor
from huiqi.sharing.registers import samr, tax
from huiqi.sharing.simulate import ATTACKS, evaluate, simulate


def _entries(server) -> list[dict]:
    return [json.loads(e) for shard in server.log.log.shards() for e in server.log.range(shard, 0, 100_000)]


def test_a_replay_and_an_enumeration_of_the_population_register_performed_on_a_gateway(
    world, registers, server_for, clock
):
    """Both attacks done for real against the security servers; the monitor reads their logs."""
    mps_server = server_for("mps")
    reg = registers["samr"]
    with reg.engine.connect() as c:
        usccs = c.execute(sa.select(samr.enterprises.c.uscc).limit(60)).scalars().all()
        ids = [
            reg.read(c, u, clock.today(), frozenset({"legal_rep_id_number"}))["legal_rep_id_number"][0] for u in usccs
        ]
    clock.set(dt.datetime(2026, 12, 2, 10, 0, tzinfo=CITY_TZ))
    for number in dict.fromkeys(ids):  # one clerk asks 人口库 for dozens of people within minutes
        mps_server.handle(
            {
                "request_id": uuid.uuid4().hex,
                "consumer": "platform/onestop",
                "official": "clerk9",
                "case_id": "KB",
                "purpose": "business_startup",
                "service": "mps.person",
                "subject": {"id_number": number},
                "fields": ["name"],
            },
            peer="platform/onestop",
        )
        clock.advance(seconds=20)
    tax_server = server_for("tax")
    with registers["tax"].engine.connect() as c:
        uscc = c.execute(sa.select(tax.taxpayers.c.uscc).limit(1)).scalar_one()
    body = {
        "request_id": uuid.uuid4().hex,
        "consumer": "fin/grants",
        "official": "payer9",
        "case_id": "P",
        "purpose": "auto_grant",
        "service": "tax.taxpayer",
        "subject": {"uscc": uscc},
        "condition": "taxable_income <= 3000000",
    }
    tax_server.handle(body, peer="fin/grants")
    with pytest.raises(RefusedRequest):
        tax_server.handle(body, peer="fin/grants")  # the same request id again
    detector = Detector(learned=False)
    events = sorted((Event.of(e) for s in (mps_server, tax_server) for e in _entries(s)), key=lambda e: e.at)
    detector.feed(events)
    detector.flush()
    kinds = {(a.kind, a.official) for a in detector.alerts}
    assert ("enumeration", "platform/onestop/clerk9") in kinds
    assert ("replay", "fin/grants/payer9") in kinds


def test_alerts_are_kept_and_an_officer_marks_them(world, clock):
    monitor = Monitor(world.platform, clock=clock, detector=Detector(learned=False))
    e = {
        "type": "sharing.decision",
        "time": "2026-12-01T02:00:00.000000Z",
        "provider": "tax",
        "consumer": "platform/huiqi",
        "official": "platform/huiqi/x",
        "purpose": "policy_match",
        "subject": "uscc:1",
        "action": "read",
        "decision": "deny",
        "code": "replayed_request",
        "request_id": "r",
    }
    raised = monitor.detector.feed([Event.of(e)])
    monitor.store(raised)
    monitor.store(raised)  # raised once
    stored = [a for a in monitor.list() if a["official"] == "platform/huiqi/x"]
    assert len(stored) == 1 and stored[0]["state"] == "open" and stored[0]["label"] == "重放请求"
    monitor.mark(stored[0]["id"], true=True, actor="alice")
    assert next(a for a in monitor.list(state="true") if a["id"] == stored[0]["id"])["marked_by"] == "alice"


@pytest.fixture(scope="module")
def simulated():
    traffic = simulate(days=42, seed=11)  # another seed than the one the thresholds were chosen on
    rules = Detector(learned=False)
    rules.feed(Event.of(e) for e in traffic.entries)
    rules.flush()
    both = Detector(learned=True, seed=11, warmup_windows=1500)
    both.feed(Event.of(e) for e in traffic.entries)
    both.flush()
    return traffic, rules, both


def test_every_attack_kind_is_caught_and_the_rules_seldom_cry_wolf(simulated):
    traffic, rules, _ = simulated
    scores, per_detector = evaluate(traffic, rules.alerts)
    by_kind = {s.kind: s for s in scores}
    assert set(by_kind) == set(ATTACKS)
    for kind in ATTACKS:
        assert by_kind[kind].episodes >= 3
        assert by_kind[kind].recall >= 0.66, (kind, by_kind[kind])
    raised = sum(n for n, _ in per_detector.values())
    on_attacks = sum(t for _, t in per_detector.values())
    assert on_attacks / raised >= 0.8, per_detector


def test_the_learned_detector_finds_attacks_without_flooding(simulated):
    traffic, _, both = simulated
    learned = [a for a in both.alerts if a.kind == "learned"]
    _, per = evaluate(traffic, learned)
    n, true = per.get("learned", (0, 0))
    assert true >= 3, "the learned detector finds some attacks on its own"
    normal_windows = len({(e["official"], e["time"][:13]) for e in traffic.entries})
    assert n - true <= normal_windows * 0.005, "at most 0.5 % of the normal official-hours raise an alert"


def test_a_true_incident_leaves_the_training_data(simulated):
    _, _, both = simulated
    learned = [a for a in both.alerts if a.kind == "learned"]
    assert learned
    before = len([k for k, _ in both._training if k not in both._excluded])
    both.exclude(learned[0].official, learned[0].at)
    after = len([k for k, _ in both._training if k not in both._excluded])
    assert after == before - 1
