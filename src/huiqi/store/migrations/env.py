"""Alembic environment: the caller passes an open connection in ``config.attributes``."""

from __future__ import annotations

from alembic import context

from huiqi.store.models import Base
from huiqi.trust.schema import metadata as trust_metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the alembic command line is not used
    raise RuntimeError("run migrations through huiqi.store.migrate.upgrade()")
context.configure(connection=connection, target_metadata=[Base.metadata, trust_metadata], render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
