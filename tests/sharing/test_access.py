"""Cedar decisions: the catalogue's policies, tested in Cedar's integration-test shape.

``tests/sharing/cedar/decisions.json`` is laid out like the cedar-integration-tests files
(schema, policies, entities, ``shouldValidate`` and requests, each with its expected
decision, reasons and errors). ``policies.cedar`` is what huiqi generates from the shipped
declarations: a change to a declaration shows up here as a diff to review.
"""

from __future__ import annotations

import json
from pathlib import Path

import cedarpy
from hypothesis import given
from hypothesis import strategies as st

from huiqi.sharing.access import AccessEngine, Principal, Resource, catalogue_policies, schema_text
from huiqi.sharing.catalogue import Catalogue, parse_declaration, shipped_declarations
from huiqi.sharing.registers import REGISTERS

ROOT = Path(__file__).resolve().parents[2]
SUITE = json.loads((ROOT / "tests/sharing/cedar/decisions.json").read_text(encoding="utf-8"))


def shipped() -> Catalogue:
    return Catalogue.of([parse_declaration(t, source=p) for p, t in shipped_declarations().items()])


def test_policies_file_is_what_the_shipped_declarations_generate():
    assert (ROOT / SUITE["policies"]).read_text(encoding="utf-8") == catalogue_policies(shipped())


def test_policies_validate_against_the_schema():
    result = cedarpy.validate_policies((ROOT / SUITE["policies"]).read_text(encoding="utf-8"), schema_text())
    assert result.validation_passed is SUITE["shouldValidate"], result.errors


def _suite_requests() -> list[dict]:
    return SUITE["requests"]


def test_integration_suite_decisions_and_reasons():
    policies = (ROOT / SUITE["policies"]).read_text(encoding="utf-8")
    entities = json.loads((ROOT / SUITE["entities"]).read_text(encoding="utf-8"))
    schema = (ROOT / SUITE["schema"]).read_text(encoding="utf-8")
    engine = AccessEngine(policies)
    assert len(_suite_requests()) >= 15
    for case in _suite_requests():
        request = {k: case[k] for k in ("principal", "action", "resource", "context")}
        got = cedarpy.is_authorized(request, engine.full, entities, schema)
        assert ("allow" if got.decision == cedarpy.Decision.Allow else "deny") == case["decision"], case["description"]
        assert sorted(got.diagnostics.reasons) == case["reason"], case["description"]
        assert [str(e) for e in got.diagnostics.errors] == case["errors"], case["description"]


def _principal(uid: str, entities: list[dict]) -> Principal:
    member, system, name = uid.split("/")
    official = next(e for e in entities if e["uid"] == {"type": "Huiqi::Official", "id": uid})
    return Principal.of(f"{member}/{system}", name, suspended=official["attrs"]["suspended"])


def test_the_engine_decides_the_suite_the_same_way_sliced():
    entities = json.loads((ROOT / SUITE["entities"]).read_text(encoding="utf-8"))
    engine = AccessEngine.for_catalogue(shipped())
    for case in _suite_requests():
        register, field = case["resource"]["id"].split("/")
        resource = Resource(register, field, REGISTERS[register].fields[field].sensitivity)
        (got,) = engine.decide(
            _principal(case["principal"]["id"], entities), case["action"]["id"], [resource], [case["context"]]
        )
        assert got.allowed == (case["decision"] == "allow"), case["description"]
        assert list(got.reasons) == case["reason"], case["description"]


SYSTEMS = ["platform/huiqi", "platform/batch", "platform/onestop", "fin/grants", "samr/supervision", "tax/other"]
FIELDS = [(m, f) for m, cls in REGISTERS.items() for f in cls.fields]
BASES = [
    "",
    "《企业信息公示暂行条例》（国务院令第654号）第六条（登记信息依法公示）",
    "《临江市惠企政策“免申即享”工作实施办法》（临政办发〔2026〕8号）第六条（部门数据共享比对）",
]


@given(
    system=st.sampled_from(SYSTEMS),
    suspended=st.booleans(),
    action=st.sampled_from(["read", "ask", "bulk"]),
    field=st.sampled_from(FIELDS),
    purpose=st.sampled_from(["policy_match", "auto_grant", "business_startup", "precheck", "supervision"]),
    consent=st.booleans(),
    basis=st.sampled_from(BASES),
    hour=st.integers(0, 23),
)
def test_slices_decide_exactly_as_the_full_policy_set(system, suspended, action, field, purpose, consent, basis, hour):
    engine = _ENGINE
    register, name = field
    principal = Principal.of(system, "someone", suspended=suspended)
    resource = Resource(register, name, REGISTERS[register].fields[name].sensitivity)
    context = {"purpose": purpose, "consent": consent, "legal_basis": basis, "hour": hour, "weekday": 3}
    sliced = engine.decide(principal, action, [resource], [context])
    full = engine.decide(principal, action, [resource], [context], sliced=False)
    assert sliced == full


_ENGINE = AccessEngine.for_catalogue(shipped())


def test_a_thousand_policies_still_decide_through_a_small_slice():
    """The benchmark's setting: 1,000 policies loaded, a decision evaluates only its slice."""
    from bench.bench_sharing_cedar import synthetic_catalogue

    engine = AccessEngine.for_catalogue(synthetic_catalogue(1000))
    assert len(engine) >= 1000
    principal = Principal.of("platform/s7", "x")
    one = engine.slice_for(principal, "tax")
    assert len(one) < 40
