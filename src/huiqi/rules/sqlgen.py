"""Compile checked rule expressions to SQL (DuckDB dialect; sqlglot transpiles to Spark).

The same checked sqlglot tree the Python generator reads is rebuilt here into plain
SQL: parameters become literals for the ``as_of`` date, our functions become portable
SQL, and every place where SQL engines disagree with the rule language is made
explicit:

* multiplication and division round to 6 decimal places (``CAST … AS DECIMAL(38,6)``),
  as the Python backend does, so both give the same cents;
* ``LEAST``/``GREATEST`` are unknown when any argument is unknown (DuckDB and Spark
  skip NULLs, which would turn a missing fact into a silent cap);
* ``x / 0`` is unknown (``NULLIF``), not infinity.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from sqlglot import exp

from huiqi.rules.functions import RULE_FUNCTIONS
from huiqi.rules.lang import ExprError, date_literal, decimal_literal, param_name

DECIMAL_6 = exp.DataType.build("DECIMAL(38, 6)")
#: Nodes that mean the same in SQL as in the rule language: rebuilt with translated children.
#: Every other node the checker accepts has a method below; anything else is an error.
SAME_SHAPE: frozenset[type[exp.Expr]] = frozenset(
    {
        exp.Paren,
        exp.And,
        exp.Or,
        exp.Not,
        exp.Is,
        exp.EQ,
        exp.NEQ,
        exp.GT,
        exp.GTE,
        exp.LT,
        exp.LTE,
        exp.Between,
        exp.Case,
        exp.If,
        exp.Coalesce,
        exp.Add,
        exp.Sub,
        exp.Neg,
        exp.Abs,
        exp.Year,
        exp.Month,
        exp.Day,
        exp.Substring,
        exp.Boolean,
        exp.Null,
    }
)
DECIMAL_2 = exp.DataType.build("DECIMAL(18, 2)")


def cast(e: exp.Expr, to: exp.DataType) -> exp.Expr:
    # Not sqlglot's exp.cast(): it skips a cast when the inner one has the same base type,
    # which would drop DECIMAL(38,6) → DECIMAL(18,2) rounding.
    return exp.Cast(this=e, to=to.copy())


def value_sql(value: Any) -> exp.Expr:
    """A rule value (parameter or literal) as a SQL literal."""
    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, Decimal | int):
        d = Decimal(value)
        if d == d.to_integral_value() and abs(d) < 2**62:
            return exp.Literal.number(int(d))
        return cast(exp.Literal.string(str(d)), DECIMAL_6)
    if isinstance(value, dt.date):
        return cast(exp.Literal.string(value.isoformat()), exp.DataType.build("DATE"))
    if isinstance(value, list | tuple):
        return exp.Array(expressions=[exp.Literal.string(str(v)) for v in value])
    return exp.Literal.string(str(value))


def _is_null(e: exp.Expr) -> exp.Expr:
    return exp.Is(this=e.copy(), expression=exp.null())


def _round6(e: exp.Expr) -> exp.Expr:
    return cast(e, DECIMAL_6)


class SqlGen:
    """Rebuilds checked trees as SQL for one ``as_of`` date and its parameter values."""

    def __init__(self, as_of: dt.date, params: Mapping[str, Any]):
        self.as_of = as_of
        self.params = params

    def sql(self, node: exp.Expr) -> exp.Expr:
        handler: Callable[[exp.Expr], exp.Expr] | None = getattr(self, "_" + type(node).__name__.lower(), None)
        if handler is not None:
            return handler(node)
        if type(node) not in SAME_SHAPE:
            # sqlglot's "Unsupported expression type": never guess what an unknown node means.
            raise ExprError(
                f"SQL 生成器不支持 “{node.sql()}”（{type(node).__name__}） / unsupported expression type "
                f"{type(node).__name__} in the SQL generator"
            )
        # Same meaning and shape in SQL: rebuild with translated children.
        out = node.copy()
        for key, arg in node.args.items():
            if isinstance(arg, exp.Expr):
                out.set(key, self.sql(arg))
            elif isinstance(arg, list):
                out.set(key, [self.sql(a) if isinstance(a, exp.Expr) else a for a in arg])
        return out

    def _column(self, n: exp.Expr) -> exp.Expr:
        if n.name == "as_of":
            return value_sql(self.as_of)
        return exp.column(n.name, quoted=True)

    def _literal(self, n: exp.Expr) -> exp.Expr:
        assert isinstance(n, exp.Literal)
        return n.copy() if n.is_string else value_sql(decimal_literal(n))

    def _cast(self, n: exp.Expr) -> exp.Expr:
        assert isinstance(n, exp.Cast)
        return value_sql(date_literal(n))

    def _anonymous(self, n: exp.Expr) -> exp.Expr:
        name = param_name(n)
        if name is not None:
            return value_sql(self.params.get(name))
        fn = RULE_FUNCTIONS[str(n.this).lower()]
        return fn.sql(*(self.sql(x) for x in n.expressions))

    def _like(self, n: exp.Expr) -> exp.Expr:
        like = exp.Like(this=self.sql(n.this), expression=n.expression.copy())
        return exp.Not(this=like) if n.args.get("negate") else like

    def _in(self, n: exp.Expr) -> exp.Expr:
        inside = exp.In(this=self.sql(n.this), expressions=[self.sql(e) for e in n.expressions])
        return exp.Not(this=inside) if n.args.get("negate") else inside

    def _arraycontains(self, n: exp.Expr) -> exp.Expr:
        return exp.ArrayContains(this=self.sql(n.this), expression=self.sql(n.expression))

    _contains = _arraycontains

    def _mul(self, n: exp.Expr) -> exp.Expr:
        return _round6(exp.Mul(this=self.sql(n.this), expression=self.sql(n.expression)))

    def _div(self, n: exp.Expr) -> exp.Expr:
        numerator = cast(self.sql(n.this), DECIMAL_6)
        denominator = exp.Nullif(this=self.sql(n.expression), expression=exp.Literal.number(0))
        return _round6(exp.Div(this=numerator, expression=denominator))

    def _extremum(self, n: exp.Expr, cls: type[exp.Func]) -> exp.Expr:
        args = [self.sql(a) for a in [n.this, *n.expressions]]
        any_unknown = exp.or_(*(_is_null(a) for a in args))
        plain = cls(this=args[0].copy(), expressions=[a.copy() for a in args[1:]], ignore_nulls=True)
        return exp.Case(ifs=[exp.If(this=any_unknown, true=exp.null())], default=plain)

    def _least(self, n: exp.Expr) -> exp.Expr:
        return self._extremum(n, exp.Least)

    def _greatest(self, n: exp.Expr) -> exp.Expr:
        return self._extremum(n, exp.Greatest)

    def _round(self, n: exp.Expr) -> exp.Expr:
        places = n.args.get("decimals")
        digits = int(str(places.this)) if places is not None else 0
        # DuckDB and Spark both round DECIMAL half away from zero when casting down.
        return cast(self.sql(n.this), exp.DataType.build(f"DECIMAL(38, {digits})"))

    def _floor(self, n: exp.Expr) -> exp.Expr:
        return cast(exp.Floor(this=self.sql(n.this)), DECIMAL_6)

    def _ceil(self, n: exp.Expr) -> exp.Expr:
        return cast(exp.Ceil(this=self.sql(n.this)), DECIMAL_6)
