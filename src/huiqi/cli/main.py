"""``huiqi``: the policy calculator and the tools around it.

Heavy modules are imported inside the commands; ``huiqi match`` does not even build this
command tree (``huiqi.cli.main`` runs the calculator's own).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from huiqi.cli import certs, keys, lifecycle, trust
from huiqi.cli.batch import batch_app, registry_app
from huiqi.cli.calculator import PoliciesOption, console, load, match_command
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
app.command("match")(match_command)


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
