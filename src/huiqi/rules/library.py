"""The policy library: load YAML, check every expression, compile once, evaluate many times."""

from __future__ import annotations

import datetime as dt
import decimal
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import ValidationError

from huiqi.errors import HuiqiError, Message
from huiqi.profile import FIELDS, Profile
from huiqi.rules import lang, pygen, yamlfile
from huiqi.rules.lang import BOOLEAN, NUMBER, Expr, ExprError, Scope, Symbol
from huiqi.rules.model import ParameterDef, PolicyDef, VariableDef

PARAMETERS_FILE = "_parameters.yaml"
VARIABLES_FILE = "_variables.yaml"
FIELD_BITS = {name: 1 << i for i, name in enumerate(FIELDS)}
#: Enough digits that no intermediate step of a formula is rounded by the context itself.
_CONTEXT = decimal.Context(prec=50, rounding=ROUND_HALF_UP)

VerdictName = Literal["eligible", "ineligible", "undetermined"]


def default_library_path() -> Path:
    """HUIQI_POLICIES, else the library shipped in the wheel, else the repository's policies/."""
    env = os.environ.get("HUIQI_POLICIES")
    if env:
        return Path(env)
    bundled = Path(__file__).resolve().parent.parent / "_policies"
    if bundled.is_dir():
        return bundled
    return Path(__file__).resolve().parents[3] / "policies"


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
    label: str
    expr: Expr | None  # None for an applicant declaration (申报承诺)
    fields: frozenset[str]
    line: int | None

    @property
    def declaration(self) -> bool:
        return self.expr is None


@dataclass(eq=False)
class Policy:
    definition: PolicyDef = field(repr=False)
    path: Path = field(repr=False)
    conditions: list[Condition] = field(repr=False)
    formula: Expr | None = field(repr=False)
    # Filled when the library compiles:
    index: int = -1
    amount: Callable[..., Any] | None = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return self.definition.id

    def __repr__(self) -> str:
        return f"Policy({self.id!r})"

    @property
    def evaluated(self) -> list[Condition]:
        return [c for c in self.conditions if c.expr is not None]


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
        self._explainers: dict[str, Callable[..., tuple[Any, int]]] = {}
        self._compile()

    # --- compilation ----------------------------------------------------------------------
    def _compile(self) -> None:
        module = pygen.Module()
        # Derived variables, in file order; a later one reads an earlier one's temporary.
        em = pygen.Emitter(module, FIELD_BITS, explain=True)
        stores = []
        for var in self.variables:
            value, deps = em.emit(var.expr.tree)
            em.variable_atoms[var.name] = (value, deps)
            stores.append(f"{var.name!r}: ({value}, {deps})")
        module.functions.append(_function("derive", "f, P, as_of", em.body(), None, ret="{" + ", ".join(stores) + "}"))
        # Every condition of every policy in one function, so conditions that policies
        # share are computed once per enterprise; explanations and amounts per policy.
        em = pygen.Emitter(module, FIELD_BITS, explain=False)
        groups = []
        for policy in self.policies:
            values = [em.emit(c.expr.tree)[0] for c in policy.evaluated if c.expr is not None]
            groups.append("(" + "".join(f"{o}, " for o in values) + ")")
        module.functions.append(_function("check_all", "f, v, P, as_of", em.body(), groups))
        for i, policy in enumerate(self.policies):
            if policy.formula is not None:
                em = pygen.Emitter(module, FIELD_BITS, explain=False)
                value, _ = em.emit(policy.formula.tree)
                module.functions.append(_function(f"p{i}_amount", "f, v, P, as_of", em.body(), None, ret=value))
        ns = module.compile()
        derive = ns["derive"]

        def derive_split(f: dict[str, Any], params: dict[str, Any], as_of: dt.date) -> tuple[dict, dict]:
            both = derive(f, params, as_of)
            return {k: x[0] for k, x in both.items()}, {k: x[1] for k, x in both.items()}

        self._derive = derive_split
        self._check_all = ns["check_all"]
        for i, policy in enumerate(self.policies):
            policy.index = i
            policy.amount = ns.get(f"p{i}_amount")

    def _explainer(self, expr: Expr) -> Callable[..., tuple[Any, int]]:
        """An expression compiled in explain mode, on first need (most never are), once per
        distinct text: policies that share a condition share its explanation."""
        fn = self._explainers.get(expr.text)
        if fn is None:
            module = pygen.Module()
            em = pygen.Emitter(module, FIELD_BITS, explain=True)
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

    def in_force(self, as_of: dt.date) -> list[Policy]:
        cached = self._in_force_cache.get(as_of)
        if cached is None:
            cached = [p for p in self.policies if p.definition.in_force(as_of)]
            self._in_force_cache[as_of] = cached
        return cached

    def derive(self, profile: Profile, as_of: dt.date) -> dict[str, Any]:
        """The derived variables (size_class, age_years, …) of one enterprise on a date."""
        with decimal.localcontext(_CONTEXT):
            values, _ = self._derive(profile.facts(), self.params_at(as_of), as_of)
        return dict(values)

    def evaluate(
        self, profile: Profile, as_of: dt.date, policy_ids: Iterable[str] | None = None
    ) -> tuple[dict[str, Any], list[Evaluation]]:
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
                    for j, outcome in enumerate(outcomes):
                        if outcome is None:
                            bits |= deps_of(policy.evaluated[j].expr)  # type: ignore[arg-type]
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
        return dict(v), out

    # --- SQL backend ----------------------------------------------------------------------
    def sql_generator(self, as_of: dt.date) -> Any:
        from huiqi.rules.sqlgen import SqlGen

        return SqlGen(as_of, self.params_at(as_of))

    @cached_property
    def variable_fields(self) -> dict[str, frozenset[str]]:
        return {v.name: v.fields for v in self.variables}


