"""``huiqi match``, the calculator, as a process that starts fast.

``huiqi.cli.main`` hands ``huiqi match …`` to :func:`main` before anything else is
imported: the options are read with argparse (Typer and click alone cost ~0.1 s to import),
rich is imported only to draw the table, and the answer comes from the lean form of the
compiled library (``huiqi.match.lean``) when the disk cache has it for these texts and
this code. Otherwise — a cold or disabled cache, a profile the plain reader does not
vouch for, a registration date after the evaluation date — the full path answers (pydantic
profile, compiled library) and writes the lean form for the next process. Both paths give
the same bytes (tests/cli/test_quick.py compares them).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from huiqi.match.lean import Lean

DESCRIPTION = "政策计算器：列出企业可享受、需补充信息和不符合的全部政策。"
PROFILE_HELP = "企业画像 JSON 文件（- 表示标准输入）"
AS_OF_HELP = "评估日期 YYYY-MM-DD（默认今天）"
FORMAT_HELP = "table 或 json"
POLICIES_HELP = "政策库目录 / policy library directory"
FORMATS = ("table", "json")


class Failure(SystemExit):
    """An error the user can fix: its message is on stderr, the process ends with ``code``."""


def fail(message: str, code: int = 2) -> NoReturn:
    sys.stderr.write(f"错误 error: {message}\n")
    sys.stderr.flush()
    raise Failure(code)


def parse_date(text: str | None, option: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        fail(f"{option}: 日期格式应为 YYYY-MM-DD / expected a date YYYY-MM-DD, got {text!r}")


def read_json(path: Path) -> Any:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(f"找不到文件 / file not found: {path}")
    except (OSError, UnicodeDecodeError) as e:
        fail(f"无法读取 / cannot read {path}: {e}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        fail(f"{path} 不是有效的 JSON（第{e.lineno}行第{e.colno}列） / invalid JSON: {e.msg}")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"错误 error: {message}\n用法见 / see: {self.prog} --help\n")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="huiqi match", description=DESCRIPTION)
    p.add_argument("profile", type=Path, help=PROFILE_HELP)
    p.add_argument("--as-of", dest="as_of", metavar="YYYY-MM-DD", help=AS_OF_HELP)
    p.add_argument("--format", dest="fmt", default="table", metavar="table|json", help=f"{FORMAT_HELP}（默认 table）")
    p.add_argument("--policies", type=Path, metavar="DIR", help=POLICIES_HELP)
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    try:
        run(args.profile, args.as_of, args.fmt, args.policies)
    except Failure as e:
        return int(e.code or 0)
    return 0


def run(profile: Path, as_of: str | None, fmt: str, policies: Path | None) -> None:
    """The calculator: the answer for the profile in ``profile`` on ``as_of``, as a table or JSON."""
    if fmt not in FORMATS:
        fail(f"--format: 只能是 table 或 json / must be table or json, got {fmt!r}")
    date = parse_date(as_of, "--as-of")
    data = read_json(profile)
    from huiqi.match import lean

    library = lean.load(policies)
    answer = _lean(library, data, date) if library is not None else None
    if answer is None:
        answer = _full(data, profile, date, policies, store=library is None)
    if fmt == "json":
        sys.stdout.write(answer.json() + "\n")
    else:
        from huiqi.cli.render import render_match

        render_match(answer.data)


class _Answer:
    """An answer (the JSON-ready data of ``huiqi.match.answer``) and how it is written as JSON."""

    def __init__(self, data: dict[str, Any], json: Any):
        self.data = data
        self.json = json


def _lean(library: Lean, data: Any, date: dt.date | None) -> _Answer | None:
    """The answer from the lean entry of the cache, or None when the profile is one the plain
    reader does not vouch for."""
    from huiqi import clock
    from huiqi.profile import plain

    facts = plain.facts(data)
    if facts is None:
        return None
    day = date or clock.from_env().today()
    registered = facts["registered_on"]
    if registered is not None and registered > day:
        return None  # an error: the full path words it
    result = library.answer(facts, day)
    return _Answer(result, lambda: library.dumps(result))


def _full(data: Any, profile: Path, date: dt.date | None, policies: Path | None, store: bool) -> _Answer:
    """The answer through pydantic and the compiled library (and their error messages);
    with ``store``, writes the lean entry for the next process."""
    from huiqi.match import answer, lean
    from huiqi.match.result import MatchResult
    from huiqi.profile import ProfileError, parse_profile
    from huiqi.rules import LibraryError
    from huiqi.rules.cache import load_library_cached

    try:
        facts = parse_profile(data)
    except ProfileError as e:
        fail(f"企业画像有误 / invalid profile ({profile}):\n" + "\n".join(f"  · {p}" for p in e.problems))
    try:
        library = load_library_cached(policies)
    except LibraryError as e:
        for problem in e.problems:
            sys.stderr.write(f"{problem}\n")
        fail(f"政策库有 {len(e.problems)} 处错误 / the policy library has errors", 1)
    if store:
        lean.store(library, policies)
    try:
        result = answer(facts, date, library)
    except ProfileError as e:  # registered after the evaluation date
        fail(f"企业画像有误 / invalid profile ({profile}):\n" + "\n".join(f"  · {p}" for p in e.problems))
    return _Answer(result, lambda: MatchResult.model_validate(result).model_dump_json(indent=2))
