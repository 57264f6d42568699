from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from huiqi.rules import Library, load_library
from tests.builders import files_for, policy_yaml


@pytest.fixture
def make_library() -> Callable[..., Library]:
    def make(
        conditions: list[Any],
        formula: str | None = None,
        parameters: dict[str, Any] | None = None,
        variables: dict[str, Any] | None = None,
        **extra: Any,
    ) -> Library:
        doc = policy_yaml(conditions, formula, **extra)
        return load_library(
            files=files_for(doc, parameters=parameters, variables=variables and {"variables": variables})
        )

    return make
