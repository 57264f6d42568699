"""Plain-Chinese wording of facts and condition outcomes ("从业人数 350 人，超过上限 300 人")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from huiqi.profile import FIELDS, industry, regions

if TYPE_CHECKING:  # the wording below runs without sqlglot (huiqi.match.lean); plans need it
    from sqlglot import exp

    from huiqi.rules import Condition, Library

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


def jsonable(value: Any) -> Any:
    """A value as the answer's JSON holds it."""
    if isinstance(value, Decimal):
        return str(value)  # exact: money and rates stay decimal strings
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def totals_json(
    counts: dict[str, int], conditional: int, by_unit: dict[str, Decimal], conditional_by_unit: dict[str, Decimal]
) -> dict[str, Any]:
    """The answer's ``totals``: counts per verdict (可享受 without the conditional ones), and the
    eligible amounts per benefit unit, the conditional ones apart and not in the total."""
    return {
        **counts,
        "conditional": conditional,
        "eligible_amount": str(sum(by_unit.values(), Decimal("0.00"))),
        "eligible_amount_by_unit": {unit: str(total) for unit, total in sorted(by_unit.items())},
        "conditional_amount_by_unit": {unit: str(total) for unit, total in sorted(conditional_by_unit.items())},
    }


def value_text(name: str, value: Any) -> str:
    if value is None:
        return "未填写"
    if isinstance(value, tuple):  # the values a derived variable may still take
        return "或".join(value_text(name, v) for v in value)
    if name == "size_class":
        return _SIZE.get(str(value), str(value))
    spec = FIELDS.get(name)
    if isinstance(value, list):
        return "、".join(spec.label_of(v) if spec else str(v) for v in value) or "无"
    if name == "region":
        place = regions.region_name(str(value))
        return f"{value}（{place}）" if place else str(value)
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


@cache
def _ops() -> dict[type[exp.Expr], tuple[str, str]]:
    from sqlglot import exp

    return {
        exp.LTE: ("超过上限", "不超过"),
        exp.LT: ("未低于", "低于"),
        exp.GTE: ("低于下限", "达到"),
        exp.GT: ("未超过", "超过"),
    }


@dataclass(frozen=True, slots=True)
class _Plan:
    """What a condition's reason needs, worked out once per condition (not per enterprise)."""

    fields: tuple[str, ...]  # the profile fields it reads, through variables too
    shown: tuple[tuple[str, str, bool], ...]  # (name, label, is a profile field) of what it reads directly
    parameters: tuple[str, ...]
    compared: str | None = None  # `name OP bound` conditions get a sentence of their own
    words: tuple[str, str] = ("", "")
    literal: Decimal | None = None
    parameter: str | None = None
    limit: str | None = None  # the literal bound worded, once


#: Per library, its conditions' plans by ``id(condition)``: the conditions live exactly as
#: long as their library, so an id cannot be recycled while the entry exists, and a
#: library's plans go when the library does (a server rebuilds it on every publish).
_PLANS: WeakKeyDictionary[Library, dict[int, _Plan]] = WeakKeyDictionary()


def _plan(condition: Condition, library: Library) -> _Plan:
    assert condition.expr is not None
    plans = _PLANS.get(library)
    if plans is None:
        plans = _PLANS[library] = {}
    plan = plans.get(id(condition))
    if plan is None:
        from sqlglot import exp

        from huiqi.rules.lang import decimal_literal, param_name

        _OPS = _ops()
        labels = {v.name: v.definition.label for v in library.variables}
        direct = sorted(condition.expr.fields)
        shown = tuple((n, FIELDS[n].label, True) for n in direct) + tuple(
            (n, labels.get(n, n), False) for n in sorted(condition.expr.variables)
        )
        tree = condition.expr.tree
        extra: dict[str, Any] = {}
        if type(tree) in _OPS and isinstance(tree.this, exp.Column):
            bound = tree.expression
            if isinstance(bound, exp.Literal) and not bound.is_string:
                extra = {"literal": decimal_literal(bound)}
            elif isinstance(bound, exp.Anonymous) and param_name(bound):
                extra = {"parameter": param_name(bound)}
            if extra:
                name = tree.this.name
                extra |= {"compared": name, "words": _OPS[type(tree)]}
                if "literal" in extra:
                    extra["limit"] = _limit_text(name, extra["literal"])
        plan = _Plan(tuple(sorted(condition.fields)), shown, tuple(sorted(condition.expr.parameters)), **extra)
        plans[id(condition)] = plan
    return plan


def _limit_text(name: str, bound: Any) -> str:
    return value_text(name, bound) if name in FIELDS else str(bound)


def trace(
    condition: Condition,
    outcome: bool | None,
    facts: dict[str, Any],
    variables: dict[str, Any],
    params: dict[str, Any],
    library: Library,
    missing: tuple[str, ...] = (),
) -> tuple[dict[str, Any], str]:
    """The values a condition read and the reason, in one pass (its label worded with the
    parameter values of ``params``)."""
    return Explainer(library, facts, variables, params)(condition, outcome, missing, condition.text(params))


