"""企业空间 (huiqi.portal): enterprise accounts and sessions, login throttling and nonces, the
profile's facts and their history, saved answers, notices, applications with their events and
attachments, officers' desks, 免申即享 lists and grants, the 兑现 ledger, ratings and appeals.

The tables are created from huiqi.portal.schema as it is at this revision (later changes get
their own revision; the migration test compares the two).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from huiqi.portal import schema

    schema.metadata.create_all(op.get_bind())


def downgrade() -> None:
    from huiqi.portal import schema

    schema.metadata.drop_all(op.get_bind())
