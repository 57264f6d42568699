"""What every command shares (consoles, errors, loading the library), and ``huiqi match``
as a Typer command (its code is ``huiqi.cli.quick``, which ``huiqi match`` runs without
Typer)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from huiqi.cli import quick

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

PoliciesOption = Annotated[
    Path | None, typer.Option("--policies", help="政策库目录 / policy library directory", show_default=False)
]


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]错误 error[/]: {message}", highlight=False)
    raise typer.Exit(code)


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
    profile: Annotated[Path, typer.Argument(help=quick.PROFILE_HELP)],
    as_of: Annotated[str | None, typer.Option("--as-of", help=quick.AS_OF_HELP)] = None,
    fmt: Annotated[str, typer.Option("--format", help=quick.FORMAT_HELP)] = "table",
    policies: PoliciesOption = None,
) -> None:
    """政策计算器：列出企业可享受、需补充信息和不符合的全部政策。"""
    # ``huiqi match`` itself runs huiqi.cli.quick without Typer (huiqi.cli.main); this
    # command lists it in ``huiqi --help`` and runs the same code.
    quick.run(profile, as_of, fmt, policies)