def _function(name: str, args: str, lines: Sequence[str], items: Sequence[str] | None, ret: str = "") -> str:
    body = [f"def {name}({args}):", *(f"    {line}" for line in lines)]
    if items is not None:
        ret = "(" + "".join(f"{x}, " for x in items) + ")"
    body.append(f"    return {ret}")
    return "\n".join(body)


# --- loading ------------------------------------------------------------------------------
def _validation_problems(exc: ValidationError, doc: Any, path: Path, policy_id: str | None) -> list[Problem]:
    out = []
    for err in exc.errors():
        loc = [p for p in err["loc"] if isinstance(p, str | int)]
        where = ".".join(str(p) for p in loc) or "(file)"
        msg = str(err["msg"]).removeprefix("Value error, ")
        out.append(
            Problem(
                path,
                yamlfile.line_of(doc, loc),
                f"{where}: {msg}",
                policy_id=policy_id,
                name=str(loc[-1]) if loc else None,
            )
        )
    return out


def load_library(root: Path | None = None, *, files: Mapping[str, str] | None = None) -> Library:
    """Load, check and compile a policy library; raise LibraryError listing every error.

    ``files`` gives the library as texts instead of a directory (relative path → YAML),
    e.g. the published versions held in the database; ``root`` then only labels them.
    """
    library, problems = lint_library(root, files=files)
    errors = [p for p in problems if p.severity == "error"]
    if errors or library is None:
        raise LibraryError(errors)
    return library


