from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, event

from huiqi.clock import FixedClock
from huiqi.trust.log import TransparencyLog
from huiqi.trust.schema import create_tables
from tests.postgres import postgres_available, temporary_database


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    """An empty database with the trust tables, on SQLite and on PostgreSQL."""
    if request.param == "postgresql" and not postgres_available():
        pytest.skip("PostgreSQL is not reachable (run scripts/ensure-postgres.sh)")
    with temporary_database(request.param, tmp_path) as url:
        eng = sqlite_wal(url) if request.param == "sqlite" else create_engine(url)
        create_tables(eng)
        yield eng
        eng.dispose()


def sqlite_wal(url: str) -> Engine:
    """SQLite as the platform opens it: WAL (readers never block the writer), a patient busy timeout."""
    eng = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(eng, "connect")
    def _wal(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.execute("PRAGMA journal_mode=WAL")

    return eng


@pytest.fixture
def sqlite_engine(tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    eng = sqlite_wal(f"sqlite:///{tmp_path / 'trust.db'}")
    create_tables(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def log(engine: Engine, clock: FixedClock) -> TransparencyLog:
    return TransparencyLog(engine, clock=clock)
