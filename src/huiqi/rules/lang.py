"""The rule language: SQL expressions parsed by sqlglot, checked against the profile schema.

One parsed tree (sqlglot's) is the single source of a rule. This module decides which
part of SQL the language is, gives every node a type, and records which facts,
variables and parameters an expression reads. The generators in ``pygen`` and
``sqlgen`` only ever see trees that passed ``check``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cached_property

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from huiqi.errors import HuiqiError
from huiqi.profile import FIELDS
from huiqi.rules.functions import RULE_FUNCTIONS, normalise_calls
from huiqi.rules.runtime import MAX_SCALE
from huiqi.rules.types import BOOLEAN, DATE, LIST, NULL, NUMBER, SAME, STRING, TYPE_ZH


class ExprError(HuiqiError, ValueError):
    """A rule expression that cannot be parsed or does not type-check."""

    def __init__(self, message: str, *, name: str | None = None):
        self.name = name  # the field, variable or parameter at fault, if any
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Symbol:
    """Something an expression can name: a fact, a derived variable or a parameter."""

    type: str
    values: tuple[str, ...] = ()  # the allowed values of an enumerated string (or list items)
    #: A set of possible values rather than one value: a CASE (or either()) choosing among
    #: string literals, or a variable defined by one. See ``enum_values``.
    enum: bool = False


#: sqlglot ``node.meta`` key: the node is a set of possible enumerated values (its values).
ENUM = "huiqi_enum"


def enum_values(node: exp.Expr) -> tuple[str, ...] | None:
    """The possible values of a node that stands for a *set* of values, else None.

    A CASE whose results are string literals does not pick one branch when a test is
    unknown: it may be any value of the branches the known facts leave open (``size_class``
    of a restaurant with 12 staff and no revenue is small or micro). Both generators keep
    such values as bit sets; comparisons over them are decided when every possible value
    agrees, and any other use sees the one value, or unknown (``huiqi.rules.pygen``).
    """
    meta = node._meta  # no dict is created for the (many) nodes without one
    return meta.get(ENUM) if meta else None


@dataclass
class Scope:
    """What names mean while checking: profile fields, derived variables, parameters."""

    variables: dict[str, Symbol] = field(default_factory=dict)
    parameters: dict[str, Symbol] = field(default_factory=dict)

    def column(self, name: str) -> tuple[str, Symbol]:
        if name == "as_of":
            return "as_of", Symbol(DATE)
        if name in FIELDS:
            spec = FIELDS[name]
            return "field", Symbol(spec.kind_spec.rule_type, spec.values)
        if name in self.variables:
            return "variable", self.variables[name]
        raise ExprError(f"未知的字段或变量 “{name}” / unknown field or variable '{name}'", name=name)


@dataclass(frozen=True)
class Expr:
    """A checked expression: the tree, its type and what it reads."""

    text: str
    tree: exp.Expr
    type: str
    values: tuple[str, ...]  # enumerated values of the result, when known
    enum: bool  # the result is a set of possible values (see enum_values)
    fields: frozenset[str]
    variables: frozenset[str]
    parameters: frozenset[str]


MAX_ENUM_VALUES = 62  # a set of values is a BIGINT bit mask in SQL; bit 0 is "no value" (NULL)


@dataclass(frozen=True)
class EnumBits:
    """The bit of every enumerated value of a library (one table, so sets compare directly).

    Bit 0 (``NULL``) stands for "no value": a CASE branch ``THEN NULL`` or ``ELSE NULL``,
    e.g. an industry the size table does not classify.
    """

    bits: Mapping[str, int]
    NULL = 1

    @classmethod
    def of(cls, values: Iterable[str]) -> EnumBits:
        ordered = list(dict.fromkeys(values))
        if len(ordered) > MAX_ENUM_VALUES:
            raise ExprError(f"枚举取值超过{MAX_ENUM_VALUES}个 / more than {MAX_ENUM_VALUES} enumerated values")
        return cls({v: 1 << (i + 1) for i, v in enumerate(ordered)})

    @cached_property
    def all(self) -> int:
        return (1 << (len(self.bits) + 1)) - 1

    def mask(self, values: Iterable[str]) -> int:
        return sum(self.bits[v] for v in set(values))

    def decode(self, mask: int) -> str | None:
        """The value of a set that holds exactly one (not "no value"); otherwise unknown."""
        return self.singles.get(mask)

    def possible(self, mask: int) -> tuple[str, ...]:
        """The values a set may take, in table order ("no value" left out)."""
        return tuple(v for v, bit in self.bits.items() if mask & bit)

    @cached_property
    def singles(self) -> dict[int, str]:
        return {bit: v for v, bit in self.bits.items()}


def parse(text: str) -> exp.Expr:
    try:
        tree = sqlglot.parse_one(text, read="duckdb")
    except ParseError as e:
        raise ExprError(f"表达式无法解析 / cannot parse: {e.errors[0]['description'] if e.errors else e}") from None
    except TokenError:  # e.g. a string literal that is never closed
        raise ExprError("表达式无法解析：有未闭合的引号或非法字符 / cannot tokenize: an unclosed quote?") from None
    if tree is None:
        raise ExprError("表达式为空 / empty expression")
    return normalise_calls(tree)


def param_name(node: exp.Expr) -> str | None:
    """The parameter named by ``param('...')``, or None if the node is not a param call."""
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "param":
        args = node.expressions
        if len(args) != 1 or not (isinstance(args[0], exp.Literal) and args[0].is_string):
            raise ExprError("param() 需要一个参数名字符串 / param() takes one quoted name")
        return str(args[0].this)
    return None


def decimal_literal(node: exp.Literal) -> Decimal:
    try:
        value = Decimal(str(node.this))
    except InvalidOperation:
        raise ExprError(f"无效数字 {node.this} / invalid number") from None
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_SCALE:
        raise ExprError(f"数字 {node.this} 的小数位超过{MAX_SCALE}位 / more than {MAX_SCALE} decimal places")
    return value


def date_literal(node: exp.Cast) -> dt.date:
    inner = node.this
    if not (isinstance(inner, exp.Literal) and inner.is_string):
        raise ExprError("日期只能写成 DATE 'YYYY-MM-DD' / dates are written DATE 'YYYY-MM-DD'")
    try:
        return dt.date.fromisoformat(str(inner.this))
    except ValueError:
        raise ExprError(f"无效日期 {inner.this} / invalid date") from None


def like_is_prefix(pattern: str) -> bool:
    return pattern.endswith("%") and not any(c in pattern[:-1] for c in "%_")


class _Checker:
    def __init__(self, scope: Scope):
        self.scope = scope
        self.fields: set[str] = set()
        self.variables: set[str] = set()
        self.parameters: set[str] = set()

    def check(self, node: exp.Expr) -> Symbol:
        handler: Callable[[exp.Expr], Symbol] | None = getattr(self, "_" + type(node).__name__.lower(), None)
        if handler is None:
            raise ExprError(
                f"规则语言不支持 “{node.sql()}”（{type(node).__name__}） / not supported in the rule language"
            )
        sym = handler(node)
        if sym.enum:
            node.meta[ENUM] = sym.values
        return sym

    def _enum_of(self, syms: list[Symbol], nodes: list[exp.Expr | None], n: exp.Expr) -> Symbol:
        """The union of results that are string literals, NULL or sets of values; else plain."""
        sym = self._unify(syms, n)
        plain = [
            x
            for x, s in zip(nodes, syms, strict=True)
            if not (x is None or isinstance(x, exp.Null) or s.enum or (isinstance(x, exp.Literal) and x.is_string))
        ]
        if sym.type != STRING or plain:
            return sym
        values = tuple(
            dict.fromkeys(
                v
                for x, s in zip(nodes, syms, strict=True)
                for v in (s.values if s.enum else (str(x.this),) if isinstance(x, exp.Literal) else ())
            )
        )
        return Symbol(STRING, values, enum=True)

    # --- leaves -------------------------------------------------------------
    def _paren(self, n: exp.Expr) -> Symbol:
        return self.check(n.this)

    def _column(self, n: exp.Expr) -> Symbol:
        if n.args.get("table"):
            raise ExprError(f"不支持带前缀的名称 {n.sql()} / qualified names are not supported")
        kind, sym = self.scope.column(n.name)
        if kind == "field":
            self.fields.add(n.name)
        elif kind == "variable":
            self.variables.add(n.name)
        return sym

    def _literal(self, n: exp.Expr) -> Symbol:
        assert isinstance(n, exp.Literal)
        if n.is_string:
            return Symbol(STRING)
        decimal_literal(n)
        return Symbol(NUMBER)

    def _boolean(self, n: exp.Expr) -> Symbol:
        return Symbol(BOOLEAN)

    def _null(self, n: exp.Expr) -> Symbol:
        return Symbol(NULL)

    def _cast(self, n: exp.Expr) -> Symbol:
        assert isinstance(n, exp.Cast)
        if n.to.this != exp.DataType.Type.DATE:
            raise ExprError(f"不支持类型转换 {n.sql()} / casts are not supported (only DATE '…')")
        date_literal(n)
        return Symbol(DATE)

    def _anonymous(self, n: exp.Expr) -> Symbol:
        name = param_name(n)
        if name is not None:
            if name not in self.scope.parameters:
                raise ExprError(f"未定义的参数 “{name}” / unknown parameter '{name}'", name=name)
            self.parameters.add(name)
            return self.scope.parameters[name]
        fname = str(n.this).lower()
        fn = RULE_FUNCTIONS.get(fname)
        if fn is None:
            known = "、".join(f"{f}()" for f in RULE_FUNCTIONS)
            raise ExprError(f"未知函数 {fname}()，可用：{known}、param() / unknown function")
        args = n.expressions
        if len(args) != len(fn.args):
            raise ExprError(f"{fname}() 需要 {len(fn.args)} 个参数 / takes {len(fn.args)} arguments")
        same: list[Symbol] = []
        for i, (a, t) in enumerate(zip(args, fn.args, strict=True)):
            if i in fn.literal_args and not (isinstance(a, exp.Literal) and a.is_string):
                raise ExprError(
                    f"{fname}() 的第{i + 1}个参数必须是字符串常量 / argument {i + 1} must be a quoted string"
                )
            if t == SAME:
                same.append(self.check(a))
            else:
                self._expect(a, t, f"{fname}()")
        if fn.result == SAME:
            return self._enum_of(same, list(args), n)
        return Symbol(fn.result)

    # --- logic --------------------------------------------------------------
    def _and(self, n: exp.Expr) -> Symbol:
        self._expect(n.this, BOOLEAN, "AND")
        self._expect(n.expression, BOOLEAN, "AND")
        return Symbol(BOOLEAN)

    _or = _and

    def _not(self, n: exp.Expr) -> Symbol:
        self._expect(n.this, BOOLEAN, "NOT")
        return Symbol(BOOLEAN)

    def _is(self, n: exp.Expr) -> Symbol:
        if not isinstance(n.expression, exp.Null):
            raise ExprError("只支持 IS NULL / IS NOT NULL / only IS [NOT] NULL is supported")
        self.check(n.this)
        return Symbol(BOOLEAN)

    # --- comparisons ----------------------------------------------------------
    def _compare(self, n: exp.Expr) -> Symbol:
        left, right = self.check(n.this), self.check(n.expression)
        self._same(left, right, n)
        self._enum(left, n.expression)
        self._enum(right, n.this)
        return Symbol(BOOLEAN)

    _eq = _neq = _gt = _gte = _lt = _lte = _compare

    def _between(self, n: exp.Expr) -> Symbol:
        t = self.check(n.this)
        for bound in (n.args["low"], n.args["high"]):
            self._same(t, self.check(bound), n)
        return Symbol(BOOLEAN)

    def _in(self, n: exp.Expr) -> Symbol:
        if n.args.get("query") or n.args.get("unnest") or n.args.get("field"):
            raise ExprError("IN 只支持值列表 / IN takes a list of values")
        t = self.check(n.this)
        for item in n.expressions:
            self._same(t, self.check(item), n)
            self._enum(t, item)
        return Symbol(BOOLEAN)

    def _like(self, n: exp.Expr) -> Symbol:
        self._expect(n.this, STRING, "LIKE")
        pattern = n.expression
        if not (isinstance(pattern, exp.Literal) and pattern.is_string):
            raise ExprError("LIKE 的模式必须是字符串 / the LIKE pattern must be a quoted string")
        if n.args.get("escape"):
            raise ExprError("LIKE 不支持 ESCAPE / ESCAPE is not supported")
        return Symbol(BOOLEAN)

    def _arraycontains(self, n: exp.Expr) -> Symbol:
        lst = self._expect(n.this, LIST, "contains()")
        self._expect(n.expression, STRING, "contains()")
        self._enum(lst, n.expression)
        return Symbol(BOOLEAN)

    def _contains(self, n: exp.Expr) -> Symbol:
        return self._arraycontains(n)

    # --- CASE -----------------------------------------------------------------
    def _case(self, n: exp.Expr) -> Symbol:
        if n.this is not None:
            raise ExprError("请用 CASE WHEN 条件 THEN … 的写法 / write CASE WHEN cond THEN …")
        results: list[Symbol] = []
        outs: list[exp.Expr | None] = []
        for branch in n.args["ifs"]:
            self._expect(branch.this, BOOLEAN, "CASE WHEN")
            results.append(self.check(branch.args["true"]))
            outs.append(branch.args["true"])
        default = n.args.get("default")
        results.append(self.check(default) if default is not None else Symbol(NULL))
        outs.append(default)
        return self._enum_of(results, outs, n)

    def _coalesce(self, n: exp.Expr) -> Symbol:
        return self._unify([self.check(a) for a in [n.this, *n.expressions]], n)

    # --- arithmetic -----------------------------------------------------------
    def _arith(self, n: exp.Expr) -> Symbol:
        self._expect(n.this, NUMBER, n.key.upper())
        self._expect(n.expression, NUMBER, n.key.upper())
        return Symbol(NUMBER)

    _add = _sub = _mul = _div = _arith

    def _neg(self, n: exp.Expr) -> Symbol:
        self._expect(n.this, NUMBER, "-")
        return Symbol(NUMBER)

    def _least(self, n: exp.Expr) -> Symbol:
        syms = [self.check(a) for a in [n.this, *n.expressions]]
        sym = self._unify(syms, n)
        if sym.type not in (NUMBER, DATE):
            raise ExprError("LEAST/GREATEST 只用于数值或日期 / LEAST/GREATEST take numbers or dates")
        return sym

    _greatest = _least

    def _unary_number(self, n: exp.Expr) -> Symbol:
        self._expect(n.this, NUMBER, n.key.upper())
        if n.args.get("decimals") is not None or n.args.get("expression") is not None:
            raise ExprError(f"{n.key.upper()}() 只接受一个参数 / takes one argument")
        return Symbol(NUMBER)

    _floor = _ceil = _abs = _unary_number

    def _round(self, n: exp.Expr) -> Symbol:
        self._expect(n.this, NUMBER, "ROUND")
        places = n.args.get("decimals")
        if places is not None and not (
            isinstance(places, exp.Literal) and not places.is_string and str(places.this).isdigit()
        ):
            raise ExprError("ROUND 的小数位必须是非负整数 / ROUND places must be a whole number")
        return Symbol(NUMBER)

    def _year(self, n: exp.Expr) -> Symbol:
        self._expect(n.this, DATE, n.key.upper())
        return Symbol(NUMBER)

    _month = _day = _year

    def _substring(self, n: exp.Expr) -> Symbol:
        self._expect(n.this, STRING, "substr()")
        for key in ("start", "length"):
            arg = n.args.get(key)
            if not (isinstance(arg, exp.Literal) and not arg.is_string and str(arg.this).isdigit()):
                raise ExprError("substr() 的位置和长度必须是正整数 / substr() takes whole-number start and length")
            if int(str(arg.this)) < 1:
                raise ExprError("substr() 的位置和长度从1开始 / substr() start and length are ≥ 1")
        return Symbol(STRING)

    # --- helpers --------------------------------------------------------------
    def _expect(self, node: exp.Expr, wanted: str, where: str) -> Symbol:
        sym = self.check(node)
        if sym.type not in (wanted, NULL):
            raise ExprError(
                f"{where} 需要{TYPE_ZH[wanted]}，但 “{node.sql()}” 是{TYPE_ZH[sym.type]} / "
                f"{where} needs a {wanted}, '{node.sql()}' is a {sym.type}",
                name=_name_of(node),
            )
        return sym

    def _same(self, a: Symbol, b: Symbol, n: exp.Expr) -> None:
        if NULL in (a.type, b.type):
            return
        if a.type != b.type or a.type == LIST:
            raise ExprError(
                f"“{n.sql()}” 比较了{TYPE_ZH[a.type]}和{TYPE_ZH[b.type]} / compares a {a.type} with a {b.type}",
                name=_name_of(n.this),
            )

    def _unify(self, syms: list[Symbol], n: exp.Expr) -> Symbol:
        known = [s for s in syms if s.type != NULL]
        if not known:
            return Symbol(NULL)
        for s in known[1:]:
            if s.type != known[0].type:
                raise ExprError(
                    f"“{n.sql()}” 的各分支类型不一致（{TYPE_ZH[known[0].type]}与{TYPE_ZH[s.type]}） / "
                    "branches have different types"
                )
        values = tuple(dict.fromkeys(v for s in known for v in s.values))
        return Symbol(known[0].type, values if all(s.values for s in known) else ())

    def _enum(self, sym: Symbol, other: exp.Expr) -> None:
        """A string literal compared with an enumerated value must be one of its values."""
        literal = isinstance(other, exp.Literal) and other.is_string
        if sym.values and literal and str(other.this) not in sym.values:
            raise ExprError(
                f"“{other.this}” 不是允许的取值（{'、'.join(sym.values)}） / "
                f"'{other.this}' is not one of {', '.join(sym.values)}",
                name=str(other.this),
            )


def _name_of(node: exp.Expr) -> str | None:
    col = node.find(exp.Column)
    return col.name if col is not None else None


def check(text: str, scope: Scope, *, expect: str | None = None) -> Expr:
    """Parse and type-check one expression; raise ExprError naming what is wrong."""
    tree = parse(text)
    checker = _Checker(scope)
    sym = checker.check(tree)
    if expect is not None and sym.type not in (expect, NULL):
        raise ExprError(
            f"应为{TYPE_ZH[expect]}表达式，实际是{TYPE_ZH[sym.type]} / must be a {expect} expression, is a {sym.type}"
        )
    return Expr(
        text=text,
        tree=tree,
        type=sym.type,
        values=sym.values,
        enum=sym.enum,
        fields=frozenset(checker.fields),
        variables=frozenset(checker.variables),
        parameters=frozenset(checker.parameters),
    )


def param_symbol(values: list[object]) -> Symbol:
    """The type of a parameter from its dated values (all must agree)."""
    types = {_value_type(v) for v in values}
    if len(types) != 1:
        raise ExprError("参数各时期取值类型不一致 / a parameter's values must all have one type")
    return Symbol(types.pop())


def _value_type(v: object) -> str:
    if isinstance(v, bool):
        return BOOLEAN
    if isinstance(v, Decimal | int):
        return NUMBER
    if isinstance(v, dt.date):
        return DATE
    if isinstance(v, str):
        return STRING
    if isinstance(v, list | tuple):
        return LIST
    raise ExprError(f"不支持的参数值 {v!r} / unsupported parameter value")


def transitive_fields(expr: Expr, variable_fields: Mapping[str, frozenset[str]]) -> frozenset[str]:
    """Profile fields an expression reads, through the derived variables it uses."""
    out = set(expr.fields)
    for v in expr.variables:
        out |= variable_fields[v]
    return frozenset(out)


def set_operands(a: exp.Expr, b: exp.Expr) -> tuple[exp.Expr, exp.Expr] | None:
    """(set, other) when a comparison can be decided over a set of possible values: a set
    against a string literal or against another set. Otherwise None (compare the values)."""
    for x, y in ((a, b), (b, a)):
        if enum_values(x) is not None and (enum_values(y) is not None or (isinstance(y, exp.Literal) and y.is_string)):
            return x, y
    return None
