"""Throw-away databases for tests: a SQLite file, or a fresh PostgreSQL database.

PostgreSQL: ``HUIQI_TEST_PG`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``)
names a server and a database to connect to; each temporary database is created as
``huiqi_test_<random>`` and dropped (WITH FORCE) afterwards.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_URL = os.environ.get("HUIQI_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@cache
def postgres_available() -> bool:
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def require(kind: str) -> None:
    """Skip a PostgreSQL test when no server is reachable, except in CI, where it fails."""
    import pytest

    if kind == "postgresql" and not postgres_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable (run scripts/ensure-postgres.sh)")
        pytest.skip("PostgreSQL is not reachable (run scripts/ensure-postgres.sh)")


@contextmanager
def temporary_database(kind: str, directory: Path, template: str | None = None) -> Iterator[str]:
    """Yield the URL of a new database of ``kind`` (sqlite | postgresql); drop it after.

    ``template`` is the URL of a database to copy (one made by an earlier call whose
    engines are all disposed); otherwise the database is empty.
    """
    if kind == "sqlite":
        path = directory / f"huiqi-test-{secrets.token_hex(4)}.db"
        if template is not None:
            shutil.copyfile(make_url(template).database or "", path)
        yield f"sqlite:///{path}"
        return
    name = f"huiqi_test_{secrets.token_hex(6)}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    copy = f' TEMPLATE "{make_url(template).database}"' if template else ""
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
