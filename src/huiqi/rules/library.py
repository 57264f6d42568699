"""The policy library: load YAML, check every expression, compile once, evaluate many times."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Literal, NamedTuple

from huiqi.errors import HuiqiError, Message
from huiqi.profile import FIELDS, Profile
from huiqi.rules import pygen
from huiqi.rules.lang import EnumBits, Expr, Symbol, enum_values
from huiqi.rules.model import ParameterDef, PolicyDef, VariableDef
from huiqi.rules.paths import default_library_path as default_library_path
from huiqi.rules.sqlgen import SqlGen
from huiqi.rules.text import Template

PARAMETERS_FILE = "_parameters.yaml"
VARIABLES_FILE = "_variables.yaml"
FIELD_BITS = {name: 1 << i for i, name in enumerate(FIELDS)}
#: Enough digits that no intermediate step of a formula is rounded by the context itself.
_CONTEXT = decimal.Context(prec=50, rounding=ROUND_HALF_UP)

#: Dates whose rendered texts a library keeps (a cache; rebuilt when it overflows).
_TEXT_DATES = 64

VerdictName = Literal["eligible", "ineligible", "undetermined"]


@cache
def field_names(bits: int) -> tuple[str, ...]:
    """The profile fields in a bit set, in schema order."""
    return tuple(name for name, bit in FIELD_BITS.items() if bits & bit)


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) in the library, with where it is."""

    path: Path
    line: int | None
    message: str
    severity: Literal["error", "warning"] = "error"
    policy_id: str | None = None
    expression: str | None = None
    name: str | None = None  # the field, variable or parameter at fault

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        expr = f"\n    表达式 expression: {self.expression}" if self.expression else ""
        return f"{where}: {self.severity}: {self.message}{expr}"


class LibraryError(HuiqiError):
    """The library could not be loaded; ``problems`` lists every error found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        n = len(problems)
        super().__init__(Message(f"政策库有 {n} 处错误", f"the policy library has {n} error(s)"))

    def details(self) -> list[str]:
        return [str(p) for p in self.problems]


@dataclass(frozen=True)
class Parameter:
    name: str
    definition: ParameterDef
    symbol: Symbol
    path: Path
    line: int | None = None

    def at(self, as_of: dt.date) -> Any:
        """The value in force on ``as_of`` (None before the first one)."""
        chosen = None
        for v in self.definition.values:
            if v.valid_from <= as_of:
                chosen = v
        return None if chosen is None else chosen.value

    def entry_at(self, as_of: dt.date) -> Any:
        chosen = None
        for v in self.definition.values:
            if v.valid_from <= as_of:
                chosen = v
        return chosen


@dataclass(frozen=True)
class Variable:
    name: str
    definition: VariableDef
    expr: Expr
    fields: frozenset[str]  # profile fields it reads, through other variables too


@dataclass(frozen=True)
class Condition:
    id: str
    label: str  # as written, slots and all ({param:…|万元}); answers show ``template.render``
    expr: Expr | None  # None for an applicant declaration (申报承诺) or an action (前提)
    fields: frozenset[str]
    line: int | None
    action: bool = False  # 前提: an action the enterprise may not have taken (已招用退役士兵)
    template: Template | None = field(default=None, compare=False, repr=False)

    @property
    def declaration(self) -> bool:
        return self.expr is None and not self.action

    def text(self, params: dict[str, Any]) -> str:
        """The label with the parameter values of ``params`` (those in force on a date)."""
        return self.label if self.template is None else self.template.render(params)


class PolicyTexts(NamedTuple):
    """A policy's texts as of one date: every number quoted from the parameters then in force."""

    summary: str
    labels: tuple[str, ...]  # one per condition, in file order
    evaluated: tuple[str, ...]  # the labels of the evaluated conditions (Policy.evaluated)
    explain: str | None
    amount_note: str | None
    declarations: tuple[str, ...]
    preconditions: tuple[str, ...]  # the actions (前提) a 可享受 depends on


