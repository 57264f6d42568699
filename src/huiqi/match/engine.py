"""The policy calculator (政策计算器): one enterprise in, every policy in force out.

``answer()`` builds the JSON contract as plain Python data — the fast path for the HTTP
API and ``--format json``; ``match()`` returns the same answer as typed pydantic models.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import cache
from typing import Any
from weakref import WeakKeyDictionary

from huiqi import clock
from huiqi.match import explain
from huiqi.match.result import MatchResult
from huiqi.profile import Profile, parse_profile
from huiqi.rules import Evaluation, Library, Policy, load_library

_ORDER = {"eligible": 0, "undetermined": 1, "ineligible": 2}
_OUTCOME = {True: "met", False: "unmet", None: "unknown"}


@cache
def default_library() -> Library:
    """The shipped library, loaded and compiled once per process."""
    return load_library()


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # exact: money and rates stay decimal strings
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def answer(
    profile: Profile | dict[str, Any],
    as_of: dt.date | None = None,
    library: Library | None = None,
    policy_ids: list[str] | None = None,
) -> dict[str, Any]:
    """The match result of ARCHITECTURE.md as JSON-ready data (see ``match``)."""
    if not isinstance(profile, Profile):
        profile = parse_profile(profile)
    as_of = as_of or clock.from_env().today()  # the public edge: callers below pass a date
    library = library or default_library()
    variables, evaluations = library.evaluate(profile, as_of, policy_ids)
    facts = profile.facts()
    params = library.params_at(as_of)
    evaluations = sorted(evaluations, key=lambda ev: (_ORDER[ev.verdict], -(ev.amount or 0), ev.policy.id))
    by_unit: dict[str, Decimal] = {}
    for ev in evaluations:
        benefit = ev.policy.definition.benefit
        if ev.verdict == "eligible" and ev.amount is not None and benefit is not None:
            by_unit[benefit.unit] = by_unit.get(benefit.unit, Decimal("0.00")) + ev.amount
    counts = {verdict: sum(ev.verdict == verdict for ev in evaluations) for verdict in _ORDER}
    return {
        "as_of": as_of.isoformat(),
        "variables": {k: jsonable(v) for k, v in variables.items()},
        "results": [_result(ev, facts, variables, params, library) for ev in evaluations],
        "totals": {
            **counts,
            "eligible_amount": str(sum(by_unit.values(), Decimal("0.00"))),
            "eligible_amount_by_unit": {unit: str(total) for unit, total in sorted(by_unit.items())},
        },
    }


def match(
    profile: Profile | dict[str, Any],
    as_of: dt.date | None = None,
    library: Library | None = None,
    policy_ids: list[str] | None = None,
) -> MatchResult:
    """Evaluate every policy in force on ``as_of`` (default: today) for one enterprise.

    ``profile`` may be raw JSON-like data; bad input raises ProfileError naming the field.
    """
    return MatchResult.model_validate(answer(profile, as_of, library, policy_ids))


def _result(
    ev: Evaluation, facts: dict[str, Any], variables: dict[str, Any], params: dict[str, Any], library: Library
) -> dict[str, Any]:
    policy = ev.policy
    d = policy.definition
    conditions = []
    for cond, outcome in zip(policy.evaluated, ev.outcomes, strict=True):
        values, reason = explain.trace(cond, outcome, facts, variables, params, library, ev.missing)
        conditions.append(
            {
                "id": cond.id,
                "text": cond.label,
                "outcome": _OUTCOME[outcome],
                "values": {k: jsonable(v) for k, v in values.items()},
                "reason": reason,
            }
        )
    benefit = None
    if d.benefit is not None:
        benefit = {
            "amount": None if ev.amount is None else str(ev.amount),
            "unit": d.benefit.unit,
            "explain": d.benefit.explain,
            "missing": list(ev.amount_missing),
            "note": d.benefit.amount_note,
        }
    return {
        "policy_id": d.id,
        "title": d.title,
        "verdict": ev.verdict,
        "conditions": conditions,
        "missing": list(ev.missing),
        "benefit": benefit,
        **_static(policy, library),
    }


#: Per library, the static part of each policy's result by policy index; it goes when the
#: library does.
_STATIC: WeakKeyDictionary[Library, dict[int, dict[str, Any]]] = WeakKeyDictionary()


def _static(policy: Policy, library: Library) -> dict[str, Any]:
    """The parts of a result that depend only on the policy, built once per policy."""
    statics = _STATIC.get(library)
    if statics is None:
        statics = _STATIC[library] = {}
    cached = statics.get(policy.index)
    if cached is None:
        d = policy.definition
        data = {
            "apply": d.apply.model_dump(mode="json"),
            "declarations": [c.label for c in policy.conditions if c.declaration],
            "summary": d.summary,
            "category": d.category,
            "issuer": d.issuer,
            "document_number": d.document_number,
            "source_url": d.source_url,
            "region": d.region,
            "sample": d.sample,
            "valid_from": d.valid_from.isoformat(),
            "valid_to": None if d.valid_to is None else d.valid_to.isoformat(),
        }
        cached = statics[policy.index] = data
    return cached
