"""The audit log: append-only rows chained by SHA-256, so that any tampering shows.

Each row's ``row_hash`` covers its own fields and ``prev_hash``, the previous row's
``row_hash`` (64 zeros for the first row). Changing, removing or reordering a row breaks
the chain from that row on; :func:`verify_chain` finds the first break. The application
has no update or delete path for the table, and the database triggers of revision 0001
reject UPDATE and DELETE outright.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from huiqi.store.db import as_utc
from huiqi.store.models import AuditEntry

GENESIS = "0" * 64


def digest(value: Any) -> str:
    """SHA-256 of a value's canonical JSON (or of a str's UTF-8 bytes)."""
    data = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def _timestamp(at: dt.datetime) -> str:
    return as_utc(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_hash(
    seq: int,
    at: dt.datetime,
    actor: str,
    action: str,
    target: str,
    before_hash: str | None,
    after_hash: str | None,
    detail: str,
    prev_hash: str,
) -> str:
    fields = [seq, _timestamp(at), actor, action, target, before_hash, after_hash, detail, prev_hash]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode("utf-8")).hexdigest()


def record(
    session: Session,
    actor: str,
    action: str,
    target: str,
    *,
    at: dt.datetime,
    before: Any = None,
    after: Any = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one row, made at ``at``, in the caller's (write-locked) transaction.

    ``before`` / ``after`` are the states the action changed; only their hashes are kept.
    """
    last = session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).scalar()
    seq = 1 if last is None else last.seq + 1
    prev = GENESIS if last is None else last.row_hash
    before_hash = None if before is None else digest(before)
    after_hash = None if after is None else digest(after)
    detail_text = json.dumps(detail or {}, sort_keys=True, ensure_ascii=False, default=str)
    entry = AuditEntry(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        target=target,
        before_hash=before_hash,
        after_hash=after_hash,
        detail=detail_text,
        prev_hash=prev,
        row_hash=row_hash(seq, at, actor, action, target, before_hash, after_hash, detail_text, prev),
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class ChainReport:
    rows: int
    ok: bool
    first_bad: int | None = None
    reason: str | None = None
    head: str = GENESIS


def entries(engine: Engine, batch: int = 1000) -> Iterator[AuditEntry]:
    with Session(engine) as session:
        after = 0
        while True:
            rows = (
                session.execute(select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(batch))
                .scalars()
                .all()
            )
            if not rows:
                return
            yield from rows
            after = rows[-1].seq
            session.expunge_all()


def verify_chain(engine: Engine) -> ChainReport:
    """Recompute every row's hash and link; report the first row that does not fit."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    for e in entries(engine):
        count += 1
        if e.seq != expected_seq:
            return ChainReport(count, False, e.seq, f"缺少第 {expected_seq} 行 / row {expected_seq} is missing")
        if e.prev_hash != prev:
            return ChainReport(count, False, e.seq, "与上一行的哈希不衔接 / does not link to the previous row")
        want = row_hash(e.seq, e.at, e.actor, e.action, e.target, e.before_hash, e.after_hash, e.detail, e.prev_hash)
        if want != e.row_hash:
            return ChainReport(count, False, e.seq, "内容与哈希不符 / row content does not match its hash")
        prev = e.row_hash
        expected_seq += 1
    return ChainReport(count, True, head=prev)


def count(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.execute(select(func.count()).select_from(AuditEntry)).scalar() or 0)
