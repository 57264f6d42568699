"""The e-licence tables, in their own MetaData (migration 0004 puts them in the platform database).

The log is the record; these rows index it: which versions exist, where each event sits in
the log, which status-list slot a version holds. Every row is written in the same
transaction as its log entry, so the index never claims what the log does not hold.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

#: One row per licence version (证照标识); ``state`` is valid → superseded | revoked.
licences = sa.Table(
    "cert_licences",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("licence", sa.String(120), nullable=False, index=True),  # the id without version and check
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
    sa.Column("credential", sa.Text, nullable=False),  # the signed VC, JSON
    sa.UniqueConstraint("department", "status_list", "status_index", name="uq_cert_licences_status"),
)

#: One row per log event about a version: issue, change (on the old and on the new), revoke.
events = sa.Table(
    "cert_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("licence_id", sa.String(128), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),  # issue | change | supersede | cancel | revoke
    sa.Column("time", sa.String(32), nullable=False),
    sa.Column("shard", sa.String(32), nullable=False),
    sa.Column("idx", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
)

#: Issuer keys as registered on the log (key.register / key.retire); the log entry is the authority.
keys = sa.Table(
    "cert_keys",
    metadata,
    sa.Column("kid", sa.String(128), primary_key=True),  # publicKeyMultibase
    sa.Column("department", sa.String(32), nullable=False),
    sa.Column("algorithm", sa.String(16), nullable=False),
    sa.Column("shard", sa.String(32), nullable=False),
    sa.Column("idx", sa.BigInteger, nullable=False),
    sa.Column("registered_at", sa.String(32), nullable=False),
    sa.Column("retired_at", sa.String(32), nullable=True),
)

#: Next free status-list slot per department (rows locked by issuers).
counters = sa.Table(
    "cert_counters",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)


def create_tables(bind: sa.Engine | sa.Connection) -> None:
    metadata.create_all(bind)
