"""Compile checked rule expressions to Python source, for evaluating one enterprise.

Each expression becomes straight-line code over temporaries, with SQL's three-valued
logic spelled out (``None`` is unknown). Two modes come from the same walk:

* plain: values only, used for every condition of every policy (the hot path);
* explain: each value paired with a bit set of the *missing facts it depends on*, used
  only for undetermined policies, so that ``missing`` names exactly the facts that
  would decide them (e.g. a manufacturer's size class never depends on its assets).

Why generated code rather than an interpreter: walking 5,000 sqlglot nodes per
enterprise costs milliseconds; the generated functions cost a fraction of that.
"""

from __future__ import annotations

import marshal
import re
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

from sqlglot import exp

from huiqi.rules.functions import RULE_FUNCTIONS
from huiqi.rules.lang import (
    EnumBits,
    date_literal,
    decimal_literal,
    enum_values,
    like_is_prefix,
    param_name,
    set_operands,
)
from huiqi.rules.runtime import RUNTIME, like_regex, q2, q6

__all__ = ["RUNTIME", "Emitter", "Generated", "Module", "like_regex", "q2", "q6"]

# The helpers the generated code calls live in ``huiqi.rules.runtime`` (no sqlglot there:
# ``huiqi match`` runs the generated code without it); every rule function is one of them.
assert all(RUNTIME[f.runtime] is f.python for f in RULE_FUNCTIONS.values())


_COMPARE: dict[type, str] = {
    exp.EQ: "==",
    exp.NEQ: "!=",
    exp.GT: ">",
    exp.GTE: ">=",
    exp.LT: "<",
    exp.LTE: "<=",
}


def _is_constant(atom: str) -> bool:
    return atom.startswith(("_k", "'", '"')) or atom in ("True", "False")


class Module:
    """Collects generated functions and the constants they share."""

    def __init__(self) -> None:
        self.functions: list[str] = []
        self.namespace: dict[str, Any] = dict(RUNTIME)
        self._const_names: dict[tuple[type, Any], str] = {}

    def const(self, value: Any) -> str:
        key = (type(value), value if not isinstance(value, re.Pattern) else value.pattern)
        name = self._const_names.get(key)
        if name is None:
            name = f"_k{len(self._const_names)}"
            self._const_names[key] = name
            self.namespace[name] = value
        return name

    def named(self, name: str, value: Any) -> str:
        """A value under a fixed name (for values that are not hashable, e.g. a dict)."""
        self.namespace[name] = value
        return name

    def compile(self, filename: str = "<huiqi rules>") -> dict[str, Callable[..., Any]]:
        return Module.load(self.generated(filename))

    def generated(self, filename: str = "<huiqi rules>") -> Generated:
        """The compiled code and its constants: what :meth:`load` needs, and picklable."""
        source = "\n\n".join(self.functions)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)  # e.g. "'x' is None" on constants
            code = compile(source, filename, "exec")
        constants = {k: v for k, v in self.namespace.items() if k not in RUNTIME}
        return Generated(marshal.dumps(code), constants)

    @staticmethod
    def load(generated: Generated) -> dict[str, Callable[..., Any]]:
        """The namespace of the generated functions, ready to call."""
        ns = {**RUNTIME, **generated.constants}
        exec(marshal.loads(generated.code), ns)
        return ns


class Generated(NamedTuple):
    """Generated functions as marshalled code (same interpreter only: the library cache is
    keyed by the Python version) and the constants they read by name."""

    code: bytes
    constants: dict[str, Any]


