"""Compile checked rule expressions to SQL (DuckDB dialect; sqlglot transpiles to Spark).

The same checked sqlglot tree the Python generator reads is rebuilt here into plain
SQL: parameters become literals for the ``as_of`` date, our functions become portable
SQL, and every place where SQL engines disagree with the rule language is made
explicit:

* multiplication and division round to 6 decimal places (``CAST … AS DECIMAL(38,6)``),
  as the Python backend does, so both give the same cents. Decimal literals keep their own
  scale and a product whose exact scale is at most 6 (``revenue × 0.05``: 2 + 2) is cast to
  that scale, not rounded: rounding a 128-bit DECIMAL down a scale is a long division in
  DuckDB (~0.3 s per million values), and it would change nothing (see :func:`scale_of`);
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
from huiqi.rules.lang import EnumBits, ExprError, date_literal, decimal_literal, enum_values, param_name, set_operands

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
DECIMAL_18_6 = exp.DataType.build("DECIMAL(18, 6)")


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
        # Its own scale (0.05 → DECIMAL(38, 2)), so that products stay short (scale_of).
        exponent = d.as_tuple().exponent
        scale = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        return cast(exp.Literal.string(str(d)), exp.DataType.build(f"DECIMAL(38, {scale})"))
    if isinstance(value, dt.date):
        return cast(exp.Literal.string(value.isoformat()), exp.DataType.build("DATE"))
    if isinstance(value, list | tuple):
        return exp.Array(expressions=[exp.Literal.string(str(v)) for v in value])
    return exp.Literal.string(str(value))


def _is_null(e: exp.Expr) -> exp.Expr:
    return exp.Is(this=e.copy(), expression=exp.null())


def _round6(e: exp.Expr) -> exp.Expr:
    return cast(e, DECIMAL_6)


#: Fields' scales in SQL (the profile table's types): money DECIMAL(18, 2), counts BIGINT.
_FIELD_SCALES = {"money": 2, "integer": 0}


def scale_of(e: exp.Expr) -> int | None:
    """The number of decimal places of a generated numeric expression's exact value — the
    scale DuckDB and Spark give it — or None when it is not known from the tree alone
    (derived variables, functions, division: their values are rounded to 6 places anyway).

    A product of two operands of known scales s and t has scale s + t exactly; when that is
    at most 6, rounding it to 6 places changes nothing."""
    from huiqi.profile import FIELDS

    if isinstance(e, exp.Paren | exp.Neg | exp.Abs):
        return scale_of(e.this)
    if isinstance(e, exp.Cast):
        to = e.to
        if to.this == exp.DataType.Type.DECIMAL and len(to.expressions) == 2:
            return int(to.expressions[1].this.this)
        return None
    if isinstance(e, exp.Literal):
        return 0 if not e.is_string and str(e.this).lstrip("-").isdigit() else None
    if isinstance(e, exp.Null):
        return 0
    if isinstance(e, exp.Column):
        spec = FIELDS.get(e.name)
        return None if spec is None else _FIELD_SCALES.get(spec.kind)
    if isinstance(e, exp.Add | exp.Sub):
        return _max_scale([e.this, e.expression])
    if isinstance(e, exp.Mul):
        a, b = scale_of(e.this), scale_of(e.expression)
        return None if a is None or b is None else a + b
    if isinstance(e, exp.Case):
        results = [i.args["true"] for i in e.args["ifs"]]
        if e.args.get("default") is not None:
            results.append(e.args["default"])
        return _max_scale(results)
    if isinstance(e, exp.Least | exp.Greatest | exp.Coalesce):
        return _max_scale([e.this, *e.expressions])
    return None


def _max_scale(items: list[exp.Expr]) -> int | None:
    scales = [scale_of(i) for i in items]
    return None if any(s is None for s in scales) else max(s for s in scales if s is not None)


def _wide(e: exp.Expr) -> exp.Expr:
    """A factor of known scale as DECIMAL(38, scale) (same value): DuckDB multiplies
    DECIMAL(18, 2) by an integer in 64 bits and raises an overflow error past 9.2·10¹⁶
    (``monthly_sales * 12`` for a monthly_sales of 10¹⁵ stopped a whole batch run); in
    128 bits the product is exact and costs about the same."""
    scale = scale_of(e)
    if scale is None or (isinstance(e, exp.Cast) and e.to.this == exp.DataType.Type.DECIMAL):
        return e  # unknown (already rounded to 6 places in DECIMAL(38, 6)) or already DECIMAL(38, s)
    return cast(e, exp.DataType.build(f"DECIMAL(38, {scale})"))


def _round_product(product: exp.Mul) -> exp.Expr:
    """A product rounded to 6 places: cast to its own scale when that is at most 6 (exact,
    and no 128-bit division), else rounded by the cast to DECIMAL(38, 6)."""
    scale = scale_of(product)
    if scale is not None and scale <= 6:
        return cast(product, exp.DataType.build(f"DECIMAL(38, {scale})"))
    return _round6(product)


#: |x| below this: x with ≤ 6 places fits DECIMAL(18, 6), a 64-bit integer.
_FITS_64_BITS = 10**12


def round_to_cents(e: exp.Expr) -> exp.Expr:
    """``CAST(e AS DECIMAL(18, 2))`` (half away from zero), computed in 64 bits when ``e`` is
    small enough: rounding a DECIMAL(38, s) down is a 128-bit long division in DuckDB (~0.3 s
    per million values), narrowing it to DECIMAL(18, s) first is not. Same value either way;
    amounts beyond 10¹² yuan take the 128-bit path."""
    scale = scale_of(e)
    if scale is None or scale <= 2 or scale > 6:
        # ≤ 2: nothing to round. Unknown or > 6: narrowing to 6 places first could round twice.
        return cast(e, DECIMAL_2)
    bound = exp.Literal.number(_FITS_64_BITS - 1)
    small = exp.Between(this=e.copy(), low=exp.Neg(this=bound), high=bound.copy())
    narrow = cast(cast(e.copy(), DECIMAL_18_6), DECIMAL_2)
    return exp.Case(ifs=[exp.If(this=small, true=narrow)], default=cast(e, DECIMAL_2))


class SqlGen:
    """Rebuilds checked trees as SQL for one ``as_of`` date and its parameter values."""

    def __init__(self, as_of: dt.date, params: Mapping[str, Any], enums: EnumBits | None = None):
        self.as_of = as_of
        self.params = params
        self.enums = enums or EnumBits({})

    def sql(self, node: exp.Expr) -> exp.Expr:
        if enum_values(node) is not None:
            return self.decode(self.sql_set(node))
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

    def decode(self, mask: exp.Expr) -> exp.Expr:
        """A set of possible values read as one value: that value, or unknown (NULL)."""
        singles = self.enums.singles
        return exp.Case(
            this=mask,
            ifs=[exp.If(this=exp.Literal.number(bit), true=exp.Literal.string(v)) for bit, v in singles.items()],
        )

    def sql_raw(self, node: exp.Expr) -> exp.Expr:
        """A variable's stored form: the bit set of a set-valued expression, else its value."""
        return self.sql_set(node) if enum_values(node) is not None else self.sql(node)

    # --- sets of possible values (see huiqi.rules.lang.enum_values and pygen) --------------
    def sql_set(self, node: exp.Expr) -> exp.Expr:
        """The bit set (BIGINT) of the values a set-valued node may take."""
        if isinstance(node, exp.Paren):
            return self.sql_set(node.this)
        if isinstance(node, exp.Literal):
            return exp.Literal.number(self.enums.bits[str(node.this)])
        if isinstance(node, exp.Null):
            return exp.Literal.number(EnumBits.NULL)
        if isinstance(node, exp.Column):
            return exp.column(node.name, quoted=True)
        if isinstance(node, exp.Anonymous):  # either(a, b)
            a, b = (self.sql_set(x) for x in node.expressions)
            return exp.Paren(this=exp.BitwiseOr(this=a, expression=b))
        assert isinstance(node, exp.Case), node
        default = node.args.get("default")
        rest = self.sql_set(default) if default is not None else exp.Literal.number(EnumBits.NULL)
        for branch in reversed(node.args["ifs"]):
            c, r = self.sql(branch.this), self.sql_set(branch.args["true"])
            # this branch's values when its test is true; when it is not, the rest's, and this
            # branch's too when the test is unknown. The test is evaluated once for the rows that
            # meet it (most rows of a registry stop at one branch); only the others test again.
            unknown = exp.Case(
                ifs=[exp.If(this=exp.Is(this=exp.Paren(this=c.copy()), expression=exp.null()), true=r.copy())],
                default=exp.Literal.number(0),
            )
            otherwise = exp.Paren(this=exp.BitwiseOr(this=unknown, expression=rest))
            rest = exp.Case(ifs=[exp.If(this=c, true=r)], default=otherwise)
        return rest

    def _set_test(self, subject: exp.Expr, values: list[str], negate: bool) -> exp.Expr:
        m = self.sql_set(subject)
        inside = self.enums.mask(values)
        outside = self.enums.all & ~inside
        yes, no = (exp.false(), exp.true()) if negate else (exp.true(), exp.false())
        return exp.Case(
            ifs=[
                exp.If(this=_bits_clear(m, outside), true=yes),
                exp.If(this=_bits_clear(m, inside | EnumBits.NULL), true=no),
            ]
        )

    def _set_equal(self, a_node: exp.Expr, b_node: exp.Expr, negate: bool) -> exp.Expr:
        a, b = self.sql_set(a_node), self.sql_set(b_node)
        yes, no = (exp.false(), exp.true()) if negate else (exp.true(), exp.false())
        one = exp.and_(
            exp.EQ(this=a.copy(), expression=b.copy()),
            exp.NEQ(this=a.copy(), expression=exp.Literal.number(EnumBits.NULL)),
            _single(a),
        )
        none = exp.and_(
            exp.EQ(this=exp.Paren(this=exp.BitwiseAnd(this=a.copy(), expression=b.copy())), expression=_ZERO.copy()),
            _bits_clear(exp.Paren(this=exp.BitwiseOr(this=a.copy(), expression=b.copy())), EnumBits.NULL),
        )
        return exp.Case(ifs=[exp.If(this=one, true=yes), exp.If(this=none, true=no)])

    def _compare_sets(self, n: exp.Expr) -> exp.Expr | None:
        sets = set_operands(n.this, n.expression)
        if sets is None:
            return None
        subject, other = sets
        negate = isinstance(n, exp.NEQ)
        if isinstance(other, exp.Literal):
            return self._set_test(subject, [str(other.this)], negate)
        return self._set_equal(subject, other, negate)

    def _eq(self, n: exp.Expr) -> exp.Expr:
        return self._compare_sets(n) or exp.EQ(this=self.sql(n.this), expression=self.sql(n.expression))

    def _neq(self, n: exp.Expr) -> exp.Expr:
        return self._compare_sets(n) or exp.NEQ(this=self.sql(n.this), expression=self.sql(n.expression))

    def _is(self, n: exp.Expr) -> exp.Expr:
        if enum_values(n.this) is None:
            return exp.Is(this=exp.Paren(this=self.sql(n.this)), expression=exp.null())
        m = self.sql_set(n.this)  # unknown unless exactly one value is possible
        none = exp.EQ(this=m.copy(), expression=exp.Literal.number(EnumBits.NULL))
        return exp.Paren(this=exp.or_(none, exp.Not(this=_single(m))))

    # --- CASE ---------------------------------------------------------------------------------
    def _case(self, n: exp.Expr) -> exp.Expr:
        """The first TRUE branch, known only when it agrees with every branch whose test is
        unknown before it (see pygen._case). SQL's own CASE gives that branch; a second CASE
        walks the branches in order and checks the unknown ones agree with it."""
        ifs = [(self.sql(b.this), self.sql(b.args["true"]), b.this) for b in n.args["ifs"]]
        default = n.args.get("default")
        chosen = exp.Case(
            ifs=[exp.If(this=c, true=r) for c, r, _ in ifs],
            default=self.sql(default) if default is not None else None,
        )
        checks: list[exp.If] = []
        for c, r, tree in ifs:
            checks.append(exp.If(this=c.copy(), true=exp.true()))
            if not _never_unknown(tree):
                equal = exp.EQ(this=exp.Paren(this=r.copy()), expression=exp.Paren(this=chosen.copy()))
                same = exp.Coalesce(this=equal, expressions=[exp.false()])
                unknown = exp.Is(this=exp.Paren(this=c.copy()), expression=exp.null())
                unknown_and_other = exp.and_(unknown, exp.Not(this=same))
                checks.append(exp.If(this=unknown_and_other, true=exp.false()))
        if all(isinstance(i.args["true"], exp.Boolean) and i.args["true"].this for i in checks):
            return chosen  # no test can be unknown
        agree = exp.Case(ifs=checks, default=exp.true())
        return exp.Case(ifs=[exp.If(this=agree, true=chosen)])

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
        if enum_values(n.this) is not None and all(isinstance(i, exp.Literal) and i.is_string for i in n.expressions):
            return self._set_test(n.this, [str(i.this) for i in n.expressions], bool(n.args.get("negate")))
        inside = exp.In(this=self.sql(n.this), expressions=[self.sql(e) for e in n.expressions])
        return exp.Not(this=inside) if n.args.get("negate") else inside

    def _arraycontains(self, n: exp.Expr) -> exp.Expr:
        return exp.ArrayContains(this=self.sql(n.this), expression=self.sql(n.expression))

    _contains = _arraycontains

    def _mul(self, n: exp.Expr) -> exp.Expr:
        a, b = (_wide(self.sql(x)) for x in (n.this, n.expression))
        return _round_product(exp.Mul(this=a, expression=b))

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


_ZERO = exp.Literal.number(0)


def _bits_clear(m: exp.Expr, bits: int) -> exp.Expr:
    """``(m & bits) = 0``: none of these values is possible."""
    masked = exp.Paren(this=exp.BitwiseAnd(this=m.copy(), expression=exp.Literal.number(bits)))
    return exp.EQ(this=masked, expression=_ZERO.copy())


def _single(m: exp.Expr) -> exp.Expr:
    """``(m & (m - 1)) = 0``: at most one value is possible."""
    minus_one = exp.Paren(this=exp.Sub(this=m.copy(), expression=exp.Literal.number(1)))
    return exp.EQ(this=exp.Paren(this=exp.BitwiseAnd(this=m.copy(), expression=minus_one)), expression=_ZERO.copy())


def _never_unknown(test: exp.Expr) -> bool:
    """Tests that are never unknown: ``x IS [NOT] NULL`` and TRUE / FALSE."""
    while isinstance(test, exp.Paren | exp.Not):
        test = test.this
    return isinstance(test, exp.Is | exp.Boolean)
