"""What 临江市 issues as e-licences: the issuing departments and the licence types (sample data).

The type codes (``YYZZ`` 营业执照 …) and the departments' 统一社会信用代码 are samples written
for the demo city, as the 临江市 policies are; a real deployment loads the national
电子证照目录 codes instead. ``certification`` links a type to the enterprise profile's
``certifications`` value it proves (ARCHITECTURE.md profile contract).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from huiqi.certs.errors import IssuanceError
from huiqi.profile.uscc import InvalidUSCC, normalize

#: Where the city's identifiers live; department ids are ``did:web:linjiang.example:dept:<code>``.
DOMAIN = "linjiang.example"
SAMPLE = True  # the codes below are the demo city's, not the national catalogue's


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    uscc: str

    @property
    def did(self) -> str:
        return f"did:web:{DOMAIN}:dept:{self.code}"


DEPARTMENTS: dict[str, Department] = {
    d.code: d
    for d in (
        Department("samr", "临江市市场监督管理局", "11330100MB0000010P"),
        Department("sti", "临江市科学技术局", "11330100MB0000020Q"),
        Department("eit", "临江市经济和信息化局", "11330100MB0000030R"),
        Department("nhc", "临江市卫生健康委员会", "11330100MB0000040T"),
    )
}


def department_of_did(did: str) -> Department | None:
    prefix = f"did:web:{DOMAIN}:dept:"
    return DEPARTMENTS.get(did[len(prefix) :]) if isinstance(did, str) and did.startswith(prefix) else None


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text | date | amount | uscc
    required: bool = True


@dataclass(frozen=True)
class LicenceType:
    code: str
    name: str
    name_en: str
    vc_type: str
    department: str
    fields: tuple[Field, ...]
    years: int | None  # validity from issue; None: 长期 unless valid_until is given
    certification: str | None = None

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    @functools.cached_property
    def labels(self) -> dict[str, str]:
        """Field name → what a clerk reads (``uscc`` → 统一社会信用代码)."""
        return {f.name: f.label for f in self.fields}


_HOLDER = (Field("uscc", "统一社会信用代码", "uscc"), Field("name", "名称"))

LICENCE_TYPES: dict[str, LicenceType] = {
    t.code: t
    for t in (
        LicenceType(
            "YYZZ",
            "营业执照",
            "Business licence",
            "BusinessLicenceCredential",
            "samr",
            (
                *_HOLDER,
                Field("entity_type", "类型"),
                Field("legal_representative", "法定代表人"),
                Field("registered_capital", "注册资本（元）", "amount"),
                Field("established", "成立日期", "date"),
                Field("address", "住所"),
                Field("scope", "经营范围"),
            ),
            None,
        ),
        LicenceType(
            "SPJY",
            "食品经营许可证",
            "Food business permit",
            "FoodBusinessPermitCredential",
            "samr",
            (*_HOLDER, Field("address", "经营场所"), Field("operations", "经营项目")),
            5,
        ),
        LicenceType(
            "GXJS",
            "高新技术企业证书",
            "High-tech enterprise certificate",
            "HighTechEnterpriseCredential",
            "sti",
            (*_HOLDER, Field("certificate_no", "证书编号")),
            3,
            "high_tech",
        ),
        LicenceType(
            "KJXZX",
            "科技型中小企业入库登记",
            "Technology-based SME registration",
            "TechSMECredential",
            "sti",
            (*_HOLDER, Field("registration_no", "入库登记编号")),
            1,
            "tech_sme",
        ),
        LicenceType(
            "ZJTX",
            "专精特新中小企业证书",
            "Specialised, refined, distinctive and innovative SME certificate",
            "SpecializedNewSMECredential",
            "eit",
            (*_HOLDER, Field("certificate_no", "证书编号")),
            3,
            "specialized_new",
        ),
        LicenceType(
            "XJR",
            "专精特新“小巨人”企业证书",
            "'Little giant' enterprise certificate",
            "LittleGiantCredential",
            "eit",
            (*_HOLDER, Field("certificate_no", "证书编号")),
            3,
            "little_giant",
        ),
    )
}

_AMOUNT = re.compile(r"^\d{1,15}(\.\d{1,2})?$")


def licence_type(code: str) -> LicenceType:
    found = LICENCE_TYPES.get(code.upper() if isinstance(code, str) else code)
    if found is None:
        known = "、".join(f"{t.code} {t.name}" for t in LICENCE_TYPES.values())
        raise IssuanceError(
            f"未知的证照类型 {code!r}，可用：{known}",
            f"unknown licence type {code!r}; known: {', '.join(LICENCE_TYPES)}",
            field="type",
        )
    return found


def validate_subject(kind: LicenceType, subject: Mapping[str, Any]) -> dict[str, str]:
    """The holder's fields for a licence of ``kind``, checked and normalised; every problem names its field."""
    if not isinstance(subject, Mapping):
        raise IssuanceError("持证主体信息须为 JSON 对象", "the subject must be a JSON object", field="subject")
    unknown = sorted(set(subject) - {f.name for f in kind.fields})
    if unknown:
        raise IssuanceError(
            f"{kind.name} 没有字段 {unknown[0]}",
            f"{kind.name_en} has no field {unknown[0]}",
            field=f"subject.{unknown[0]}",
        )
    out: dict[str, str] = {}
    for f in kind.fields:
        value = subject.get(f.name)
        where = f"subject.{f.name}"
        if value is None or (isinstance(value, str) and not value.strip()):
            if f.required:
                raise IssuanceError(f"缺少{f.label}", f"{f.name} is required", field=where)
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise IssuanceError(f"{f.label}应为文本", f"{f.name} must be a string", field=where)
        text = str(value).strip()
        if f.kind == "uscc":
            try:
                text = normalize(text)
            except InvalidUSCC as e:
                raise IssuanceError(
                    f"{f.label}无效：{e.message.zh}", f"{f.name} is invalid: {e.message.en}", field=where
                ) from e
        elif f.kind == "date":
            try:
                text = dt.date.fromisoformat(text).isoformat()
            except ValueError as e:
                raise IssuanceError(
                    f"{f.label}应为 YYYY-MM-DD：{text!r}", f"{f.name} must be YYYY-MM-DD: {text!r}", field=where
                ) from e
        elif f.kind == "amount":
            try:
                amount = Decimal(text)
            except InvalidOperation as e:
                raise IssuanceError(f"{f.label}应为金额：{text!r}", f"{f.name} must be an amount", field=where) from e
            if not _AMOUNT.match(text) or amount < 0:
                raise IssuanceError(
                    f"{f.label}应为不超过两位小数的非负金额：{text!r}",
                    f"{f.name} must be a non-negative amount with at most 2 decimals",
                    field=where,
                )
        elif len(text) > 2000:
            raise IssuanceError(f"{f.label}过长", f"{f.name} is too long", field=where)
        out[f.name] = text
    return out
