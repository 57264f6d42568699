"""``huiqi``: the policy calculator and the tools around it.

Heavy modules are imported inside the commands, so that ``huiqi match`` starts fast.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from huiqi.cli import certs, keys, lifecycle, trust
from huiqi.cli.batch import batch_app, registry_app
from huiqi.cli.departments import departments_app
from huiqi.cli.portal import portal_app
from huiqi.cli.serve import serve

app = typer.Typer(help="惠企 huiqi：政策计算器与政策库工具", no_args_is_help=True, add_completion=False)
policy_app = typer.Typer(help="政策库：检查与测试", no_args_is_help=True)
app.add_typer(policy_app, name="policy")
app.add_typer(registry_app, name="registry")
app.add_typer(batch_app, name="batch")
app.add_typer(departments_app, name="departments")
app.add_typer(portal_app, name="portal")
lifecycle.register(app, policy_app)
trust.register(app)
keys.register(app)
certs.register(app)
app.command("serve")(serve)

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
    from huiqi.rules import LibraryError, load_library

    try:
        return load_library(policies)
    except LibraryError as e:
        for p in e.problems:
            err.print(str(p), highlight=False)
        fail(f"政策库有 {len(e.problems)} 处错误 / the policy library has errors", 1)


@app.command("match")
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


@policy_app.command("lint")
def lint_command(policies: PoliciesOption = None) -> None:
    """加载并检查整个政策库，一次列出全部问题（文件:行号）。"""
    from huiqi.clock import from_env
    from huiqi.rules import default_library_path, lint_library

    root = policies or default_library_path()
    library, problems = lint_library(root, today=from_env().today())
    for p in problems:
        style = "red" if p.severity == "error" else "yellow"
        console.print(f"[{style}]{p}[/]", highlight=False)
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    count = len(library.policies) if library else 0
    console.print(f"{root}: {count} 项政策，{errors} 个错误，{warnings} 个警告")
    if errors:
        raise typer.Exit(1)


@policy_app.command("test")
def test_command(
    path: Annotated[list[Path] | None, typer.Argument(help="只测试这些文件或目录下的政策")] = None,
    policies: PoliciesOption = None,
) -> None:
    """运行每项政策自带的测试用例。"""
    from huiqi.rules.casetests import run_cases

    library = load(policies)
    results = run_cases(library, path)
    failed = [r for r in results if not r.passed]
    for r in failed:
        console.print(f"[red]FAIL[/] {r.policy.id} · {r.name}", highlight=False)
        for p in r.problems:
            console.print(f"     {p}", highlight=False)
    console.print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed or not results:
        raise typer.Exit(1)
