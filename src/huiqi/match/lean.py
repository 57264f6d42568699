"""The compiled library's answers without the library, for a one-enterprise process.

``huiqi match`` answers one enterprise and exits. Importing what builds and checks the
library (sqlglot, pydantic) and unpickling its model costs several times the answer, so
the disk cache (``huiqi.rules.cache``) also keeps a *lean* entry per library: the generated
evaluator (derived variables, every condition, amounts and — compiled ahead, since there
is no sqlglot to compile them on need — every expression in explain mode) as marshalled
code, plus the plain data the answer quotes: titles, texts and their templates, parameter
values by date, each condition's explanation plan and the static part of each result.

:func:`answer` is ``huiqi.match.answer`` over that data, step for step (tests/match/
test_lean.py compares the two on every example and several dates); :func:`dumps` writes it
as ``MatchResult.model_dump_json(indent=2)`` does, field order taken from the models when
the entry is built. The entry's key adds this package's sources to the library's key
(texts, code, Python, sqlglot and pydantic versions), so a stale entry is never read; an
entry that cannot be read is ignored (the caller answers the full way and writes it again).
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import marshal
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from huiqi.match.explain import _reason, jsonable, totals_json, value_text
from huiqi.rules import cache
from huiqi.rules.runtime import RUNTIME, q2

if TYPE_CHECKING:
    from huiqi.rules.library import Library

#: Bump when the layout of the data below changes.
FORMAT = "huiqi-lean-2"
_ORDER = {"eligible": 0, "undetermined": 1, "ineligible": 2}
_OUTCOME = {True: "met", False: "unmet", None: "unknown"}
_CHINESE_COUNT = "零一两三四五六七八九十"
#: As ``huiqi.rules.library._CONTEXT``: no intermediate step is rounded by the context.
_CONTEXT = decimal.Context(prec=50, rounding=decimal.ROUND_HALF_UP)


# --- the entry ------------------------------------------------------------------------------
def entry_path(root: Path, directory: Path) -> Path:
    digest = hashlib.sha256(FORMAT.encode() + b"\0" + cache.library_key(root).encode())
    cache.digest_sources(digest, ["match/*.py"])
    return directory / f"{digest.hexdigest()}.lean"


def load(policies: Path | None = None, directory: Path | None = None) -> Lean | None:
    """The lean library of ``policies`` (default: the shipped one) from the cache, or None."""
    from huiqi.rules.paths import default_library_path

    root = policies or default_library_path()
    directory = directory or cache.cache_dir()
    if directory is None or not root.is_dir():
        return None
    data = cache.read(entry_path(root, directory))
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    try:
        return Lean(data)
    except Exception:  # written by other code after all: answer the full way
        return None


def store(library: Library, policies: Path | None = None, directory: Path | None = None) -> None:
    """Write the lean entry of ``library`` (loaded from ``policies``) for the next process."""
    from huiqi.rules.paths import default_library_path

    root = policies or default_library_path()
    directory = directory or cache.cache_dir()
    if directory is not None and root.is_dir():
        cache.write(directory, entry_path(root, directory), build(library))


def build(library: Library) -> dict[str, Any]:
    """The lean data of a compiled library (see the module docstring)."""
    from huiqi.match import explain
    from huiqi.match.engine import _static
    from huiqi.match.result import MatchResult
    from huiqi.profile import FIELDS

    explainers: dict[str, str] = {}
    generated = library.generate(explainers).generated()
    shapes: dict[tuple[str, str], int] = {}
    policies = []
    for p in library.policies:
        d = p.definition
        conditions = []
        for c in p.evaluated:
            assert c.expr is not None
            number = shapes.setdefault((c.expr.text, c.label), len(shapes))
            # (id, shape, fields, explainer, plan, label, template)
            plan = explain._plan(c, library)
            conditions.append((c.id, number, c.fields, explainers[c.expr.text], plan, c.label, c.template))
        texts = [(c.label, c.template, c.declaration, c.action) for c in p.conditions]
        policies.append(
            {
                "index": p.index,
                "id": d.id,
                "title": d.title,
                "valid_from": d.valid_from,
                "valid_to": d.valid_to,
                "conditions": conditions,
                "texts": texts,
                "summary": (d.summary, p.templates.get("summary")),
                "explain": (d.benefit.explain if d.benefit else None, p.templates.get("explain")),
                "amount_note": (d.benefit.amount_note if d.benefit else None, p.templates.get("amount_note")),
                "amount": f"p{p.index}_amount" if p.formula is not None else None,
                "formula": explainers[p.formula.text] if p.formula is not None else None,
                "unit": d.benefit.unit if d.benefit is not None else None,
                "conditional": p.conditional,
                "alternative": (d.alternative.group, d.alternative.name) if d.alternative is not None else None,
                "documents": [(doc.in_force_from, doc.number) for doc in d.documents_in_force()],
                "document_number": d.document_number,
                "static": _static(p, {}),
            }
        )
    return {
        "format": FORMAT,
        "code": generated.code,
        "constants": generated.constants,
        "fields": list(FIELDS),
        "set_variables": library.set_variables,
        "enum_bits": dict(library.enums.bits),
        "parameters": {
            name: [(v.valid_from, v.value) for v in p.definition.values] for name, p in library.parameters.items()
        },
        "policies": policies,
        "json": _json_shape(MatchResult),
    }


def _json_shape(model: Any) -> Any:
    """How a model is written: its fields in order, each with its own shape and default
    (None: written as it is). A model inside a list or an optional keeps its shape."""
    import typing

    from pydantic import BaseModel

    def shape(annotation: Any) -> Any:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return _json_shape(annotation)
        if typing.get_origin(annotation) is list:
            inner = shape(typing.get_args(annotation)[0])
            return None if inner is None else ("list", inner)
        for arg in typing.get_args(annotation):  # X | None
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                return _json_shape(arg)
        return None

    fields = []
    for name, info in model.model_fields.items():
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        fields.append((name, shape(info.annotation), default))
    return ("model", fields)


# --- the answer -----------------------------------------------------------------------------
class _Variables(dict[str, Any]):
    """Derived variables as the answer shows them, with the values still ``possible``."""

    possible: dict[str, tuple[str, ...]]


class _Evaluation(NamedTuple):
    policy: dict[str, Any]
    verdict: str
    outcomes: tuple[bool | None, ...]
    missing: tuple[str, ...]
    amount: Decimal | None
    amount_missing: tuple[str, ...]

    @property
    def conditional(self) -> bool:
        return self.verdict == "eligible" and bool(self.policy["conditional"])


class Lean:
    """A library's answers from its lean data (see the module docstring)."""

    def __init__(self, data: dict[str, Any]):
        self.data = data
        self.ns = {**RUNTIME, **data["constants"]}
        exec(marshal.loads(data["code"]), self.ns)
        self.bits = {name: 1 << i for i, name in enumerate(data["fields"])}
        self.singles = {bit: v for v, bit in data["enum_bits"].items()}
        self.policies: list[dict[str, Any]] = data["policies"]

    def field_names(self, bits: int) -> tuple[str, ...]:
        return tuple(name for name, bit in self.bits.items() if bits & bit)

    def params_at(self, as_of: dt.date) -> dict[str, Any]:
        params = {}
        for name, values in self.data["parameters"].items():
            chosen = None
            for valid_from, value in values:
                if valid_from <= as_of:
                    chosen = value
            params[name] = chosen
        return params

    def evaluate(self, facts: dict[str, Any], as_of: dt.date, params: dict[str, Any]) -> tuple[Any, list[Any]]:
        """``Library.evaluate``: the derived variables and one evaluation per policy in force."""
        ns = self.ns
        out = []
        with decimal.localcontext(_CONTEXT):
            both = ns["derive"](facts, params, as_of)
            v = {k: x[0] for k, x in both.items()}
            vd = {k: x[1] for k, x in both.items()}
            checked = ns["check_all"](facts, v, params, as_of)
            explained: dict[str, int] = {}

            def deps_of(name: str) -> int:
                bits = explained.get(name)
                if bits is None:
                    bits = explained[name] = ns[name](facts, v, vd, params, as_of)[1]
                return bits

            for policy in self.policies:
                if not (policy["valid_from"] <= as_of and (policy["valid_to"] is None or as_of <= policy["valid_to"])):
                    continue
                outcomes = checked[policy["index"]]
                if False in outcomes:
                    out.append(_Evaluation(policy, "ineligible", outcomes, (), None, ()))
                    continue
                missing: tuple[str, ...] = ()
                verdict = "eligible"
                if None in outcomes:
                    verdict = "undetermined"
                    bits = 0
                    for j, outcome in enumerate(outcomes):
                        if outcome is None:
                            bits |= deps_of(policy["conditions"][j][3])
                    missing = self.field_names(bits)
                amount: Decimal | None = None
                amount_missing: tuple[str, ...] = ()
                if policy["amount"] is not None:
                    raw = ns[policy["amount"]](facts, v, params, as_of)
                    if raw is not None:
                        amount = q2(raw)
                    else:
                        amount_missing = self.field_names(deps_of(policy["formula"]))
                out.append(_Evaluation(policy, verdict, outcomes, missing, amount, amount_missing))
        variables = _Variables(v)
        variables.possible = {}
        for name in self.data["set_variables"]:
            mask = v[name]
            variables[name] = self.singles.get(mask)
            if variables[name] is None and mask != 1:  # EnumBits.NULL: no value
                variables.possible[name] = tuple(x for x, bit in self.data["enum_bits"].items() if mask & bit)
        return variables, out

    def answer(self, facts: dict[str, Any], as_of: dt.date) -> dict[str, Any]:
        """``huiqi.match.answer`` for the facts of a valid profile registered by ``as_of``."""
        params = self.params_at(as_of)
        variables, evaluations = self.evaluate(facts, as_of, params)
        evaluations.sort(key=lambda ev: (_ORDER[ev.verdict], -(ev.amount or 0), ev.policy["id"]))
        choices = _choose(evaluations)
        left_out = {e.policy["id"] for c in choices.values() for e in c[1] if e is not c[2]}
        by_unit: dict[str, Decimal] = {}
        conditional_by_unit: dict[str, Decimal] = {}
        for ev in evaluations:
            unit = ev.policy["unit"]
            if (
                ev.verdict == "eligible"
                and ev.amount is not None
                and unit is not None
                and ev.policy["id"] not in left_out
            ):
                sums = conditional_by_unit if ev.policy["conditional"] else by_unit
                sums[unit] = sums.get(unit, Decimal("0.00")) + ev.amount
        counts = {verdict: sum(ev.verdict == verdict for ev in evaluations) for verdict in _ORDER}
        conditional = sum(ev.conditional for ev in evaluations)
        counts["eligible"] -= conditional
        notes = {group: _choice(choice) for group, choice in choices.items()}
        said = _Said(facts, variables, params)
        return {
            "as_of": as_of.isoformat(),
            "variables": {k: jsonable(v) for k, v in variables.items()},
            "possible": {k: list(v) for k, v in variables.possible.items()},
            "results": [_result(ev, as_of, params, said, notes) for ev in evaluations],
            "alternatives": list(notes.values()),
            "totals": totals_json(counts, conditional, by_unit, conditional_by_unit),
        }

    def dumps(self, answer: dict[str, Any]) -> str:
        """``MatchResult.model_validate(answer).model_dump_json(indent=2)``, without pydantic."""
        return json.dumps(_ordered(answer, self.data["json"]), ensure_ascii=False, indent=2)


