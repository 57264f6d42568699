"""The officers' audit: rows chained by SHA-256, each also an entry on the transparency log.

Each row's ``row_hash`` covers its own fields and ``prev_hash``, the previous row's
``row_hash`` (64 zeros for the first row). Changing, removing or reordering a row breaks
the chain from that row on; :func:`verify_chain` finds the first break. The application
has no update or delete path for the table, and the database triggers of revision 0001
reject UPDATE and DELETE outright.

A chain alone cannot catch someone with database access who rewrites *every* row and
hash consistently: nothing outside the database remembers the old head. So :func:`record`
also appends each row, in the same transaction, to the transparency log (type
``officer.<action>``, natural key ``audit/<seq>``), whose checkpoints department
witnesses cosign and remember. :func:`verify_log` checks every row against its log entry,
recomputes the log, and checks it against the latest witnessed checkpoint.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from huiqi.clock import FixedClock
from huiqi.store.db import as_utc
from huiqi.store.models import AuditEntry
from huiqi.trust.entries import format_time
from huiqi.trust.log import TransparencyLog
from huiqi.trust.policy import TrustPolicy

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
    TransparencyLog(session.get_bind(), clock=FixedClock(at)).append(  # type: ignore[arg-type]
        log_entry(entry), natural_key=natural_key(seq), conn=session.connection()
    )
    return entry


_ACTION = re.compile(r"[^a-z0-9_.-]")


def natural_key(seq: int) -> str:
    return f"audit/{seq}"


def log_entry(row: AuditEntry) -> dict[str, Any]:
    """The transparency-log entry of an audit row: every field of the row, the chain's hash too."""
    action = _ACTION.sub("-", row.action.lower()).strip(".") or "unknown"
    if not action[0].isalpha():
        action = "x" + action
    return {
        "type": f"officer.{action}",
        "time": format_time(as_utc(row.at)),
        "seq": row.seq,
        "actor": row.actor,
        "action": row.action,
        "target": row.target,
        "before": row.before_hash,
        "after": row.after_hash,
        "detail": row.detail,
        "prev": row.prev_hash,
        "row": row.row_hash,
    }


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


def page(engine: Engine, *, before: int | None = None, limit: int = 100) -> list[AuditEntry]:
    """At most ``limit`` rows, newest first, all older than ``before`` (a ``seq``) if given."""
    with Session(engine) as session:
        q = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
        if before is not None:
            q = q.where(AuditEntry.seq < before)
        rows = list(session.execute(q).scalars())
        session.expunge_all()
    return rows


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


@dataclass(frozen=True)
class LogReport:
    """What :func:`verify_log` found. ``witnessed`` rows are covered by a checkpoint a quorum of
    witnesses cosigned; ``pending`` rows were logged after it and are protected from the next one."""

    rows: int
    problems: list[str]
    witnessed: int
    pending: int
    checkpoints: dict[str, int]  # origin → size of the latest witnessed checkpoint

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_log(engine: Engine, policy: TrustPolicy | None = None, *, witnessed: Sequence[str] = ()) -> LogReport:
    """Check the audit against the transparency log and the witnesses.

    1. the hash chain (:func:`verify_chain`);
    2. every row equals its log entry, and every ``audit/*`` log entry still has its row;
    3. every log hash recomputes from the entries (fsck of each shard the audit uses);
    4. with a ``policy``: the latest checkpoint a quorum of witnesses cosigned — among those
       kept in the database and ``witnessed`` (what the witnesses themselves hold, which
       nobody with database access can change) — matches the log at its size.

    A consistent rewrite of the whole chain fails 2; rewriting the log too fails 3 or 4.
    """
    from huiqi.trust.entries import canonical_entry
    from huiqi.trust.errors import TrustError
    from huiqi.trust.note import parse_note
    from huiqi.trust.schema import leaves

    problems: list[str] = []
    chain = verify_chain(engine)
    if not chain.ok:
        problems.append(f"哈希链在第 {chain.first_bad} 行断开：{chain.reason}")
    log = TransparencyLog(engine, clock=FixedClock(dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    positions: dict[int, tuple[str, int]] = {}
    rows = 0
    for row in entries(engine):
        rows += 1
        logged = log.find(natural_key(row.seq))
        if logged is None:
            problems.append(f"第 {row.seq} 行不在透明日志上 / row {row.seq} is not on the log")
            continue
        if logged.entry != canonical_entry(log_entry(row))[0]:
            problems.append(f"第 {row.seq} 行与其日志条目不符 / row {row.seq} differs from its log entry")
        positions[row.seq] = (logged.shard, logged.index)
    with engine.connect() as c:
        keys = c.execute(select(leaves.c.natural_key).where(leaves.c.natural_key.like("audit/%"))).scalars().all()
    for key in keys:
        seq = int(key.removeprefix("audit/"))
        if seq not in positions:
            problems.append(f"日志第 audit/{seq} 条的审计行不见了 / the audit row of log entry {key} is gone")
    shards = sorted({shard for shard, _ in positions.values()})
    for shard in shards:
        problems += [f"{log.origin(shard)}: {p}" for p in log.fsck(shard).problems]
    sizes: dict[str, int] = {}
    if policy is not None and not problems:
        for shard in shards:
            origin = log.origin(shard)
            # One checkpoint text, every signature found on it: witnesses each hold their own.
            merged = {cp.note.text: cp.note for cp in log.checkpoints(shard)}
            for text in witnessed:
                try:
                    note = parse_note(text)
                except TrustError:
                    continue
                merged[note.text] = merged[note.text].with_signatures(note.signatures) if note.text in merged else note
            best = None
            for note in merged.values():
                try:
                    verified = policy.verify_checkpoint(note)
                except TrustError:
                    continue
                if verified.checkpoint.origin == origin and (best is None or verified.checkpoint.size > best.size):
                    best = verified.checkpoint
            if best is None:
                continue
            sizes[origin] = best.size
            have = log.size(shard)
            if best.size > have:
                problems.append(
                    f"{origin}: 日志只有 {have} 条，见证人已联署 {best.size} 条（被回滚） / "
                    f"the log holds {have} entries, witnesses cosigned {best.size}: rolled back"
                )
            elif log.root(shard, best.size) != best.root:
                problems.append(
                    f"{origin}: 日志在大小 {best.size} 处与见证人联署的根不符（被改写） / "
                    f"the log differs from the root witnesses cosigned at size {best.size}: rewritten"
                )
    witnessed_rows = sum(1 for shard, index in positions.values() if index < sizes.get(log.origin(shard), 0))
    return LogReport(rows, problems, witnessed_rows, rows - witnessed_rows, sizes)
