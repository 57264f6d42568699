"""The transparency log in the platform database: leaves, tiles, shards and checkpoints.

Appending writes the leaf rows and extends the C2SP tiles (256 hashes of one tree level
per row, see :mod:`huiqi.trust.schema`), so a proof reads a handful of tile rows and hashes
at most 255 nodes per tile; nothing ever rehashes the whole log.

Every method takes an optional ``conn``: pass the caller's connection to append in the
caller's transaction (the officers' audit does), or leave it out for a transaction of
the log's own. Appenders of one shard are serialised by a lock on its ``tlog_shards`` row.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from huiqi.clock import Clock
from huiqi.trust import merkle
from huiqi.trust.entries import canonical_entry, format_time, shard_of
from huiqi.trust.errors import DuplicateEntryError, EntryError, LogError, ProofError
from huiqi.trust.merkle import HASH_SIZE, leaf_hash
from huiqi.trust.note import Checkpoint, Note, NoteSignature, Signer, parse_note, sign_note
from huiqi.trust.schema import checkpoints, leaves, shards, tiles

#: The city's log origins are ``linjiang.example/huiqi/<year>``.
DEFAULT_PREFIX = "linjiang.example/huiqi"
TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
_CHUNK = 500  # rows per IN (...) query
_NORMAL_TIME_LENGTH = len("2026-12-01T09:00:00.000000Z")  # a valid time this long has 6 digits: normal


@dataclass(frozen=True)
class LoggedEntry:
    """Where an entry landed: shard, origin, index and leaf hash (and the canonical bytes)."""

    shard: str
    origin: str
    index: int
    leaf_hash: bytes
    entry: bytes


@dataclass(frozen=True)
class StoredCheckpoint:
    shard: str
    size: int
    root: bytes
    note: Note
    created_at: dt.datetime

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint.parse(self.note.text)


@dataclass
class FsckReport:
    """What :meth:`TransparencyLog.fsck` found: ``problems`` is empty when every hash recomputed."""

    shard: str
    size: int
    root: bytes
    problems: list[str]
    checkpoints: int = 0  # kept checkpoints whose roots were recomputed

    @property
    def ok(self) -> bool:
        return not self.problems


def perfect_root(buf: bytes, count: int) -> bytes:
    """Root of ``count`` (a power of two) hashes laid end to end in ``buf``."""
    if count == 1:
        return buf[:HASH_SIZE]
    sha = hashlib.sha256  # node_hash inlined: proofs and appends spend their time here
    width = 2 * HASH_SIZE
    level = [sha(b"\x01" + buf[i : i + width]).digest() for i in range(0, count * HASH_SIZE, width)]
    while len(level) > 1:
        level = [sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return level[0]


#: Drivers' positional parameter marks: hot paths use the driver directly (see _insert_leaves, _read_tiles).
_MARKS = {"qmark": "?", "format": "%s", "pyformat": "%s"}
_TILE = sa.select(tiles.c.hashes).where(
    tiles.c.shard == sa.bindparam("shard"), tiles.c.level == sa.bindparam("level"), tiles.c.idx == sa.bindparam("idx")
)


def _read_tiles(c: Connection, shard: str, keys: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """The tiles ``(level, index)`` that exist, in one driver query (a proof needs 3 to 6; through
    SQLAlchemy each lookup cost more than SQLite's own work)."""
    mark = _MARKS.get(c.dialect.paramstyle)
    if not keys:
        return {}
    if mark is None:  # a driver with named parameters: one compiled lookup per tile
        found = ((k, c.execute(_TILE, {"shard": shard, "level": k[0], "idx": k[1]}).scalar()) for k in keys)
        return {k: bytes(v) for k, v in found if v is not None}
    one = f"SELECT level, idx, hashes FROM {tiles.name} WHERE shard = {mark} AND level = {mark} AND idx = {mark}"
    sql = " UNION ALL ".join([one] * len(keys))  # each a primary-key lookup
    params = tuple(x for level, idx in keys for x in (shard, level, idx))
    return {(int(level), int(idx)): bytes(value) for level, idx, value in c.exec_driver_sql(sql, params)}


_LEAF_COLUMNS = ("shard", "idx", "type", "time", "natural_key", "entry")


def _insert_leaves(c: Connection, rows: list[tuple[str, int, str, str, str | None, bytes]]) -> None:
    """Insert leaf rows (in ``_LEAF_COLUMNS`` order) with the driver's executemany: SQLAlchemy's
    per-row parameter processing costs more than SQLite's own insert."""
    mark = _MARKS.get(c.dialect.paramstyle)
    if mark is None:  # a driver with named parameters: the ordinary path
        c.execute(leaves.insert(), [dict(zip(_LEAF_COLUMNS, row, strict=True)) for row in rows])
        return
    sql = f"INSERT INTO {leaves.name} ({', '.join(_LEAF_COLUMNS)}) VALUES ({', '.join([mark] * len(_LEAF_COLUMNS))})"
    c.exec_driver_sql(sql, rows)


@functools.lru_cache(maxsize=512)
def _tile_tree(buf: bytes) -> tuple[bytes, tuple[int, ...]]:
    """A tile's inner tree: every level bottom up, laid end to end (at most 16 KB), and where
    each level starts, in hashes. Level r holds the n >> r perfect subtrees of 2^r hashes that
    the tile's n hashes complete. Keyed by the tile's bytes, so it cannot be stale: a changed
    tile (the growing rightmost one, or a tampered one) is another key. fsck never uses it."""
    sha = hashlib.sha256
    levels = [buf]
    while len(levels[-1]) >= 2 * HASH_SIZE:
        row = levels[-1]
        levels.append(b"".join([sha(b"\x01" + row[i : i + 2 * HASH_SIZE]).digest()
                                for i in range(0, len(row) - 2 * HASH_SIZE + 1, 2 * HASH_SIZE)]))  # fmt: skip
    starts, at = [], 0
    for row in levels:
        starts.append(at)
        at += len(row) // HASH_SIZE
    return b"".join(levels), tuple(starts)


class TransparencyLog:
    """An append-only, sharded Merkle log of typed entries (RFC 6962 hashing, C2SP formats)."""

    def __init__(self, engine: Engine, *, clock: Clock, prefix: str = DEFAULT_PREFIX):
        self.engine = engine
        self.clock = clock
        self.prefix = prefix.rstrip("/")

    # --- naming ---------------------------------------------------------------------------

    def origin(self, shard: str) -> str:
        return f"{self.prefix}/{shard}"

    def shard_of_origin(self, origin: str) -> str:
        head, _, shard = origin.rpartition("/")
        if head != self.prefix or not shard:
            raise LogError(f"不是本日志的来源：{origin}", f"not an origin of this log: {origin}", field="origin")
        return shard

    def current_shard(self) -> str:
        return shard_of(self.clock.now())

    @contextmanager
    def _tx(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        else:
            with self.engine.begin() as c:
                yield c

    # --- appending --------------------------------------------------------------------------

    def append(
        self, entry: Mapping[str, Any], *, natural_key: str | None = None, conn: Connection | None = None
    ) -> LoggedEntry:
        """Append one entry (``time`` defaults to the clock's now); see :meth:`append_many`."""
        return self.append_many([entry], natural_keys=[natural_key], conn=conn)[0]

    def append_many(
        self,
        entries: Sequence[Mapping[str, Any]],
        *,
        natural_keys: Sequence[str | None] | None = None,
        conn: Connection | None = None,
    ) -> list[LoggedEntry]:
        """Append entries in order, all or none. Each goes to the shard of its ``time``'s year.

        An entry whose natural key is already logged raises :class:`DuplicateEntryError`.
        """
        keys = list(natural_keys) if natural_keys is not None else [None] * len(entries)
        if len(keys) != len(entries):
            raise EntryError(
                "自然键与条目数量不一致", "natural_keys and entries differ in length", field="natural_keys"
            )
        prepared: list[tuple[str, bytes, str, str, str | None]] = []
        for entry, key in zip(entries, keys, strict=True):
            when = None
            if type(entry) is dict or isinstance(entry, Mapping):
                when = entry.get("time")
                if when is None or isinstance(when, dt.datetime):
                    when = format_time(self.clock.now() if when is None else when)
                    entry = {**entry, "time": when}
            data, kind, at = canonical_entry(entry)
            if key is not None and (not key or len(key) > 255):
                raise EntryError(
                    "自然键须为 1 到 255 个字符", "a natural key is 1 to 255 characters", field="natural_key"
                )
            text = when if type(when) is str and len(when) == _NORMAL_TIME_LENGTH else format_time(at)
            prepared.append((shard_of(at), data, kind, text, key))
        named = [k for k in keys if k is not None]
        if len(set(named)) != len(named):
            dup = next(k for k in named if named.count(k) > 1)
            raise DuplicateEntryError(dup, -1, "batch")
        out: list[LoggedEntry] = []
        with self._tx(conn) as c:
            for i in range(0, len(named), _CHUNK):
                row = c.execute(
                    sa.select(leaves.c.natural_key, leaves.c.shard, leaves.c.idx)
                    .where(leaves.c.natural_key.in_(named[i : i + _CHUNK]))
                    .limit(1)
                ).first()
                if row is not None:
                    raise DuplicateEntryError(row.natural_key, row.idx, row.shard)
            by_shard: dict[str, list[tuple[bytes, str, str, str | None]]] = {}
            for shard, data, kind, when, key in prepared:
                by_shard.setdefault(shard, []).append((data, kind, when, key))
            placed: dict[int, LoggedEntry] = {}
            for shard, items in by_shard.items():
                start = self._lock_shard(c, shard)
                hashes = [leaf_hash(data) for data, _, _, _ in items]
                _insert_leaves(
                    c, [(shard, start + i, kind, when, key, data) for i, (data, kind, when, key) in enumerate(items)]
                )
                self._extend_tiles(c, shard, start, hashes)
                c.execute(shards.update().where(shards.c.shard == shard).values(size=start + len(items)))
                for i, ((data, _, _, _), h) in enumerate(zip(items, hashes, strict=True)):
                    placed[id(data)] = LoggedEntry(shard, self.origin(shard), start + i, h, data)
            out = [placed[id(data)] for _, data, _, _, _ in prepared]
        return out

    def _lock_shard(self, c: Connection, shard: str) -> int:
        """Lock the shard's row (creating it) and return its size: one appender per shard at a time."""
        for _ in range(3):
            # An UPDATE first: on SQLite it takes the write lock before anything is read, on
            # PostgreSQL it locks the row until the transaction ends.
            if c.execute(shards.update().where(shards.c.shard == shard).values(size=shards.c.size)).rowcount:
                size = c.execute(sa.select(shards.c.size).where(shards.c.shard == shard)).scalar_one()
                return int(size)
            try:
                with c.begin_nested():
                    c.execute(shards.insert().values(shard=shard, origin=self.origin(shard), size=0))
            except sa.exc.IntegrityError:
                continue  # another appender created it first: lock it on the next round
        raise LogError(f"无法锁定分片 {shard}", f"could not lock shard {shard}", field="shard")

    def _extend_tiles(self, c: Connection, shard: str, start: int, hashes: list[bytes]) -> None:
        level, count, new = 0, start, hashes
        while new:
            first, offset = divmod(count, TILE_WIDTH)
            prefix = b""
            if offset:
                prefix = self._tile(c, shard, level, first)
                if len(prefix) != offset * HASH_SIZE:
                    raise LogError(
                        f"分片 {shard} 的瓦片 {level}/{first} 已损坏",
                        f"tile {level}/{first} of shard {shard} is damaged",
                        field="tiles",
                    )
            buf = prefix + b"".join(new)
            total = offset + len(new)
            upper: list[bytes] = []
            inserts = []
            for t in range(-(-total // TILE_WIDTH)):
                chunk = buf[t * TILE_WIDTH * HASH_SIZE : (t + 1) * TILE_WIDTH * HASH_SIZE]
                if t == 0 and offset:
                    c.execute(
                        tiles.update()
                        .where(tiles.c.shard == shard, tiles.c.level == level, tiles.c.idx == first)
                        .values(hashes=chunk)
                    )
                else:
                    inserts.append({"shard": shard, "level": level, "idx": first + t, "hashes": chunk})
                if len(chunk) == TILE_WIDTH * HASH_SIZE:
                    upper.append(perfect_root(chunk, TILE_WIDTH))
            if inserts:
                c.execute(tiles.insert(), inserts)
            level, count, new = level + 1, count // TILE_WIDTH, upper

    @staticmethod
    def _tile(c: Connection, shard: str, level: int, index: int) -> bytes:
        value = c.execute(
            sa.select(tiles.c.hashes).where(tiles.c.shard == shard, tiles.c.level == level, tiles.c.idx == index)
        ).scalar()
        return bytes(value) if value is not None else b""

    # --- reading ------------------------------------------------------------------------------

    def size(self, shard: str, *, conn: Connection | None = None) -> int:
        with self._tx(conn) as c:
            return int(c.execute(sa.select(shards.c.size).where(shards.c.shard == shard)).scalar() or 0)

    def shards(self, *, conn: Connection | None = None) -> list[str]:
        with self._tx(conn) as c:
            return [r[0] for r in c.execute(sa.select(shards.c.shard).order_by(shards.c.shard))]

    def entry(self, shard: str, index: int, *, conn: Connection | None = None) -> bytes:
        with self._tx(conn) as c:
            value = c.execute(sa.select(leaves.c.entry).where(leaves.c.shard == shard, leaves.c.idx == index)).scalar()
        if value is None:
            raise LogError(f"分片 {shard} 没有第 {index} 条", f"shard {shard} has no entry {index}", field="index")
        return bytes(value)

    def find(self, natural_key: str, *, conn: Connection | None = None) -> LoggedEntry | None:
        """The entry logged under ``natural_key``, if any."""
        with self._tx(conn) as c:
            row = c.execute(
                sa.select(leaves.c.shard, leaves.c.idx, leaves.c.entry).where(leaves.c.natural_key == natural_key)
            ).first()
        if row is None:
            return None
        data = bytes(row.entry)
        return LoggedEntry(row.shard, self.origin(row.shard), int(row.idx), leaf_hash(data), data)

    def _nodes(self, c: Connection, shard: str, wanted: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """Hashes of perfect subtrees ``(level, index)``, each from one tile row."""
        where: dict[tuple[int, int], tuple[int, int, int]] = {}
        for level, index in wanted:
            t, r = divmod(level, TILE_HEIGHT)
            pos = index << r
            where[(level, index)] = (t, pos // TILE_WIDTH, r)
        keys = sorted({(t, i) for t, i, _ in where.values()})
        got = _read_tiles(c, shard, keys)
        out: dict[tuple[int, int], bytes] = {}
        for (level, index), (t, tile_index, r) in where.items():
            buf = got.get((t, tile_index), b"")
            node = ((index << r) % TILE_WIDTH) >> r  # the subtree's place in level r of the tile
            if node >= (len(buf) // HASH_SIZE) >> r:
                raise LogError(
                    f"分片 {shard} 缺少瓦片 {t}/{tile_index}",
                    f"shard {shard} lacks tile {t}/{tile_index}",
                    field="tiles",
                )
            tree, starts = _tile_tree(buf)
            at = (starts[r] + node) * HASH_SIZE
            out[(level, index)] = tree[at : at + HASH_SIZE]
        return out

    def _range_hashes(self, c: Connection, shard: str, ranges: list[tuple[int, int]]) -> list[bytes]:
        pieces = [merkle.perfect_subtrees(lo, hi) for lo, hi in ranges]
        nodes = self._nodes(c, shard, {n for p in pieces for n in p})
        return [merkle.fold([nodes[n] for n in p]) for p in pieces]

    def _check_size(self, c: Connection, shard: str, size: int) -> None:
        have = self.size(shard, conn=c)
        if not 0 <= size <= have:
            raise ProofError(
                f"分片 {shard} 只有 {have} 条，没有大小为 {size} 的树",
                f"shard {shard} holds {have} entries, no tree of size {size}",
                field="size",
            )

    def root(self, shard: str, size: int | None = None, *, conn: Connection | None = None) -> bytes:
        """The root hash of the shard's tree at ``size`` (default: now)."""
        with self._tx(conn) as c:
            if size is None:
                size = self.size(shard, conn=c)
            self._check_size(c, shard, size)
            if size == 0:
                return merkle.EMPTY_ROOT
            return self._range_hashes(c, shard, [(0, size)])[0]

    def inclusion_proof(self, shard: str, index: int, size: int, *, conn: Connection | None = None) -> list[bytes]:
        """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size``."""
        with self._tx(conn) as c:
            self._check_size(c, shard, size)
            if not 0 <= index < size:
                raise ProofError(
                    f"序号 {index} 不在大小为 {size} 的树内", f"index {index} outside a tree of {size}", field="index"
                )
            return self._range_hashes(c, shard, merkle.inclusion_ranges(index, size))

    def consistency_proof(self, shard: str, size1: int, size2: int, *, conn: Connection | None = None) -> list[bytes]:
        """RFC 9162 consistency proof from the tree of ``size1`` to that of ``size2`` (empty when equal or 0)."""
        with self._tx(conn) as c:
            self._check_size(c, shard, size2)
            if not 0 <= size1 <= size2:
                raise ProofError(
                    f"旧大小 {size1} 大于新大小 {size2}", f"size1 {size1} exceeds size2 {size2}", field="size1"
                )
            if size1 in (0, size2):
                return []
            return self._range_hashes(c, shard, merkle.consistency_ranges(size1, size2))

    # --- checkpoints --------------------------------------------------------------------------

    def checkpoint(self, shard: str, signers: Sequence[Signer], *, conn: Connection | None = None) -> StoredCheckpoint:
        """Sign the shard's current tree head and keep it; the same size again returns the kept one."""
        with self._tx(conn) as c:
            size = self.size(shard, conn=c)
            root = self.root(shard, size, conn=c)
            kept = self._stored(c, shard, size)
            if kept is not None:
                if kept.root != root:
                    raise LogError(
                        f"分片 {shard} 在大小 {size} 已签过另一个根",
                        f"shard {shard} already signed another root at {size}",
                    )
                return kept
            note = sign_note(Checkpoint(self.origin(shard), size, root).text, *signers)
            now = self.clock.now()
            c.execute(checkpoints.insert().values(shard=shard, size=size, root=root, note=str(note), created_at=now))
            return StoredCheckpoint(shard, size, root, note, now)

    def add_cosignatures(
        self, shard: str, size: int, signatures: Sequence[NoteSignature], *, conn: Connection | None = None
    ) -> StoredCheckpoint:
        """Keep witnesses' cosignatures with the checkpoint they cosigned."""
        with self._tx(conn) as c:
            kept = self._stored(c, shard, size)
            if kept is None:
                raise LogError(f"分片 {shard} 没有大小为 {size} 的检查点", f"shard {shard} has no checkpoint at {size}")
            note = kept.note.with_signatures(list(signatures))
            c.execute(
                checkpoints.update()
                .where(checkpoints.c.shard == shard, checkpoints.c.size == size)
                .values(note=str(note))
            )
            return StoredCheckpoint(shard, size, kept.root, note, kept.created_at)

    def _stored(self, c: Connection, shard: str, size: int) -> StoredCheckpoint | None:
        row = c.execute(sa.select(checkpoints).where(checkpoints.c.shard == shard, checkpoints.c.size == size)).first()
        return None if row is None else self._row(row)

    @staticmethod
    def _row(row: Any) -> StoredCheckpoint:
        at = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=dt.UTC)
        return StoredCheckpoint(row.shard, int(row.size), bytes(row.root), parse_note(row.note), at)

    def checkpoints(self, shard: str, *, conn: Connection | None = None) -> list[StoredCheckpoint]:
        """Every kept checkpoint of the shard, newest first."""
        with self._tx(conn) as c:
            rows = c.execute(
                sa.select(checkpoints).where(checkpoints.c.shard == shard).order_by(checkpoints.c.size.desc())
            )
            return [self._row(r) for r in rows]

    # --- fsck ---------------------------------------------------------------------------------

    def fsck(self, shard: str, *, batch: int = 64 * TILE_WIDTH, conn: Connection | None = None) -> FsckReport:
        """Recompute every leaf hash and every tile from the entries; check every kept checkpoint's root.

        Streams the shard in batches, so memory stays flat; the whole run reads each leaf once.
        """
        problems: list[str] = []
        with self._tx(conn) as c:
            size = self.size(shard, conn=c)
            upper: list[bytes] = []  # tile roots of level 0, feeding level 1
            for lo in range(0, size, batch):
                hi = min(size, lo + batch)
                rows = c.execute(
                    sa.select(leaves.c.idx, leaves.c.entry)
                    .where(leaves.c.shard == shard, leaves.c.idx >= lo, leaves.c.idx < hi)
                    .order_by(leaves.c.idx)
                ).all()
                if [r.idx for r in rows] != list(range(lo, hi)):
                    have = {int(r.idx) for r in rows}
                    missing = next(i for i in range(lo, hi) if i not in have)
                    problems.append(f"缺少第 {missing} 条 / entry {missing} is missing")
                    break
                hashes = b"".join(leaf_hash(bytes(r.entry)) for r in rows)
                problems += self._compare_tiles(c, shard, 0, lo, hashes, upper)
                if problems:
                    break
            level, count = 1, size // TILE_WIDTH
            while count and not problems:
                mine, upper = b"".join(upper), []
                problems += self._compare_tiles(c, shard, level, 0, mine, upper)
                level, count = level + 1, count // TILE_WIDTH
            root = merkle.EMPTY_ROOT if problems or size == 0 else self.root(shard, size, conn=c)
            kept = self.checkpoints(shard, conn=c)
            if not problems:
                for cp in kept:
                    parsed = cp.checkpoint
                    if cp.size > size:
                        problems.append(f"检查点 {cp.size} 大于日志 / checkpoint {cp.size} is beyond the log ({size})")
                    elif parsed.root != cp.root or self.root(shard, cp.size, conn=c) != cp.root:
                        problems.append(
                            f"大小 {cp.size} 的检查点与重算的根不符 / "
                            f"checkpoint at {cp.size} does not match the recomputed root"
                        )
        return FsckReport(shard, size, root, problems, len(kept))

    def _compare_tiles(
        self, c: Connection, shard: str, level: int, first_index: int, hashes: bytes, upper: list[bytes]
    ) -> list[str]:
        """Compare recomputed hashes (positions ``first_index``… of ``level``) with the stored tiles."""
        count = len(hashes) // HASH_SIZE
        t0, t1 = first_index // TILE_WIDTH, -(-(first_index + count) // TILE_WIDTH)
        stored = {
            int(r.idx): bytes(r.hashes)
            for r in c.execute(
                sa.select(tiles.c.idx, tiles.c.hashes).where(
                    tiles.c.shard == shard, tiles.c.level == level, tiles.c.idx >= t0, tiles.c.idx < t1
                )
            )
        }
        width = TILE_WIDTH * HASH_SIZE
        for t in range(t0, t1):
            want = hashes[(t - t0) * width : (t - t0 + 1) * width]
            if stored.get(t) != want:
                return [
                    f"瓦片 {level}/{t} 与条目重算的哈希不符 / tile {level}/{t} does not match the recomputed hashes"
                ]
            if len(want) == width:
                upper.append(perfect_root(want, TILE_WIDTH))
        return []
