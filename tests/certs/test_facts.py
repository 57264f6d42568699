"""资质 from e-licences: the calculator says 依据电子证照; a revoked certificate makes the fact unknown at once."""

from __future__ import annotations

import datetime as dt

from huiqi.certs.facts import apply_licence_facts, licence_facts, match_with_licences
from tests.certs.conftest import BUSINESS, World

PROFILE = {
    "uscc": BUSINESS["uscc"],
    "region": "339901",
    "registered_on": "2019-04-01",
    "credit_rating": "B",
}


def high_tech(world: World) -> str:
    issued = world.licences.issue(
        "GXJS", {"uscc": BUSINESS["uscc"], "name": BUSINESS["name"], "certificate_no": "GR202633000123"}
    )
    world.licences.publish()
    return str(issued.id)


def award(result):  # type: ignore[no-untyped-def]
    return next(r for r in result.results if r.policy_id == "lj.sci.high-tech-award")


def test_a_verified_certificate_is_the_fact_and_the_answer_cites_it(world: World) -> None:
    lid = high_tech(world)
    result = match_with_licences(PROFILE, world.licences, as_of=dt.date(2026, 12, 1))
    policy = award(result)
    condition = next(c for c in policy.conditions if "certifications" in c.values)
    assert condition.outcome == "met"
    assert "依据电子证照 高新技术企业证书" in condition.reason and lid in condition.reason
    assert "cert.lookup" in world.log.entry("2026", world.log.size("2026") - 1).decode()


def test_revocation_makes_the_fact_unknown_not_false_and_not_still_true(world: World) -> None:
    lid = high_tech(world)
    world.clock.advance(days=2)
    world.licences.revoke(lid, reason="复核不合格，取消高新技术企业资格", kind="revoke")
    world.licences.publish()
    ticked = {**PROFILE, "certifications": ["high_tech"]}  # the tick box still says yes
    result = match_with_licences(ticked, world.licences, as_of=dt.date(2026, 12, 3))
    policy = award(result)
    condition = next(c for c in policy.conditions if "certifications" in c.values)
    assert condition.outcome == "unknown" and policy.verdict == "undetermined"
    assert "certifications" in policy.missing
    assert "已吊销" in condition.reason and "待核实" in condition.reason


def test_without_licences_the_profile_is_unchanged(world: World) -> None:
    fed, sources = apply_licence_facts({**PROFILE, "certifications": ["tech_sme"]}, [])
    assert fed["certifications"] == ["tech_sme"] and sources == []
    assert licence_facts(world.licences, "91330100MA2K00001W") == []
