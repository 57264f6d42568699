"""Enterprise profile schema, validation and reference data (the lowest layer).

The names below are imported on first use: ``huiqi.profile.fields`` and the reference
data load without pydantic, which only ``huiqi.profile.schema`` needs (``huiqi match``
reads a profile without it when it can, see ``huiqi.profile.plain``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from huiqi.profile.fields import FIELDS, FieldSpec, normalise
    from huiqi.profile.schema import FieldProblem, Profile, ProfileError, check_registered, parse_profile

_WHERE = {
    "FIELDS": "huiqi.profile.fields",
    "FieldSpec": "huiqi.profile.fields",
    "normalise": "huiqi.profile.fields",
    "FieldProblem": "huiqi.profile.schema",
    "Profile": "huiqi.profile.schema",
    "ProfileError": "huiqi.profile.schema",
    "check_registered": "huiqi.profile.schema",
    "parse_profile": "huiqi.profile.schema",
}

__all__ = [
    "FIELDS",
    "FieldProblem",
    "FieldSpec",
    "Profile",
    "ProfileError",
    "check_registered",
    "normalise",
    "parse_profile",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