class Explainer:
    """``trace`` for one enterprise on one date, set up once: the answer's hot path calls it
    for every distinct condition, and words each value once (the same revenue is compared
    by dozens of conditions)."""

    __slots__ = ("facts", "library", "params", "plans", "texts", "variables")

    def __init__(self, library: Library, facts: dict[str, Any], variables: dict[str, Any], params: dict[str, Any]):
        plans = _PLANS.get(library)
        if plans is None:
            plans = _PLANS[library] = {}
        self.plans = plans
        self.library = library
        self.facts = facts
        self.variables = variables
        self.params = params
        self.texts: dict[tuple[str, Any], str] = {}

    def word(self, name: str, value: Any) -> str:
        key = (name, tuple(value) if isinstance(value, list) else value)
        text = self.texts.get(key)
        if text is None:
            text = self.texts[key] = value_text(name, value)
        return text

    def __call__(
        self, condition: Condition, outcome: bool | None, missing: tuple[str, ...] = (), label: str | None = None
    ) -> tuple[dict[str, Any], str]:
        """``label``: the condition's label as of the answer's date (slots filled); by default
        worded from this explainer's parameters."""
        plan = self.plans.get(id(condition)) or _plan(condition, self.library)
        facts, variables, params = self.facts, self.variables, self.params
        values = {name: facts[name] if is_field else variable(variables, name) for name, _, is_field in plan.shown}
        for name in plan.parameters:
            values[name] = params.get(name)
        if label is None:
            label = condition.text(params)
        return values, _reason(plan, label, outcome, facts, variables, params, missing, self.word)


class _Hole:
    """A value not known yet, worded as a mark where it will go (see ``reason_template``)."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name


def reason_template(
    condition: Condition,
    outcome: bool | None,
    label: str,
    params: dict[str, Any],
    library: Library,
    missing: frozenset[str] = frozenset(),
    absent: frozenset[str] = frozenset(),
) -> tuple[str, ...]:
    """The reason for a condition with its values left out: plain parts and the names whose
    worded values go between them, alternately (``parts[1::2]`` are names).

    Worded by ``_reason`` itself with holes for the values, so a filled template is exactly
    what ``trace`` says for any enterprise whose values leave the sentence in this shape.
    A met or unmet one: every value it shows is known or not, which the caller checks for
    ``compared`` plans (an unknown value there has another sentence). An unknown one: the
    policy's ``missing`` facts it reads and its facts that are ``absent`` decide the shape."""
    plan = _plan(condition, library)
    holes: dict[str, Any] = {name: _Hole(name) for name, _, _ in plan.shown}
    facts = holes
    if outcome is None:
        facts = {f: None if f in absent else _Hole(f) for f in plan.fields}

    def word(name: str, value: Any) -> str:
        return f"\0{name}\0" if isinstance(value, _Hole) else value_text(name, value)

    text = _reason(plan, label, outcome, facts, holes, params, tuple(missing), word)
    parts = tuple(text.split("\0"))
    assert all(part in holes or part in facts for part in parts[1::2]), text  # no policy text holds NUL
    return parts


def compared_name(condition: Condition, library: Library) -> str | None:
    """The value a ``name OP bound`` condition words in a sentence of its own while it is known."""
    return _plan(condition, library).compared


def shown_names(condition: Condition, library: Library) -> tuple[tuple[str, bool], ...]:
    """The facts and variables a condition's values show, in order, each with whether it is a
    profile field (a variable shows the values it may still take when it is not decided)."""
    return tuple((name, is_field) for name, _, is_field in _plan(condition, library).shown)


def parameters_read(condition: Condition, library: Library) -> tuple[str, ...]:
    """The parameters a condition's values show, after its facts and variables."""
    return _plan(condition, library).parameters


def _reason(
    plan: _Plan,
    label_text: str,
    outcome: bool | None,
    facts: dict[str, Any],
    variables: dict[str, Any],
    params: dict[str, Any],
    missing: tuple[str, ...],
    word: Any = value_text,
) -> str:
    if outcome is None:
        deciding = [f for f in plan.fields if f in missing] or [f for f in plan.fields if facts.get(f) is None]
        absent = [FIELDS[f].label for f in deciding if facts.get(f) is None]
        # A fact that is given but too coarse to decide (行业只写到门类 C): say so, do not call it missing.
        vague = [f"{FIELDS[f].label} {word(f, facts[f])} 不够具体" for f in deciding if facts.get(f) is not None]
        parts = ([f"缺少{'、'.join(absent)}"] if absent else []) + vague
        return f"{label_text}：{'，'.join(parts) or '缺少相关信息'}，无法判断"
    if plan.compared is not None:
        name = plan.compared
        actual = facts[name] if name in facts else variables.get(name)
        bound = plan.literal if plan.parameter is None else params.get(plan.parameter)
        if bound is not None and actual is not None:
            unmet_word, met_word = plan.words
            label = plan.shown[0][1] if plan.shown else name
            limit = plan.limit if plan.limit is not None else (word(name, bound) if name in FIELDS else str(bound))
            return f"{label} {word(name, actual)}，{met_word if outcome else unmet_word} {limit}"
    shown = "；".join(
        f"{label} {word(name, facts[name] if is_field else variable(variables, name))}"
        for name, label, is_field in plan.shown
    )
    status = "符合" if outcome else "不符合"
    return f"{label_text}：{status}" + (f"（{shown}）" if shown else "")


def variable(variables: dict[str, Any], name: str) -> Any:
    """A variable's value, or the values it may still take (a tuple) when it is not decided."""
    value = variables.get(name)
    if value is None:
        return getattr(variables, "possible", {}).get(name)
    return value


def size_label(value: Any) -> str:
    return _SIZE.get(str(value), str(value))
