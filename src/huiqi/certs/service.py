"""The e-licence register: issue, change and revoke on the log; packages, status lists and online verification.

Every operation is one transaction that appends its log entry (``cert.issue``,
``cert.change``, ``cert.revoke``, ``key.register``, ``key.retire``, ``cert.lookup``) and
writes the index rows beside it, so the register never says what the log does not.
Checkpoints are made by :meth:`Licences.publish` (the log signs, the department witnesses
cosign) — after a batch of issues, not per licence: issuing is an append, and a holder's
proof bundle is ready once the next checkpoint is cosigned.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from huiqi.certs.catalog import DEPARTMENTS, LicenceType, licence_type, validate_subject
from huiqi.certs.credential import (
    DEFAULT_BASE_URL,
    ID_PREFIX,
    IssuerKeys,
    build_credential,
    credential_digest,
    credential_id,
    sign_credential,
    status_list_url,
    vc_time,
)
from huiqi.certs.errors import CertError, IssuanceError, NotFoundError
from huiqi.certs.identifier import LicenceId, parse_licence_id
from huiqi.certs.integrity import add_proof, create_proof
from huiqi.certs.schema import counters, events, keys, licences
from huiqi.certs.status import LIST_SIZE, encode
from huiqi.certs.verify import Anchors, CheckpointCache, KeyRecord, Reason, Verification, Verifier
from huiqi.clock import Clock
from huiqi.errors import Message, PermissionDenied
from huiqi.trust.entries import format_time, parse_time, shard_of
from huiqi.trust.errors import TrustError
from huiqi.trust.log import LoggedEntry, StoredCheckpoint, TransparencyLog
from huiqi.trust.note import Signer
from huiqi.trust.policy import TrustPolicy
from huiqi.trust.proofs import ProofBundle

#: 用证事由 a lookup by identifier may state (ARCHITECTURE.md purposes, plus scanning a licence one holds).
PURPOSES: dict[str, str] = {
    "policy_match": "政策匹配",
    "auto_grant": "免申即享",
    "business_startup": "企业开办",
    "precheck": "预审",
    "supervision": "监管",
    "qr_scan": "扫码核验（出示证照）",
    "identity": "身份核验（企业空间登录）",
}


@dataclass(frozen=True)
class IssueRequest:
    type_code: str
    subject: Mapping[str, Any]
    valid_until: dt.date | None = None
    sm2: bool = False


@dataclass(frozen=True)
class Issued:
    id: LicenceId
    credential: dict[str, Any]
    shard: str
    index: int


class Notary:
    """Makes checkpoints: the log signs, then the policy's witnesses cosign (tlog-witness over HTTP)."""

    def __init__(self, log: TransparencyLog, signers: Sequence[Signer], policy: TrustPolicy, client: Any = None):
        self.log = log
        self.signers = list(signers)
        self.policy = policy
        self._cosigner: Any = None
        if policy.witnesses:
            from huiqi.trust.cosign import Cosigner

            self._cosigner = Cosigner(log, policy, client)

    def publish(self, shard: str) -> StoredCheckpoint:
        cp = self.log.checkpoint(shard, self.signers)
        if self._cosigner is not None:
            cp = self._cosigner.cosign(cp, require_quorum=False).checkpoint
        return cp


class GroupAppender:
    """Appends entries that arrive together in one transaction (group commit).

    A caller who finds no flush running becomes the leader: it writes everything pending —
    its own entry and those queued meanwhile — in one ``append_many``, then hands over: the
    entries that arrived during its commit are written by one of their own callers. So no
    caller waits for more than the commit under way and its own. On a busy page the cost of
    a commit (an fsync) is shared by every access recorded with it.
    """

    def __init__(self, log: TransparencyLog, writer: Engine):
        self.log = log
        self.writer = writer
        self._turn = threading.Condition()
        self._pending: list[tuple[dict[str, Any], Future[LoggedEntry]]] = []
        self._flushing = False
        database = writer.url.database if writer.dialect.name == "sqlite" else None
        # SQLite makes a writer that finds the database locked sleep and retry (1, 2, 5 … 100 ms), so
        # the leaders of several server processes starve one another; a file lock queues them instead.
        self._queue = f"{database}-append.lock" if database and database != ":memory:" else None

    def append(self, entry: dict[str, Any]) -> LoggedEntry:
        mine: Future[LoggedEntry] = Future()
        with self._turn:
            self._pending.append((entry, mine))
            while self._flushing and not mine.done():
                self._turn.wait()
            if mine.done():
                return mine.result()
            self._flushing = True
            batch, self._pending = self._pending, []
        try:
            with self._in_turn(), self.writer.begin() as c:
                placed = self.log.append_many([e for e, _ in batch], conn=c)
        except BaseException as e:  # every waiter learns of the failure, none is left hanging
            for _, waiting in batch:
                waiting.set_exception(e)
        else:
            for (_, waiting), at in zip(batch, placed, strict=True):
                waiting.set_result(at)
        finally:
            with self._turn:
                self._flushing = False
                self._turn.notify_all()
        return mine.result()

    @contextmanager
    def _in_turn(self) -> Iterator[None]:
        """Across processes sharing a SQLite file: one group commit at a time, waiting in the kernel's queue."""
        if self._queue is None:
            yield
            return
        import fcntl

        with open(self._queue, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)


