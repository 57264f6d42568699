"""E-licences (huiqi.certs): licence versions, their log events, registered issuer keys, counters.

Spelled out as at this revision (huiqi.certs.schema is the live definition).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cert_licences",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("licence", sa.String(120), nullable=False, index=True),
        sa.Column("type_code", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("department", sa.String(32), nullable=False),
        sa.Column("holder", sa.String(18), nullable=False, index=True),
        sa.Column("holder_name", sa.String(255), nullable=False),
        sa.Column("status_list", sa.Integer, nullable=False),
        sa.Column("status_index", sa.Integer, nullable=False),
        sa.Column("valid_from", sa.String(32), nullable=False),
        sa.Column("valid_until", sa.String(32), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("credential", sa.Text, nullable=False),
        sa.UniqueConstraint("department", "status_list", "status_index", name="uq_cert_licences_status"),
    )
    op.create_table(
        "cert_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("licence_id", sa.String(128), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("time", sa.String(32), nullable=False),
        sa.Column("shard", sa.String(32), nullable=False),
        sa.Column("idx", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
    )
    op.create_table(
        "cert_keys",
        sa.Column("kid", sa.String(128), primary_key=True),
        sa.Column("department", sa.String(32), nullable=False),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("shard", sa.String(32), nullable=False),
        sa.Column("idx", sa.BigInteger, nullable=False),
        sa.Column("registered_at", sa.String(32), nullable=False),
        sa.Column("retired_at", sa.String(32), nullable=True),
    )
    op.create_table(
        "cert_counters",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("cert_counters", "cert_keys", "cert_events", "cert_licences"):
        op.drop_table(table)
