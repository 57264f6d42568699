"""Every existing audit row becomes a transparency-log entry (officer.<action>, natural key audit/<seq>).

From this revision on, ``huiqi.store.audit.record`` logs each new row in the same
transaction; this backfills the rows written before, in order, skipping any already logged.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from huiqi.clock import FixedClock
    from huiqi.store.audit import log_entry, natural_key
    from huiqi.store.models import AuditEntry
    from huiqi.trust.log import TransparencyLog
    from huiqi.trust.schema import leaves

    bind = op.get_bind()
    logged = set(bind.execute(sa.select(leaves.c.natural_key).where(leaves.c.natural_key.like("audit/%"))).scalars())
    log = TransparencyLog(bind.engine, clock=FixedClock(dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    after = 0
    while True:
        rows = bind.execute(
            sa.select(AuditEntry.__table__).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(1000)
        ).all()
        if not rows:
            break
        todo = [r for r in rows if natural_key(r.seq) not in logged]
        if todo:
            entries = [log_entry(r) for r in todo]  # type: ignore[arg-type]  # a Row has an AuditEntry's fields
            log.append_many(entries, natural_keys=[natural_key(r.seq) for r in todo], conn=bind)
        after = rows[-1].seq


def downgrade() -> None:
    bind = op.get_bind()
    # The log is append-only; going back leaves the entries where they are.
    del bind
