"""Run the test cases written inside policy files (OpenFisca-style YAML tests)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from huiqi.profile import ProfileError, parse_profile
from huiqi.rules.library import Library, Policy
from huiqi.rules.model import PolicyTest


@dataclass(frozen=True)
class CaseResult:
    policy: Policy
    name: str
    passed: bool
    problems: tuple[str, ...]


def run_cases(library: Library, only: Iterable[Path] | None = None) -> list[CaseResult]:
    """Every test case of every policy (or of the policies under the given paths)."""
    roots = [p.resolve() for p in only] if only else None
    results: list[CaseResult] = []
    for policy in library.policies:
        path = policy.path.resolve()
        if roots and not any(path == r or r in path.parents for r in roots):
            continue
        results += [run_case(library, policy, case) for case in policy.definition.tests]
    return results


def run_case(library: Library, policy: Policy, case: PolicyTest) -> CaseResult:
    """One test case: the policy evaluated for the case's profile on its date."""
    try:
        profile = parse_profile(case.profile)
    except ProfileError as e:
        return CaseResult(policy, case.name, False, (f"画像无效 / invalid profile: {e}",))
    _, evaluations = library.evaluate(profile, case.as_of, [policy.id])
    if not evaluations:
        return CaseResult(policy, case.name, False, (f"{case.as_of} 政策不在有效期内 / not in force",))
    ev = evaluations[0]
    problems: list[str] = []
    if ev.verdict != case.verdict:
        problems.append(f"结论 verdict: 期望 expected {case.verdict}, 实际 got {ev.verdict}")
    if case.checks_amount:
        want = None if case.amount is None else Decimal(case.amount)
        if want != ev.amount:
            problems.append(f"金额 amount: 期望 expected {case.amount}, 实际 got {ev.amount}")
    if case.missing is not None and sorted(case.missing) != sorted(ev.missing):
        problems.append(f"缺少信息 missing: 期望 expected {sorted(case.missing)}, 实际 got {sorted(ev.missing)}")
    return CaseResult(policy, case.name, not problems, tuple(problems))