def lint_library(
    root: Path | None = None,
    *,
    files: Mapping[str, str] | None = None,
    today: dt.date | None = None,
) -> tuple[Library | None, list[Problem]]:
    """Load the library and report every problem: errors (it will not load) and warnings.

    ``today`` enables the warnings that depend on the date (expired, not verified lately).
    """
    problems: list[Problem] = []
    if files is not None:
        root = root or Path("<db>")
        texts = {root / name: text for name, text in files.items()}
    else:
        root = root or default_library_path()
        if not root.is_dir():
            return None, [Problem(root, None, "策略库目录不存在 / the policy directory does not exist")]
        texts = {p: p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.yaml"))}

    def read(path: Path) -> Any:
        try:
            return yamlfile.loads(texts[path])
        except Exception as e:  # yaml.YAMLError and decoding errors alike
            mark = getattr(e, "problem_mark", None)
            problems.append(Problem(path, mark.line + 1 if mark else None, f"YAML 格式错误 / invalid YAML: {e}"))
            return None

    # 1. Parameters: the shared file and each policy's own section, one namespace.
    parameters: dict[str, Parameter] = {}
    policy_docs: list[tuple[Path, Any, PolicyDef]] = []

    def add_parameters(path: Path, doc: Any, defs: dict[str, ParameterDef], prefix: list[str | int]) -> None:
        for name, pdef in defs.items():
            line = yamlfile.line_of(doc, [*prefix, name])
            if name in parameters:
                problems.append(
                    Problem(
                        path,
                        line,
                        f"参数 “{name}” 重复定义（另见 {parameters[name].path}） / parameter defined twice",
                        name=name,
                    )
                )
                continue
            try:
                symbol = lang.param_symbol([v.value for v in pdef.values])
            except ExprError as e:
                problems.append(Problem(path, line, f"参数 {name}: {e}", name=name))
                continue
            parameters[name] = Parameter(name, pdef, symbol, path, line)
            problems.extend(
                Problem(
                    path,
                    line,
                    f"参数 {name} 自 {pv.valid_from} 的取值未核实 / unverified value: {pv.note}",
                    "warning",
                    name=name,
                )
                for pv in pdef.values
                if not pv.verified
            )

    shared = root / PARAMETERS_FILE
    if shared in texts:
        doc = read(shared)
        if doc is not None:
            try:
                raw = (doc or {}).get("parameters") or {}
                defs = {k: ParameterDef.model_validate(v) for k, v in raw.items()}
                add_parameters(shared, doc, defs, ["parameters"])
            except ValidationError as e:
                problems += _validation_problems(e, doc, shared, None)

    for path in sorted(p for p in texts if not p.name.startswith("_")):
        doc = read(path)
        if doc is None:
            continue
        policy_id = doc.get("id") if isinstance(doc, dict) else None
        try:
            pdef = PolicyDef.model_validate(doc)
        except ValidationError as e:
            problems += _validation_problems(e, doc, path, policy_id)
            continue
        add_parameters(path, doc, pdef.parameters, ["parameters"])
        policy_docs.append((path, doc, pdef))

    scope = Scope(parameters={n: p.symbol for n, p in parameters.items()})

    # 2. Derived variables, each seeing only those defined above it.
    variables: list[Variable] = []
    vfile = root / VARIABLES_FILE
    if vfile in texts:
        doc = read(vfile)
        raw_vars = (doc or {}).get("variables") or {} if doc is not None else {}
        for name, raw in raw_vars.items():
            line = yamlfile.line_of(doc, ["variables", name])
            if name in FIELDS or name == "as_of":
                problems.append(Problem(vfile, line, f"变量名 “{name}” 与画像字段重名 / clashes with a field"))
                continue
            try:
                vdef = VariableDef.model_validate(raw)
                vexpr = lang.check(vdef.expr, scope)
            except ValidationError as e:
                problems += _validation_problems(e, doc, vfile, None)
                continue
            except ExprError as e:
                problems.append(
                    Problem(
                        vfile,
                        yamlfile.line_of(doc, ["variables", name, "expr"]),
                        f"变量 {name}: {e}",
                        expression=raw.get("expr"),
                        name=e.name,
                    )
                )
                continue
            values = tuple(vdef.values) or vexpr.values
            if vdef.values and vexpr.values and not set(vexpr.values) <= set(vdef.values):
                problems.append(Problem(vfile, line, f"变量 {name} 的取值 {vexpr.values} 超出 values 列表"))
            scope.variables[name] = Symbol(vexpr.type, values)
            fields = lang.transitive_fields(vexpr, {v.name: v.fields for v in variables})
            variables.append(Variable(name, vdef, vexpr, fields))
    vfields = {v.name: v.fields for v in variables}

    # 3. Policies.
    policies: list[Policy] = []
    seen_ids: dict[str, Path] = {}
    for path, doc, pdef in policy_docs:
        if pdef.id in seen_ids:
            problems.append(
                Problem(
                    path,
                    yamlfile.line_of(doc, ["id"]),
                    f"政策 id “{pdef.id}” 重复（另见 {seen_ids[pdef.id]}） / duplicate policy id",
                    policy_id=pdef.id,
                )
            )
            continue
        seen_ids[pdef.id] = path
        ok = True
        conditions: list[Condition] = []
        ids: set[str] = set()
        for i, cdef in enumerate(pdef.conditions):
            cid = cdef.id or f"c{i + 1}"
            line = yamlfile.line_of(doc, ["conditions", i, "when"]) or yamlfile.line_of(doc, ["conditions", i])
            if cid in ids:
                problems.append(
                    Problem(path, line, f"条件 id “{cid}” 重复 / duplicate condition id", policy_id=pdef.id)
                )
                ok = False
            ids.add(cid)
            expr: Expr | None = None
            if cdef.when is not None:
                try:
                    expr = lang.check(cdef.when, scope, expect=BOOLEAN)
                except ExprError as e:
                    problems.append(
                        Problem(
                            path,
                            line,
                            f"条件 {cid}: {e}",
                            policy_id=pdef.id,
                            expression=cdef.when,
                            name=e.name,
                        )
                    )
                    ok = False
                    continue
            fields = lang.transitive_fields(expr, vfields) if expr else frozenset()
            conditions.append(Condition(cid, cdef.label, expr, fields, line))
        formula = None
        if pdef.benefit is not None and pdef.benefit.formula is not None:
            try:
                formula = lang.check(pdef.benefit.formula, scope, expect=NUMBER)
            except ExprError as e:
                problems.append(
                    Problem(
                        path,
                        yamlfile.line_of(doc, ["benefit", "formula"]),
                        f"金额公式: {e}",
                        policy_id=pdef.id,
                        expression=pdef.benefit.formula,
                        name=e.name,
                    )
                )
                ok = False
        if ok:
            policies.append(Policy(pdef, path, conditions, formula))
            problems += _policy_warnings(path, doc, pdef, conditions, formula, parameters, today)

    if any(p.severity == "error" for p in problems):
        return None, problems
    return Library(policies, variables, parameters, root), problems


STALE_AFTER_DAYS = 180


def _policy_warnings(
    path: Path,
    doc: Any,
    pdef: PolicyDef,
    conditions: list[Condition],
    formula: Expr | None,
    parameters: dict[str, Parameter],
    today: dt.date | None,
) -> list[Problem]:
    """Library-level checks that do not stop loading: currency of the facts, test inputs."""
    from huiqi.profile import ProfileError, parse_profile

    out: list[Problem] = []

    def warn(loc: list[str | int], message: str) -> None:
        out.append(Problem(path, yamlfile.line_of(doc, loc), message, "warning", pdef.id))

    if today is not None and pdef.valid_to is not None and pdef.valid_to < today:
        warn(["valid_to"], f"政策已于 {pdef.valid_to} 到期 / expired on {pdef.valid_to}")
    if today is not None and (today - pdef.last_verified).days > STALE_AFTER_DAYS:
        warn(
            ["last_verified"],
            f"超过{STALE_AFTER_DAYS}天未核实（上次 {pdef.last_verified}） / not verified "
            f"in the last {STALE_AFTER_DAYS} days",
        )
    for note in pdef.unverified:
        warn(["unverified"], f"未核实 / unverified: {note}")
    used = set().union(*(c.expr.parameters for c in conditions if c.expr), formula.parameters if formula else ())
    for name in sorted(used):
        if parameters[name].at(pdef.valid_from) is None:
            warn(["valid_from"], f"参数 {name} 在 {pdef.valid_from} 没有取值 / no value when the policy starts")
    if len(pdef.tests) < 3:
        warn(["tests"], f"只有 {len(pdef.tests)} 个测试用例，至少需要3个 / fewer than 3 test cases")
    for i, case in enumerate(pdef.tests):
        try:
            parse_profile(case.profile)
        except ProfileError as e:
            out.append(
                Problem(
                    path,
                    yamlfile.line_of(doc, ["tests", i, "profile"]),
                    f"测试 “{case.name}” 的画像无效 / invalid test profile: {e}",
                    "error",
                    pdef.id,
                )
            )
        if not pdef.in_force(case.as_of):
            out.append(
                Problem(
                    path,
                    yamlfile.line_of(doc, ["tests", i, "as_of"]),
                    f"测试 “{case.name}” 的日期 {case.as_of} 不在政策有效期内 / as_of outside validity",
                    "error",
                    pdef.id,
                )
            )
    return out
