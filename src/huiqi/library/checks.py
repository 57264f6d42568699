"""The gate before submit and publish: the whole library must load and every test pass."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from huiqi.rules import Library, Problem, lint_library
from huiqi.rules.casetests import run_cases

DB_ROOT = Path("<db>")


@dataclass
class CheckReport:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    cases_passed: int = 0
    cases_failed: list[str] = field(default_factory=list)
    library: Library | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and not self.cases_failed

    @property
    def problems(self) -> list[str]:
        return [*self.errors, *(f"测试失败 test failed: {c}" for c in self.cases_failed)]

    def merge(self, other: CheckReport, label: str) -> None:
        for e in other.errors:
            if e not in self.errors and f"[{label}] {e}" not in self.errors:
                self.errors.append(f"[{label}] {e}")
        for c in other.cases_failed:
            if f"[{label}] {c}" not in self.cases_failed:
                self.cases_failed.append(f"[{label}] {c}")


def _format(p: Problem, display: Mapping[str, str]) -> str:
    rel = p.path.relative_to(DB_ROOT).as_posix() if p.path.is_relative_to(DB_ROOT) else str(p.path)
    where = display.get(rel, rel)
    where = f"{where}:{p.line}" if p.line else where
    expr = f"（表达式 expression: {p.expression}）" if p.expression else ""
    return f"{where}: {p.message}{expr}"


def check_files(
    files: Mapping[str, str],
    *,
    focus: str | None = None,
    focus_policy: str | None = None,
    display: Mapping[str, str] | None = None,
    today: dt.date | None = None,
) -> CheckReport:
    """Lint the library given as texts and run every policy's own test cases.

    ``focus`` is the relative path being changed: its warnings are reported (other
    files' warnings are not this change's business); errors anywhere are reported, since
    a change to one file can break another (a removed parameter, a clashing id).
    ``focus_policy`` must then exist and have at least one test case.
    """
    display = display or {}
    report = CheckReport()
    library, problems = lint_library(DB_ROOT, files=files, today=today)
    for p in problems:
        rel = p.path.relative_to(DB_ROOT).as_posix() if p.path.is_relative_to(DB_ROOT) else ""
        if p.severity == "error":
            report.errors.append(_format(p, display))
        elif focus is None or rel == focus:
            report.warnings.append(_format(p, display))
    if library is None:
        if not report.errors:
            report.errors.append("政策库无法加载 / the library does not load")
        return report
    report.library = library
    if focus_policy is not None:
        policy = library.by_id.get(focus_policy)
        if policy is None:
            report.errors.append(f"政策 {focus_policy} 未能加载 / the policy did not load")
        elif not policy.definition.tests:
            report.errors.append(
                f"{display.get(focus or '', focus)}: 政策 {focus_policy} 没有测试用例，不能发布 / "
                "a policy without test cases cannot be published"
            )
    for case in run_cases(library):
        if case.passed:
            report.cases_passed += 1
        else:
            report.cases_failed.append(f"{case.policy.id} · {case.name}: {'; '.join(case.problems)}")
    return report
