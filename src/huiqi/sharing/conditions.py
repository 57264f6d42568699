"""可用不可见: a consumer sends a condition, the provider evaluates it on its own data and
answers only met / unmet / unknown — never the value.

The condition is an expression of the policy library's rule language, parsed and
type-checked by the same front end (``huiqi.rules.lang``) against the profile schema, the
library's derived variables and parameters, and the register's own facts (those that are
not profile fields, such as ``all_food_handlers_certified``). It may read only the fields
the Service Declaration offers for conditions; anything else is refused, naming the field.
It is compiled by the calculator's Python generator (``huiqi.rules.pygen``), so unknown
facts give unknown exactly as in the calculator (SQL three-valued logic): a missing
taxable income makes ``taxable_income <= 3000000`` unknown, never met.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP
from typing import Any, Literal

from huiqi.errors import Message
from huiqi.profile import FIELDS
from huiqi.rules import Library, lang, pygen
from huiqi.rules.lang import BOOLEAN, ExprError, Scope, Symbol
from huiqi.rules.types import DATE, LIST, NUMBER, STRING
from huiqi.sharing.errors import BadRequest
from huiqi.sharing.registers import Register

Outcome = Literal["met", "unmet", "unknown"]
_KIND_TYPE = {"string": STRING, "integer": NUMBER, "money": NUMBER, "date": DATE, "list": LIST, "boolean": BOOLEAN}
_CONTEXT = decimal.Context(prec=50, rounding=ROUND_HALF_UP)
MAX_LENGTH = 2000


def outcome(value: bool | None) -> Outcome:
    return "unknown" if value is None else ("met" if value else "unmet")


@dataclass(frozen=True)
class Condition:
    """A checked, compiled condition for one register."""

    text: str
    reads: frozenset[str]  # register fields it reads, through derived variables too
    parameters: frozenset[str]
    evaluate: Callable[[Mapping[str, Any], dt.date], bool | None]


def scope_for(register: type[Register], library: Library) -> Scope:
    """Names a condition sent to ``register`` may use: profile fields, the library's variables
    and parameters, and the register's own facts."""
    variables: dict[str, Symbol] = {}
    for v in library.variables:
        values = tuple(v.definition.values) or v.expr.values
        variables[v.name] = Symbol(v.expr.type, values)
    for name, f in register.fields.items():
        if name not in FIELDS:
            variables[name] = Symbol(_KIND_TYPE[f.kind])
    return Scope(variables=variables, parameters={n: p.symbol for n, p in library.parameters.items()})


def compile_condition(
    text: str, register: type[Register], allowed: Iterable[str], library: Library, *, field: str = "condition"
) -> Condition:
    """Parse, type-check and compile ``text`` for ``register``; refuse it naming what is wrong.

    ``allowed``: the fields the Service Declaration offers for conditions.
    """
    if not isinstance(text, str) or not text.strip():
        raise BadRequest("bad_condition", Message("条件不能为空", "the condition is empty"), field=field)
    if len(text) > MAX_LENGTH:
        raise BadRequest(
            "bad_condition",
            Message(f"条件超过 {MAX_LENGTH} 个字符", f"condition longer than {MAX_LENGTH}"),
            field=field,
        )
    try:
        expr = lang.check(text, scope_for(register, library), expect=BOOLEAN)
    except ExprError as e:
        raise BadRequest("bad_condition", Message.of(str(e)), field=field) from None
    variables = {v.name: v for v in library.variables}
    own_facts = {n for n in register.fields if n not in FIELDS}
    facts = set(expr.fields) | (set(expr.variables) & own_facts)
    used_vars: list[str] = []

    def visit(name: str) -> None:
        if name in used_vars or name not in variables:
            return
        v = variables[name]
        for dep in v.expr.variables:
            visit(dep)
        used_vars.append(name)
        facts.update(v.fields)

    for name in sorted(expr.variables - own_facts):
        visit(name)
    allowed_set = set(allowed)
    outside = sorted(facts - allowed_set)
    if outside:
        labels = "、".join(FIELDS[n].label if n in FIELDS else n for n in outside)
        raise BadRequest(
            "field_not_offered",
            Message(
                f"{register.title}不提供对 {labels}（{', '.join(outside)}）的条件查询",
                f"{register.service} offers no conditions over {', '.join(outside)}",
            ),
            field=field,
        )
    # One generated function: the derived variables it needs (in library order), then the condition.
    order = [v.name for v in library.variables if v.name in used_vars]
    module = pygen.Module()
    field_bits = {n: 1 << i for i, n in enumerate(FIELDS)}
    em = pygen.Emitter(module, field_bits, explain=False)
    for name in order:
        value, deps = em.emit(variables[name].expr.tree)
        em.variable_atoms[name] = (value, deps)
    result, _ = em.emit(expr.tree)
    body = [f"    {line}" for line in em.body()]
    module.functions.append("\n".join(["def condition(f, v, P, as_of):", *body, f"    return {result}"]))
    fn = module.compile(filename="<huiqi condition>")["condition"]
    profile_facts = [n for n in FIELDS]
    params_of = library.params_at

    def evaluate(values: Mapping[str, Any], as_of: dt.date) -> bool | None:
        f = {name: values.get(name) for name in profile_facts}
        v = {name: values.get(name) for name in own_facts}
        with decimal.localcontext(_CONTEXT):
            answer = fn(f, v, params_of(as_of), as_of)
        return None if answer is None else bool(answer)

    return Condition(text, frozenset(facts), frozenset(expr.parameters), evaluate)
