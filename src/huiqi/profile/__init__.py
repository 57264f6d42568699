"""Enterprise profile schema, validation and reference data (the lowest layer).

The names below are imported on first use: ``huiqi.profile.fields`` and the reference
data load without pydantic, which only ``huiqi.profile.schema`` needs (``huiqi match``
reads a profile without it when it can, see ``huiqi.profile.plain``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from huiqi import lazy

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

__getattr__ = lazy.exports(__name__, _WHERE)
