"""Loading a policy library: read the YAML, check every part, report every problem at once.

:func:`lint_library` is a fixed sequence of named steps (model: httpx's
``_build_redirect_request``): each step reads what the earlier ones built and adds the
problems it finds, so one run reports every error in the library, with ``file:line``.

1. ``read_texts``          the YAML texts (a directory, or texts from the database);
2. ``load_parameters``     ``_parameters.yaml`` and each policy's own ``parameters`` — one namespace;
3. ``load_variables``      ``_variables.yaml``, each variable seeing only those above it;
4. ``load_policies``       conditions and formulas type-checked against the scope;
5. ``check_alternatives``  exclusive groups of benefits (``alternative:``);
6. ``check_texts``         labels, summaries and explanations: slots ({param:…|万元}) and no
                           number quoted as plain text that the rule does not say;
7. ``warn``                what does not stop loading: currency of the facts, test inputs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlglot import exp

from huiqi.profile import FIELDS, ProfileError, parse_profile
from huiqi.rules import lang, text, yamlfile
from huiqi.rules.lang import Expr, ExprError, Scope, Symbol
from huiqi.rules.library import (
    PARAMETERS_FILE,
    VARIABLES_FILE,
    Condition,
    Library,
    LibraryError,
    Parameter,
    Policy,
    Problem,
    Variable,
    default_library_path,
)
from huiqi.rules.model import ParameterDef, PolicyDef, VariableDef
from huiqi.rules.types import BOOLEAN, NUMBER

STALE_AFTER_DAYS = 180
MIN_TEST_CASES = 3


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
    return _Lint(root, files, today).run()


@dataclass
class _PolicyDoc:
    path: Path
    doc: Any  # the YAML as loaded, with line numbers
    definition: PolicyDef


@dataclass
class _Lint:
    root: Path | None
    files: Mapping[str, str] | None
    today: dt.date | None
    problems: list[Problem] = field(default_factory=list)
    texts: dict[Path, str] = field(default_factory=dict)
    parameters: dict[str, Parameter] = field(default_factory=dict)
    documents: list[_PolicyDoc] = field(default_factory=list)
    scope: Scope = field(default_factory=Scope)
    variables: list[Variable] = field(default_factory=list)
    policies: list[Policy] = field(default_factory=list)

    def run(self) -> tuple[Library | None, list[Problem]]:
        if not self.read_texts():
            return None, self.problems
        self.load_parameters()
        self.load_variables()
        self.load_policies()
        self.check_alternatives()
        self.check_texts()
        self.warn()
        if any(p.severity == "error" for p in self.problems):
            return None, self.problems
        return Library(self.policies, self.variables, self.parameters, self.library_root), self.problems

    @property
    def library_root(self) -> Path:
        assert self.root is not None
        return self.root

    # --- helpers ----------------------------------------------------------------------------
    def error(self, path: Path, line: int | None, message: str, **where: Any) -> None:
        self.problems.append(Problem(path, line, message, **where))

    def read(self, path: Path) -> Any:
        try:
            return yamlfile.loads(self.texts[path])
        except Exception as e:  # yaml.YAMLError and decoding errors alike
            mark = getattr(e, "problem_mark", None)
            self.error(path, mark.line + 1 if mark else None, f"YAML 格式错误 / invalid YAML: {e}")
            return None

    def schema_problems(self, exc: ValidationError, doc: Any, path: Path, policy_id: str | None) -> None:
        for err in exc.errors():
            loc = [p for p in err["loc"] if isinstance(p, str | int)]
            where = ".".join(str(p) for p in loc) or "(file)"
            msg = str(err["msg"]).removeprefix("Value error, ")
            name = str(loc[-1]) if loc else None
            self.error(path, yamlfile.line_of(doc, loc), f"{where}: {msg}", policy_id=policy_id, name=name)

    def check(
        self, text: str, expect: str | None, path: Path, line: int | None, what: str, pid: str | None
    ) -> Expr | None:
        try:
            return lang.check(text, self.scope, expect=expect)
        except ExprError as e:
            self.error(path, line, f"{what}: {e}", policy_id=pid, expression=text, name=e.name)
            return None

    # --- 1. texts ---------------------------------------------------------------------------
    def read_texts(self) -> bool:
        if self.files is not None:
            self.root = self.root or Path("<db>")
            self.texts = {self.root / name: text for name, text in self.files.items()}
            return True
        self.root = self.root or default_library_path()
        if not self.root.is_dir():
            self.error(self.root, None, "策略库目录不存在 / the policy directory does not exist")
            return False
        self.texts = {p: p.read_text(encoding="utf-8") for p in sorted(self.root.rglob("*.yaml"))}
        return True

    # --- 2. parameters ----------------------------------------------------------------------
    def load_parameters(self) -> None:
        shared = self.library_root / PARAMETERS_FILE
        if shared in self.texts and (doc := self.read(shared)) is not None:
            try:
                raw = (doc or {}).get("parameters") or {}
                self.add_parameters(shared, doc, {k: ParameterDef.model_validate(v) for k, v in raw.items()})
            except ValidationError as e:
                self.schema_problems(e, doc, shared, None)
        for path in sorted(p for p in self.texts if not p.name.startswith("_")):
            doc = self.read(path)
            if doc is None:
                continue
            policy_id = doc.get("id") if isinstance(doc, dict) else None
            try:
                pdef = PolicyDef.model_validate(doc)
            except ValidationError as e:
                self.schema_problems(e, doc, path, policy_id)
                continue
            self.add_parameters(path, doc, pdef.parameters)
            self.documents.append(_PolicyDoc(path, doc, pdef))
        self.scope.parameters = {n: p.symbol for n, p in self.parameters.items()}

    def add_parameters(self, path: Path, doc: Any, defs: dict[str, ParameterDef]) -> None:
        for name, pdef in defs.items():
            line = yamlfile.line_of(doc, ["parameters", name])
            if name in self.parameters:
                other = self.parameters[name].path
                self.error(path, line, f"参数 “{name}” 重复定义（另见 {other}） / parameter defined twice", name=name)
                continue
            try:
                symbol = lang.param_symbol([v.value for v in pdef.values])
            except ExprError as e:
                self.error(path, line, f"参数 {name}: {e}", name=name)
                continue
            self.parameters[name] = Parameter(name, pdef, symbol, path, line)
            for pv in pdef.values:
                if not pv.verified:
                    message = f"参数 {name} 自 {pv.valid_from} 的取值未核实 / unverified value: {pv.note}"
                    self.problems.append(Problem(path, line, message, "warning", name=name))

    # --- 3. derived variables ---------------------------------------------------------------
    def load_variables(self) -> None:
        vfile = self.library_root / VARIABLES_FILE
        if vfile not in self.texts or (doc := self.read(vfile)) is None:
            return
        for name, raw in ((doc or {}).get("variables") or {}).items():
            line = yamlfile.line_of(doc, ["variables", name])
            if name in FIELDS or name == "as_of":
                self.error(vfile, line, f"变量名 “{name}” 与画像字段重名 / clashes with a field")
                continue
            try:
                vdef = VariableDef.model_validate(raw)
            except ValidationError as e:
                self.schema_problems(e, doc, vfile, None)
                continue
            expr_line = yamlfile.line_of(doc, ["variables", name, "expr"])
            vexpr = self.check(vdef.expr, None, vfile, expr_line, f"变量 {name}", None)
            if vexpr is None:
                continue
            if vdef.values and vexpr.values and not set(vexpr.values) <= set(vdef.values):
                self.error(vfile, line, f"变量 {name} 的取值 {vexpr.values} 超出 values 列表")
            self.scope.variables[name] = Symbol(vexpr.type, tuple(vdef.values) or vexpr.values, vexpr.enum)
            fields = lang.transitive_fields(vexpr, {v.name: v.fields for v in self.variables})
            self.variables.append(Variable(name, vdef, vexpr, fields))

    # --- 4. policies ------------------------------------------------------------------------
    def load_policies(self) -> None:
        seen: dict[str, Path] = {}
        for pd in self.documents:
            pid = pd.definition.id
            if pid in seen:
                line = yamlfile.line_of(pd.doc, ["id"])
                self.error(
                    pd.path, line, f"政策 id “{pid}” 重复（另见 {seen[pid]}） / duplicate policy id", policy_id=pid
                )
                continue
            seen[pid] = pd.path
            policy = self.load_policy(pd)
            if policy is not None:
                self.policies.append(policy)

    def load_policy(self, pd: _PolicyDoc) -> Policy | None:
        pdef, vfields = pd.definition, {v.name: v.fields for v in self.variables}
        ok = True
        conditions: list[Condition] = []
        for i, cdef in enumerate(pdef.conditions):
            cid = cdef.id or f"c{i + 1}"
            line = yamlfile.line_of(pd.doc, ["conditions", i, "when"]) or yamlfile.line_of(pd.doc, ["conditions", i])
            if cid in {c.id for c in conditions}:
                self.error(pd.path, line, f"条件 id “{cid}” 重复 / duplicate condition id", policy_id=pdef.id)
                ok = False
            expr: Expr | None = None
            if cdef.when is not None:
                expr = self.check(cdef.when, BOOLEAN, pd.path, line, f"条件 {cid}", pdef.id)
                if expr is None:
                    ok = False
                    continue
            fields = lang.transitive_fields(expr, vfields) if expr else frozenset()
            label = self.template(cdef.label, pd, ["conditions", i, "label"])
            ok = ok and label is not None
            conditions.append(Condition(cid, cdef.label, expr, fields, line, cdef.action, label))
        formula = None
        if pdef.benefit is not None and pdef.benefit.formula is not None:
            line = yamlfile.line_of(pd.doc, ["benefit", "formula"])
            formula = self.check(pdef.benefit.formula, NUMBER, pd.path, line, "金额公式", pdef.id)
            ok = ok and formula is not None
        templates: dict[str, text.Template] = {}
        for key, raw, loc in (
            ("summary", pdef.summary, ["summary"]),
            ("explain", pdef.benefit.explain if pdef.benefit else None, ["benefit", "explain"]),
            ("amount_note", pdef.benefit.amount_note if pdef.benefit else None, ["benefit", "amount_note"]),
        ):
            if raw is not None:
                t = self.template(raw, pd, loc)
                if t is None:
                    ok = False
                else:
                    templates[key] = t
        return Policy(pdef, pd.path, conditions, formula, templates) if ok else None

    def template(self, raw: str, pd: _PolicyDoc, loc: Sequence[str | int]) -> text.Template | None:
        """A text parsed into plain parts and slots; each slot names a parameter that exists
        and a format that suits its unit."""
        line = yamlfile.line_of(pd.doc, loc)
        where = ".".join(map(str, loc))
        try:
            t = text.parse(raw)
        except text.TextError as e:
            self.error(pd.path, line, f"{where}: {e}", policy_id=pd.definition.id, name=e.name)
            return None
        ok = True
        for part in t.parts:
            if isinstance(part, str):
                continue
            param = self.parameters.get(part.parameter)
            if param is None:
                self.error(
                    pd.path,
                    line,
                    f"{where}: 未定义的参数 “{part.parameter}” / unknown parameter in a text slot",
                    policy_id=pd.definition.id,
                    name=part.parameter,
                )
                ok = False
                continue
            for value in {type(v.value): v.value for v in param.definition.values}.values():
                problem = text.check_slot(part, value, param.definition.unit)
                if problem:
                    self.error(pd.path, line, f"{where}: {problem}", policy_id=pd.definition.id, name=part.parameter)
                    ok = False
        return t if ok else None

    # --- 5. alternatives --------------------------------------------------------------------
    def check_alternatives(self) -> None:
        """Members of one group: at least two, each with a benefit in the same unit."""
        docs = {pd.definition.id: pd for pd in self.documents}
        groups: dict[str, list[Policy]] = {}
        for policy in self.policies:
            if policy.definition.alternative is not None:
                groups.setdefault(policy.definition.alternative.group, []).append(policy)
        for group, members in groups.items():
            units = {m.definition.benefit.unit if m.definition.benefit else None for m in members}
            for m in members:
                pd = docs[m.id]
                line = yamlfile.line_of(pd.doc, ["alternative", "group"])
                if len(members) < 2:  # e.g. the other member was withdrawn: nothing to choose between
                    message = f"择优组 “{group}” 只有这一项政策 / an exclusive group with one policy"
                    self.problems.append(Problem(pd.path, line, message, "warning", m.id, name=group))
                elif None in units or len(units) > 1:
                    message = (
                        f"择优组 “{group}” 的政策须都有金额且单位相同（{'、'.join(sorted(map(str, units)))}） / "
                        "members of an exclusive group need benefits in one unit"
                    )
                    self.error(pd.path, line, message, policy_id=m.id, name=group)

    # --- 6. texts ---------------------------------------------------------------------------
    def check_texts(self) -> None:
        """No number quoted as plain text unless the rule itself says it: a label's number is
        a literal of its condition (or of the variables it reads), a summary's or an
        explanation's a literal of any of the policy's rules; a threshold that is a parameter
        is a slot, rendered from the value in force. Years, dates, 文号, articles and codes are
        not thresholds (``huiqi.rules.text``)."""
        docs = {pd.definition.id: pd for pd in self.documents}
        by_value: dict[Any, str] = {}
        for name, param in sorted(self.parameters.items(), reverse=True):
            for v in param.definition.values:
                if isinstance(v.value, Decimal):
                    by_value[v.value.normalize()] = name
        variables = {v.name: v for v in self.variables}

        def trees(expr: Expr | None) -> list[exp.Expr]:
            if expr is None:
                return []
            out, todo, seen = [expr.tree], list(expr.variables), set()
            while todo:
                name = todo.pop()
                if name in seen or name not in variables:
                    continue
                seen.add(name)
                out.append(variables[name].expr.tree)
                todo += variables[name].expr.variables
            return out

        for policy in self.policies:
            pd = docs[policy.id]
            # A hint names the policy's own parameter of that value before any other.
            hints = by_value | {
                v.value.normalize(): name
                for name in sorted(policy.parameters | policy.text_parameters, reverse=True)
                if name in self.parameters
                for v in self.parameters[name].definition.values
                if isinstance(v.value, Decimal)
            }
            everything = [t for c in policy.evaluated for t in trees(c.expr)] + trees(policy.formula)
            # A declaration's or an action's label is its whole definition (nothing evaluates
            # it, so nothing can contradict it): its numbers are the rule, which the summary
            # and the explanations may quote.
            stated = {v for c in policy.conditions if c.expr is None for _, v in text.numbers_in(c.label)}
            policy_literals = text.literals(everything) | stated
            texts: list[tuple[list[str | int], text.Template | None, set[Any]]] = [
                (["conditions", i, "label"], c.template, text.literals(trees(c.expr)))
                for i, c in enumerate(policy.conditions)
                if c.expr is not None
            ]
            texts += [(["summary"], policy.templates.get("summary"), policy_literals)]
            for key in ("explain", "amount_note"):
                texts.append((["benefit", key], policy.templates.get(key), policy_literals))
            for loc, template, allowed in texts:
                if template is None:
                    continue
                for written, parameter in text.stray_numbers(template, allowed, hints):
                    where = ".".join(map(str, loc))
                    if parameter is not None:
                        message = (
                            f"{where}: 数字 “{written}” 是参数 {parameter} 的取值，请写成 "
                            f"{{param:{parameter}|格式}}，随参数变化 / the number {written!r} is parameter "
                            f"{parameter}'s value: write it as a slot so that it follows the parameter"
                        )
                    else:
                        message = (
                            f"{where}: 数字 “{written}” 与任何参数或规则中的数都不符 / the number {written!r} "
                            "matches no parameter and no number of the rule"
                        )
                    self.error(pd.path, yamlfile.line_of(pd.doc, loc), message, policy_id=policy.id, name=written)

    # --- 7. warnings ------------------------------------------------------------------------
    def warn(self) -> None:
        docs = {pd.definition.id: pd for pd in self.documents}
        for policy in self.policies:
            self.policy_warnings(policy, docs[policy.id])

    def policy_warnings(self, policy: Policy, pd: _PolicyDoc) -> None:
        """Checks that do not stop loading: currency of the facts, test inputs."""
        pdef, today = pd.definition, self.today

        def note(loc: list[str | int], message: str, severity: str = "warning") -> None:
            line = yamlfile.line_of(pd.doc, loc)
            self.problems.append(Problem(pd.path, line, message, severity, pdef.id))  # type: ignore[arg-type]

        if today is not None and pdef.valid_to is not None and pdef.valid_to < today:
            note(["valid_to"], f"政策已于 {pdef.valid_to} 到期 / expired on {pdef.valid_to}")
        if today is not None and (today - pdef.last_verified).days > STALE_AFTER_DAYS:
            note(
                ["last_verified"],
                f"超过{STALE_AFTER_DAYS}天未核实（上次 {pdef.last_verified}） / not verified "
                f"in the last {STALE_AFTER_DAYS} days",
            )
        for todo in pdef.unverified:
            note(["unverified"], f"未核实 / unverified: {todo}")
        for cond in policy.evaluated:
            assert cond.expr is not None
            for like in cond.expr.tree.find_all(exp.Like):
                pattern = like.expression
                if (
                    isinstance(like.this, exp.Column)
                    and like.this.name == "industry"
                    and isinstance(pattern, exp.Literal)
                    and lang.like_is_prefix(str(pattern.this))
                    and len(str(pattern.this)) > 2
                ):
                    prefix = str(pattern.this)[:-1]
                    note(
                        ["conditions"],
                        f"条件 {cond.id}: industry LIKE '{prefix}%' 把只写到更粗一级的行业代码（如 {prefix[0]}）"
                        f"判为不属于；请写 within(industry, '{prefix}')，这类代码会判为无法确定 / "
                        f"use within(industry, '{prefix}') so that coarser codes are undetermined",
                    )
        for name in sorted(policy.parameters | policy.text_parameters):
            if self.parameters[name].at(pdef.valid_from) is None:
                note(["valid_from"], f"参数 {name} 在 {pdef.valid_from} 没有取值 / no value when the policy starts")
        if len(pdef.tests) < MIN_TEST_CASES:
            note(["tests"], f"只有 {len(pdef.tests)} 个测试用例，至少需要{MIN_TEST_CASES}个 / too few test cases")
        for i, case in enumerate(pdef.tests):
            try:
                parse_profile(case.profile)
            except ProfileError as e:
                note(["tests", i, "profile"], f"测试 “{case.name}” 的画像无效 / invalid test profile: {e}", "error")
            if not pdef.in_force(case.as_of):
                note(
                    ["tests", i, "as_of"],
                    f"测试 “{case.name}” 的日期 {case.as_of} 不在政策有效期内 / as_of outside validity",
                    "error",
                )
