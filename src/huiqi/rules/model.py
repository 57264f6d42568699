"""The shape of policy files (docs/policy-format.md) as pydantic models."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from huiqi.rules import text

POLICY_ID = r"^(cn|lj)\.[a-z0-9]+(\.[a-z0-9]+(-[a-z0-9]+)*)+$"
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
#: Addresses shown as links on public pages: http(s) with a host, nothing else (no javascript:).
URL = r"^https?://[^\s/?#@]+(/[^\s]*)?$"
Verdict = Literal["eligible", "ineligible", "undetermined"]
SUMMARY_MAX = 120
SLOT_WIDTH = 6  # a rendered slot, e.g. 1000万元


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def to_value(raw: Any) -> Any:
    """YAML scalars to rule values: numbers (and number-like strings) become exact Decimals."""
    if isinstance(raw, bool | dt.date):
        return raw
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, float):
        return Decimal(repr(raw))
    if isinstance(raw, str) and _NUMBER.match(raw.strip()):
        return Decimal(raw.strip())
    if isinstance(raw, list):
        return [str(x) for x in raw]
    return raw


class ParameterValue(_Strict):
    valid_from: dt.date = Field(alias="from")
    value: Any
    source: str = Field(min_length=2)
    verified: bool = True
    note: str | None = None

    @field_validator("value", mode="before")
    @classmethod
    def _value(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("参数值不能为空 / a parameter value must not be empty")
        return to_value(v)

    @model_validator(mode="after")
    def _note_unverified(self) -> ParameterValue:
        if not self.verified and not self.note:
            raise ValueError("未核实的取值需要写明 note / an unverified value needs a note")
        return self


class ParameterDef(_Strict):
    label: str
    unit: str = ""
    values: list[ParameterValue] = Field(min_length=1)

    @field_validator("values")
    @classmethod
    def _ordered(cls, v: list[ParameterValue]) -> list[ParameterValue]:
        dates = [x.valid_from for x in v]
        if dates != sorted(set(dates)):
            raise ValueError("取值须按 from 日期从早到晚排列且不重复 / values must be in date order, no repeats")
        return v


class VariableDef(_Strict):
    label: str
    expr: str
    unit: str = ""
    values: list[str] = []
    source: str | None = None
    note: str | None = None


class ConditionDef(_Strict):
    id: str | None = None
    label: str = Field(min_length=2)
    when: str | None = None
    declaration: bool = False
    #: 前提: an action the enterprise may not have taken yet (已招用退役士兵, 已签订技术合同).
    #: Not evaluated; a policy whose other conditions are met is 满足前提即可享受, not 可享受.
    action: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> ConditionDef:
        if sum([self.when is not None, self.declaration, self.action]) != 1:
            raise ValueError(
                "条件只能是三种之一：when 表达式、declaration: true（申报承诺）或 action: true（前提行为） / "
                "a condition has exactly one of a `when` expression, `declaration: true` or `action: true`"
            )
        return self


class BenefitDef(_Strict):
    formula: str | None = None
    unit: Literal["yuan", "yuan/year", "yuan/month", "yuan/person", "none"] = "yuan"
    explain: str = Field(min_length=2)
    amount_note: str | None = None


class AlternativeDef(_Strict):
    """Membership of an exclusive group: benefits an enterprise enjoys one of, never both
    (a 高新技术企业 that is also a 小型微利企业 pays one reduced CIT rate). Totals take the
    best member and say which."""

    group: str = Field(pattern=r"^[a-z0-9]+(\.[a-z0-9]+(-[a-z0-9]+)*)+$")
    name: str = Field(min_length=2, max_length=40)  # how the answer names this choice: "按{name}计"


class ApplyDef(_Strict):
    mode: Literal["免申即享", "申报享受", "申请审批"]
    channel: str
    office: str
    materials: list[str] = []
    deadline: str
    contact: str
    url: str | None = Field(None, pattern=URL, max_length=2000)


class DocumentRef(_Strict):
    """One document of a policy's history. ``from``: the document in force from that date
    (until the next dated one): the answer for an ``as_of`` cites it as the policy's 文号."""

    number: str
    url: str | None = Field(None, pattern=URL, max_length=2000)
    note: str | None = None
    in_force_from: dt.date | None = Field(None, alias="from")


