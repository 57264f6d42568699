"""Storage: SQLAlchemy models and Alembic migrations; SQLite by default, PostgreSQL by URL.

``HUIQI_DB`` (or ``--db``) names the database, e.g. ``sqlite:///var/huiqi.db`` (the default)
or ``postgresql+psycopg://user@host:5432/huiqi``.
"""

from huiqi.store.db import (
    DEFAULT_URL,
    bump_generation,
    database_url,
    generation,
    make_engine,
    read_session,
    write_session,
)
from huiqi.store.migrate import current_revision, head_revision, upgrade

__all__ = [
    "DEFAULT_URL",
    "bump_generation",
    "current_revision",
    "database_url",
    "generation",
    "head_revision",
    "make_engine",
    "read_session",
    "upgrade",
    "write_session",
]
