"""Enterprise profile schema, validation and reference data (the lowest layer)."""

from huiqi.profile.schema import (
    FIELDS,
    FieldProblem,
    FieldSpec,
    Profile,
    ProfileError,
    check_registered,
    normalise,
    parse_profile,
)

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
