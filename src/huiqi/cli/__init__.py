"""The ``huiqi`` command line (Typer + rich; ``huiqi match`` argparse, see ``huiqi.cli.quick``)."""

import sys


def main() -> None:
    """The ``huiqi`` command. ``huiqi match …`` runs the calculator alone, so that neither
    Typer nor the modules of the other commands (web, batch, sharing, certs, …) are imported."""
    if sys.argv[1:2] == ["match"]:
        from huiqi.cli.quick import main as match

        sys.exit(match(sys.argv[2:]))
    else:
        from huiqi.cli.main import app

        app(prog_name="huiqi")