@dataclass(eq=False)
class Policy:
    definition: PolicyDef = field(repr=False)
    path: Path = field(repr=False)
    conditions: list[Condition] = field(repr=False)
    formula: Expr | None = field(repr=False)
    #: summary, benefit.explain and benefit.amount_note as templates (None: not given).
    templates: dict[str, Template] = field(default_factory=dict, repr=False)
    # Filled when the library compiles:
    index: int = -1
    amount: Callable[..., Any] | None = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return self.definition.id

    def __repr__(self) -> str:
        return f"Policy({self.id!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "amount": None}  # bound again by its Library

    @property
    def evaluated(self) -> list[Condition]:
        return [c for c in self.conditions if c.expr is not None]

    @cached_property
    def text_parameters(self) -> frozenset[str]:
        """The parameters its texts quote (slots of labels, summary, explanations)."""
        templates = [c.template for c in self.conditions if c.template is not None]
        return frozenset().union(*(t.parameters for t in [*templates, *self.templates.values()]))

    @cached_property
    def actions(self) -> tuple[Condition, ...]:
        """Its preconditions that are actions (前提): when the rest is met, it is 可享受 only
        once the enterprise has taken them (满足前提即可享受)."""
        return tuple(c for c in self.conditions if c.action)

    @property
    def conditional(self) -> bool:
        return bool(self.actions)

    def texts(self, params: dict[str, Any]) -> PolicyTexts:
        """Its texts with the parameter values of ``params`` (see :meth:`Library.texts_at`)."""
        d = self.definition

        def render(key: str, raw: str | None) -> str | None:
            t = self.templates.get(key)
            return raw if t is None else t.render(params)

        labels = tuple(c.text(params) for c in self.conditions)
        return PolicyTexts(
            summary=render("summary", d.summary) or d.summary,
            labels=labels,
            evaluated=tuple(t for c, t in zip(self.conditions, labels, strict=True) if c.expr is not None),
            explain=render("explain", d.benefit.explain if d.benefit else None),
            amount_note=render("amount_note", d.benefit.amount_note if d.benefit else None),
            declarations=tuple(t for c, t in zip(self.conditions, labels, strict=True) if c.declaration),
            preconditions=tuple(t for c, t in zip(self.conditions, labels, strict=True) if c.action),
        )

    @cached_property
    def parameters(self) -> frozenset[str]:
        """The parameters its conditions and formula read."""
        exprs = [c.expr for c in self.conditions if c.expr is not None]
        if self.formula is not None:
            exprs.append(self.formula)
        return frozenset().union(*(e.parameters for e in exprs))


class Evaluation(NamedTuple):
    """The raw outcome of one policy for one enterprise (``huiqi.match`` words it).

    A NamedTuple rather than a dataclass: one is made per policy per enterprise on the
    hot path, and a tuple is several times cheaper to build.
    """

    policy: Policy
    verdict: VerdictName
    outcomes: tuple[bool | None, ...]  # one per evaluated condition, in order
    missing: tuple[str, ...]  # profile fields that would decide an undetermined verdict
    amount: Decimal | None
    amount_missing: tuple[str, ...]  # facts the amount needs but the profile lacks

    @property
    def detail(self) -> Literal["conditional"] | None:
        """``conditional`` (满足前提即可享受): eligible on the known facts, but the policy
        waits on an action the enterprise may not have taken (``action: true``)."""
        return "conditional" if self.verdict == "eligible" and self.policy.conditional else None


class Choice(NamedTuple):
    """An exclusive group (``alternative:``) for one enterprise: which member the totals take.

    The chosen member is the eligible one (not waiting on an action) with the largest known amount (ties: the one
    earlier in the library); an eligible member whose amount is unknown is not compared
    (``uncompared``), and is chosen only when no eligible member has a known amount.
    """

    group: str
    members: tuple[Evaluation, ...]  # the members evaluated, in library order
    chosen: Evaluation | None
    uncompared: tuple[Evaluation, ...]


