"""The calculator's HTML form ⇄ an enterprise profile.

People type money in 万元; the profile holds yuan. The conversion is exact: the text is
parsed as a Decimal and multiplied by 10,000, never through a binary float, and more
precision than a fen (0.000001 万元) is an error rather than silently rounded.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from huiqi.errors import Message
from huiqi.profile import FIELDS, FieldProblem, ProfileError, normalise, parse_profile
from huiqi.profile import industry as gbt4754
from huiqi.profile.regions import SAMPLE_REGIONS

WAN = Decimal(10000)
_FEN = Decimal("0.01")
_CONTEXT = decimal.Context(prec=40)

MONEY_FIELDS = tuple(n for n, s in FIELDS.items() if s.kind == "money")
#: The form's sections and the fields each offers, in order: every profile field, from FIELDS.
FORM_GROUPS: dict[str, tuple[str, ...]] = {}
for _name, _spec in FIELDS.items():
    FORM_GROUPS[_spec.group] = (*FORM_GROUPS.get(_spec.group, ()), _name)
FORM_FIELDS = tuple(name for names in FORM_GROUPS.values() for name in names)
NONE_CERTIFICATIONS = "none"
#: Help under each field, in plain words.
HINTS = {name: spec.hint for name, spec in FIELDS.items()}
#: 所在地区 is chosen from a list of districts here, not typed as a code.
HINTS["region"] = "企业注册所在的区（临江市为演示虚构的城市）。"


def wan_to_yuan(text: str) -> Decimal:
    """``"35.5"`` (万元) → ``Decimal("355000.00")`` (元), exactly; ValueError in words."""
    t = text.strip().replace(",", "").replace("，", "").replace(" ", "")
    for suffix in ("万元", "万"):
        t = t.removesuffix(suffix)
    try:
        value = Decimal(t)
    except InvalidOperation:
        raise ValueError("请填写数字（单位：万元），如 1200 或 35.5 / expected a number in 万元") from None
    if not value.is_finite():
        raise ValueError("请填写有限的数字（单位：万元） / expected a finite number")
    if value < 0:
        raise ValueError("不能为负数 / must not be negative")
    if value != 0 and value.adjusted() > 11:
        raise ValueError("数值过大 / too large")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -6:
        raise ValueError("最多精确到分（万元后最多6位小数） / at most 6 decimal places in 万元 (one fen)")
    with decimal.localcontext(_CONTEXT):
        return (value * WAN).quantize(_FEN)


def yuan_to_wan(value: Any) -> str:
    """``"355000.00"`` (元) → ``"35.5"`` (万元), exact, without trailing zeros."""
    with decimal.localcontext(_CONTEXT):
        wan = Decimal(str(value)) / WAN
    text = format(wan, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def resolve_industry(text: str) -> str:
    """A code (``C3911``), ``"C3911 计算机整机制造"`` (the picker's text) or an exact name."""
    t = text.strip()
    token = t.split()[0].upper() if t.split() else ""
    if gbt4754.CODE_PATTERN.match(token):
        return token
    exact = sorted((i for i in gbt4754.industries().values() if i.name == t), key=lambda i: -i.level)
    # A name may repeat down one branch (H621 and H6210 are both 正餐服务): take the finest.
    if exact and all(exact[0].code.startswith(i.code) for i in exact):
        return exact[0].code
    hits = gbt4754.search(t, 4)
    if hits:
        examples = "、".join(f"{i.code}（{i.name}）" for i in hits)
        raise ValueError(
            f"请从列表中选一个行业，或直接填代码，例如：{examples} / choose one industry code, e.g. {hits[0].code}"
        )
    raise ValueError(f"找不到名称含“{t[:20]}”的行业，请换个说法或填代码 / no GB/T 4754 industry matches {t[:20]!r}")


def message_zh(error: Exception) -> str:
    """The Chinese half of an error's bilingual message (for the pages)."""
    message = getattr(error, "message", None)
    return message.zh if isinstance(message, Message) else Message.parse(str(error)).zh


def resolve_region(text: str) -> str:
    """The district chosen from the list (its code), or typed as a name or a code.

    Full-width digits are read as digits (NFKC); a code of another place is kept as it is
    (a national policy may still apply), anything else is refused with the list.
    """
    t = str(normalise(text)).strip()
    token = t.split()[0] if t.split() else ""
    if len(token) == 6 and token.isascii() and token.isdigit():
        return token
    for code, name in SAMPLE_REGIONS.items():
        if t in (name, f"临江市{name}") and not code.endswith("00"):
            return code
    names = "、".join(name for code, name in SAMPLE_REGIONS.items() if not code.endswith("00"))
    raise ValueError(f"请从列表中选择所在地区：{names} / choose a district from the list")


@dataclass
class FormState:
    """What the person typed (to show again) and the profile built from it."""

    values: dict[str, str] = field(default_factory=dict)  # field → text as typed
    certifications: list[str] = field(default_factory=list)
    certifications_none: bool = False
    as_of: str = ""
    errors: dict[str, str] = field(default_factory=dict)  # field → message (Chinese)
    profile: dict[str, Any] | None = None  # valid profile, once there are no errors
    as_of_date: dt.date | None = None

    @property
    def filled(self) -> bool:
        return bool(self.values or self.certifications or self.certifications_none)


def _one(form: Mapping[str, Any], name: str) -> str:
    """The last non-empty value given for ``name`` (a missing-fact prompt may repeat a field)."""
    getlist = getattr(form, "getlist", None)
    values = getlist(name) if getlist else [form.get(name)]
    texts = [str(v).strip() for v in values if isinstance(v, str) and v.strip()]
    return texts[-1][:500] if texts else ""


def parse_form(form: Mapping[str, Any]) -> FormState:
    state = FormState()
    raw: dict[str, Any] = {}
    for name in FORM_FIELDS:
        if name == "certifications":
            continue
        text = _one(form, name)
        if not text:
            continue
        state.values[name] = text
        try:
            if name in MONEY_FIELDS:
                raw[name] = str(wan_to_yuan(text))
            elif name == "industry":
                code = raw[name] = resolve_industry(text)
                found = gbt4754.lookup(code)
                if found is not None:
                    state.values[name] = f"{found.code} {found.name}"
            elif name == "region":
                raw[name] = resolve_region(text)
            elif FIELDS[name].kind == "integer":
                raw[name] = text.replace(",", "").replace("，", "").removesuffix(FIELDS[name].unit).strip()
            else:
                raw[name] = text
        except ValueError as e:
            state.errors[name] = message_zh(e)
    getlist = getattr(form, "getlist", None)
    certs = getlist("certifications") if getlist else form.get("certifications") or []
    state.certifications = [c for c in certs if isinstance(c, str) and c in FIELDS["certifications"].values]
    state.certifications_none = bool(_one(form, "certifications_none"))
    if state.certifications:
        raw["certifications"] = state.certifications
    elif state.certifications_none:
        raw["certifications"] = []
    state.as_of = _one(form, "as_of")
    if state.as_of:
        try:
            day = dt.date.fromisoformat(state.as_of)
        except ValueError:
            state.errors["as_of"] = "应为日期，格式 YYYY-MM-DD"
        else:
            if not dt.date(2000, 1, 1) <= day <= dt.date(2100, 12, 31):
                state.errors["as_of"] = "评估日期应在 2000-01-01 至 2100-12-31 之间"
            else:
                state.as_of_date = day
    if not raw and not state.errors:
        state.errors[""] = "请至少填写一项企业信息"
        return state
    try:
        parse_profile(raw)
    except ProfileError as e:
        for p in e.problems:
            top = p.field.split(".")[0]
            state.errors.setdefault(top, _message(p))
    if not state.errors:
        state.profile = raw
    return state


def _message(p: FieldProblem) -> str:
    return p.message_zh or p.message_en


def state_from_profile(profile: Mapping[str, Any], as_of: str = "") -> FormState:
    """The form showing a profile (money back in 万元), e.g. from an example file."""
    state = FormState(as_of=as_of)
    for name in FORM_FIELDS:
        value = profile.get(name)
        if value is None:
            continue
        if name == "certifications":
            state.certifications = [str(c) for c in value]
            state.certifications_none = not value
        elif name in MONEY_FIELDS:
            state.values[name] = yuan_to_wan(value)
        else:
            state.values[name] = str(value)
    return state
