"""The match result: the JSON contract of ARCHITECTURE.md as pydantic models."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

Verdict = Literal["eligible", "ineligible", "undetermined"]
Outcome = Literal["met", "unmet", "unknown"]


class ConditionResult(BaseModel):
    id: str
    text: str = Field(description="条件（通俗表述）")
    outcome: Outcome
    values: dict[str, Any] = Field(description="the facts, variables and parameters the condition read")
    reason: str = Field(description="一句话说明为何符合、不符合或无法判断")


class Benefit(BaseModel):
    amount: str | None = Field(description="estimated amount in yuan, a decimal string; null when unknown")
    unit: str
    explain: str
    missing: list[str] = Field(default_factory=list, description="facts the amount needs but the profile lacks")
    note: str | None = None


class Apply(BaseModel):
    mode: str
    channel: str
    office: str
    materials: list[str]
    deadline: str
    contact: str
    url: str | None = None


class AlternativeOf(BaseModel):
    group: str = Field(description="exclusive group: benefits enjoyed one or the other, never both")
    members: list[str]
    chosen: bool = Field(description="the totals take this member (the best of the group)")
    note: str = Field(description="e.g. 两项择优享受，按小型微利企业优惠计")


class Alternatives(BaseModel):
    group: str
    members: list[str]
    names: dict[str, str] = Field(description="policy id → how the note names it")
    chosen: str | None = Field(description="the member the totals take; null when none is eligible")
    amount: str | None
    note: str


class PolicyResult(BaseModel):
    policy_id: str
    title: str
    verdict: Verdict
    detail: Literal["conditional"] | None = Field(
        None,
        description="conditional: eligible on the known facts once the enterprise has taken the actions in "
        "preconditions (满足前提即可享受); not in 可享受 and not in its total",
    )
    preconditions: list[str] = Field(
        default_factory=list, description="前提: actions the enterprise must have taken (已招用自主就业退役士兵)"
    )
    alternative: AlternativeOf | None = Field(None, description="set when the policy is one of an exclusive group")
    conditions: list[ConditionResult]
    missing: list[str] = Field(description="profile fields that would decide an undetermined policy")
    benefit: Benefit | None
    apply: Apply
    declarations: list[str] = Field(description="申报承诺: conditions the applicant declares, not evaluated")
    summary: str
    category: str
    issuer: str
    document_number: str
    source_url: str
    region: str
    sample: bool
    valid_from: dt.date
    valid_to: dt.date | None


class Totals(BaseModel):
    eligible: int = Field(description="可享受: eligible on the known facts alone (not counting conditional ones)")
    undetermined: int
    ineligible: int
    conditional: int = Field(0, description="满足前提即可享受: eligible results with detail = conditional")
    eligible_amount: str = Field(
        description="sum of the eligible policies' known amounts, yuan (all units); an exclusive group "
        "counts once, with its chosen member; conditional ones are not in it"
    )
    eligible_amount_by_unit: dict[str, str] = Field(
        default_factory=dict, description="the same sum per benefit unit (yuan, yuan/year, yuan/month, yuan/person)"
    )
    conditional_amount_by_unit: dict[str, str] = Field(
        default_factory=dict, description="the conditional policies' known amounts per unit, apart from the total"
    )


class MatchResult(BaseModel):
    as_of: dt.date
    variables: dict[str, Any]
    possible: dict[str, list[str]] = Field(
        default_factory=dict,
        description="derived variables that are not decided but narrowed: the values still possible "
        "(size_class of a restaurant with 12 staff and no revenue: small or micro)",
    )
    results: list[PolicyResult]
    alternatives: list[Alternatives] = Field(
        default_factory=list, description="exclusive groups: the totals count only the chosen member"
    )
    totals: Totals
