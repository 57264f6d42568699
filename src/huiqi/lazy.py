"""Names a package exports but imports on first use (PEP 562).

``huiqi match`` answers from the disk cache without pydantic, sqlglot or the engine; the
packages it passes through (``huiqi.profile``, ``huiqi.rules``, ``huiqi.match``) still export
their public names, each imported from its module when first read.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def exports(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package``: ``where`` maps each name to its module."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # read once: later reads are plain attributes
        return value

    return __getattr__
