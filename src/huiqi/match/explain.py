"""Plain-Chinese wording of facts and condition outcomes ("从业人数 350 人，超过上限 300 人")."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlglot import exp

from huiqi.profile import FIELDS, industry
from huiqi.rules import Condition, Library
from huiqi.rules.lang import decimal_literal, param_name

_WAN = Decimal(10000)


def yuan(amount: Decimal | None) -> str:
    """Money as a person reads it: 3,500 元, 12.50 万元, 1.20 亿元."""
    if amount is None:
        return "金额待定"
    if abs(amount) >= _WAN * _WAN:
        return f"{_number(amount / (_WAN * _WAN))} 亿元"
    if abs(amount) >= _WAN:
        return f"{_number(amount / _WAN)} 万元"
    return f"{_number(amount)} 元"


def _number(x: Decimal) -> str:
    """Two decimals, or none when they are zero: 300 万元, 1.26 万元."""
    text = f"{x:,.2f}"
    return text[:-3] if text.endswith(".00") else text


def fact(name: str, value: Any, library: Library | None = None) -> str:
    """One fact in words: its label, value and unit."""
    spec = FIELDS.get(name)
    label = spec.label if spec else _variable_label(name, library)
    return f"{label} {value_text(name, value)}"


def value_text(name: str, value: Any) -> str:
    if value is None:
        return "未填写"
    spec = FIELDS.get(name)
    if isinstance(value, list):
        return "、".join(spec.label_of(v) if spec else str(v) for v in value) or "无"
    if name == "industry":
        node = industry.lookup(str(value))
        return f"{value}（{node.name}）" if node else str(value)
    if spec and spec.kind == "money":
        return yuan(Decimal(value))
    if isinstance(value, dt.date):
        return f"{value.year}年{value.month}月{value.day}日"
    if isinstance(value, bool):
        return "是" if value else "否"
    if spec and spec.values:
        return spec.label_of(str(value))
    unit = spec.unit if spec else _VARIABLE_UNITS.get(name, "")
    return f"{value} {unit}".strip()


_VARIABLE_UNITS = {"age_years": "年"}
_SIZE = {"large": "大型", "medium": "中型", "small": "小型", "micro": "微型"}


def _variable_label(name: str, library: Library | None) -> str:
    if library is not None:
        for v in library.variables:
            if v.name == name:
                return v.definition.label
    return name


_OPS: dict[type, tuple[str, str]] = {
    exp.LTE: ("超过上限", "不超过"),
    exp.LT: ("未低于", "低于"),
    exp.GTE: ("低于下限", "达到"),
    exp.GT: ("未超过", "超过"),
}


def reason(
    condition: Condition,
    outcome: bool | None,
    facts: dict[str, Any],
    variables: dict[str, Any],
    params: dict[str, Any],
    library: Library,
) -> str:
    """One line saying why a condition is met, unmet or unknown."""
    assert condition.expr is not None
    if outcome is None:
        unknown = [FIELDS[f].label for f in sorted(condition.fields) if facts.get(f) is None]
        return f"{condition.label}：缺少{'、'.join(unknown) or '相关信息'}，无法判断"
    tree = condition.expr.tree
    if type(tree) in _OPS and isinstance(tree.this, exp.Column):
        name = tree.this.name
        actual = facts.get(name, variables.get(name))
        bound = _constant(tree.expression, params)
        if bound is not None and actual is not None:
            unmet_word, met_word = _OPS[type(tree)]
            subject = fact(name, actual, library)
            limit = value_text(name, bound) if name in FIELDS else str(bound)
            return f"{subject}，{met_word if outcome else unmet_word} {limit}"
    read = [n for n in sorted(condition.fields) if n in facts] + sorted(condition.expr.variables)
    shown = "；".join(fact(n, facts.get(n, variables.get(n)), library) for n in read)
    status = "符合" if outcome else "不符合"
    return f"{condition.label}：{status}" + (f"（{shown}）" if shown else "")


def _constant(node: exp.Expr, params: dict[str, Any]) -> Any:
    if isinstance(node, exp.Literal) and not node.is_string:
        return decimal_literal(node)
    if isinstance(node, exp.Anonymous):
        name = param_name(node)
        return params.get(name) if name else None
    return None


def size_label(value: Any) -> str:
    return _SIZE.get(str(value), str(value))