def choose(evaluations: Iterable[Evaluation]) -> dict[str, Choice]:
    """The choice of every exclusive group among ``evaluations`` (see :class:`Choice`)."""
    groups: dict[str, list[Evaluation]] = {}
    for ev in evaluations:
        alt = ev.policy.definition.alternative
        if alt is not None:
            groups.setdefault(alt.group, []).append(ev)
    out = {}
    for group, members in groups.items():
        members.sort(key=lambda e: e.policy.index)
        # A member that waits on an action (满足前提即可享受) is not yet claimable: never chosen.
        candidates = [e for e in members if e.verdict == "eligible" and not e.policy.conditional]
        chosen = max(candidates, key=_rank) if candidates else None
        uncompared = tuple(e for e in candidates if e.amount is None and len(candidates) > 1)
        out[group] = Choice(group, tuple(members), chosen, uncompared)
    return out


def _rank(ev: Evaluation) -> tuple[bool, Decimal, int]:
    return (ev.amount is not None, ev.amount or Decimal(0), -ev.policy.index)


class Variables(dict[str, Any]):
    """Derived variable → value (None when unknown); ``possible`` names the values a
    set-valued variable may still take when it is not decided (size_class: small or micro)."""

    def __init__(self, values: dict[str, Any]):
        super().__init__(values)
        self.possible: dict[str, tuple[str, ...]] = {}


def enum_table(variables: Sequence[Variable], policies: Sequence[Policy]) -> list[str]:
    """Every enumerated value a set of possible values may hold, in a stable order."""
    out: list[str] = []
    trees = [v.expr.tree for v in variables]
    for v in variables:
        if v.expr.enum:
            out += v.definition.values or v.expr.values
    for p in policies:
        trees += [c.expr.tree for c in p.evaluated if c.expr is not None]
        if p.formula is not None:
            trees.append(p.formula.tree)
    for tree in trees:
        for node in tree.walk():
            out += enum_values(node) or ()
    return list(dict.fromkeys(out))