def _ordered(value: Any, shape: Any) -> Any:
    if shape is None or value is None:
        return value
    if shape[0] == "list":
        return [_ordered(v, shape[1]) for v in value]
    return {name: _ordered(value[name], inner) if name in value else default for name, inner, default in shape[1]}


def _render(raw: Any, template: Any, params: dict[str, Any]) -> Any:
    """A text as of the answer's date: ``raw`` or, when it quotes parameters, its template filled."""
    return raw if template is None else template.render(params)


def _choose(evaluations: list[_Evaluation]) -> dict[str, tuple[str, list[_Evaluation], Any, tuple[Any, ...]]]:
    """``huiqi.rules.library.choose``: (group, members, chosen, uncompared) per group."""
    groups: dict[str, list[_Evaluation]] = {}
    for ev in evaluations:
        alt = ev.policy["alternative"]
        if alt is not None:
            groups.setdefault(alt[0], []).append(ev)
    out = {}
    for group, members in groups.items():
        members.sort(key=lambda e: e.policy["index"])
        candidates = [e for e in members if e.verdict == "eligible" and not e.policy["conditional"]]
        chosen = max(candidates, key=_rank) if candidates else None
        uncompared = tuple(e for e in candidates if e.amount is None and len(candidates) > 1)
        out[group] = (group, members, chosen, uncompared)
    return out


