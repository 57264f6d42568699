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
        **extra: Any,
    ) -> Library:
        return load_library(files=files_for(policy_yaml(conditions, formula, **extra), parameters=parameters))

    return make
