"""``huiqi match``, the calculator, and what every command shares (consoles, errors,
reading files, loading the library).

Kept apart from the other commands so that ``huiqi match`` imports only what it needs
(``huiqi.cli.main`` picks it before building the whole command tree).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

PoliciesOption = Annotated[
    Path | None, typer.Option("--policies", help="政策库目录 / policy library directory", show_default=False)
]


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]错误 error[/]: {message}", highlight=False)
    raise typer.Exit(code)


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


def load(policies: Path | None) -> Any:
    from huiqi.rules import LibraryError
    from huiqi.rules.cache import load_library_cached

    try:
        return load_library_cached(policies)
    except LibraryError as e:
        for p in e.problems:
            err.print(str(p), highlight=False)
        fail(f"政策库有 {len(e.problems)} 处错误 / the policy library has errors", 1)


def match_command(
    profile: Annotated[Path, typer.Argument(help="企业画像 JSON 文件（- 表示标准输入）")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="评估日期 YYYY-MM-DD（默认今天）")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table 或 json")] = "table",
    policies: PoliciesOption = None,
) -> None:
    """政策计算器：列出企业可享受、需补充信息和不符合的全部政策。"""
    from huiqi.match import match
    from huiqi.profile import ProfileError, parse_profile

    if fmt not in ("table", "json"):
        fail(f"--format: 只能是 table 或 json / must be table or json, got {fmt!r}")
    date = parse_date(as_of, "--as-of")
    try:
        facts = parse_profile(read_json(profile))
    except ProfileError as e:
        fail(f"企业画像有误 / invalid profile ({profile}):\n" + "\n".join(f"  · {p}" for p in e.problems))
    result = match(facts, date, load(policies))
    if fmt == "json":
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
    else:
        from huiqi.cli.render import render_match

        render_match(result, console)
