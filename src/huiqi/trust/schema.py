"""The trust layer's tables, in its own MetaData (it sits below huiqi.store).

The platform database gets them from migration 0003; a department register or any other
database calls :func:`create_tables`. Names start with ``tlog_`` (the log) and
``trust_`` (field-encryption keys).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

#: One row per log entry. ``entry`` is the RFC 8785 canonical JSON whose leaf hash is in tile level 0.
leaves = sa.Table(
    "tlog_leaves",
    metadata,
    sa.Column("shard", sa.String(32), primary_key=True),
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("time", sa.String(32), nullable=False),
    # Unique across shards: an entry with a natural key (a certificate id, an audit row) is logged once.
    sa.Column("natural_key", sa.String(255), nullable=True, unique=True),
    sa.Column("entry", sa.LargeBinary, nullable=False),
)

#: C2SP tlog-tiles laid out in rows: tile (level L, index N) holds up to 256 hashes of
#: tree level 8·L, positions 256·N …; the rightmost tile of a level grows until full.
tiles = sa.Table(
    "tlog_tiles",
    metadata,
    sa.Column("shard", sa.String(32), primary_key=True),
    sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hashes", sa.LargeBinary, nullable=False),
)

#: One row per shard: its size. Appenders lock this row, so indices are dense and ordered.
shards = sa.Table(
    "tlog_shards",
    metadata,
    sa.Column("shard", sa.String(32), primary_key=True),
    sa.Column("origin", sa.String(255), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
)

#: Signed checkpoints, with every cosignature gathered so far, one per (shard, size).
checkpoints = sa.Table(
    "tlog_checkpoints",
    metadata,
    sa.Column("shard", sa.String(32), primary_key=True),
    sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("root", sa.LargeBinary, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

#: Field-encryption data keys, wrapped by a key-encryption key; ``state`` is active → retiring → retired.
data_keys = sa.Table(
    "trust_data_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("scope", sa.String(255), nullable=False),  # store/table/field
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("profile", sa.String(32), nullable=False),
    sa.Column("kek_id", sa.String(64), nullable=False),
    sa.Column("wrapped", sa.LargeBinary, nullable=True),  # NULL once retired: the key is gone
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
    sa.UniqueConstraint("scope", "version", name="uq_trust_data_keys_scope_version"),
)


def create_tables(bind: sa.Engine | sa.Connection) -> None:
    """Create the trust tables where they are missing (databases outside the platform's migrations)."""
    metadata.create_all(bind)
