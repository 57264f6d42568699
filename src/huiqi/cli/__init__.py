"""The ``huiqi`` command line (Typer + rich)."""
