"""The rule language's own functions, declared once.

Modelled on sqlglot's ``Generator.TRANSFORMS``: one row per function gives its argument
and result types (read by the type-checker and the hypothesis grammar), the Python
helper the generated evaluator calls, and the builder of its portable SQL. A function
missing from :data:`RULE_FUNCTIONS` is an error in every one of them; nothing falls
back to a default.

Every function is *null-safe*: unknown when any argument is unknown (the generators
add that test), and may itself answer unknown (``within`` does, for a code that is
coarser than the class asked about).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from huiqi.rules.runtime import either, months_between, within, years_between
from huiqi.rules.types import BOOLEAN, DATE, NUMBER, SAME, STRING


@dataclass(frozen=True)
class RuleFunction:
    name: str
    args: tuple[str, ...]  # argument types (NUMBER, STRING, DATE, …, or SAME)
    result: str
    zh: str  # what it means, for docs/policy-format.md and error messages
    python: Callable[..., Any]  # the implementation the generated evaluator calls
    runtime: str  # the name it has in the generated code's namespace
    sql: Callable[..., exp.Expr]  # (translated SQL arguments) → SQL
    literal_args: tuple[int, ...] = ()  # positions that must be string literals


# --- Python: in huiqi.rules.runtime (the generated code calls them without sqlglot) ---------


# --- SQL ---------------------------------------------------------------------------------
def _years_between_sql(a: exp.Expr, b: exp.Expr) -> exp.Expr:
    earlier_in_year = exp.or_(
        exp.LT(this=exp.Month(this=b.copy()), expression=exp.Month(this=a.copy())),
        exp.and_(
            exp.EQ(this=exp.Month(this=b.copy()), expression=exp.Month(this=a.copy())),
            exp.LT(this=exp.Day(this=b.copy()), expression=exp.Day(this=a.copy())),
        ),
    )
    borrow = exp.Case(ifs=[exp.If(this=earlier_in_year, true=exp.Literal.number(1))], default=exp.Literal.number(0))
    years = exp.Sub(this=exp.Year(this=b.copy()), expression=exp.Year(this=a.copy()))
    return exp.Paren(this=exp.Sub(this=years, expression=borrow))


def _months_between_sql(a: exp.Expr, b: exp.Expr) -> exp.Expr:
    months = exp.Add(
        this=exp.Mul(
            this=exp.Paren(this=exp.Sub(this=exp.Year(this=b.copy()), expression=exp.Year(this=a.copy()))),
            expression=exp.Literal.number(12),
        ),
        expression=exp.Sub(this=exp.Month(this=b.copy()), expression=exp.Month(this=a.copy())),
    )
    borrow = exp.Case(
        ifs=[
            exp.If(
                this=exp.LT(this=exp.Day(this=b.copy()), expression=exp.Day(this=a.copy())),
                true=exp.Literal.number(1),
            )
        ],
        default=exp.Literal.number(0),
    )
    return exp.Paren(this=exp.Sub(this=months, expression=borrow))


def _within_sql(code: exp.Expr, prefix: exp.Expr) -> exp.Expr:
    # prefix is a string literal (checked): code LIKE 'C16%' → TRUE; 'C16' LIKE code || '%' → unknown.
    text = str(prefix.this)
    inside = exp.Like(this=code.copy(), expression=exp.Literal.string(text + "%"))
    coarser = exp.Like(
        this=exp.Literal.string(text), expression=exp.DPipe(this=code.copy(), expression=exp.Literal.string("%"))
    )
    unknown = exp.Is(this=code.copy(), expression=exp.null())
    return exp.Case(
        ifs=[
            exp.If(this=unknown, true=exp.null()),
            exp.If(this=inside, true=exp.true()),
            exp.If(this=coarser, true=exp.null()),
        ],
        default=exp.false(),
    )


def _either_sql(a: exp.Expr, b: exp.Expr) -> exp.Expr:
    return exp.Case(ifs=[exp.If(this=exp.EQ(this=a.copy(), expression=b.copy()), true=a.copy())])


RULE_FUNCTIONS: dict[str, RuleFunction] = {
    f.name: f
    for f in (
        RuleFunction(
            "years_between",
            (DATE, DATE),
            NUMBER,
            "两个日期之间的整年数（未到周年日不算）",
            years_between,
            "_ybt",
            _years_between_sql,
        ),
        RuleFunction(
            "months_between",
            (DATE, DATE),
            NUMBER,
            "两个日期之间的整月数（未到当月对应日不算）",
            months_between,
            "_mbt",
            _months_between_sql,
        ),
        RuleFunction(
            "within",
            (STRING, STRING),
            BOOLEAN,
            "行业代码是否属于某一类；代码只写到更粗一级（如只写门类 C）时无法判断",
            within,
            "_within",
            _within_sql,
            literal_args=(1,),
        ),
        RuleFunction(
            "either",
            (SAME, SAME),
            SAME,
            "两种可能之一、不知道是哪一种：两者相同时才确定（枚举值取两者的可能值之并）",
            either,
            "_either",
            _either_sql,
        ),
    )
}


def function_name(node: exp.Expr) -> str | None:
    """The rule function a node calls (sqlglot reads some, e.g. months_between, as its own class)."""
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    if isinstance(node, exp.Func) and not isinstance(node, exp.Anonymous):
        name = node.sql_name().lower()
        return name if name in RULE_FUNCTIONS else None
    return None


def normalise_calls(tree: exp.Expr) -> exp.Expr:
    """Rewrite sqlglot's own classes for our functions (``MonthsBetween``) as plain calls,
    so every backend sees one shape: ``Anonymous(this=name, expressions=[…])``."""

    def visit(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Func) and not isinstance(node, exp.Anonymous):
            name = node.sql_name().lower()
            if name in RULE_FUNCTIONS:
                args = [v for k in type(node).arg_types if isinstance(v := node.args.get(k), exp.Expr)]
                return exp.Anonymous(this=name, expressions=args)
        return node

    return tree.transform(visit, copy=False)
