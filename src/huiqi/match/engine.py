"""The policy calculator (政策计算器): one enterprise in, every policy in force out.

``answer()`` builds the JSON contract as plain Python data — the fast path for the HTTP
API and ``--format json``; ``match()`` returns the same answer as typed pydantic models.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any
from weakref import WeakKeyDictionary

from huiqi import clock
from huiqi.match import explain
from huiqi.match.explain import jsonable, totals_json
from huiqi.match.result import MatchResult
from huiqi.profile import Profile, check_registered, parse_profile
from huiqi.rules import Condition, Evaluation, Library, Policy
from huiqi.rules.library import Choice, Variables, choose

_ORDER = {"eligible": 0, "undetermined": 1, "ineligible": 2}
_OUTCOME = {True: "met", False: "unmet", None: "unknown"}


@cache
def default_library() -> Library:
    """The shipped library, loaded and compiled once per process (from the disk cache when
    the same texts were compiled before)."""
    from huiqi.rules.cache import load_library_cached

    return load_library_cached()


def answer(
    profile: Profile | dict[str, Any],
    as_of: dt.date | None = None,
    library: Library | None = None,
    policy_ids: list[str] | None = None,
) -> dict[str, Any]:
    """The match result of ARCHITECTURE.md as JSON-ready data (see ``match``)."""
    if not isinstance(profile, Profile):
        profile = parse_profile(profile)
    as_of = as_of or clock.from_env().today()  # the public edge: callers below pass a date
    check_registered(profile, as_of)  # never evaluate an enterprise before it existed
    library = library or default_library()
    variables, evaluations = library.evaluate(profile, as_of, policy_ids)
    facts = profile.facts()
    wording = _wording(library, as_of)
    evaluations = _sorted(evaluations, wording.rank, wording.in_id_order)
    groups = wording.groups
    choices = choose([ev for ev in evaluations if groups[ev.policy.index] is not None])
    # Exclusive groups count once, with their chosen member (two reduced CIT rates never add up).
    left_out = {e.policy.id for c in choices.values() for e in c.members if e is not c.chosen}
    # 可享受 and its total hold only what the known facts establish; a policy that waits on an
    # action (招用退役士兵, 首次贷款) is 满足前提即可享受, counted and summed apart.
    by_unit: dict[str, Decimal] = {}
    conditional_by_unit: dict[str, Decimal] = {}
    counts = dict.fromkeys(_ORDER, 0)
    conditional = 0
    for ev in evaluations:
        counts[ev.verdict] += 1
        if ev.verdict == "eligible":
            benefit = ev.policy.definition.benefit
            if ev.policy.conditional:
                conditional += 1
            if ev.amount is not None and benefit is not None and ev.policy.id not in left_out:
                sums = conditional_by_unit if ev.policy.conditional else by_unit
                sums[benefit.unit] = sums.get(benefit.unit, Decimal("0.00")) + ev.amount
    counts["eligible"] -= conditional
    notes = {group: _choice(choice) for group, choice in choices.items()}
    explainer = explain.Explainer(library, facts, variables, wording.params)
    conditions = _conditions(library, wording, evaluations, facts, variables, explainer)
    return {
        "as_of": as_of.isoformat(),
        "variables": {k: jsonable(v) for k, v in variables.items()},
        "possible": {k: list(v) for k, v in variables.possible.items()},
        "results": _results(wording, evaluations, conditions, notes),
        "alternatives": list(notes.values()),
        "totals": totals_json(counts, conditional, by_unit, conditional_by_unit),
    }


def _sorted(evaluations: list[Evaluation], rank: list[int], in_id_order: bool) -> list[Evaluation]:
    """Eligible first, then undetermined, then ineligible; within each the larger known amount
    first, then by policy id (``rank``: each policy's place in id order). The ineligible have
    no amount and come in library order: sorted only when that is not id order already
    (``in_id_order``: the policies in force are in id order)."""
    by_verdict: dict[str, list[Evaluation]] = {"eligible": [], "undetermined": [], "ineligible": []}
    for ev in evaluations:
        by_verdict[ev.verdict].append(ev)
    eligible, undetermined, ineligible = by_verdict.values()

    def amount_then_id(ev: Evaluation) -> tuple[Decimal | int, int]:
        return -(ev.amount or 0), rank[ev.policy.index]

    eligible.sort(key=amount_then_id)
    undetermined.sort(key=amount_then_id)
    if not in_id_order:
        ineligible.sort(key=amount_then_id)
    return eligible + undetermined + ineligible


def match(
    profile: Profile | dict[str, Any],
    as_of: dt.date | None = None,
    library: Library | None = None,
    policy_ids: list[str] | None = None,
) -> MatchResult:
    """Evaluate every policy in force on ``as_of`` (default: today) for one enterprise.

    ``profile`` may be raw JSON-like data; bad input raises ProfileError naming the field.
    """
    return MatchResult.model_validate(answer(profile, as_of, library, policy_ids))


_CHINESE_COUNT = "零一两三四五六七八九十"


def _choice(choice: Choice) -> dict[str, Any]:
    """An exclusive group in the answer: its members, the one the totals take, and why."""
    names = {e.policy.id: e.policy.definition.alternative.name for e in choice.members}  # type: ignore[union-attr]
    n = len(choice.members)
    count = _CHINESE_COUNT[n] if n < len(_CHINESE_COUNT) else str(n)
    if choice.chosen is None:
        note = f"{count}项择优享受，不能同时享受" if n > 1 else ""
    else:
        note = f"{count}项择优享受，按{names[choice.chosen.policy.id]}计" if n > 1 else ""
        unknown = "、".join(names[e.policy.id] for e in choice.uncompared if e is not choice.chosen)
        if unknown:
            note += f"（{unknown}的金额无法估算，未作比较）"
    return {
        "group": choice.group,
        "members": [e.policy.id for e in choice.members],
        "names": names,
        "chosen": None if choice.chosen is None else choice.chosen.policy.id,
        "amount": None if choice.chosen is None or choice.chosen.amount is None else str(choice.chosen.amount),
        "note": note,
    }


@dataclass(frozen=True, slots=True)
class _Slot:
    """A condition's entry on one date, all but the enterprise's values. Conditions with the
    same id, text and label read the same values and say the same, whichever policy has
    them, so they share one slot (500 synthetic policies: 4,981 conditions, 1,742 slots)."""

    condition: Condition
    fields: frozenset[str]  # profile fields it reads, through variables too
    id: str
    text: str  # the label, slots filled with the parameters in force
    shown: tuple[str, ...]  # the facts and variables its values show …
    parameters: dict[str, Any] | None  # … then these parameters (JSON-ready), or none
    met: tuple[str, ...]  # the reasons as templates (explain.reason_template)
    unmet: tuple[str, ...]
    compared: str | None  # a value whose being unknown changes the sentence (explain.compared_name)


#: The entry the explainer words, for what a template does not say: (slot, outcome).
_Explained = Callable[[int, "bool | None"], dict[str, Any]]
#: Every in-force policy's condition entries, by policy index, from (the outcomes by policy
#: index, the values shown by name, the values worded by name, the names whose value is
#: unknown, the explainer's entries).
_Render = Callable[
    [list[tuple["bool | None", ...]], dict[str, Any], dict[str, str], set[str], _Explained],
    tuple[list[dict[str, Any]], ...],
]


def _render(slots: list[_Slot], first: list[tuple[int, int]], slots_of: list[tuple[int, ...]]) -> _Render:
    """Generated code that fills every slot's template, straight-line: per slot one test of
    its outcome and one dict display with the texts as constants, then each policy's list.
    A loop over slots calling one closure each cost three times as much (500 synthetic
    policies, 1,742 slots: the fill was most of the answer)."""
    names: dict[str, int] = {}
    for slot in slots:
        for name in slot.shown:
            names.setdefault(name, len(names))
    lines = ["def render(C, S, W, U, X):"]
    lines += [f"    s{i} = S[{name!r}]; w{i} = W[{name!r}]; u{i} = {name!r} in U" for name, i in names.items()]
    for n, (slot, (p, j)) in enumerate(zip(slots, first, strict=True)):
        values = ", ".join([f"{name!r}: s{names[name]}" for name in slot.shown])
        if slot.parameters:
            assert all(type(v) in (str, int, bool, type(None)) for v in slot.parameters.values())
            values += "".join(f", {k!r}: {v!r}" for k, v in slot.parameters.items())
        values = "{" + values.lstrip(", ") + "}"
        unknown = f"o is None or u{names[slot.compared]}" if slot.compared in names else "o is None"
        lines.append(f"    o = C[{p}][{j}]")
        lines.append(f"    if {unknown}: e{n} = X({n}, o)")
        for test, outcome, parts in (("elif o", "met", slot.met), ("else", "unmet", slot.unmet)):
            reason = " + ".join(f"w{names[part]}" if i % 2 else repr(part) for i, part in enumerate(parts) if part)
            lines.append(
                f"    {test}: e{n} = {{'id': {slot.id!r}, 'text': {slot.text!r}, 'outcome': {outcome!r}, "
                f"'values': {values}, 'reason': {reason or repr('')}}}"
            )
    lists = ", ".join("[" + ", ".join(f"e{n}" for n in numbers) + "]" for numbers in slots_of)
    lines.append(f"    return ({lists},)" if lists else "    return ()")
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(lines), "<huiqi answer>", "exec"), namespace)
    render: _Render = namespace["render"]
    return render


@dataclass(frozen=True, slots=True)
class _Wording:
    """What an answer needs from the library on one date, worded once: the slots of the
    policies in force, how to make each slot's entry, each result with its fixed parts."""

    params: dict[str, Any]
    in_force: int  # how many policies are in force: an answer for all of them takes the fast way
    slots: list[_Slot]
    slots_of: list[tuple[int, ...]]  # by policy index: the slots of its evaluated conditions
    render: _Render
    names: tuple[tuple[str, bool], ...]  # every fact (True) and variable (False) a slot shows
    #: Unknown conditions' reason templates by (slot, the policy's missing facts it reads, its
    #: facts that are absent), made on first need: the shapes are few, the combinations many.
    unknowns: dict[tuple[int, frozenset[str], frozenset[str]], tuple[str, ...]]
    results: list[dict[str, Any]]  # by policy index: a result to copy, the rest filled in per answer
    benefits: list[tuple[str, str | None, str | None] | None]  # by policy index: unit, explain, note
    conditional: list[bool]  # by policy index: waits on an action (满足前提即可享受 when eligible)
    groups: list[str | None]  # by policy index: its exclusive group (alternative), if any
    rank: list[int]  # by policy index: its place in id order (results are sorted by id last)
    in_id_order: bool  # the policies in force come in id order


#: Per library, its wording by date: bounded like the library's own texts (as_of is user
#: input), and gone with the library (a server rebuilds it on every publish).
_WORDING: WeakKeyDictionary[Library, dict[dt.date, _Wording]] = WeakKeyDictionary()
_WORDING_DATES = 64
_UNKNOWN_SHAPES = 100_000


def _wording(library: Library, as_of: dt.date) -> _Wording:
    by_date = _WORDING.get(library)
    if by_date is None:
        by_date = _WORDING[library] = {}
    wording = by_date.get(as_of)
    if wording is None:
        if len(by_date) >= _WORDING_DATES:
            by_date.clear()
        wording = by_date[as_of] = _word(library, as_of)
    return wording


def _word(library: Library, as_of: dt.date) -> _Wording:
    params = library.params_at(as_of)
    texts = library.texts_at(as_of)
    in_force = library.in_force(as_of)
    numbers: dict[tuple[str, str, str], int] = {}
    slots: list[_Slot] = []
    first: list[tuple[int, int]] = []
    slots_of: list[tuple[int, ...]] = [()] * len(library.policies)
    names: dict[tuple[str, bool], None] = {}
    for policy in in_force:
        own = []
        for j, (c, label) in enumerate(zip(policy.evaluated, texts[policy.index].evaluated, strict=True)):
            assert c.expr is not None
            number = numbers.get((c.id, c.expr.text, c.label))
            if number is None:
                number = numbers[(c.id, c.expr.text, c.label)] = len(slots)
                shown = explain.shown_names(c, library)
                names.update(dict.fromkeys(shown))
                read = explain.parameters_read(c, library)
                slots.append(
                    _Slot(
                        condition=c,
                        fields=c.fields,
                        id=c.id,
                        text=label,
                        shown=tuple(name for name, _ in shown),
                        parameters={name: jsonable(params.get(name)) for name in read} if read else None,
                        met=explain.reason_template(c, True, label, params, library),
                        unmet=explain.reason_template(c, False, label, params, library),
                        compared=explain.compared_name(c, library),
                    )
                )
                first.append((policy.index, j))
            own.append(number)
        slots_of[policy.index] = tuple(own)
    results = []
    benefits: list[tuple[str, str | None, str | None] | None] = []
    for policy in library.policies:
        d = policy.definition
        worded = texts[policy.index]
        results.append(
            {
                "policy_id": d.id,
                "title": d.title,
                "verdict": None,
                "detail": None,
                "preconditions": list(worded.preconditions),
                "alternative": None,
                "conditions": None,
                "missing": None,
                "benefit": None,
                "declarations": list(worded.declarations),
                "summary": worded.summary,
                **_static(policy, {}),
                "document_number": d.document_at(as_of),  # the document in force on as_of
            }
        )
        benefits.append(None if d.benefit is None else (d.benefit.unit, worded.explain, worded.amount_note))
    rank = [0] * len(library.policies)
    for place, policy in enumerate(sorted(library.policies, key=lambda p: p.id)):
        rank[policy.index] = place
    return _Wording(
        params=params,
        in_force=len(in_force),
        slots=slots,
        slots_of=slots_of,
        render=_render(slots, first, slots_of),
        names=tuple(names),
        unknowns={},
        results=results,
        benefits=benefits,
        conditional=[p.conditional for p in library.policies],
        groups=[None if p.definition.alternative is None else p.definition.alternative.group for p in library.policies],
        rank=rank,
        in_id_order=all(rank[a.index] < rank[b.index] for a, b in itertools.pairwise(in_force)),
    )


def _conditions(
    library: Library,
    wording: _Wording,
    evaluations: list[Evaluation],
    facts: dict[str, Any],
    variables: Variables,
    explainer: explain.Explainer,
) -> list[list[dict[str, Any]]]:
    """Each evaluation's condition entries. A slot's entry is made once per answer and shared
    by the results that cite it (read-only); a met or unmet one fills its template with the
    enterprise's values, each worded once; an unknown one is worded by the explainer, and
    an undetermined policy's gets its own when its reason names the policy's missing facts."""
    shown: dict[str, Any] = {}  # name → the value shown, JSON-ready
    words: dict[str, str] = {}  # name → the value worded
    unknown: set[str] = set()  # names whose value is not known
    for name, is_field in wording.names:
        raw = facts[name] if is_field else variables.get(name)
        value = raw if is_field else explain.variable(variables, name)
        shown[name] = jsonable(value)
        words[name] = explainer.word(name, value)
        if raw is None:
            unknown.add(name)
    slots, unknowns = wording.slots, wording.unknowns
    if len(unknowns) > _UNKNOWN_SHAPES:  # bounded: each enterprise may bring new shapes
        unknowns.clear()
    absent = frozenset(name for name, value in facts.items() if value is None)

    def explained(number: int, outcome: bool | None, missing: tuple[str, ...] = ()) -> dict[str, Any]:
        slot = slots[number]
        if outcome is None:  # its template, by the facts that decide it and which of them are absent
            named = slot.fields.intersection(missing)
            key = (number, named, slot.fields & absent)
            parts = unknowns.get(key)
            if parts is None:
                parts = unknowns[key] = explain.reason_template(
                    slot.condition, None, slot.text, wording.params, library, named, key[2]
                )
            values = {name: shown[name] for name in slot.shown}
            if slot.parameters is not None:
                values.update(slot.parameters)
            return {
                "id": slot.id,
                "text": slot.text,
                "outcome": "unknown",
                "values": values,
                "reason": "".join([explainer.word(p, facts[p]) if i % 2 else p for i, p in enumerate(parts)]),
            }
        values, reason = explainer(slot.condition, outcome, missing, slot.text)
        return {
            "id": slot.id,
            "text": slot.text,
            "outcome": _OUTCOME[outcome],
            "values": {k: jsonable(v) for k, v in values.items()},
            "reason": reason,
        }

    if len(evaluations) == wording.in_force:  # every policy in force: every slot is cited
        outcomes: list[tuple[bool | None, ...]] = [()] * len(wording.slots_of)
        for ev in evaluations:
            outcomes[ev.policy.index] = ev.outcomes
        lists = wording.render(outcomes, shown, words, unknown, explained)
        out = [lists[ev.policy.index] for ev in evaluations]
    else:  # a few policies asked for (policy_ids): worded the plain way, slot by slot
        entries: dict[int, dict[str, Any]] = {}
        out = []
        for ev in evaluations:
            listed = []
            for n, o in zip(wording.slots_of[ev.policy.index], ev.outcomes, strict=True):
                e = entries.get(n)
                if e is None:
                    e = entries[n] = explained(n, o)
                listed.append(e)
            out.append(listed)
    naming: dict[tuple[int, frozenset[str]], dict[str, Any]] = {}  # unknown entries naming missing facts
    for ev, listed in zip(evaluations, out, strict=True):
        if ev.missing:
            numbers = wording.slots_of[ev.policy.index]
            for j, o in enumerate(ev.outcomes):
                if o is None and (named := slots[numbers[j]].fields.intersection(ev.missing)):
                    e = naming.get((numbers[j], named))
                    if e is None:
                        e = naming[(numbers[j], named)] = explained(numbers[j], None, ev.missing)
                    listed[j] = e
    return out


def _results(
    wording: _Wording,
    evaluations: list[Evaluation],
    conditions: list[list[dict[str, Any]]],
    choices: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    out = []
    results, benefits, conditional, groups = wording.results, wording.benefits, wording.conditional, wording.groups
    for ev, listed in zip(evaluations, conditions, strict=True):
        index = ev.policy.index
        result = results[index].copy()  # fixed parts in place, in the contract's order
        result["verdict"] = ev.verdict
        # 满足前提即可享受: eligible on the known facts, once the enterprise has taken these actions.
        if conditional[index] and ev.verdict == "eligible":
            result["detail"] = "conditional"
        if groups[index] is not None:
            group = choices[groups[index]]  # type: ignore[index]
            result["alternative"] = {
                "group": group["group"],
                "members": group["members"],
                "chosen": group["chosen"] == result["policy_id"],
                "note": group["note"],
            }
        result["conditions"] = listed
        result["missing"] = list(ev.missing)
        benefit = benefits[index]
        if benefit is not None:
            unit, explained, note = benefit
            result["benefit"] = {
                "amount": None if ev.amount is None else str(ev.amount),
                "unit": unit,
                "explain": explained,
                "missing": list(ev.amount_missing),
                "note": note,
            }
        out.append(result)
    return out


def _static(policy: Policy, statics: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The parts of a result that depend only on the policy (kept in ``statics`` by index)."""
    cached = statics.get(policy.index)
    if cached is None:
        d = policy.definition
        cached = statics[policy.index] = {
            "apply": d.apply.model_dump(mode="json"),
            "category": d.category,
            "issuer": d.issuer,
            "source_url": d.source_url,
            "region": d.region,
            "sample": d.sample,
            "valid_from": d.valid_from.isoformat(),
            "valid_to": None if d.valid_to is None else d.valid_to.isoformat(),
        }
    return cached
