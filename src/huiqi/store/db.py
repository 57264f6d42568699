"""Engines, transactions and schema upgrades: SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from huiqi.store.models import LibraryState

DEFAULT_URL = "sqlite:///var/huiqi.db"
#: Set on write transactions: SQLite takes the write lock at BEGIN (BEGIN IMMEDIATE), so
#: two writers never both read the same audit-chain head; PostgreSQL locks library_state.
_WRITE = "huiqi_write"


def database_url(url: str | None = None) -> str:
    """``url``, else HUIQI_DB, else a SQLite file var/huiqi.db under the working directory."""
    return url or os.environ.get("HUIQI_DB") or DEFAULT_URL


def display_url(url: str | None = None) -> str:
    """The database URL as it may be shown: the password replaced by ``***``."""
    url = database_url(url)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: show nothing of it that could be a secret
        return "<无法解析的数据库地址 / unparsable database URL>"


def redact(text: str, url: str | None = None) -> str:
    """``text`` (an error message, say) without the password of ``url`` in any spelling."""
    try:
        password = make_url(database_url(url)).password
    except Exception:
        password = None
    if password:
        from urllib.parse import quote, quote_plus

        for spelling in {str(password), quote(str(password), safe=""), quote_plus(str(password))}:
            text = text.replace(spelling, "***")
    return text


def as_utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes (they were stored as UTC); PostgreSQL aware ones."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An engine for ``url`` (see :func:`database_url`); creates the SQLite file's folder."""
    url = database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_engine(url, **kwargs)
        _sqlite_setup(engine)
        return engine
    if parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False))
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (pysqlite's is too late)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")  # readers never wait for a publishing writer
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


@contextmanager
def write_session(engine: Engine, *, global_lock: bool = True) -> Iterator[Session]:
    """A transaction that holds the lifecycle's write lock until it commits or rolls back.

    All lifecycle writes are serialised: they are rare (officer actions), and serialising
    them keeps the audit hash chain linear and the library generation counter exact.
    ``global_lock=False`` (outbox bookkeeping) skips PostgreSQL's library_state row lock;
    on SQLite every write transaction takes the database write lock at BEGIN.
    """
    bind = engine.execution_options(**{_WRITE: True})
    with Session(bind, expire_on_commit=False) as session, session.begin():
        if global_lock and not is_sqlite(engine):
            session.execute(select(LibraryState.id).where(LibraryState.id == 1).with_for_update())
        yield session


def bump_generation(session: Session, at: dt.datetime) -> int:
    """Mark, in the caller's transaction, that what is in force has changed (at ``at``)."""
    state = session.get(LibraryState, 1)
    assert state is not None, "library_state row missing: run the migrations"
    state.generation += 1
    state.changed_at = at
    session.flush()
    return state.generation


def generation(engine: Engine) -> int:
    """The library generation: one cheap primary-key read."""
    with engine.connect() as conn:
        value = conn.execute(text("SELECT generation FROM library_state WHERE id = 1")).scalar()
        conn.rollback()
    return int(value or 0)
