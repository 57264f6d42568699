"""Publish events, subscriptions, inbox and outboxes; documents get category and title.

The new ``documents.category`` / ``documents.title`` columns are backfilled from the YAML
of each document's latest version, so a database created at revision 0001 keeps its data
and gains the columns filled in.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
import yaml
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("category", sa.String(32)))
        batch.add_column(sa.Column("title", sa.String(255)))
    _backfill_documents()

    op.create_table(
        "publish_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("versions.id"), nullable=False),
        sa.Column("document_id", sa.String(128), nullable=False),
        sa.Column("effective_on", sa.Date, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
    )
    op.create_table(
        "enterprises",
        sa.Column("uscc", sa.String(18), primary_key=True),
        sa.Column("name", sa.String(255)),
        sa.Column("profile", sa.Text, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("uscc", sa.String(18), sa.ForeignKey("enterprises.uscc"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("category", sa.String(32)),
        sa.Column("webhook_url", sa.String(1000)),
        sa.Column("webhook_secret", sa.String(128)),
        sa.Column("email", sa.String(255)),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index("ix_subscriptions_uscc", "subscriptions", ["uscc"])
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(128), nullable=False, unique=True),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("event_id", sa.Integer, sa.ForeignKey("publish_events.id"), nullable=False),
        sa.Column("policy_id", sa.String(128), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("verdict", sa.String(16)),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("read_at", TZ),
    )
    op.create_index("ix_inbox_uscc", "inbox", ["uscc"])
    op.create_table(
        "webhook_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(128), nullable=False, unique=True),
        sa.Column("subscription_id", sa.Integer, sa.ForeignKey("subscriptions.id"), nullable=False),
        sa.Column("event_id", sa.Integer, sa.ForeignKey("publish_events.id"), nullable=False),
        sa.Column("url", sa.String(1000), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=False),
        sa.Column("lease_until", TZ),
        sa.Column("last_error", sa.Text),
        sa.Column("delivered_at", TZ),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "email_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(128), nullable=False, unique=True),
        sa.Column("to_addr", sa.String(255), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("sent_at", TZ),
    )


def _backfill_documents() -> None:
    bind = op.get_bind()
    documents = sa.table("documents", sa.column("id"), sa.column("category"), sa.column("title"))
    versions = sa.table("versions", sa.column("document_id"), sa.column("number"), sa.column("content"))
    latest = (
        sa.select(versions.c.document_id, sa.func.max(versions.c.number).label("number"))
        .group_by(versions.c.document_id)
        .subquery()
    )
    rows = bind.execute(
        sa.select(versions.c.document_id, versions.c.content).join(
            latest,
            sa.and_(latest.c.document_id == versions.c.document_id, latest.c.number == versions.c.number),
        )
    ).all()
    for doc_id, content in rows:
        try:
            doc = yaml.safe_load(content)
        except yaml.YAMLError:
            continue
        if not isinstance(doc, dict) or "id" not in doc:
            continue
        category = doc.get("category")
        title = doc.get("title")
        bind.execute(
            documents.update()
            .where(documents.c.id == doc_id)
            .values(
                category=str(category)[:32] if category else None,
                title=str(title)[:255] if title else None,
            )
        )


def downgrade() -> None:
    for name in ("email_outbox", "webhook_outbox", "inbox", "subscriptions", "enterprises", "publish_events"):
        op.drop_table(name)
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("title")
        batch.drop_column("category")
