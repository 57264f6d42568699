"""The calculator's answer rendered the straightforward way: every condition of every
policy worded on its own with ``explain.trace``, every result built whole. Slow, and kept
only as the yardstick that ``huiqi.match.answer`` (templates filled in, parts shared) must
match byte for byte."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from huiqi.match import explain
from huiqi.match.explain import jsonable
from huiqi.profile import Profile, parse_profile
from huiqi.rules import Evaluation, Library
from huiqi.rules.library import Choice, choose

ORDER = {"eligible": 0, "undetermined": 1, "ineligible": 2}
OUTCOME = {True: "met", False: "unmet", None: "unknown"}
CHINESE_COUNT = "零一两三四五六七八九十"


def reference_answer(
    profile: dict[str, Any], as_of: dt.date, library: Library, policy_ids: list[str] | None = None
) -> dict[str, Any]:
    parsed: Profile = parse_profile(profile)
    variables, evaluations = library.evaluate(parsed, as_of, policy_ids)
    facts = parsed.facts()
    params = library.params_at(as_of)
    evaluations = sorted(evaluations, key=lambda ev: (ORDER[ev.verdict], -(ev.amount or 0), ev.policy.id))
    choices = choose(evaluations)
    left_out = {e.policy.id for c in choices.values() for e in c.members if e is not c.chosen}
    by_unit: dict[str, Decimal] = {}
    conditional_by_unit: dict[str, Decimal] = {}
    for ev in evaluations:
        benefit = ev.policy.definition.benefit
        if ev.verdict == "eligible" and ev.amount is not None and benefit is not None and ev.policy.id not in left_out:
            sums = conditional_by_unit if ev.policy.conditional else by_unit
            sums[benefit.unit] = sums.get(benefit.unit, Decimal("0.00")) + ev.amount
    counts = {verdict: sum(ev.verdict == verdict for ev in evaluations) for verdict in ORDER}
    conditional = sum(ev.detail == "conditional" for ev in evaluations)
    counts["eligible"] -= conditional
    notes = {group: _choice(choice) for group, choice in choices.items()}
    return {
        "as_of": as_of.isoformat(),
        "variables": {k: jsonable(v) for k, v in variables.items()},
        "possible": {k: list(v) for k, v in variables.possible.items()},
        "results": [_result(ev, as_of, library, facts, variables, params, notes) for ev in evaluations],
        "alternatives": list(notes.values()),
        "totals": {
            **counts,
            "conditional": conditional,
            "eligible_amount": str(sum(by_unit.values(), Decimal("0.00"))),
            "eligible_amount_by_unit": {unit: str(total) for unit, total in sorted(by_unit.items())},
            "conditional_amount_by_unit": {unit: str(total) for unit, total in sorted(conditional_by_unit.items())},
        },
    }


def _choice(choice: Choice) -> dict[str, Any]:
    names = {e.policy.id: e.policy.definition.alternative.name for e in choice.members}  # type: ignore[union-attr]
    n = len(choice.members)
    count = CHINESE_COUNT[n] if n < len(CHINESE_COUNT) else str(n)
    if choice.chosen is None:
        note = f"{count}项择优享受，不能同时享受" if n > 1 else ""
    else:
        note = f"{count}项择优享受，按{names[choice.chosen.policy.id]}计" if n > 1 else ""
        unknown = "、".join(names[e.policy.id] for e in choice.uncompared if e is not choice.chosen)
        if unknown:
            note += f"（{unknown}的金额无法估算，未作比较）"
    return {
        "group": choice.group,
        "members": [e.policy.id for e in choice.members],
        "names": names,
        "chosen": None if choice.chosen is None else choice.chosen.policy.id,
        "amount": None if choice.chosen is None or choice.chosen.amount is None else str(choice.chosen.amount),
        "note": note,
    }


def _result(
    ev: Evaluation,
    as_of: dt.date,
    library: Library,
    facts: dict[str, Any],
    variables: dict[str, Any],
    params: dict[str, Any],
    notes: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    policy = ev.policy
    d = policy.definition
    worded = policy.texts(params)
    conditions = []
    for cond, outcome in zip(policy.evaluated, ev.outcomes, strict=True):
        label = cond.text(params)
        values, reason = explain.trace(cond, outcome, facts, variables, params, library, ev.missing)
        conditions.append(
            {
                "id": cond.id,
                "text": label,
                "outcome": OUTCOME[outcome],
                "values": {k: jsonable(v) for k, v in values.items()},
                "reason": reason,
            }
        )
    benefit = None
    if d.benefit is not None:
        benefit = {
            "amount": None if ev.amount is None else str(ev.amount),
            "unit": d.benefit.unit,
            "explain": worded.explain,
            "missing": list(ev.amount_missing),
            "note": worded.amount_note,
        }
    alternative = None
    if d.alternative is not None:
        group = notes[d.alternative.group]
        alternative = {
            "group": group["group"],
            "members": group["members"],
            "chosen": group["chosen"] == d.id,
            "note": group["note"],
        }
    return {
        "policy_id": d.id,
        "title": d.title,
        "verdict": ev.verdict,
        "detail": ev.detail,
        "preconditions": list(worded.preconditions),
        "alternative": alternative,
        "conditions": conditions,
        "missing": list(ev.missing),
        "benefit": benefit,
        "declarations": list(worded.declarations),
        "summary": worded.summary,
        "apply": d.apply.model_dump(mode="json"),
        "category": d.category,
        "issuer": d.issuer,
        "source_url": d.source_url,
        "region": d.region,
        "sample": d.sample,
        "valid_from": d.valid_from.isoformat(),
        "valid_to": None if d.valid_to is None else d.valid_to.isoformat(),
        "document_number": d.document_at(as_of),
    }