def _rank(ev: _Evaluation) -> tuple[bool, Decimal, int]:
    return (ev.amount is not None, ev.amount or Decimal(0), -ev.policy["index"])


def _choice(choice: tuple[str, list[_Evaluation], Any, tuple[Any, ...]]) -> dict[str, Any]:
    group, members, chosen, uncompared = choice
    names = {e.policy["id"]: e.policy["alternative"][1] for e in members}
    n = len(members)
    count = _CHINESE_COUNT[n] if n < len(_CHINESE_COUNT) else str(n)
    if chosen is None:
        note = f"{count}项择优享受，不能同时享受" if n > 1 else ""
    else:
        note = f"{count}项择优享受，按{names[chosen.policy['id']]}计" if n > 1 else ""
        unknown = "、".join(names[e.policy["id"]] for e in uncompared if e is not chosen)
        if unknown:
            note += f"（{unknown}的金额无法估算，未作比较）"
    return {
        "group": group,
        "members": [e.policy["id"] for e in members],
        "names": names,
        "chosen": None if chosen is None else chosen.policy["id"],
        "amount": None if chosen is None or chosen.amount is None else str(chosen.amount),
        "note": note,
    }


class _Said:
    """Condition entries of one answer, each built once (``huiqi.match.engine._Said``)."""

    def __init__(self, facts: dict[str, Any], variables: _Variables, params: dict[str, Any]):
        self.facts, self.variables, self.params = facts, variables, params
        self.entries: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.words: dict[tuple[str, Any], str] = {}

    def word(self, name: str, value: Any) -> str:
        key = (name, tuple(value) if isinstance(value, list) else value)
        text = self.words.get(key)
        if text is None:
            text = self.words[key] = value_text(name, value)
        return text

    def __call__(self, condition: tuple[Any, ...], outcome: bool | None, missing: tuple[str, ...]) -> dict[str, Any]:
        cid, number, fields, _, plan, label, template = condition
        key = (cid, number, outcome) if outcome is not None else (cid, number, None, fields.intersection(missing))
        entry = self.entries.get(key)
        if entry is None:
            facts, variables, params = self.facts, self.variables, self.params
            text = _render(label, template, params)
            values = {}
            for name, _, is_field in plan.shown:
                values[name] = facts[name] if is_field else _variable(variables, name)
            for name in plan.parameters:
                values[name] = params.get(name)
            reason = _reason(plan, text, outcome, facts, variables, params, missing, self.word)
            entry = self.entries[key] = {
                "id": cid,
                "text": text,
                "outcome": _OUTCOME[outcome],
                "values": {k: jsonable(v) for k, v in values.items()},
                "reason": reason,
            }
        return entry


