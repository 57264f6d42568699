"""The policy catalogue (政策库) as the API and the pages show it: summaries, details, filters.

Filters
-------
``category``, ``in_force_on`` and ``q`` are plain: the category, the validity interval, and
a case-insensitive substring match of every word of ``q`` against the title, summary,
tags, id and 文号.

``region`` and ``industry`` ask "could this policy apply to an enterprise registered in
this region / in this industry?". Two checks, both must pass:

1. the policy's own ``region`` metadata covers the region (``000000`` = 全国 covers all;
   ``339900`` covers every code starting ``3399``, and so on);
2. its conditions, evaluated by the rules engine with *only* the region and the industry
   known (every other fact unknown, SQL three-valued logic), are not certainly unmet.
   A condition such as ``industry LIKE 'H62%'`` is then false for ``C3911``, so the policy
   is left out; ``employees <= 300`` stays unknown and keeps it in. Three-valued logic is
   sound here: a condition that comes out false with only these facts is false whatever
   the other facts are.

An industry filter may be coarse (``C`` or ``C39``): the policy is listed when it could
apply to at least one code of GB/T 4754 under it (the code itself included). Results of
check 2 are cached per library, so a published library change is picked up at once.
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from huiqi import vocab
from huiqi.match.result import Apply
from huiqi.profile import FIELDS, ProfileError, parse_profile
from huiqi.profile import industry as gbt4754
from huiqi.rules import Library, Policy

Category = Literal["tax", "subsidy", "reward", "finance", "talent", "employment"]

#: Region names. The 3399xx codes belong to the fictional demo city 临江市 (they are not
#: in GB/T 2260); see policies/lj/.
REGION_LABELS: dict[str, str] = {
    "000000": "全国",
    "339900": "临江市（示例城市）",
    "339901": "临江市临江区（示例）",
    "339902": "临江市江北区（示例）",
    "339903": "临江高新区（示例）",
}


def region_label(code: str) -> str:
    return REGION_LABELS.get(code, code)


def region_prefix(code: str) -> str:
    """``339900`` → ``3399``; ``330000`` → ``33``; ``000000`` → ``""`` (everywhere)."""
    while code.endswith("00"):
        code = code[:-2]
    return code


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


# --- models (the API's JSON) --------------------------------------------------------------
class PolicySummary(BaseModel):
    id: str
    title: str
    summary: str = Field(description="通俗说明（不超过120字）")
    category: Category
    category_label: str
    region: str = Field(description="GB/T 2260 code; 000000 = 全国")
    region_label: str
    issuer: str
    document_number: str = Field(description="文号")
    source_url: str
    valid_from: dt.date
    valid_to: dt.date | None = Field(description="null = 长期有效")
    tags: list[str]
    sample: bool = Field(description="true: 临江市示例政策，演示用，并非真实政策")
    apply_mode: str
    last_verified: dt.date


class PolicyList(BaseModel):
    count: int
    in_force_on: dt.date | None
    policies: list[PolicySummary]


class ConditionInfo(BaseModel):
    id: str
    label: str
    declaration: bool = Field(description="申报承诺：申请时由企业承诺，不自动判断")
    when: str | None = Field(description="the rule expression (SQL syntax)")
    fields: list[str] = Field(description="profile fields the condition reads")
    field_labels: list[str]


class ParameterValueInfo(BaseModel):
    valid_from: dt.date
    value: Any
    source: str
    verified: bool
    note: str | None


class ParameterInfo(BaseModel):
    name: str
    label: str
    unit: str
    values: list[ParameterValueInfo]


class BenefitInfo(BaseModel):
    formula: str | None
    unit: str
    unit_label: str
    explain: str
    amount_note: str | None


class DocumentInfo(BaseModel):
    number: str
    url: str | None
    note: str | None


class PolicyDetail(PolicySummary):
    documents: list[DocumentInfo] = Field(description="文件沿革，从早到晚")
    conditions: list[ConditionInfo]
    benefit: BenefitInfo | None
    apply: Apply
    parameters: list[ParameterInfo] = Field(description="named values the conditions and formula use")
    unverified: list[str] = Field(description="待核实的事项")


def summary(policy: Policy) -> PolicySummary:
    d = policy.definition
    return PolicySummary(
        id=d.id,
        title=d.title,
        summary=d.summary,
        category=d.category,
        category_label=vocab.CATEGORIES.get(d.category, d.category),
        region=d.region,
        region_label=region_label(d.region),
        issuer=d.issuer,
        document_number=d.document_number,
        source_url=d.source_url,
        valid_from=d.valid_from,
        valid_to=d.valid_to,
        tags=list(d.tags),
        sample=d.sample,
        apply_mode=d.apply.mode,
        last_verified=d.last_verified,
    )


def detail(policy: Policy, library: Library) -> PolicyDetail:
    d = policy.definition
    conditions = []
    for c in policy.conditions:
        fields = sorted(c.fields, key=list(FIELDS).index)
        conditions.append(
            ConditionInfo(
                id=c.id,
                label=c.label,
                declaration=c.declaration,
                when=c.expr.text if c.expr is not None else None,
                fields=fields,
                field_labels=[FIELDS[f].label for f in fields],
            )
        )
    used: set[str] = set()
    for c in policy.conditions:
        if c.expr is not None:
            used |= c.expr.parameters
    if policy.formula is not None:
        used |= policy.formula.parameters
    params = []
    for name in sorted(used):
        p = library.parameters.get(name)
        if p is None:
            continue
        params.append(
            ParameterInfo(
                name=name,
                label=p.definition.label,
                unit=p.definition.unit,
                values=[
                    ParameterValueInfo(
                        valid_from=v.valid_from,
                        value=jsonable(v.value),
                        source=v.source,
                        verified=v.verified,
                        note=v.note,
                    )
                    for v in p.definition.values
                ],
            )
        )
    benefit = None
    if d.benefit is not None:
        benefit = BenefitInfo(
            formula=d.benefit.formula,
            unit=d.benefit.unit,
            unit_label=vocab.UNITS[d.benefit.unit].label if d.benefit.unit in vocab.UNITS else d.benefit.unit,
            explain=d.benefit.explain,
            amount_note=d.benefit.amount_note,
        )
    return PolicyDetail(
        **summary(policy).model_dump(),
        documents=[DocumentInfo(number=x.number, url=x.url, note=x.note) for x in d.documents],
        conditions=conditions,
        benefit=benefit,
        apply=Apply(**d.apply.model_dump()),
        parameters=params,
        unverified=list(d.unverified),
    )


# --- filtering ----------------------------------------------------------------------------
def _text_matches(policy: Policy, words: list[str]) -> bool:
    d = policy.definition
    hay = " ".join([d.title, d.summary, d.id, d.document_number, *d.tags]).casefold()
    return all(w in hay for w in words)


def _region_covers(policy_region: str, region: str) -> bool:
    return region.startswith(region_prefix(policy_region))


class _ApplicabilityCache:
    """(policy id, region, industry code, date) → could apply, per library, bounded."""

    MAX = 20_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_library: weakref.WeakKeyDictionary[Library, dict[tuple[str, ...], bool]] = weakref.WeakKeyDictionary()

    def get(self, library: Library) -> dict[tuple[str, ...], bool]:
        with self._lock:
            cache = self._by_library.get(library)
            if cache is None or len(cache) > self.MAX:
                cache = {}
                self._by_library[library] = cache
            return cache


_CACHE = _ApplicabilityCache()


def _not_ruled_out(library: Library, policy: Policy, on: dt.date, region: str | None, code: str | None) -> bool:
    """False when, knowing only region and industry, some condition is certainly unmet."""
    d = policy.definition
    day = max(on, d.valid_from)
    if d.valid_to is not None:
        day = min(day, d.valid_to)
    cache = _CACHE.get(library)
    key = (policy.id, region or "", code or "", day.isoformat())
    hit = cache.get(key)
    if hit is None:
        try:
            profile = parse_profile({k: v for k, v in (("region", region), ("industry", code)) if v})
        except ProfileError:  # a region code the city does not have: no city policy applies there
            hit = False
        else:
            _, evaluations = library.evaluate(profile, day, [policy.id])
            hit = not evaluations or evaluations[0].verdict != "ineligible"
        cache[key] = hit
    return hit


def could_apply(library: Library, policy: Policy, on: dt.date, region: str | None, industry: str | None) -> bool:
    if region is not None and not _region_covers(policy.definition.region, region):
        return False
    reads = set().union(*(c.fields for c in policy.conditions))
    region = region if "region" in reads else None
    if industry is None or "industry" not in reads:
        return region is None or _not_ruled_out(library, policy, on, region, None)
    cache = _CACHE.get(library)
    key = ("under", policy.id, region or "", industry, on.isoformat())
    hit = cache.get(key)
    if hit is None:
        codes = sorted((c for c in gbt4754.industries() if c.startswith(industry)), key=lambda c: (len(c), c))
        hit = any(_not_ruled_out(library, policy, on, region, code) for code in codes)
        cache[key] = hit
    return hit


def filter_policies(
    library: Library,
    *,
    category: str | None = None,
    region: str | None = None,
    industry: str | None = None,
    in_force_on: dt.date | None = None,
    q: str | None = None,
    today: dt.date,
) -> list[Policy]:
    """The library's policies that pass every given filter, in a stable reading order."""
    words = [w.casefold() for w in (q or "").split()]
    on = in_force_on or today
    out = []
    for policy in library.policies:
        d = policy.definition
        if category is not None and d.category != category:
            continue
        if in_force_on is not None and not d.in_force(in_force_on):
            continue
        if words and not _text_matches(policy, words):
            continue
        if (region is not None or industry is not None) and not could_apply(library, policy, on, region, industry):
            continue
        out.append(policy)
    # National first, then the samples; within each by category and id.
    out.sort(key=lambda p: (p.definition.sample, list(vocab.CATEGORIES).index(p.definition.category), p.id))
    return out
