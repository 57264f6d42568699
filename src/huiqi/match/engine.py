"""The policy calculator (政策计算器): one enterprise in, every policy in force out."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import cache
from typing import Any

from huiqi.match import explain
from huiqi.match.result import Apply, Benefit, ConditionResult, MatchResult, PolicyResult, Totals
from huiqi.profile import Profile, parse_profile
from huiqi.rules import Evaluation, Library, load_library

_ORDER = {"eligible": 0, "undetermined": 1, "ineligible": 2}


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


def match(
    profile: Profile | dict[str, Any],
    as_of: dt.date | None = None,
    library: Library | None = None,
    policy_ids: list[str] | None = None,
) -> MatchResult:
    """Evaluate every policy in force on ``as_of`` (default: today) for one enterprise.

    ``profile`` may be raw JSON-like data; bad input raises ProfileError naming the field.
    """
    if not isinstance(profile, Profile):
        profile = parse_profile(profile)
    as_of = as_of or dt.date.today()
    library = library or default_library()
    variables, evaluations = library.evaluate(profile, as_of, policy_ids)
    facts = profile.facts()
    params = library.params_at(as_of)
    results = [_result(ev, facts, variables, params, library) for ev in evaluations]
    results.sort(
        key=lambda r: (
            _ORDER[r.verdict],
            -Decimal(r.benefit.amount) if r.benefit and r.benefit.amount else Decimal(0),
            r.policy_id,
        )
    )
    eligible = [ev for ev in evaluations if ev.verdict == "eligible"]
    totals = Totals(
        eligible=len(eligible),
        undetermined=sum(ev.verdict == "undetermined" for ev in evaluations),
        ineligible=sum(ev.verdict == "ineligible" for ev in evaluations),
        eligible_amount=str(sum((ev.amount for ev in eligible if ev.amount is not None), Decimal("0.00"))),
    )
    return MatchResult(
        as_of=as_of,
        variables={k: jsonable(v) for k, v in variables.items()},
        results=results,
        totals=totals,
    )


_APPLY: dict[int, tuple[object, Apply]] = {}


def _apply(source: Any) -> Apply:
    cached = _APPLY.get(id(source))
    if cached is None or cached[0] is not source:
        cached = (source, Apply(**source.model_dump()))
        _APPLY[id(source)] = cached
    return cached[1]


def _result(
    ev: Evaluation, facts: dict[str, Any], variables: dict[str, Any], params: dict[str, Any], library: Library
) -> PolicyResult:
    # Built with model_construct: every value here comes from checked data, and validating
    # thousands of small models per answer would cost more than the evaluation itself.
    d = ev.policy.definition
    conditions = []
    for cond, outcome in zip(ev.policy.evaluated, ev.outcomes, strict=True):
        values = explain.condition_values(cond, facts, variables, params, library)
        conditions.append(
            ConditionResult.model_construct(
                id=cond.id,
                text=cond.label,
                outcome="unknown" if outcome is None else "met" if outcome else "unmet",
                values={k: jsonable(v) for k, v in values.items()},
                reason=explain.reason(cond, outcome, facts, variables, params, library, ev.missing),
            )
        )
    benefit = None
    if d.benefit is not None:
        benefit = Benefit.model_construct(
            amount=None if ev.amount is None else str(ev.amount),
            unit=d.benefit.unit,
            explain=d.benefit.explain,
            missing=list(ev.amount_missing),
            note=d.benefit.amount_note,
        )
    return PolicyResult.model_construct(
        policy_id=d.id,
        title=d.title,
        verdict=ev.verdict,
        conditions=conditions,
        missing=list(ev.missing),
        benefit=benefit,
        apply=_apply(d.apply),
        declarations=[c.label for c in ev.policy.conditions if c.declaration],
        summary=d.summary,
        category=d.category,
        issuer=d.issuer,
        document_number=d.document_number,
        source_url=d.source_url,
        region=d.region,
        sample=d.sample,
        valid_from=d.valid_from,
        valid_to=d.valid_to,
    )
