"""Run the Alembic migrations shipped inside the package, with a Config built in code."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from huiqi.store.db import is_sqlite

SCRIPT_LOCATION = "huiqi.store:migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema (and its data) to ``revision``; safe to call from several workers."""
    cfg = alembic_config()
    bind = engine if not is_sqlite(engine) else engine.execution_options(huiqi_write=True)
    with bind.begin() as conn:
        if not is_sqlite(engine):
            conn.execute(text("SELECT pg_advisory_xact_lock(7243151)"))  # one migrator at a time
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        rev = MigrationContext.configure(conn).get_current_revision()
        conn.rollback()
    return rev


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head
