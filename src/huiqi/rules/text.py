"""Policy texts that quote numbers: rendered from the parameters in force, checked by lint.

A condition label, a summary or a benefit explanation that quotes a threshold cannot be
plain text: when an officer lowers the threshold, plain text goes on quoting the old one
("上年营业收入在1000万元至1亿元之间：符合（上年营业收入 200 万元）"). Such a number is a
*slot* that names the parameter and how to word it::

    上年营业收入在{param:lj.sci.software-growth-award.min_revenue|万元}至{param:…max_revenue|亿元}之间

and is filled with the value in force on the answer's ``as_of``. The syntax is deliberately
tiny — a parameter name and one format from :data:`FORMATS` — so a text can only ever show
a parameter's value worded in a fixed way: no expressions, no attribute access, no code.

:func:`stray_numbers` is lint's side: a number written as plain text must be one that is
not a threshold (a year, a date, a 文号, an article, a code, a phone number) or a literal
of the rule the text describes (``age_years < 3`` may be worded 成立不满3年); anything else
is refused, and a plain number equal to a parameter's value is told to become a slot.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from huiqi.errors import HuiqiError, Message

if TYPE_CHECKING:  # lint's side reads expressions; answers render texts without sqlglot
    from sqlglot import exp

_SLOT = re.compile(r"\{param:([A-Za-z0-9_.\-]+)(?:\|([^{}]*))?\}")


@dataclass(frozen=True)
class Format:
    """How a slot words a value: divided by ``scale``, followed by ``suffix``."""

    scale: Decimal
    suffix: str
    units: tuple[str, ...]  # the parameter units it may word ("*": any number)


_MONEY = ("元", "元/人", "元/人·月", "元/平方米·月", "元/年")
#: The only formats a slot may use (``{param:name|万元}``); "" words the bare number.
FORMATS: dict[str, Format] = {
    "": Format(Decimal(1), "", ("*",)),
    "元": Format(Decimal(1), "元", _MONEY),
    "万元": Format(Decimal(10000), "万元", _MONEY),
    "亿元": Format(Decimal(100000000), "亿元", _MONEY),
    "%": Format(Decimal("0.01"), "%", ("", "%")),
    "‰": Format(Decimal("0.001"), "‰", ("", "%")),
    "人": Format(Decimal(1), "人", ("人",)),
    "名": Format(Decimal(1), "名", ("人",)),
    "年": Format(Decimal(1), "年", ("年",)),
    "个月": Format(Decimal(1), "个月", ("月", "个月")),
    "天": Format(Decimal(1), "天", ("天",)),
    "平方米": Format(Decimal(1), "平方米", ("平方米",)),
    "倍": Format(Decimal(1), "倍", ("", "倍")),
    "日期": Format(Decimal(1), "", ("date",)),
}


class TextError(HuiqiError):
    """A text with a malformed slot; ``name`` is the parameter or format at fault."""

    def __init__(self, zh: str, en: str, name: str | None = None):
        self.name = name
        super().__init__(Message(zh, en))


@dataclass(frozen=True)
class Slot:
    parameter: str
    format: str


@dataclass(frozen=True)
class Template:
    """A text split into plain parts and slots, parsed once when the library loads."""

    source: str
    parts: tuple[str | Slot, ...]

    @property
    def parameters(self) -> frozenset[str]:
        return frozenset(p.parameter for p in self.parts if isinstance(p, Slot))

    @property
    def plain(self) -> str:
        """The text outside the slots (what lint scans for stray numbers)."""
        return "\u2060".join(p for p in self.parts if isinstance(p, str))

    def render(self, params: Mapping[str, Any]) -> str:
        if len(self.parts) == 1 and isinstance(self.parts[0], str):
            return self.parts[0]
        return "".join(p if isinstance(p, str) else word(params.get(p.parameter), p.format) for p in self.parts)


def parse(text: str) -> Template:
    """Split ``text`` into parts; a brace that does not open a well-formed slot, or an
    unknown format, is an error (so a typo never shows braces to the public)."""
    parts: list[str | Slot] = []
    at = 0
    for m in _SLOT.finditer(text):
        parts.append(text[at : m.start()])
        fmt = (m.group(2) or "").strip()
        if fmt not in FORMATS:
            known = "、".join(f"“{f}”" for f in FORMATS if f)
            raise TextError(
                f"{m.group(0)}：未知的格式 “{fmt}”（可用：{known}，或不写）",
                f"{m.group(0)}: unknown format {fmt!r}",
                name=fmt,
            )
        parts.append(Slot(m.group(1), fmt))
        at = m.end()
    parts.append(text[at:])
    for part in parts:
        if isinstance(part, str) and ("{" in part or "}" in part):
            raise TextError(
                f"文字中的花括号只能写成 {{param:参数名|格式}}：{part.strip()[:40]}",
                "braces in a text must be a slot {param:name|format}",
            )
    return Template(text, tuple(p for p in parts if p != ""))


def check_slot(slot: Slot, value: Any, unit: str) -> str | None:
    """Why ``slot`` cannot word a parameter of this value and unit (None when it can)."""
    allowed = FORMATS[slot.format].units
    if isinstance(value, dt.date):
        return None if "date" in allowed else "日期参数只能用 “日期” 格式 / a date parameter needs the 日期 format"
    if not isinstance(value, Decimal):
        return f"参数 {slot.parameter} 不是数值 / parameter {slot.parameter} is not a number"
    if "*" in allowed or unit in allowed:
        return None
    return (
        f"参数 {slot.parameter} 的单位是 “{unit or '无'}”，不能写成 “{slot.format}” / "
        f"unit {unit!r} cannot be worded as {slot.format!r}"
    )


def word(value: Any, fmt: str) -> str:
    """A parameter's value worded by a slot format: 10000000 with 万元 → 1000万元."""
    if value is None:
        return "（暂无规定）"
    if isinstance(value, dt.date):
        return f"{value.year}年{value.month}月{value.day}日"
    if not isinstance(value, Decimal):
        return str(value)
    f = FORMATS[fmt]
    return plain_number(value / f.scale) + f.suffix


