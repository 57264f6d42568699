"""The policy calculator (政策计算器): profile in, every policy with verdict, reasons and amount out.

The names below are imported on first use: ``huiqi.match.lean`` (``huiqi match`` from the
disk cache) loads without the engine, pydantic and sqlglot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from huiqi import lazy

if TYPE_CHECKING:
    from huiqi.match.engine import answer, default_library, match
    from huiqi.match.result import MatchResult, PolicyResult

_WHERE = {
    "answer": "huiqi.match.engine",
    "default_library": "huiqi.match.engine",
    "match": "huiqi.match.engine",
    "MatchResult": "huiqi.match.result",
    "PolicyResult": "huiqi.match.result",
}

__all__ = ["MatchResult", "PolicyResult", "answer", "default_library", "match"]

__getattr__ = lazy.exports(__name__, _WHERE)