_UNSET: Any = "__unset__"


class PolicyTest(_Strict):
    name: str
    as_of: dt.date
    profile: dict[str, Any]
    verdict: Verdict
    amount: str | None = _UNSET
    missing: list[str] | None = None

    @property
    def checks_amount(self) -> bool:
        return self.amount != _UNSET

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, v: Any) -> Any:
        if isinstance(v, int | float) and not isinstance(v, bool):
            raise ValueError('金额请写成字符串，如 "600000.00" / write amounts as strings')
        return v


class PolicyDef(_Strict):
    id: str = Field(pattern=POLICY_ID)
    title: str
    issuer: str
    document_number: str
    source_url: str = Field(pattern=URL, max_length=2000)
    documents: list[DocumentRef] = []
    region: str = Field(pattern=r"^\d{6}$")
    valid_from: dt.date
    valid_to: dt.date | None = None
    category: Literal["tax", "subsidy", "reward", "finance", "talent", "employment"]
    tags: list[str] = []
    sample: bool = False
    last_verified: dt.date
    summary: str = Field(min_length=5)  # ≤ 120 characters as read (see _summary_length)
    unverified: list[str] = []
    parameters: dict[str, ParameterDef] = {}
    conditions: list[ConditionDef] = Field(min_length=1)
    benefit: BenefitDef | None = None
    alternative: AlternativeDef | None = None
    apply: ApplyDef
    tests: list[PolicyTest] = []

    @field_validator("summary")
    @classmethod
    def _summary_length(cls, v: str) -> str:
        """读得懂: at most 120 characters as a person reads it — a slot counts as the few
        characters its value takes (1000万元), not as the parameter name it is written with."""
        try:
            length = sum(len(p) if isinstance(p, str) else SLOT_WIDTH for p in text.parse(v).parts)
        except text.TextError:
            return v  # the loader reports a malformed slot with its line
        if length > SUMMARY_MAX:
            raise ValueError(f"摘要不超过{SUMMARY_MAX}字（现为{length}字） / at most {SUMMARY_MAX} characters")
        return v

    @model_validator(mode="after")
    def _dates(self) -> PolicyDef:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to 早于 valid_from / valid_to is before valid_from")
        if self.id.startswith("lj.") and not self.sample:
            raise ValueError("临江市的示例政策须标记 sample: true / lj.* policies must say sample: true")
        return self

    @model_validator(mode="after")
    def _documents_in_order(self) -> PolicyDef:
        dated = [d.in_force_from for d in self.documents if d.in_force_from is not None]
        if dated != sorted(set(dated)):
            raise ValueError(
                "documents 的 from 日期须从早到晚排列且不重复 / dated documents must be in date order, no repeats"
            )
        if dated and self.documents_in_force()[-1].number != self.document_number:
            raise ValueError(
                "document_number 须是最后一个注明 from 的文件 / document_number must be the last dated document"
            )
        return self

    def in_force(self, as_of: dt.date) -> bool:
        return self.valid_from <= as_of and (self.valid_to is None or as_of <= self.valid_to)

    def documents_in_force(self) -> list[DocumentRef]:
        return [d for d in self.documents if d.in_force_from is not None]

    def document_at(self, as_of: dt.date) -> str:
        """The 文号 an answer for ``as_of`` cites: the last dated document in force on that
        day, else ``document_number``."""
        number = self.document_number
        for d in self.documents_in_force():
            if d.in_force_from <= as_of:  # type: ignore[operator]
                number = d.number
        return number
