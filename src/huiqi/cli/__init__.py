"""The ``huiqi`` command line (Typer + rich)."""

import sys


def main() -> None:
    """The ``huiqi`` command. ``huiqi match …`` runs the calculator alone, so that the
    modules of the other commands (web, batch, sharing, certs, …) are not imported."""
    if sys.argv[1:2] == ["match"]:
        import typer

        from huiqi.cli.calculator import match_command

        calculator = typer.Typer(add_completion=False)
        calculator.command("match")(match_command)
        calculator(prog_name="huiqi match", args=sys.argv[2:])
    else:
        from huiqi.cli.main import app

        app(prog_name="huiqi")
