"""Every gateway decision as one entry on the provider's transparency log (``sharing.decision``).

The entry records who asked what, for which purpose and on which basis, and the SHA-256 of
the request and of the answer — never the data: anyone holding the request and the answer
can prove they are the ones logged, and no one reading the log learns a value. A person
subject is recorded by its blind index (no 身份证号 on the log); an enterprise by its USCC,
which is public.

Appends are group-committed: concurrent decisions queue, one writer thread appends what
has queued in one transaction (``append_many``), so a busy gateway pays one write per batch
instead of one per request, and each caller still waits until its entry is durable — an
answer never leaves before its log entry exists. Alongside, in the same transaction, a
small index (``sharing_decisions``: subject, consumer, purpose, decision) lets the data
tracker and the department's page find entries without scanning the log.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from huiqi.clock import Clock
from huiqi.trust import DuplicateEntryError, LoggedEntry, TransparencyLog, create_tables

ENTRY_TYPE = "sharing.decision"
metadata = sa.MetaData()
index = sa.Table(
    "sharing_decisions",
    metadata,
    sa.Column("shard", sa.String(32), primary_key=True),
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("time", sa.String(32), nullable=False),
    sa.Column("subject", sa.String(64), nullable=False, index=True),
    sa.Column("consumer", sa.String(64), nullable=False),
    sa.Column("official", sa.String(128), nullable=False),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("action", sa.String(8), nullable=False),
    sa.Column("decision", sa.String(8), nullable=False),  # allow | partial | deny
    sa.Column("code", sa.String(48), nullable=False),
)


def log_prefix(member: str) -> str:
    """Each department's log: origins ``linjiang.example/huiqi/<member>/<year>``."""
    return f"linjiang.example/huiqi/{member}"


@dataclass
class _Pending:
    entry: Mapping[str, Any]
    key: str | None
    future: Future[LoggedEntry]


class DecisionLog:
    """The provider's decision log: append (group-committed), find by request id, read."""

    def __init__(self, engine: Engine, member: str, *, clock: Clock, batch: int = 256):
        create_tables(engine)
        metadata.create_all(engine)
        self.engine = engine
        self.member = member
        self.log = TransparencyLog(engine, clock=clock, prefix=log_prefix(member))
        self.batch = batch
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @staticmethod
    def natural_key(member: str, request_id: str) -> str:
        return f"sharing/{member}/{request_id}"

    def seen(self, request_id: str) -> LoggedEntry | None:
        """The entry of an earlier request with this id (a replay), if any."""
        return self.log.find(self.natural_key(self.member, request_id))

    def append(self, entry: Mapping[str, Any], *, request_id: str | None) -> LoggedEntry:
        """Append one decision and wait until it is committed. ``request_id`` None: no natural key
        (a refused replay must not claim the key of the request it replays)."""
        key = None if request_id is None else self.natural_key(self.member, request_id)
        pending = _Pending(entry, key, Future())
        self._start()
        self._queue.put(pending)
        return pending.future.result(timeout=30)

    def _start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=f"decision-log-{self.member}", daemon=True)
                self._thread.start()

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            items = [first]
            while len(items) < self.batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                items.append(nxt)
            try:
                self._write(items)
            except DuplicateEntryError:
                for item in items:  # one replay in the batch: write the others one by one
                    try:
                        self._write([item])
                    except Exception as e:
                        item.future.set_exception(e)
            except Exception as e:
                for item in items:
                    if not item.future.done():
                        item.future.set_exception(e)

    def _write(self, items: Sequence[_Pending]) -> None:
        with self.engine.begin() as conn:
            logged = self.log.append_many([i.entry for i in items], natural_keys=[i.key for i in items], conn=conn)
            conn.execute(
                index.insert(),
                [
                    {
                        "shard": e.shard,
                        "idx": e.index,
                        "time": str(i.entry.get("time", "")),
                        "subject": str(i.entry.get("subject", "")),
                        "consumer": str(i.entry.get("consumer", "")),
                        "official": str(i.entry.get("official", "")),
                        "purpose": str(i.entry.get("purpose", "")),
                        "action": str(i.entry.get("action", "")),
                        "decision": str(i.entry.get("decision", "")),
                        "code": str(i.entry.get("code", "")),
                    }
                    for i, e in zip(items, logged, strict=True)
                ],
            )
        for item, e in zip(items, logged, strict=True):
            item.future.set_result(e)

    # --- reading ------------------------------------------------------------------------------
    def entries_for(self, subject: str, *, limit: int = 500) -> list[tuple[str, int, bytes]]:
        """(shard, index, entry bytes) of the decisions about ``subject``, newest first."""
        with self.engine.connect() as c:
            rows = list(
                c.execute(
                    sa.select(index.c.shard, index.c.idx)
                    .where(index.c.subject == subject)
                    .order_by(index.c.time.desc(), index.c.idx.desc())
                    .limit(limit)
                )
            )
        return [(r.shard, int(r.idx), self.log.entry(r.shard, int(r.idx))) for r in rows]

    def recent(self, *, limit: int = 200) -> list[tuple[str, int, bytes]]:
        with self.engine.connect() as c:
            rows = list(
                c.execute(
                    sa.select(index.c.shard, index.c.idx).order_by(index.c.time.desc(), index.c.idx.desc()).limit(limit)
                )
            )
        return [(r.shard, int(r.idx), self.log.entry(r.shard, int(r.idx))) for r in rows]

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(index.c.decision, sa.func.count()).group_by(index.c.decision))
            return {str(d): int(n) for d, n in rows}

    def range(self, shard: str, start: int, limit: int) -> list[bytes]:
        """Entries ``start`` … of a shard (the monitor reads the log in order)."""
        from huiqi.trust.schema import leaves

        with self.engine.connect() as c:
            rows = c.execute(
                sa.select(leaves.c.entry)
                .where(leaves.c.shard == shard, leaves.c.idx >= start)
                .order_by(leaves.c.idx)
                .limit(limit)
            )
            return [bytes(r[0]) for r in rows]