class Emitter:
    """Emits the statements of one function body."""

    def __init__(self, module: Module, field_bits: dict[str, int], *, explain: bool, enums: EnumBits | None = None):
        self.module = module
        self.field_bits = field_bits
        self.explain = explain
        self.enums = enums or EnumBits({})
        self.lines: list[str] = []
        self._n = 0
        self._memo: dict[str, str] = {}  # code → the temporary already holding it
        self._bound: dict[str, str] = {}  # local name → what it is read from, once per call
        self.variable_atoms: dict[str, tuple[str, str]] = {}  # variables computed in this function

    def tmp(self, code: str) -> str:
        # Every temporary is assigned once and every expression is pure, so the same code
        # (a condition shared by several policies, say) is computed once per call.
        name = self._memo.get(code)
        if name is None:
            self._n += 1
            name = self._memo[code] = f"_t{self._n}"
            self.lines.append(f"{name} = {code}")
        return name

    def bind(self, local: str, source: str) -> str:
        """Read a fact, variable or parameter into a local once (locals are the fastest reads)."""
        self._bound.setdefault(local, source)
        return local

    def body(self) -> list[str]:
        return [f"{local} = {source}" for local, source in self._bound.items()] + self.lines

    def emit(self, node: exp.Expr) -> tuple[str, str]:
        """Python atoms for (value, missing-fact bits); bits are "0" in plain mode."""
        if enum_values(node) is not None:
            # A set of possible values read as one value: that value, or unknown.
            m, dm = self.emit_set(node)
            return self.tmp(f"{self._decoder()}.get({m})"), dm
        handler = getattr(self, "_" + type(node).__name__.lower())
        result: tuple[str, str] = handler(node)
        return result

    def emit_raw(self, node: exp.Expr) -> tuple[str, str]:
        """A variable's stored form: the bit set of a set-valued expression, else its value."""
        return self.emit_set(node) if enum_values(node) is not None else self.emit(node)

    # --- sets of possible values (enumerated CASE, either(), the variables they define) ---
    def emit_set(self, node: exp.Expr) -> tuple[str, str]:
        """Atoms for (bit set of the possible values, missing-fact bits). See lang.enum_values."""
        if isinstance(node, exp.Paren):
            return self.emit_set(node.this)
        if isinstance(node, exp.Literal):
            return str(self.enums.bits[str(node.this)]), "0"
        if isinstance(node, exp.Null):
            return str(EnumBits.NULL), "0"
        if isinstance(node, exp.Column):
            return self._column(node)  # a set-valued variable is stored as its bit set
        if isinstance(node, exp.Anonymous):  # either(a, b): any value of either
            (a, da), (b, db) = self.emit_set(node.expressions[0]), self.emit_set(node.expressions[1])
            return self.tmp(f"{a} | {b}"), self._deps(f"{da} | {db}")
        assert isinstance(node, exp.Case), node
        default = node.args.get("default")
        value, deps = self.emit_set(default) if default is not None else (str(EnumBits.NULL), "0")
        for branch in reversed(node.args["ifs"]):
            (c, dc), (r, dr) = self.emit(branch.this), self.emit_set(branch.args["true"])
            # TRUE: this branch; FALSE: the rest; unknown: this branch or the rest. What would
            # decide an unknown test is asked for first (then the branch it leads to), as an
            # officer would: "which industry?" before "what revenue?".
            value = self.tmp(f"{r} if {c} is True else ({value} if {c} is False else ({r} | {value}))")
            deps = self._deps(
                f"{dc} | {dr} if {c} is True else ({dc} | {deps} if {c} is False else ({dc} or {dr} | {deps}))"
            )
        return value, deps

    def _decoder(self) -> str:
        return self.module.named("_dec", self.enums.singles)

    def _set_test(self, n: exp.Expr, subject: exp.Expr, values: list[str], negate: bool) -> tuple[str, str]:
        """``set IN (values)``: true when every possible value is in, false when none is."""
        m, dm = self.emit_set(subject)
        inside = self.enums.mask(values)
        outside = self.enums.all & ~inside  # includes "no value": NULL IN (…) is unknown
        yes, no = ("False", "True") if negate else ("True", "False")
        code = f"{yes} if not ({m} & {outside}) else ({no} if not ({m} & {inside | EnumBits.NULL}) else None)"
        return self.tmp(code), dm

    def _set_equal(self, a_node: exp.Expr, b_node: exp.Expr, negate: bool) -> tuple[str, str]:
        (a, da), (b, db) = self.emit_set(a_node), self.emit_set(b_node)
        yes, no = ("False", "True") if negate else ("True", "False")
        one = f"{a} == {b} and {a} != {EnumBits.NULL} and not ({a} & ({a} - 1))"
        none = f"not ({a} & {b}) and not (({a} | {b}) & {EnumBits.NULL})"
        return self.tmp(f"{yes} if {one} else ({no} if {none} else None)"), self._deps(f"{da} | {db}")

    def _deps(self, code: str) -> str:
        return self.tmp(code) if self.explain else "0"

    @staticmethod
    def _unknown_test(*atoms: str) -> str:
        """A test that any of the atoms is unknown (constants never are)."""
        if "None" in atoms:
            return "True"
        tests = [f"{a} is None" for a in atoms if not _is_constant(a)]
        return " or ".join(tests)

    def _nullsafe(self, code: str, *atoms: str, deps: tuple[str, ...]) -> tuple[str, str]:
        test = self._unknown_test(*atoms)
        if test == "True":
            return "None", self._deps(" | ".join(deps) or "0")
        value = self.tmp(f"None if ({test}) else ({code})" if test else code)
        return value, self._deps(" | ".join(deps) or "0")

    # --- leaves -------------------------------------------------------------------------
    def _paren(self, n: exp.Expr) -> tuple[str, str]:
        return self.emit(n.this)

    def _column(self, n: exp.Expr) -> tuple[str, str]:
        name = n.name
        if name == "as_of":
            return "as_of", "0"
        if name in self.field_bits:
            atom = self.bind(f"F_{name}", f"f[{name!r}]")
            return atom, self._deps(f"0 if {atom} is not None else {self.field_bits[name]}")
        if name in self.variable_atoms:
            return self.variable_atoms[name]
        atom = self.bind(f"V_{name}", f"v[{name!r}]")
        return atom, (self.bind(f"D_{name}", f"vd[{name!r}]") if self.explain else "0")

    def _literal(self, n: exp.Expr) -> tuple[str, str]:
        assert isinstance(n, exp.Literal)
        if n.is_string:
            return repr(str(n.this)), "0"
        return self.module.const(decimal_literal(n)), "0"

    def _boolean(self, n: exp.Expr) -> tuple[str, str]:
        return ("True" if n.this else "False"), "0"

    def _null(self, n: exp.Expr) -> tuple[str, str]:
        return "None", "0"

    def _cast(self, n: exp.Expr) -> tuple[str, str]:
        assert isinstance(n, exp.Cast)
        return self.module.const(date_literal(n)), "0"

    def _anonymous(self, n: exp.Expr) -> tuple[str, str]:
        name = param_name(n)
        if name is not None:
            index = self.module.const(name)  # a stable short local name per parameter
            return self.bind(f"P{index}", f"P[{name!r}]"), "0"
        fn = RULE_FUNCTIONS[str(n.this).lower()]
        args = [self.emit(x) for x in n.expressions]
        atoms = [a for a, _ in args]
        value, deps = self._nullsafe(f"{fn.runtime}({', '.join(atoms)})", *atoms, deps=tuple(d for _, d in args))
        if self.explain and value != "None":
            # Unknown although every argument is known (``within`` on a code coarser than the
            # class): a more precise value of the facts it was given would decide it.
            given = sum(self.field_bits[c.name] for c in n.find_all(exp.Column) if c.name in self.field_bits)
            if given:
                deps = self.tmp(f"({deps} | {given}) if {value} is None else {deps}")
        return value, deps

    # --- logic --------------------------------------------------------------------------
    def _and(self, n: exp.Expr) -> tuple[str, str]:
        return self._junction(n, decisive="False")

    def _or(self, n: exp.Expr) -> tuple[str, str]:
        return self._junction(n, decisive="True")

    def _junction(self, n: exp.Expr, decisive: str) -> tuple[str, str]:
        other = "True" if decisive == "False" else "False"
        (a, da), (b, db) = self.emit(n.this), self.emit(n.expression)
        value = self.tmp(
            f"{decisive} if ({a} is {decisive} or {b} is {decisive}) "
            f"else (None if ({a} is None or {b} is None) else {other})"
        )
        if not self.explain:
            return value, "0"
        # A decisive operand alone decides; when both do, either suffices (intersection).
        deps = self.tmp(
            f"({da} & {db}) if ({a} is {decisive} and {b} is {decisive}) else "
            f"({da} if {a} is {decisive} else ({db} if {b} is {decisive} else ({da} | {db})))"
        )
        return value, deps

    def _not(self, n: exp.Expr) -> tuple[str, str]:
        a, da = self.emit(n.this)
        return self.tmp(f"None if {a} is None else (not {a})"), da

    def _is(self, n: exp.Expr) -> tuple[str, str]:
        if enum_values(n.this) is not None:  # unknown unless exactly one value is possible
            m, dm = self.emit_set(n.this)
            return self.tmp(f"{m} == {EnumBits.NULL} or ({m} & ({m} - 1)) != 0"), dm
        a, da = self.emit(n.this)
        return self.tmp(f"{a} is None"), da

    # --- comparisons --------------------------------------------------------------------
    def _compare(self, n: exp.Expr) -> tuple[str, str]:
        if isinstance(n, exp.EQ | exp.NEQ):
            sets = set_operands(n.this, n.expression)
            if sets is not None:
                subject, other = sets
                negate = isinstance(n, exp.NEQ)
                if isinstance(other, exp.Literal):
                    return self._set_test(n, subject, [str(other.this)], negate)
                return self._set_equal(subject, other, negate)
        (a, da), (b, db) = self.emit(n.this), self.emit(n.expression)
        return self._nullsafe(f"{a} {_COMPARE[type(n)]} {b}", a, b, deps=(da, db))

    _eq = _neq = _gt = _gte = _lt = _lte = _compare

    def _between(self, n: exp.Expr) -> tuple[str, str]:
        x = n.this
        return self.emit(
            exp.and_(exp.GTE(this=x, expression=n.args["low"]), exp.LTE(this=x, expression=n.args["high"]))
        )

    def _in(self, n: exp.Expr) -> tuple[str, str]:
        items = n.expressions
        if enum_values(n.this) is not None and all(isinstance(i, exp.Literal) and i.is_string for i in items):
            return self._set_test(n, n.this, [str(i.this) for i in items], bool(n.args.get("negate")))
        if all(isinstance(i, exp.Literal) for i in items):
            a, da = self.emit(n.this)
            consts = tuple(str(i.this) if i.is_string else decimal_literal(i) for i in items)
            result = self._nullsafe(f"{a} in {self.module.const(consts)}", a, deps=(da,))
        else:  # x IN (a, b) is x = a OR x = b, unknowns included
            result = self.emit(exp.or_(*(exp.EQ(this=n.this, expression=i) for i in items)))
        return self._negate(n, result)

    def _like(self, n: exp.Expr) -> tuple[str, str]:
        a, da = self.emit(n.this)
        pattern = str(n.expression.this)
        if like_is_prefix(pattern):
            code = f"{a}.startswith({pattern[:-1]!r})"
        else:
            code = f"{self.module.const(like_regex(pattern))}.fullmatch({a}) is not None"
        return self._negate(n, self._nullsafe(code, a, deps=(da,)))

    def _negate(self, n: exp.Expr, result: tuple[str, str]) -> tuple[str, str]:
        if not n.args.get("negate"):
            return result
        a, da = result
        return self.tmp(f"None if {a} is None else (not {a})"), da

    def _arraycontains(self, n: exp.Expr) -> tuple[str, str]:
        (lst, dl), (x, dx) = self.emit(n.this), self.emit(n.expression)
        return self._nullsafe(f"{x} in {lst}", lst, x, deps=(dl, dx))

    _contains = _arraycontains

    # --- CASE, COALESCE -----------------------------------------------------------------
    def _case(self, n: exp.Expr) -> tuple[str, str]:
        """The first TRUE branch; a branch whose test is unknown may be the one, so the value
        is known only when it agrees with every branch the known facts leave open."""
        default = n.args.get("default")
        value, deps = self.emit(default) if default is not None else ("None", "0")
        for branch in reversed(n.args["ifs"]):
            (c, dc), (r, dr) = self.emit(branch.this), self.emit(branch.args["true"])
            value = self.tmp(
                f"{r} if {c} is True else ({value} if {c} is False else ({value} if {r} == {value} else None))"
            )
            # An unknown test that did not matter (the branches agree) decides nothing; one that
            # does is asked for first (see emit_set).
            deps = self._deps(
                f"{dc} | {dr} if {c} is True else ({dc} | {deps} if {c} is False else "
                f"({dr} | {deps} if {value} is not None else ({dc} or {dr} | {deps})))"
            )
        return value, deps

    def _coalesce(self, n: exp.Expr) -> tuple[str, str]:
        args = [self.emit(a) for a in [n.this, *n.expressions]]
        value, deps = "None", " | ".join(d for _, d in args)
        for i in range(len(args) - 1, -1, -1):
            a, _ = args[i]
            value = f"({a} if {a} is not None else {value})"
            prior = " | ".join(d for _, d in args[: i + 1])
            deps = f"(({prior}) if {a} is not None else {deps})"
        return self.tmp(value), self._deps(deps)

    # --- arithmetic ---------------------------------------------------------------------
    def _binary(self, n: exp.Expr, template: str) -> tuple[str, str]:
        (a, da), (b, db) = self.emit(n.this), self.emit(n.expression)
        return self._nullsafe(template.format(a=a, b=b), a, b, deps=(da, db))

    def _add(self, n: exp.Expr) -> tuple[str, str]:
        return self._binary(n, "{a} + {b}")

    def _sub(self, n: exp.Expr) -> tuple[str, str]:
        return self._binary(n, "{a} - {b}")

    def _mul(self, n: exp.Expr) -> tuple[str, str]:
        return self._binary(n, "_q6({a} * {b})")

    def _div(self, n: exp.Expr) -> tuple[str, str]:
        return self._binary(n, "_div({a}, {b})")

    def _neg(self, n: exp.Expr) -> tuple[str, str]:
        a, da = self.emit(n.this)
        return self._nullsafe(f"-{a}", a, deps=(da,))

    def _extremum(self, n: exp.Expr, fn: str) -> tuple[str, str]:
        args = [self.emit(a) for a in [n.this, *n.expressions]]
        atoms = [a for a, _ in args]
        return self._nullsafe(f"{fn}({', '.join(atoms)})", *atoms, deps=tuple(d for _, d in args))

    def _least(self, n: exp.Expr) -> tuple[str, str]:
        return self._extremum(n, "min")

    def _greatest(self, n: exp.Expr) -> tuple[str, str]:
        return self._extremum(n, "max")

    def _unary(self, n: exp.Expr, template: str) -> tuple[str, str]:
        a, da = self.emit(n.this)
        return self._nullsafe(template.format(a=a), a, deps=(da,))

    def _floor(self, n: exp.Expr) -> tuple[str, str]:
        return self._unary(n, "_floor({a})")

    def _ceil(self, n: exp.Expr) -> tuple[str, str]:
        return self._unary(n, "_ceil({a})")

    def _abs(self, n: exp.Expr) -> tuple[str, str]:
        return self._unary(n, "abs({a})")

    def _round(self, n: exp.Expr) -> tuple[str, str]:
        places = n.args.get("decimals")
        return self._unary(n, f"_round({{a}}, {int(str(places.this)) if places is not None else 0})")

    def _year(self, n: exp.Expr) -> tuple[str, str]:
        return self._unary(n, "{a}.year")

    def _month(self, n: exp.Expr) -> tuple[str, str]:
        return self._unary(n, "{a}.month")

    def _day(self, n: exp.Expr) -> tuple[str, str]:
        return self._unary(n, "{a}.day")

    def _substring(self, n: exp.Expr) -> tuple[str, str]:
        start = int(str(n.args["start"].this)) - 1
        length = int(str(n.args["length"].this))
        return self._unary(n, f"{{a}}[{start}:{start + length}]")
