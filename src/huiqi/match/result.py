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


class PolicyResult(BaseModel):
    policy_id: str
    title: str
    verdict: Verdict
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
    eligible: int
    undetermined: int
    ineligible: int
    eligible_amount: str = Field(description="sum of the eligible policies' known amounts, yuan (all units)")
    eligible_amount_by_unit: dict[str, str] = Field(
        default_factory=dict, description="the same sum per benefit unit (yuan, yuan/year, yuan/month, yuan/person)"
    )


class MatchResult(BaseModel):
    as_of: dt.date
    variables: dict[str, Any]
    results: list[PolicyResult]
    totals: Totals
