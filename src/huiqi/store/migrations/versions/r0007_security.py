"""Login throttling, enterprise tokens, verified e-mail addresses of subscriptions.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("first_failure_at", TZ, nullable=False),
        sa.Column("locked_until", TZ),
    )
    op.create_table(
        "enterprise_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("note", sa.String(255), nullable=False),
        sa.Column("issued_by", sa.String(64), nullable=False),
        sa.Column("issued_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("revoked_at", TZ),
    )
    op.create_index("ix_enterprise_tokens_uscc", "enterprise_tokens", ["uscc"])
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("email_verified_at", TZ))
        batch.add_column(sa.Column("email_code_hash", sa.String(64)))
        batch.add_column(sa.Column("email_code_expires_at", TZ))
    # Addresses given before this revision were never verified: they stop receiving mail
    # until their owner verifies them (default-deny), which the NULL above already says.


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("email_code_expires_at")
        batch.drop_column("email_code_hash")
        batch.drop_column("email_verified_at")
    op.drop_index("ix_enterprise_tokens_uscc", "enterprise_tokens")
    op.drop_table("enterprise_tokens")
    op.drop_table("login_throttle")
