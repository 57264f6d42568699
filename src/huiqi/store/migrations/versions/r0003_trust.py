"""The transparency log and field-encryption keys (huiqi.trust) in the platform database.

The tables are spelled out as they are at this revision (huiqi.trust.schema is the live
definition; later changes get their own revision).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tlog_leaves",
        sa.Column("shard", sa.String(32), primary_key=True),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("time", sa.String(32), nullable=False),
        sa.Column("natural_key", sa.String(255), nullable=True, unique=True),
        sa.Column("entry", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "tlog_tiles",
        sa.Column("shard", sa.String(32), primary_key=True),
        sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hashes", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "tlog_shards",
        sa.Column("shard", sa.String(32), primary_key=True),
        sa.Column("origin", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "tlog_checkpoints",
        sa.Column("shard", sa.String(32), primary_key=True),
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "trust_data_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("scope", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("profile", sa.String(32), nullable=False),
        sa.Column("kek_id", sa.String(64), nullable=False),
        sa.Column("wrapped", sa.LargeBinary, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("scope", "version", name="uq_trust_data_keys_scope_version"),
    )


def downgrade() -> None:
    for table in ("trust_data_keys", "tlog_checkpoints", "tlog_shards", "tlog_tiles", "tlog_leaves"):
        op.drop_table(table)
