"""The shipped policies' own test cases, collected as pytest items (one report for everything).

Model: OpenFisca's YAML test runner. Each ``policies/**/*.yaml`` policy file is a
collector and each of its ``tests:`` cases an item, evaluated against the whole shipped
library as ``huiqi policy test`` does (huiqi.rules.casetests).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

POLICIES = Path(__file__).resolve().parent / "policies"


@cache
def _library() -> Any:
    from huiqi.rules import load_library

    return load_library(POLICIES)


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.suffix == ".yaml" and POLICIES in file_path.parents and not file_path.name.startswith("_"):
        return PolicyFile.from_parent(parent, path=file_path)
    return None


class PolicyFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        library = _library()  # a library that does not load fails here, naming every error
        policy = next(p for p in library.policies if p.path.resolve() == self.path.resolve())
        for case in policy.definition.tests:
            yield PolicyCase.from_parent(self, name=case.name, policy=policy, case=case)


class PolicyCase(pytest.Item):
    def __init__(self, *, policy: Any, case: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.policy, self.case = policy, case

    def runtest(self) -> None:
        from huiqi.rules.casetests import run_case

        result = run_case(_library(), self.policy, self.case)
        if not result.passed:
            raise PolicyCaseFailed(result.problems)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, PolicyCaseFailed):
            return "\n".join([f"{self.policy.id} · {self.case.name} (as_of {self.case.as_of})", *excinfo.value.args[0]])
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.policy.id}: {self.case.name}"


class PolicyCaseFailed(AssertionError):
    pass