class Library:
    """A checked, compiled set of policies. Build with :func:`load_library`."""

    def __init__(
        self,
        policies: list[Policy],
        variables: list[Variable],
        parameters: dict[str, Parameter],
        root: Path,
    ):
        self.policies = policies
        self.by_id = {p.id: p for p in policies}
        self.variables = variables
        self.parameters = parameters
        self.root = root
        self._params_cache: dict[dt.date, dict[str, Any]] = {}
        self._in_force_cache: dict[dt.date, list[Policy]] = {}
        self._texts_cache: dict[dt.date, list[PolicyTexts]] = {}
        self._explainers: dict[str, Callable[..., tuple[Any, int]]] = {}
        self.enums = EnumBits.of(enum_table(variables, policies))
        #: Variables stored as sets of possible values (decoded for the answer).
        self.set_variables = tuple(v.name for v in variables if v.expr.enum)
        self._compile()

    # --- compilation ----------------------------------------------------------------------
    def _compile(self) -> None:
        self._generated = self.generate().generated()
        self._bind()

    def generate(self, explainers: dict[str, str] | None = None) -> pygen.Module:
        """The generated module: ``derive``, ``check_all`` and each policy's ``p{i}_amount``;
        with ``explainers`` (filled: expression text → function name), also every condition
        and formula in explain mode (``huiqi.match.lean`` keeps them all, compiled once)."""
        module = pygen.Module()
        # Derived variables, in file order; a later one reads an earlier one's temporary.
        em = pygen.Emitter(module, FIELD_BITS, explain=True, enums=self.enums)
        stores = []
        for var in self.variables:
            value, deps = em.emit_raw(var.expr.tree)
            em.variable_atoms[var.name] = (value, deps)
            stores.append(f"{var.name!r}: ({value}, {deps})")
        module.functions.append(_function("derive", "f, P, as_of", em.body(), None, ret="{" + ", ".join(stores) + "}"))
        # Every condition of every policy in one function, so conditions that policies
        # share are computed once per enterprise; explanations and amounts per policy.
        em = pygen.Emitter(module, FIELD_BITS, explain=False, enums=self.enums)
        groups = []
        for policy in self.policies:
            values = [em.emit(c.expr.tree)[0] for c in policy.evaluated if c.expr is not None]
            groups.append("(" + "".join(f"{o}, " for o in values) + ")")
        module.functions.append(_function("check_all", "f, v, P, as_of", em.body(), groups))
        for i, policy in enumerate(self.policies):
            if policy.formula is not None:
                em = pygen.Emitter(module, FIELD_BITS, explain=False, enums=self.enums)
                value, _ = em.emit(policy.formula.tree)
                module.functions.append(_function(f"p{i}_amount", "f, v, P, as_of", em.body(), None, ret=value))
        if explainers is not None:
            exprs = [c.expr for p in self.policies for c in p.evaluated] + [p.formula for p in self.policies]
            for expr in exprs:
                if expr is not None and expr.text not in explainers:
                    name = explainers[expr.text] = f"x{len(explainers)}"
                    em = pygen.Emitter(module, FIELD_BITS, explain=True, enums=self.enums)
                    value, deps = em.emit(expr.tree)
                    args = "f, v, vd, P, as_of"
                    module.functions.append(_function(name, args, em.body(), None, ret=f"{value}, {deps}"))
        return module

    def _bind(self) -> None:
        """Make the generated functions callable (after compiling, or after unpickling)."""
        ns = pygen.Module.load(self._generated)
        derive = ns["derive"]

        def derive_split(f: dict[str, Any], params: dict[str, Any], as_of: dt.date) -> tuple[dict, dict]:
            both = derive(f, params, as_of)
            return {k: x[0] for k, x in both.items()}, {k: x[1] for k, x in both.items()}

        self._derive = derive_split
        self._check_all = ns["check_all"]
        for i, policy in enumerate(self.policies):
            policy.index = i
            policy.amount = ns.get(f"p{i}_amount")

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without its functions (``huiqi.rules.cache``): the generated code is kept,
        and bound again by ``__setstate__``; explainers are compiled again on need."""
        state = self.__dict__.copy()
        for name in ("_derive", "_check_all"):
            del state[name]
        state["_explainers"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._bind()

    def _explainer(self, expr: Expr) -> Callable[..., tuple[Any, int]]:
        """An expression compiled in explain mode, on first need (most never are), once per
        distinct text: policies that share a condition share its explanation."""
        fn = self._explainers.get(expr.text)
        if fn is None:
            module = pygen.Module()
            em = pygen.Emitter(module, FIELD_BITS, explain=True, enums=self.enums)
            value, deps = em.emit(expr.tree)
            module.functions.append(_function("explain", "f, v, vd, P, as_of", em.body(), None, ret=f"{value}, {deps}"))
            fn = self._explainers[expr.text] = module.compile()["explain"]
        return fn

    # --- evaluation -----------------------------------------------------------------------
    def params_at(self, as_of: dt.date) -> dict[str, Any]:
        cached = self._params_cache.get(as_of)
        if cached is None:
            cached = {name: p.at(as_of) for name, p in self.parameters.items()}
            self._params_cache[as_of] = cached
        return cached

    def texts_at(self, as_of: dt.date) -> list[PolicyTexts]:
        """Every policy's texts (by policy index) rendered with the parameters in force on
        ``as_of``: a label that quotes a threshold quotes the one the rule applies then."""
        cached = self._texts_cache.get(as_of)
        if cached is None:
            params = self.params_at(as_of)
            if len(self._texts_cache) >= _TEXT_DATES:  # bounded: as_of is user input
                self._texts_cache.clear()
            cached = self._texts_cache[as_of] = [p.texts(params) for p in self.policies]
        return cached

    def texts_of(self, policy: Policy, as_of: dt.date) -> PolicyTexts:
        """One policy's texts on ``as_of``, or — for a policy not in force then (a catalogue
        page shows expired and future ones too) — on the nearest day it is in force."""
        d = policy.definition
        day = max(as_of, d.valid_from)
        if d.valid_to is not None:
            day = min(day, d.valid_to)
        return self.texts_at(day)[policy.index]

    def in_force(self, as_of: dt.date) -> list[Policy]:
        cached = self._in_force_cache.get(as_of)
        if cached is None:
            cached = [p for p in self.policies if p.definition.in_force(as_of)]
            self._in_force_cache[as_of] = cached
        return cached

    def derive(self, profile: Profile, as_of: dt.date) -> Variables:
        """The derived variables (size_class, age_years, …) of one enterprise on a date."""
        with decimal.localcontext(_CONTEXT):
            values, _ = self._derive(profile.facts(), self.params_at(as_of), as_of)
        return self._public(values)

    def _public(self, values: dict[str, Any]) -> Variables:
        """Variables as the answer shows them: a set of possible values becomes its one value,
        or None with the values still possible in ``possible``."""
        out = Variables(values)
        for name in self.set_variables:
            mask = values[name]
            out[name] = self.enums.decode(mask)
            if out[name] is None and mask != EnumBits.NULL:
                out.possible[name] = self.enums.possible(mask)
        return out

    def evaluate(
        self, profile: Profile, as_of: dt.date, policy_ids: Iterable[str] | None = None
    ) -> tuple[Variables, list[Evaluation]]:
        """Derived variables and one Evaluation per policy in force on ``as_of``."""
        facts = profile.facts()
        params = self.params_at(as_of)
        policies = self.in_force(as_of)
        if policy_ids is not None:
            wanted = set(policy_ids)
            policies = [p for p in policies if p.id in wanted]
        out: list[Evaluation] = []
        append = out.append
        with decimal.localcontext(_CONTEXT):
            v, vd = self._derive(facts, params, as_of)
            checked = self._check_all(facts, v, params, as_of)
            explained: dict[str, int] = {}  # expression text → missing-fact bits, this enterprise

            def deps_of(expr: Expr) -> int:
                bits = explained.get(expr.text)
                if bits is None:
                    bits = explained[expr.text] = self._explainer(expr)(facts, v, vd, params, as_of)[1]
                return bits

            for policy in policies:
                outcomes = checked[policy.index]
                if False in outcomes:
                    append(Evaluation(policy, "ineligible", outcomes, (), None, ()))
                    continue
                missing: tuple[str, ...] = ()
                verdict: VerdictName = "eligible"
                if None in outcomes:
                    verdict = "undetermined"
                    bits = 0
                    evaluated = policy.evaluated  # a list built per call: once per policy
                    for j, outcome in enumerate(outcomes):
                        if outcome is None:
                            bits |= deps_of(evaluated[j].expr)  # type: ignore[arg-type]
                    missing = field_names(bits)
                amount: Decimal | None = None
                amount_missing: tuple[str, ...] = ()
                if policy.amount is not None:
                    raw = policy.amount(facts, v, params, as_of)
                    if raw is not None:
                        amount = pygen.q2(raw)
                    else:
                        amount_missing = field_names(deps_of(policy.formula))  # type: ignore[arg-type]
                append(Evaluation(policy, verdict, outcomes, missing, amount, amount_missing))
        return self._public(v), out

    # --- SQL backend ----------------------------------------------------------------------
    def sql_generator(self, as_of: dt.date) -> SqlGen:
        """The SQL generator for ``as_of``: parameters in force then, this library's value bits."""
        return SqlGen(as_of, self.params_at(as_of), self.enums)

    @cached_property
    def variable_fields(self) -> dict[str, frozenset[str]]:
        return {v.name: v.fields for v in self.variables}


def _function(name: str, args: str, lines: Sequence[str], items: Sequence[str] | None, ret: str = "") -> str:
    body = [f"def {name}({args}):", *(f"    {line}" for line in lines)]
    if items is not None:
        ret = "(" + "".join(f"{x}, " for x in items) + ")"
    body.append(f"    return {ret}")
    return "\n".join(body)
