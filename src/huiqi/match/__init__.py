"""The policy calculator (政策计算器): profile in, every policy with verdict, reasons and amount out."""

from huiqi.match.engine import answer, default_library, match
from huiqi.match.result import MatchResult, PolicyResult

__all__ = ["MatchResult", "PolicyResult", "answer", "default_library", "match"]
