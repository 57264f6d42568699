"""The policy catalogue (政策库) as the API and the pages show it: summaries and details.

The filters themselves (which policies could apply to a region and an industry) live in
``huiqi.discover``, below the web layer, so that the CLI can use them too.

What the public sees is not what officers see: a policy's open questions (``unverified``
notes, parameter values not yet checked against the source) are internal to-dos. The
public gets one neutral flag, ``verifying`` (依据核实中); the notes are on the officers'
pages only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from huiqi import vocab
from huiqi.discover import region_label
from huiqi.match.explain import jsonable
from huiqi.match.result import Apply
from huiqi.profile import FIELDS
from huiqi.rules import Library, Policy
from huiqi.web.templating import is_portal

Category = Literal["tax", "subsidy", "reward", "finance", "talent", "employment"]


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
    source_portal: bool = Field(description="true: source_url 是检索入口或网站首页，不是文件原文")
    valid_from: dt.date
    valid_to: dt.date | None = Field(description="null = 长期有效")
    tags: list[str]
    sample: bool = Field(description="true: 临江市示例政策，演示用，并非真实政策")
    apply_mode: str
    last_verified: dt.date
    verifying: bool = Field(description="true: 有依据或数额尚在核实（依据核实中）")


class PolicyList(BaseModel):
    count: int
    in_force_on: dt.date | None
    policies: list[PolicySummary]


class ConditionInfo(BaseModel):
    id: str
    label: str = Field(description="the label with the parameter values in force on the page's date")
    declaration: bool = Field(description="申报承诺：申请时由企业承诺，不自动判断")
    action: bool = Field(
        False, description="前提：企业须已做到的事（已招用退役士兵、已取得首笔贷款）；满足前提即可享受"
    )
    when: str | None = Field(description="the rule expression (SQL syntax)")
    fields: list[str] = Field(description="profile fields the condition reads")
    field_labels: list[str]


class ParameterValueInfo(BaseModel):
    valid_from: dt.date
    value: Any
    source: str
    verified: bool = Field(description="false: 该数额尚在核实（依据核实中）")


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
    in_force_from: dt.date | None = Field(None, description="the document in force from this date (null: history only)")


class PolicyDetail(PolicySummary):
    documents: list[DocumentInfo] = Field(description="文件沿革，从早到晚")
    conditions: list[ConditionInfo]
    benefit: BenefitInfo | None
    apply: Apply
    parameters: list[ParameterInfo] = Field(description="named values the conditions and formula use")


def summary(policy: Policy, library: Library, as_of: dt.date) -> PolicySummary:
    """The policy as a list shows it, its summary worded with the parameters in force on ``as_of``."""
    d = policy.definition
    return PolicySummary(
        id=d.id,
        title=d.title,
        summary=library.texts_of(policy, as_of).summary,
        category=d.category,
        category_label=vocab.CATEGORIES.get(d.category, d.category),
        region=d.region,
        region_label=region_label(d.region),
        issuer=d.issuer,
        document_number=d.document_number,
        source_url=d.source_url,
        source_portal=is_portal(d.source_url),
        valid_from=d.valid_from,
        valid_to=d.valid_to,
        tags=list(d.tags),
        sample=d.sample,
        apply_mode=d.apply.mode,
        last_verified=d.last_verified,
        verifying=bool(internal_todos(policy, library)),
    )


def _parameters_used(policy: Policy) -> set[str]:
    used: set[str] = set()
    for c in policy.conditions:
        if c.expr is not None:
            used |= c.expr.parameters
    if policy.formula is not None:
        used |= policy.formula.parameters
    return used


def internal_todos(policy: Policy, library: Library) -> list[str]:
    """What is still to be checked about a policy — its ``unverified`` notes and the notes
    of unverified values of the parameters it uses. For officers' eyes (module docstring)."""
    notes = list(policy.definition.unverified)
    for name in sorted(_parameters_used(policy)):
        p = library.parameters.get(name)
        if p is not None:
            notes += [
                f"{p.definition.label}（{v.valid_from} 起）：{v.note}"
                for v in p.definition.values
                if not v.verified and v.note
            ]
    return notes


def detail(policy: Policy, library: Library, as_of: dt.date) -> PolicyDetail:
    """The whole policy, its texts worded with the parameters in force on ``as_of``."""
    d = policy.definition
    texts = library.texts_of(policy, as_of)
    conditions = []
    for c, label in zip(policy.conditions, texts.labels, strict=True):
        fields = sorted(c.fields, key=list(FIELDS).index)
        conditions.append(
            ConditionInfo(
                id=c.id,
                label=label,
                declaration=c.declaration,
                action=c.action,
                when=c.expr.text if c.expr is not None else None,
                fields=fields,
                field_labels=[FIELDS[f].label for f in fields],
            )
        )
    params = []
    for name in sorted(_parameters_used(policy)):
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
            explain=texts.explain or d.benefit.explain,
            amount_note=texts.amount_note,
        )
    return PolicyDetail(
        **summary(policy, library, as_of).model_dump(),
        documents=[
            DocumentInfo(number=x.number, url=x.url, note=x.note, in_force_from=x.in_force_from) for x in d.documents
        ],
        conditions=conditions,
        benefit=benefit,
        apply=Apply(**d.apply.model_dump()),
        parameters=params,
    )
