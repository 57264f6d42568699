"""The rules core: policies as data, one rule language, compiled to Python and to SQL.

The names below are imported on first use, so that ``huiqi.rules.runtime`` and
``huiqi.rules.text`` load without sqlglot and pydantic (``huiqi match`` runs the compiled
library from the disk cache with them alone).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from huiqi import lazy

if TYPE_CHECKING:
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

_WHERE = {
    "Condition": "huiqi.rules.library",
    "Evaluation": "huiqi.rules.library",
    "Library": "huiqi.rules.library",
    "LibraryError": "huiqi.rules.library",
    "Policy": "huiqi.rules.library",
    "Problem": "huiqi.rules.library",
    "default_library_path": "huiqi.rules.library",
    "lint_library": "huiqi.rules.loader",
    "load_library": "huiqi.rules.loader",
    "LibrarySource": "huiqi.rules.source",
    "StaticSource": "huiqi.rules.source",
}

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

__getattr__ = lazy.exports(__name__, _WHERE)
