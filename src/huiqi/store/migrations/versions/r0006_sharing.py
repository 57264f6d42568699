"""Data sharing (huiqi.sharing) in the platform database: the catalogue's declarations and
their versions, the catalogue generation, enterprises' consents, suspended officials, the
monitor's alerts and its reading position in each department's log.

The tables are spelled out as they are at this revision (huiqi.sharing.schema is the live
definition; later changes get their own revision).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sharing_declarations",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("member", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "sharing_declaration_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("declaration_id", sa.String(128), sa.ForeignKey("sharing_declarations.id"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("submitted_by", sa.String(64)),
        sa.Column("submitted_at", sa.DateTime(timezone=True)),
        sa.Column("published_by", sa.String(64)),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("withdrawn_by", sa.String(64)),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True)),
        sa.Column("review_note", sa.Text),
        sa.UniqueConstraint("declaration_id", "number", name="uq_sharing_declaration_versions_number"),
    )
    op.create_index(
        "ix_sharing_declaration_versions_declaration_id", "sharing_declaration_versions", ["declaration_id"]
    )
    op.create_table(
        "sharing_catalogue_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "sharing_consents",
        sa.Column("ref", sa.String(40), primary_key=True),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("consumer", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("days", sa.Integer, nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_sharing_consents_uscc", "sharing_consents", ["uscc"])
    op.create_table(
        "sharing_suspensions",
        sa.Column("official", sa.String(128), primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("suspended_by", sa.String(64), nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "sharing_alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(255), nullable=False, unique=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detector", sa.String(32), nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("consumer", sa.String(64), nullable=False),
        sa.Column("official", sa.String(128), nullable=False),
        sa.Column("score", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("marked_by", sa.String(64)),
        sa.Column("marked_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "sharing_monitor_cursors",
        sa.Column("provider", sa.String(16), primary_key=True),
        sa.Column("shard", sa.String(32), primary_key=True),
        sa.Column("next_index", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "sharing_monitor_cursors",
        "sharing_alerts",
        "sharing_suspensions",
        "sharing_consents",
        "sharing_catalogue_state",
        "sharing_declaration_versions",
        "sharing_declarations",
    ):
        op.drop_table(table)