def _variable(variables: _Variables, name: str) -> Any:
    value = variables.get(name)
    return variables.possible.get(name) if value is None else value


def _result(
    ev: _Evaluation, as_of: dt.date, params: dict[str, Any], said: _Said, notes: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    p = ev.policy
    labels = [
        (_render(label, template, params), declaration, action) for label, template, declaration, action in p["texts"]
    ]
    conditions = [said(c, o, ev.missing) for c, o in zip(p["conditions"], ev.outcomes, strict=True)]
    benefit = None
    if p["unit"] is not None:
        benefit = {
            "amount": None if ev.amount is None else str(ev.amount),
            "unit": p["unit"],
            "explain": _render(p["explain"][0], p["explain"][1], params),
            "missing": list(ev.amount_missing),
            "note": _render(p["amount_note"][0], p["amount_note"][1], params),
        }
    alternative = None
    if p["alternative"] is not None:
        group = notes[p["alternative"][0]]
        alternative = {
            "group": group["group"],
            "members": group["members"],
            "chosen": group["chosen"] == p["id"],
            "note": group["note"],
        }
    document = p["document_number"]
    for valid_from, number in p["documents"]:
        if valid_from <= as_of:
            document = number
    return {
        "policy_id": p["id"],
        "title": p["title"],
        "verdict": ev.verdict,
        "detail": "conditional" if ev.conditional else None,
        "preconditions": [text for text, _, action in labels if action],
        "alternative": alternative,
        "conditions": conditions,
        "missing": list(ev.missing),
        "benefit": benefit,
        "declarations": [text for text, declaration, _ in labels if declaration],
        "summary": _render(p["summary"][0], p["summary"][1], params) or p["summary"][0],
        **p["static"],
        "document_number": document,
    }