def _stamp_query() -> sa.Select[Any]:
    """What the register's answer about one licence depends on, read in one query built once.

    The licence's events (count, last id); the checkpoints of every shard (count and total
    note length: checkpoints are only added, and a cosignature only lengthens a note); and
    the key registry (count, retirements).
    """
    from huiqi.trust.schema import checkpoints

    mine = events.c.licence_id == sa.bindparam("licence_id")
    return sa.select(
        sa.select(sa.func.count()).where(mine).scalar_subquery(),
        sa.select(sa.func.max(events.c.id)).where(mine).scalar_subquery(),
        sa.select(sa.func.count()).select_from(checkpoints).scalar_subquery(),
        sa.select(sa.func.sum(sa.func.length(checkpoints.c.note))).scalar_subquery(),
        sa.select(sa.func.count()).select_from(keys).scalar_subquery(),
        sa.select(sa.func.count(keys.c.retired_at)).scalar_subquery(),
    )


_STAMP = _stamp_query()


class Licences:
    """The register of one platform database (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        log: TransparencyLog,
        *,
        clock: Clock,
        keys: IssuerKeys | None = None,
        notary: Notary | None = None,
        anchors: Anchors | None = None,
        base_url: str = DEFAULT_BASE_URL,
    ):
        self.engine = engine
        self.log = log
        self.clock = clock
        self.keys = keys or IssuerKeys()
        self.notary = notary
        self.base_url = base_url.rstrip("/")
        policy = anchors.policy if anchors else (notary.policy if notary else None)
        self.anchors = anchors or (Anchors(policy) if policy is not None else None)
        self.cache = CheckpointCache()
        self._counted: dict[str, tuple[tuple[Any, ...], list[StoredCheckpoint]]] = {}
        self._status_cache: dict[tuple[str, str, int], dict[str, Any]] = {}
        self._packages: dict[tuple[Any, ...], tuple[bytes, dict[str, Any]]] = {}
        self._keys: tuple[Any, dict[str, KeyRecord]] | None = None
        self._writer = engine.execution_options(huiqi_write=True)
        self._accesses = GroupAppender(log, self._writer)

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._writer.begin() as c:
            yield c

    # --- keys ---------------------------------------------------------------------------------

    def register_keys(self) -> list[str]:
        """Put every issuer key not yet registered on the log (``key.register``); returns their kids."""
        done: list[str] = []
        with self._write() as c:
            have = {r.kid for r in c.execute(sa.select(keys.c.kid))}
            todo = [(d, k) for d, k in self.keys.all() if k.public.multibase not in have]
            if not todo:
                return done
            now = self.clock.now()
            entries = [
                {
                    "type": "key.register",
                    "time": format_time(now),
                    "department": d,
                    "controller": DEPARTMENTS[d].did,
                    "key": k.public.multibase,
                    "algorithm": k.algorithm,
                    "purpose": "assertionMethod",
                }
                for d, k in todo
            ]
            logged = self.log.append_many(entries, natural_keys=[f"key/{k.public.multibase}" for _, k in todo], conn=c)
            c.execute(
                keys.insert(),
                [
                    {
                        "kid": k.public.multibase,
                        "department": d,
                        "algorithm": k.algorithm,
                        "shard": e.shard,
                        "idx": e.index,
                        "registered_at": format_time(now),
                    }
                    for (d, k), e in zip(todo, logged, strict=True)
                ],
            )
            done = [k.public.multibase for _, k in todo]
        return done

    def retire_key(self, kid: str, reason: str) -> None:
        """``key.retire``: signatures made from now on with this key are refused."""
        with self._write() as c:
            row = c.execute(sa.select(keys).where(keys.c.kid == kid)).first()
            if row is None:
                raise CertError("未登记的密钥", "no such registered key", field="kid")
            if row.retired_at is not None:
                raise CertError("密钥已停用", "the key is already retired", field="kid")
            now = format_time(self.clock.now())
            self.log.append(
                {"type": "key.retire", "time": now, "department": row.department, "key": kid, "reason": reason},
                natural_key=f"key/{kid}/retire",
                conn=c,
            )
            c.execute(keys.update().where(keys.c.kid == kid).values(retired_at=now))

    def key_records(self, *, conn: Connection | None = None, stamp: Any = None) -> dict[str, KeyRecord]:
        """The key registry as this database holds it; read again only when ``stamp`` (see :meth:`_stamp`) moved."""
        if stamp is not None and self._keys is not None and self._keys[0] == stamp:
            return self._keys[1]
        with self._read(conn) as c:
            records = {
                r.kid: KeyRecord(r.kid, r.department, r.algorithm, parse_time(r.retired_at) if r.retired_at else None)
                for r in c.execute(sa.select(keys))
            }
        if stamp is not None:
            self._keys = (stamp, records)
        return records

    def _check_key(self, c: Connection, department: str) -> None:
        kid = self.keys.primary(department).public.multibase
        row = c.execute(sa.select(keys.c.retired_at).where(keys.c.kid == kid)).first()
        if row is None or row.retired_at is not None:
            raise IssuanceError(
                f"{DEPARTMENTS[department].name} 的签发密钥未登记或已停用（先运行 huiqi cert keys register）",
                f"the issuing key of {department} is not registered on the log, or retired",
                field="keys",
            )

    # --- issuing --------------------------------------------------------------------------------

    def _next(self, c: Connection, name: str, count: int) -> int:
        """Reserve ``count`` numbers of counter ``name``; returns the first."""
        for _ in range(3):
            if c.execute(
                counters.update().where(counters.c.name == name).values(value=counters.c.value + count)
            ).rowcount:
                return int(c.execute(sa.select(counters.c.value).where(counters.c.name == name)).scalar_one()) - count
            try:
                with c.begin_nested():
                    c.execute(counters.insert().values(name=name, value=0))
            except sa.exc.IntegrityError:
                continue
        raise IssuanceError("无法分配编号", "could not reserve numbers", field="serial")

    def _valid_until(self, kind: LicenceType, now: dt.datetime, until: dt.date | None) -> dt.datetime | None:
        if until is None:
            if kind.years is None:
                return None
            local = now.astimezone(dt.timezone(dt.timedelta(hours=8)))
            try:
                end = local.date().replace(year=local.year + kind.years) - dt.timedelta(days=1)
            except ValueError:  # 29 February
                end = local.date().replace(year=local.year + kind.years, day=28)
            until = end
        end_at = dt.datetime.combine(until, dt.time(23, 59, 59), dt.timezone(dt.timedelta(hours=8))).astimezone(dt.UTC)
        if end_at <= now:
            raise IssuanceError(
                f"有效期截止日 {until} 已过", f"valid_until {until} is not in the future", field="valid_until"
            )
        return end_at

    def issue(
        self, type_code: str, subject: Mapping[str, Any], *, valid_until: dt.date | None = None, sm2: bool = False
    ) -> Issued:
        """Issue one licence (颁发): sign it, log ``cert.issue``, index it."""
        return self.issue_many([IssueRequest(type_code, subject, valid_until, sm2)])[0]

    def issue_many(self, requests: Sequence[IssueRequest]) -> list[Issued]:
        """Issue licences all or none, in one transaction and one log append."""
        prepared = []
        for i, r in enumerate(requests):
            kind = licence_type(r.type_code)
            try:
                subject = validate_subject(kind, r.subject)
            except IssuanceError as e:
                if len(requests) == 1:
                    raise
                raise IssuanceError(e.message_zh, e.message_en, field=f"[{i}].{e.field}") from e
            prepared.append((kind, subject, r))
        now = self.clock.now()
        out: list[Issued] = []
        with self._write() as c:
            for dept in {k.department for k, _, _ in prepared}:
                self._check_key(c, dept)
            rows, entries, natural = [], [], []
            made: list[tuple[LicenceId, dict[str, Any]]] = []
            by_type: dict[str, list[int]] = {}
            for n, (kind, _, _) in enumerate(prepared):
                by_type.setdefault(kind.code, []).append(n)
            serials: dict[int, str] = {}
            year = now.astimezone(dt.timezone(dt.timedelta(hours=8))).year
            for code, positions in by_type.items():
                first = self._next(c, f"serial/{code}/{year}", len(positions))
                for k, n in enumerate(positions):
                    serials[n] = f"{year}{first + k + 1:07d}"
            slots: dict[int, int] = {}
            by_dept: dict[str, list[int]] = {}
            for n, (kind, _, _) in enumerate(prepared):
                by_dept.setdefault(kind.department, []).append(n)
            for dept, positions in by_dept.items():
                first = self._next(c, f"status/{dept}", len(positions))
                for k, n in enumerate(positions):
                    slots[n] = first + k
            for n, (kind, subject, r) in enumerate(prepared):
                lid = LicenceId(kind.code, DEPARTMENTS[kind.department].uscc, serials[n], 1)
                until = self._valid_until(kind, now, r.valid_until)
                slot = slots[n]
                doc = build_credential(
                    lid,
                    kind,
                    subject,
                    valid_from=now,
                    valid_until=until,
                    status_list=slot // LIST_SIZE,
                    status_index=slot % LIST_SIZE,
                    base_url=self.base_url,
                )
                signed = sign_credential(doc, kind.department, self.keys, created=now, sm2=r.sm2)
                entries.append(self._entry("cert.issue", lid, kind, subject, signed, now, slot))
                natural.append(f"cert/{lid}")
                rows.append(self._row(lid, kind, subject, signed, slot))
                made.append((lid, signed))
            logged = self.log.append_many(entries, natural_keys=natural, conn=c)
            c.execute(licences.insert(), rows)
            c.execute(
                events.insert(),
                [
                    {
                        "licence_id": row["id"],
                        "kind": "issue",
                        "time": format_time(now),
                        "shard": e.shard,
                        "idx": e.index,
                    }
                    for row, e in zip(rows, logged, strict=True)
                ],
            )
            for (lid, signed), at in zip(made, logged, strict=True):
                out.append(Issued(lid, signed, at.shard, at.index))
        return out

    def _entry(
        self,
        kind_name: str,
        lid: LicenceId,
        kind: LicenceType,
        subject: Mapping[str, str],
        signed: Mapping[str, Any],
        now: dt.datetime,
        slot: int,
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "type": kind_name,
            "time": format_time(now),
            "id": str(lid),
            "licence": lid.licence,
            "licenceType": kind.code,
            "issuer": kind.department,
            "holder": subject["uscc"],
            "credential": credential_digest(signed),
            "validFrom": signed["validFrom"],
            "status": {"list": slot // LIST_SIZE, "index": slot % LIST_SIZE},
        }
        if "validUntil" in signed:
            entry["validUntil"] = signed["validUntil"]
        return entry

    @staticmethod
    def _row(
        lid: LicenceId, kind: LicenceType, subject: Mapping[str, str], signed: Mapping[str, Any], slot: int
    ) -> dict[str, Any]:
        return {
            "id": str(lid),
            "licence": lid.licence,
            "type_code": kind.code,
            "version": lid.version,
            "department": kind.department,
            "holder": subject["uscc"],
            "holder_name": subject["name"],
            "status_list": slot // LIST_SIZE,
            "status_index": slot % LIST_SIZE,
            "valid_from": signed["validFrom"],
            "valid_until": signed.get("validUntil"),
            "state": "valid",
            "credential": orjson.dumps(signed).decode(),
        }

    def _current(self, c: Connection, licence_id: str) -> Any:
        lid = parse_licence_id(licence_id)
        row = c.execute(sa.select(licences).where(licences.c.id == str(lid))).first()
        if row is None:
            raise NotFoundError(f"本平台没有颁发过证照 {lid}", f"no licence {lid} was issued here", field="id")
        if row.state != "valid":
            word = {"superseded": "已变更", "revoked": "已注销或吊销"}.get(row.state, row.state)
            raise IssuanceError(f"证照 {lid} {word}，不能再办理", f"licence {lid} is {row.state}", field="id")
        return row

    def change(self, licence_id: str, changes: Mapping[str, Any], *, reason: str) -> Issued:
        """变更: a new version with the changed fields; the old version is superseded (both on the log)."""
        if not reason.strip():
            raise IssuanceError("请写明变更事由", "a reason for the change is required", field="reason")
        now = self.clock.now()
        with self._write() as c:
            old = self._current(c, licence_id)
            kind = licence_type(old.type_code)
            self._check_key(c, kind.department)
            previous = json.loads(old.credential)
            subject = {k: v for k, v in previous["credentialSubject"].items() if k not in ("id", "licenceType")}
            if "uscc" in changes and changes["uscc"] != subject["uscc"]:
                raise IssuanceError("统一社会信用代码不能变更", "the holder's USCC cannot change", field="changes.uscc")
            subject = validate_subject(kind, {**subject, **changes})
            lid = parse_licence_id(old.id).next_version()
            slot = self._next(c, f"status/{kind.department}", 1)
            until = dt.datetime.fromisoformat(old.valid_until[:-1]).replace(tzinfo=dt.UTC) if old.valid_until else None
            doc = build_credential(
                lid,
                kind,
                subject,
                valid_from=now,
                valid_until=until if until and until > now else self._valid_until(kind, now, None),
                status_list=slot // LIST_SIZE,
                status_index=slot % LIST_SIZE,
                base_url=self.base_url,
            )
            sm2 = isinstance(previous.get("proof"), list)
            signed = sign_credential(doc, kind.department, self.keys, created=now, sm2=sm2)
            entry = self._entry("cert.change", lid, kind, subject, signed, now, slot)
            entry.update({"supersedes": old.id, "reason": reason.strip()})
            e = self.log.append(entry, natural_key=f"cert/{lid}", conn=c)
            c.execute(licences.update().where(licences.c.id == old.id).values(state="superseded"))
            c.execute(licences.insert(), self._row(lid, kind, subject, signed, slot))
            when = format_time(now)
            c.execute(
                events.insert(),
                [
                    {
                        "licence_id": old.id,
                        "kind": "supersede",
                        "time": when,
                        "shard": e.shard,
                        "idx": e.index,
                        "reason": reason,
                    },
                    {
                        "licence_id": str(lid),
                        "kind": "change",
                        "time": when,
                        "shard": e.shard,
                        "idx": e.index,
                        "reason": reason,
                    },
                ],
            )
            return Issued(lid, signed, e.shard, e.index)

    def revoke(self, licence_id: str, *, reason: str, kind: str = "cancel") -> None:
        """注销 (``cancel``, the holder's request) or 吊销 (``revoke``, a sanction): ``cert.revoke`` on the log."""
        if kind not in ("cancel", "revoke"):
            raise IssuanceError("kind 应为 cancel（注销）或 revoke（吊销）", "kind is cancel or revoke", field="kind")
        if not reason.strip():
            raise IssuanceError("请写明注销或吊销事由", "a reason is required", field="reason")
        now = self.clock.now()
        with self._write() as c:
            row = self._current(c, licence_id)
            entry = {
                "type": "cert.revoke",
                "time": format_time(now),
                "id": row.id,
                "licence": row.licence,
                "issuer": row.department,
                "kind": kind,
                "reason": reason.strip(),
                "effective": format_time(now),
            }
            e = self.log.append(entry, natural_key=f"cert/{row.id}/revoke", conn=c)
            c.execute(licences.update().where(licences.c.id == row.id).values(state="revoked"))
            c.execute(
                events.insert().values(
                    licence_id=row.id, kind=kind, time=entry["time"], shard=e.shard, idx=e.index, reason=reason.strip()
                )
            )

    # --- checkpoints and evidence ----------------------------------------------------------------

    def publish(self, shard: str | None = None) -> StoredCheckpoint:
        """A checkpoint of ``shard`` (default: this year's), signed by the log and cosigned by the witnesses."""
        if self.notary is None:
            raise CertError(
                "没有配置日志签名密钥，无法生成检查点", "no log key configured: cannot checkpoint", field="notary"
            )
        return self.notary.publish(shard or self.log.current_shard())

    def _counts(self, cp: StoredCheckpoint) -> bool:
        if self.anchors is None:
            return True
        try:
            self.cache.add(str(cp.note), self.anchors.policy)
        except TrustError:
            return False
        return True

    def _checkpoints(self, shard: str, c: Connection) -> list[StoredCheckpoint]:
        """The shard's kept checkpoints that count (signed, quorum), smallest first; parsed once, reused
        until a checkpoint is added or gains cosignatures."""
        from huiqi.trust.schema import checkpoints

        stamp = tuple(
            c.execute(
                sa.select(checkpoints.c.size, sa.func.length(checkpoints.c.note)).where(checkpoints.c.shard == shard)
            ).all()
        )
        hit = self._counted.get(shard)
        if hit is None or hit[0] != stamp:
            counted = sorted(
                (cp for cp in self.log.checkpoints(shard, conn=c) if self._counts(cp)), key=lambda cp: cp.size
            )
            hit = (stamp, counted)
            self._counted[shard] = hit
        return hit[1]

    def _bundle(self, shard: str, index: int, *, first: bool, c: Connection) -> str | None:
        """A tlog-proof of entry ``index``: under the first checkpoint that counts (``first``) or the latest."""
        kept = [cp for cp in self._checkpoints(shard, c) if cp.size > index]
        if not kept:
            return None
        cp = kept[0] if first else kept[-1]
        proof = self.log.inclusion_proof(shard, index, cp.size, conn=c)
        return str(ProofBundle(index, tuple(proof), cp.note))

    def proof(self, shard: str, index: int, *, first: bool = True) -> str | None:
        """A tlog-proof (text) of any log entry: under the first checkpoint that counts, or the latest."""
        with self.engine.connect() as c:
            return self._bundle(shard, index, first=first, c=c)

    def _evidence_item(self, shard: str, index: int, *, first: bool, c: Connection) -> dict[str, Any] | None:
        proof = self._bundle(shard, index, first=first, c=c)
        if proof is None:
            return None
        return {"entry": json.loads(self.log.entry(shard, index, conn=c)), "proof": proof}

    def credential(self, licence_id: str, *, conn: Connection | None = None) -> dict[str, Any]:
        lid = parse_licence_id(licence_id)
        with self._read(conn) as c:
            row = c.execute(sa.select(licences.c.credential).where(licences.c.id == str(lid))).first()
        if row is None:
            raise NotFoundError(f"本平台没有颁发过证照 {lid}", f"no licence {lid} was issued here", field="id")
        return dict(json.loads(row.credential))

    @contextmanager
    def _read(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        else:
            with self.engine.connect() as c:
                yield c

    def package(self, licence_id: str, *, status: bool = True) -> dict[str, Any]:
        """The credential with its evidence (:mod:`huiqi.certs.verify`); what no checkpoint covers yet is left out.

        Kept per licence until its events or any shard's checkpoints change (:meth:`_stamp`),
        so a page that is scanned again does not rebuild the proofs; the caller gets a copy.
        """
        lid = str(parse_licence_id(licence_id))
        with self.engine.connect() as c:
            return dict(orjson.loads(self._own(lid, status, c)[0]))

    @staticmethod
    def _stamp(c: Connection, licence_id: str) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """(package stamp, key registry stamp) of one licence: see :data:`_STAMP`."""
        row = c.execute(_STAMP, {"licence_id": licence_id}).one()
        return tuple(row[:4]), tuple(row[4:])

    def _own(self, licence_id: str, status: bool, c: Connection) -> tuple[bytes, dict[str, Any], tuple[Any, ...]]:
        """The register's package of ``licence_id`` (normalised) as JSON and as a dict not to be changed, and
        the key registry stamp."""
        stamp, key_stamp = self._stamp(c, licence_id)
        key = (licence_id, status, *stamp)
        hit = self._packages.get(key)
        if hit is None:
            package = self._package(licence_id, status=status, c=c)
            hit = (orjson.dumps(package), package)
            if len(self._packages) >= 10_000:
                self._packages.clear()
            self._packages[key] = hit
        return hit[0], hit[1], key_stamp

    def _package(self, licence_id: str, *, status: bool, c: Connection) -> dict[str, Any]:
        credential = self.credential(licence_id, conn=c)
        lid = credential_id(credential)
        evs = c.execute(
            sa.select(events).where(events.c.licence_id == str(lid)).order_by(events.c.shard, events.c.idx)
        ).all()
        proof = credential["proof"]
        kids = [str(p["verificationMethod"]).partition("#")[2] for p in (proof if isinstance(proof, list) else [proof])]
        registered = {r.kid: r for r in c.execute(sa.select(keys).where(keys.c.kid.in_(kids)))}
        evidence: dict[str, Any] = {}
        made = next((e for e in evs if e.kind in ("issue", "change")), None)
        if made is not None:
            item = self._evidence_item(made.shard, int(made.idx), first=True, c=c)
            if item is not None:
                evidence["issue"] = item
        # One key registration per proof of the set: "key" for the first, "keys" for a second (SM2) proof's key.
        regs = [self._evidence_item(r.shard, int(r.idx), first=False, c=c) for r in map(registered.get, kids) if r]
        proven = [item for item in regs if item is not None]
        if proven:
            evidence["key"] = proven[0]
        if len(proven) > 1:
            evidence["keys"] = proven[1:]
        later = [e for e in evs if e.kind in ("supersede", "cancel", "revoke")]
        items = [self._evidence_item(e.shard, int(e.idx), first=False, c=c) for e in later]
        if any(i is not None for i in items):
            evidence["events"] = [i for i in items if i is not None]
        if status:
            snap = self.status_list(credential["credentialStatus"]["statusListCredential"], conn=c)
            if snap is not None:
                evidence["status"] = snap
        return {"credential": credential, "evidence": evidence}

    # --- status lists --------------------------------------------------------------------------

    def status_list(
        self, url: str, *, at: StoredCheckpoint | None = None, conn: Connection | None = None
    ) -> dict[str, Any] | None:
        """The department's signed status list as of a checkpoint (default: the latest that counts).

        ``None`` where this server holds no key of the department (a verifying-only server)."""
        prefix = f"{self.base_url}/certs/status/"
        dept, _, number = url[len(prefix) :].partition("/") if url.startswith(prefix) else ("", "", "")
        if dept not in DEPARTMENTS or not number.isdigit():
            raise NotFoundError(f"没有状态列表 {url}", f"no status list {url}", field="url")
        key = self.keys.ed25519.get(dept)
        if key is None:
            return None
        with self._read(conn) as c:
            if at is None:
                counted = self._checkpoints(self.log.current_shard(), c)
                if not counted:
                    return None
                at = counted[-1]
            cached = self._status_cache.get((url, at.shard, at.size))
            if cached is not None:
                return cached
            q = (
                sa.select(licences.c.status_index)
                .join(events, events.c.licence_id == licences.c.id)
                .where(
                    licences.c.department == dept,
                    licences.c.status_list == int(number),
                    events.c.kind.in_(("supersede", "cancel", "revoke")),
                    sa.or_(events.c.shard < at.shard, sa.and_(events.c.shard == at.shard, events.c.idx < at.size)),
                )
            )
            revoked = [int(r[0]) for r in c.execute(q)]
        cp = at.checkpoint
        import base64

        doc = {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "id": status_list_url(self.base_url, dept, int(number)),
            "type": ["VerifiableCredential", "BitstringStatusListCredential"],
            "issuer": {"id": DEPARTMENTS[dept].did, "name": DEPARTMENTS[dept].name},
            "validFrom": vc_time(at.created_at),
            "credentialSubject": {
                "id": f"{status_list_url(self.base_url, dept, int(number))}#list",
                "type": "BitstringStatusList",
                "statusPurpose": "revocation",
                "encodedList": encode(revoked),
                "checkpoint": f"{cp.origin} {cp.size} {base64.b64encode(cp.root).decode()}",
            },
        }
        from huiqi.certs.credential import verification_method

        proof, _ = create_proof(
            doc, key, verification_method=verification_method(dept, key), created=vc_time(at.created_at)
        )
        signed = add_proof(doc, proof)
        self._status_cache = {k: v for k, v in self._status_cache.items() if k[0] != url}  # one per list
        self._status_cache[(url, at.shard, at.size)] = signed
        return signed

    # --- reading --------------------------------------------------------------------------------

    def history(self, licence_id: str) -> list[dict[str, Any]]:
        """Every version of the licence and every event, oldest first."""
        lid = parse_licence_id(licence_id)
        with self.engine.connect() as c:
            ids = [r.id for r in c.execute(sa.select(licences.c.id).where(licences.c.licence == lid.licence))]
            rows = c.execute(
                sa.select(events)
                .where(events.c.licence_id.in_(ids))
                .order_by(events.c.shard, events.c.idx, events.c.id)
            ).all()
        return [
            {
                "id": r.licence_id,
                "kind": r.kind,
                "time": r.time,
                "log": {"shard": r.shard, "index": int(r.idx)},
                "reason": r.reason,
            }
            for r in rows
        ]

    def holder_licences(self, uscc: str) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(licences).where(licences.c.holder == uscc).order_by(licences.c.id)).all()
        return [
            {
                "id": r.id,
                "type": r.type_code,
                "state": r.state,
                "valid_from": r.valid_from,
                "valid_until": r.valid_until,
            }
            for r in rows
        ]

    # --- verifying online ------------------------------------------------------------------------

    def _verifier(self, records: dict[str, KeyRecord] | None = None) -> Verifier:
        if self.anchors is None:
            raise CertError("没有配置信任策略，无法核验", "no trust policy configured: cannot verify", field="policy")
        records = self.key_records() if records is None else records
        anchors = Anchors(self.anchors.policy, records, self.anchors.max_lag, self.anchors.skew)
        return Verifier(anchors, clock=self.clock, cache=self.cache)

    def verify(self, package: Any, *, ours: dict[str, Any] | None = None) -> Verification:
        """Verify a credential or package someone presents, with this register's current evidence added.

        Evidence the holder brought is checked as is; the register adds later events and
        today's status list, and checks that the checkpoint is one of this log's own (no split view).
        """
        verifier = self._verifier()
        if isinstance(package, Mapping) and "credential" not in package:
            package = {"credential": package, "evidence": {}}
        result = verifier.verify(package)
        if result.verdict == "forged" or not isinstance(package, Mapping):
            return result
        credential = package["credential"]
        try:
            lid = credential_id(credential)
            if ours is None or ours["credential"].get("id") != credential.get("id"):
                ours = self.package(str(lid))
        except CertError:
            if not package.get("evidence"):
                result.reasons = [
                    Reason("unknown_licence", "本平台没有颁发过这张证照", "no such licence was issued here")
                ]
                result.verdict = "forged"
            return result
        if credential_digest(ours["credential"]) != credential_digest(credential):
            result.reasons.append(
                Reason(
                    "not_logged",
                    "与登记的证照内容不一致：不是发证部门签发的那一份",
                    "differs from the registered credential",
                )
            )
            result.verdict = "forged"
            return result
        brought = package.get("evidence") or {}
        merged = {**ours["evidence"], **{k: v for k, v in brought.items() if k == "issue" and v}}
        if brought.get("issue"):
            split = self._split_view(brought["issue"])
            if split is not None:
                result.reasons.append(split)
                result.verdict = "unverified"
                return result
        return verifier.verify({"credential": credential, "evidence": merged})

    def _split_view(self, item: Mapping[str, Any]) -> Reason | None:
        try:
            bundle = ProofBundle.parse(str(item.get("proof")))
            from huiqi.trust.note import Checkpoint

            cp = Checkpoint.parse(bundle.checkpoint.text)
            shard = self.log.shard_of_origin(cp.origin)
            if cp.size > self.log.size(shard) or self.log.root(shard, cp.size) != cp.root:
                raise TrustError("", "")
        except TrustError:
            return Reason(
                "split_view",
                "证照附带的检查点不在本平台日志的历史中：日志被分叉（分裂视图），请勿采信",
                "the checkpoint is not part of this log's history: a split view",
            )
        return None

    def lookup(self, licence_id: str, *, purpose: str, requester: str, access_code: str | None = None) -> Verification:
        """Verification by 证照标识 alone: needs a 用证事由 and is recorded on the log (``cert.lookup``).

        With ``access_code`` (what the QR code carries, :meth:`access_token`) the scanner shows it
        holds the licence; a wrong code is refused (:class:`PermissionDenied`) before anything is logged.
        The register's own package is verified as it stands: its checkpoints are this log's.
        """
        if purpose not in PURPOSES:
            raise CertError(
                f"请选择用证事由：{'、'.join(f'{k}（{v}）' for k, v in PURPOSES.items())}",
                f"a purpose is required, one of {', '.join(PURPOSES)}",
                field="purpose",
            )
        if not requester.strip():
            raise CertError("请写明查验单位或查验人", "the requester must be named", field="requester")
        lid = str(parse_licence_id(licence_id))
        try:
            with self.engine.connect() as c:
                _, mine, key_stamp = self._own(lid, True, c)
                records = self.key_records(conn=c, stamp=key_stamp)
            if access_code is not None and not hmac.compare_digest(self.access_token(mine["credential"]), access_code):
                raise PermissionDenied(
                    Message("访问码不对：请扫描证照上的二维码", "wrong access code: scan the licence's QR code")
                )
            result = self._verifier(records).verify(mine)
        except NotFoundError:
            if access_code is not None:
                raise
            result = Verification(
                "forged",
                lid,
                [Reason("unknown_licence", "本平台没有颁发过这张证照", "no such licence was issued here")],
            )
        e = self._accesses.append(
            {
                "type": "cert.lookup",
                "time": format_time(self.clock.now()),
                "id": lid,
                "purpose": purpose,
                "requester": requester.strip()[:200],
                "verdict": result.verdict,
            }
        )
        result.log_index = e.index
        return result

    def access_token(self, credential: Mapping[str, Any]) -> str:
        """What the QR code carries beside the identifier: proof that the scanner holds the licence."""
        return hashlib.sha256(credential_digest(credential).encode()).hexdigest()[:24]


def shard_now(clock: Clock) -> str:
    return shard_of(clock.now())


__all__ = ["ID_PREFIX", "PURPOSES", "IssueRequest", "Issued", "Licences", "Notary"]
