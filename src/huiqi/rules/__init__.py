"""The rules core: policies as data, one rule language, compiled to Python and to SQL."""

from huiqi.rules.library import (
    Condition,
    Evaluation,
    Library,
    LibraryError,
    Policy,
    Problem,
    default_library_path,
)
from huiqi.rules.loader import lint_library, load_library
from huiqi.rules.source import LibrarySource, StaticSource

__all__ = [
    "Condition",
    "Evaluation",
    "Library",
    "LibraryError",
    "LibrarySource",
    "Policy",
    "Problem",
    "StaticSource",
    "default_library_path",
    "lint_library",
    "load_library",
]
