"""The platform's data-sharing tables (catalogue, consents, monitoring), in their own MetaData.

They live in the platform database (migration 0004 creates them); the departments'
registers have their own databases and tables (``huiqi.sharing.registers``). Names start
with ``sharing_``.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

#: A declaration (service or purpose) and its versions; the published one is in force.
declarations = sa.Table(
    "sharing_declarations",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # service | purpose
    sa.Column("member", sa.String(16), nullable=False),  # provider or consumer member
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
declaration_versions = sa.Table(
    "sharing_declaration_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("declaration_id", sa.String(128), sa.ForeignKey("sharing_declarations.id"), nullable=False, index=True),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # draft | in_review | published | superseded | withdrawn
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("author", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("note", sa.Text, nullable=False, default=""),
    sa.Column("submitted_by", sa.String(64)),
    sa.Column("submitted_at", sa.DateTime(timezone=True)),
    sa.Column("published_by", sa.String(64)),
    sa.Column("published_at", sa.DateTime(timezone=True)),
    sa.Column("withdrawn_by", sa.String(64)),
    sa.Column("withdrawn_at", sa.DateTime(timezone=True)),
    sa.Column("review_note", sa.Text),
    sa.UniqueConstraint("declaration_id", "number", name="uq_sharing_declaration_versions_number"),
)
#: One row (id 1): bumped whenever what is published changes, so security servers refetch.
catalogue_state = sa.Table(
    "sharing_catalogue_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True)),
)
#: Consents of enterprises (Estonia's consent service): scope, expiry, state.
consents = sa.Table(
    "sharing_consents",
    metadata,
    sa.Column("ref", sa.String(40), primary_key=True),
    sa.Column("uscc", sa.String(18), nullable=False, index=True),
    sa.Column("consumer", sa.String(64), nullable=False),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("scope", sa.Text, nullable=False),  # JSON {service: {"read": [...], "ask": [...]}}
    sa.Column("state", sa.String(16), nullable=False),  # requested | granted | refused | withdrawn
    sa.Column("requested_by", sa.String(128), nullable=False),  # the official who asked
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("days", sa.Integer, nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    sa.Column("expires_at", sa.DateTime(timezone=True)),
    sa.Column("withdrawn_at", sa.DateTime(timezone=True)),
)
#: Officials cut off after a confirmed incident (the catalogue carries them to every gateway).
suspensions = sa.Table(
    "sharing_suspensions",
    metadata,
    sa.Column("official", sa.String(128), primary_key=True),  # member/system/name
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("suspended_by", sa.String(64), nullable=False),
    sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=False),
)
#: Alerts of the anomaly and intrusion detectors; officers mark each true or false.
alerts = sa.Table(
    "sharing_alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(255), nullable=False, unique=True),  # detector/kind/window: raised once
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("detector", sa.String(32), nullable=False),  # rules | learned
    sa.Column("provider", sa.String(16), nullable=False),
    sa.Column("consumer", sa.String(64), nullable=False),
    sa.Column("official", sa.String(128), nullable=False),
    sa.Column("score", sa.String(32), nullable=False),  # decimal string
    sa.Column("detail", sa.Text, nullable=False),  # JSON, Chinese explanation and figures
    sa.Column("state", sa.String(8), nullable=False),  # open | true | false
    sa.Column("marked_by", sa.String(64)),
    sa.Column("marked_at", sa.DateTime(timezone=True)),
)
#: How far the monitor has read each department's decision log.
monitor_cursors = sa.Table(
    "sharing_monitor_cursors",
    metadata,
    sa.Column("provider", sa.String(16), primary_key=True),
    sa.Column("shard", sa.String(32), primary_key=True),
    sa.Column("next_index", sa.BigInteger, nullable=False),
)