def plain_number(x: Decimal) -> str:
    """No exponent, no trailing zeros: 1000, 0.5, 1.25."""
    text = format(x.normalize(), "f")
    return text


# --- lint: numbers written as plain text ---------------------------------------------------------
#: Numbers that are not thresholds: removed before the text is scanned. Order matters (a
#: date before a year, a 文号 before a bare number). A pattern, compiled by ``re`` on first use
#: (lint's; answers, which render texts only, do not pay for it).
_NOT_THRESHOLDS = "|".join(
    [
        r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?",  # dates: 2023-01-01, 2023年1月1日
        r"\d{4}\s*年\s*\d{1,2}\s*月",  # 2023年1月
        r"\d{1,2}\s*月\s*\d{1,2}\s*日",  # 5月31日
        r"(?<![\d.])(?:1[0-2]|0?[1-9])\s*月(?!份?\s*销售)",  # 4月至12月 (not 3个月: 个 comes between)
        r"〔\s*\d{4}\s*〕\s*\d+\s*号?",  # 文号: 〔2019〕13号
        r"[\[【(（]\s*\d{4}\s*[\]】)）]\s*\d+\s*号",  # 文号 with other brackets
        r"第\s*\d+\s*(?:号|条|款|项|章|节|批|届|期)",  # 第10号, 第二十三条 in digits
        r"\d+\s*号",  # 2023年第12号's tail, 1号文件
        r"(?:19|20)\d{2}\s*[—–\-~～至到]\s*(?:19|20)\d{2}",  # year ranges: 2019—2021年
        r"(?:19|20)\d{2}(?=\s*(?:年|〕|\]|版|）|\)|$))",  # years: 2020年以后, (2017)
        r"(?:GB|GB/T|ISO|GB/T\s)\s*\d+(?:[-.]\d+)*",  # standards: GB/T 4754-2017
        r"[A-Za-z]+\d+[A-Za-z0-9]*",  # codes: C3911, I65, H62
        r"\d{3,4}-\d{7,8}",  # phone numbers
        r"\d{5,}(?=\s*(?:热线|服务热线))",  # 12366 热线
    ]
)
_NUMBER = re.compile(r"(\d+(?:\.\d+)?)\s*(亿|万|千|%|％|‰)?")
_SCALE = {
    "亿": Decimal(100000000),
    "万": Decimal(10000),
    "千": Decimal(1000),
    "%": Decimal("0.01"),
    "‰": Decimal("0.001"),
}


def numbers_in(text: str) -> list[tuple[str, Decimal]]:
    """The numbers a text quotes as plain text, with their value (300万元 → 3000000, 5% → 0.05),
    leaving out those that are not thresholds (years, dates, 文号, articles, codes, phones)."""
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(_NOT_THRESHOLDS, " ", text)
    out = []
    for m in _NUMBER.finditer(text):
        scale = _SCALE.get((m.group(2) or "").replace("％", "%"), Decimal(1))
        out.append((m.group(0).strip(), Decimal(m.group(1)) * scale))
    return out


def literals(trees: Iterable[exp.Expr]) -> set[Decimal]:
    """The numeric literals of rule expressions: what a text may quote without a slot."""
    from sqlglot import exp

    out: set[Decimal] = set()
    for tree in trees:
        for node in tree.find_all(exp.Literal):
            if not node.is_string:
                out.add(Decimal(str(node.this)))
    return out


def stray_numbers(
    template: Template, allowed: set[Decimal], parameter_values: Mapping[Decimal, str]
) -> list[tuple[str, str | None]]:
    """Numbers of ``template``'s plain text that match no literal of its rule: (the number as
    written, the parameter whose value it is, if any — it should then be a slot)."""
    out = []
    for written, value in numbers_in(template.plain):
        if value in allowed:
            continue
        out.append((written, parameter_values.get(value.normalize())))
    return out
