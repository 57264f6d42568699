"""The profile's fields (企业画像): ``FIELDS`` is the single description of every field
(type, Chinese label, unit, allowed values); the rules type-checker, the SQL table schema,
the explanations and the pydantic model of ``huiqi.profile.schema`` all read it, so a
field is declared once.

Plain Python, no pydantic: ``huiqi match`` reads a profile and words its reasons with it
without building the model (``huiqi.profile.plain``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from huiqi.profile import industry as _industry
from huiqi.profile import regions
from huiqi.profile import uscc as _uscc

if TYPE_CHECKING:
    from huiqi.profile.kinds import FieldKind, KindSpec


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of the profile. Its kind's meaning everywhere is ``KINDS[kind]``."""

    name: str
    kind: FieldKind
    label: str  # 中文名称
    unit: str = ""
    values: tuple[str, ...] = ()  # allowed values of an enumerated field (or of a list's items)
    value_labels: tuple[str, ...] = ()
    group: str = ""  # the calculator form's section (基本情况, 规模, 财税情况, 资质)
    hint: str = ""  # help under the form control, in plain words
    check: Callable[[Any], Any] | None = None  # normalise a valid value, or raise ValueError("中文 / English")
    free_text: bool = False  # typed as written (a name): not normalised like codes and numbers
    constraints: Mapping[str, Any] = field(default_factory=dict)  # pydantic Field() arguments

    @property
    def kind_spec(self) -> KindSpec:
        from huiqi.profile.kinds import KINDS  # pydantic's annotations: not on the plain path

        return KINDS[self.kind]

    def label_of(self, value: str) -> str:
        if value in self.values and self.value_labels:
            return self.value_labels[self.values.index(value)]
        return value


def _industry_code(v: str) -> str:
    code = v.upper()
    if not _industry.CODE_PATTERN.match(code):
        raise ValueError(
            "应为门类字母加2–4位数字，如 C、C39、C3911 / must be a section letter optionally followed by 2-4 digits"
        )
    if _industry.lookup(code) is None:
        raise ValueError(f"GB/T 4754-2017 中没有代码 {code} / {code} is not a GB/T 4754-2017 code")
    return code


FIELDS: dict[str, FieldSpec] = {
    f.name: f
    for f in (
        FieldSpec(
            "uscc", "string", "统一社会信用代码", group="基本情况", hint="18位，营业执照上印有。", check=_uscc.normalize
        ),
        FieldSpec(
            "name",
            "string",
            "企业名称",
            free_text=True,
            group="基本情况",
            hint="只用于打印结果时显示，不影响判断。",
            constraints={"min_length": 1, "max_length": 200},
        ),
        FieldSpec(
            "region",
            "string",
            "所在地区",
            group="基本情况",
            hint="选择所在的区（临江市各区）。",
            values=tuple(regions.SAMPLE_REGIONS),
            value_labels=tuple(regions.SAMPLE_REGIONS.values()),
        ),
        FieldSpec(
            "industry",
            "string",
            "所属行业",
            group="基本情况",
            hint="输入行业名称或代码查找，如“餐饮”“软件开发”或 C3911。",
            check=_industry_code,
        ),
        FieldSpec("registered_on", "date", "成立日期", group="基本情况", hint="营业执照上的成立日期。"),
        FieldSpec(
            "entity_type",
            "string",
            "市场主体类型",
            values=("enterprise", "individual_business"),
            value_labels=("企业（公司、合伙企业、农民专业合作社等）", "个体工商户"),
            group="基本情况",
            hint="营业执照上的类型；个体工商户的统一社会信用代码以92开头。",
        ),
        FieldSpec(
            "employees", "integer", "从业人数", "人", group="规模", hint="上年全年平均的从业人数（含劳务派遣）。"
        ),
        FieldSpec(
            "staff_on_payroll",
            "integer",
            "在职职工人数",
            "人",
            group="规模",
            hint="残疾人就业保障金口径：在编人员和签订1年以上劳动合同的人员（劳务派遣人员算在派遣单位），上年平均。",
        ),
        FieldSpec("revenue", "money", "上年营业收入", "元", group="规模", hint="单位：万元，如 1200 或 35.5。"),
        FieldSpec("total_assets", "money", "资产总额", "元", group="规模", hint="单位：万元，全年平均值。"),
        FieldSpec(
            "taxable_income",
            "money",
            "上年应纳税所得额",
            "元",
            group="财税情况",
            hint="单位：万元，企业所得税年度申报表上的数。",
        ),
        FieldSpec("rd_expense", "money", "上年研发费用", "元", group="财税情况", hint="单位：万元。"),
        FieldSpec(
            "taxpayer_type",
            "string",
            "增值税纳税人类型",
            values=("small_scale", "general"),
            value_labels=("小规模纳税人", "一般纳税人"),
            group="财税情况",
        ),
        FieldSpec(
            "monthly_sales",
            "money",
            "月销售额",
            "元",
            group="财税情况",
            hint="单位：万元，近期平均每月的增值税销售额。",
        ),
        FieldSpec(
            "certifications",
            "list",
            "企业资质",
            values=("high_tech", "tech_sme", "specialized_new", "little_giant"),
            value_labels=("高新技术企业", "科技型中小企业", "专精特新中小企业", "专精特新“小巨人”企业"),
            group="资质",
            hint="有哪项勾哪项；一项都没有请勾“以上都没有”。都不勾表示不填。",
        ),
        FieldSpec(
            "credit_rating",
            "string",
            "纳税信用等级",
            values=("A", "B", "M", "C", "D"),
            value_labels=("A级", "B级", "M级", "C级", "D级"),
            group="财税情况",
            hint="税务部门评定的上年度纳税信用等级。",
        ),
    )
}


def normalise(value: Any) -> Any:
    """Text as people type it, as the profile reads it: NFKC (full-width letters, digits and
    punctuation → ASCII: ３０ → 30, ２００．５ → 200.5, Ｃ３９１１ → C3911), then any other Unicode
    decimal digit (Arabic-Indic ٣, Devanagari ३ …) → its ASCII digit. Lists item by item."""
    if isinstance(value, str):
        text = unicodedata.normalize("NFKC", value)
        if not text.isascii():
            text = "".join(str(unicodedata.digit(c)) if unicodedata.category(c) == "Nd" else c for c in text)
        return text
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value
