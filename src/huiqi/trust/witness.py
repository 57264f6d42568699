"""A witness (c2sp.org/tlog-witness): cosigns a log's checkpoint only if it extends the last one it cosigned.

Each department runs one, with its own cosignature key and its own state database (a
SQLite file by default), so nothing the platform's administrators can reach remembers
what the witness saw. :class:`Witness` is the protocol; :func:`witness_app` serves it
over HTTP (``POST /add-checkpoint``, ``GET /<sha256(origin)>/checkpoint``, and the
extension ``GET /alerts``).

A split view — a checkpoint of the size already cosigned with another root, or one the
consistency proof does not connect to the last cosigned checkpoint — is refused (422)
and kept as an alert with both signed checkpoints: evidence that the log lied.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request, Response
from sqlalchemy import Engine

from huiqi.clock import Clock
from huiqi.trust.errors import NoteError, ProofError, SignatureError, TrustError
from huiqi.trust.merkle import EMPTY_ROOT
from huiqi.trust.note import Checkpoint, Note, NoteSignature, Signer, Verifier, parse_note
from huiqi.trust.policy import valid_signatures
from huiqi.trust.verify import verify_consistency

log = logging.getLogger("huiqi.trust.witness")

MAX_PROOF_LINES = 63
SIZE_CONTENT_TYPE = "text/x.tlog.size"

metadata = sa.MetaData()
state = sa.Table(
    "witness_state",
    metadata,
    sa.Column("origin", sa.String(255), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("root", sa.LargeBinary, nullable=False),
    sa.Column("note", sa.Text, nullable=False),  # the checkpoint with the log's and our signatures
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
alerts = sa.Table(
    "witness_alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("origin", sa.String(255), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("cosigned", sa.Text, nullable=False),  # what we cosigned before
    sa.Column("presented", sa.Text, nullable=False),  # what the log presented now
)


def witness_engine(path: Path) -> Engine:
    """The witness's own state database: a SQLite file in WAL mode, each commit synced
    (a witness must persist its new checkpoint before it answers)."""
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        dbapi_conn.execute("PRAGMA synchronous=FULL")

    return engine


class Refusal(TrustError):
    """The witness refuses a request; ``http_status`` is what tlog-witness prescribes."""

    def __init__(self, status: int, message_zh: str, message_en: str, *, body: str | None = None):
        self.http_status = status
        self.body = body
        super().__init__(message_zh, message_en)


class _SplitView(Exception):
    def __init__(self, refusal: Refusal, evidence: tuple[str, str, ProofError, str, str]):
        self.refusal = refusal
        self.evidence = evidence


@dataclass(frozen=True)
class Alert:
    id: int
    origin: str
    kind: str  # "same-size-other-root" | "inconsistent"
    at: dt.datetime
    detail: str
    cosigned: str
    presented: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "origin": self.origin,
            "kind": self.kind,
            "at": self.at.isoformat(),
            "detail": self.detail,
            "cosigned": self.cosigned,
            "presented": self.presented,
        }


def parse_request(body: bytes) -> tuple[int, list[bytes], str]:
    """``old N``, proof lines, a blank line, the checkpoint note → (old size, proof, note text)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Refusal(400, "请求不是 UTF-8", "request is not UTF-8") from e
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise Refusal(400, "请求缺少空行", "request lacks the blank line")
    lines = head.split("\n")
    first = lines[0]
    size_text = first[4:] if first.startswith("old ") else ""
    if not size_text.isdigit() or not size_text.isascii() or (size_text != "0" and size_text.startswith("0")):
        raise Refusal(400, "第一行应为 old <大小>", "first line must be 'old <size>'")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise Refusal(400, "一致性证明行过多", "too many consistency proof lines")
    proof = []
    for line in lines[1:]:
        try:
            proof.append(base64.b64decode(line, validate=True))
        except (binascii.Error, ValueError) as e:
            raise Refusal(400, "证明行不是 base64", "a proof line is not base64") from e
    return int(size_text), proof, note


class Witness:
    """The witness's rules and state; thread-safe within one process (one process per state file)."""

    def __init__(
        self, engine: Engine, signer: Signer, logs: dict[str, list[Verifier]], *, clock: Clock, title: str = ""
    ):
        self.engine = engine
        self.signer = signer
        self.logs = logs
        self.clock = clock
        self.title = title or signer.name
        self._lock = threading.Lock()
        metadata.create_all(engine)

    def add_checkpoint(self, body: bytes) -> str:
        """Cosign the checkpoint in a tlog-witness request; return the cosignature line(s)."""
        old, proof, note_text = parse_request(body)
        try:
            note = parse_note(note_text)
            cp = Checkpoint.parse(note.text)
        except NoteError as e:
            raise Refusal(400, f"检查点格式错误：{e.message_zh}", f"malformed checkpoint: {e.message_en}") from e
        keys = self.logs.get(cp.origin)
        if not keys:
            raise Refusal(404, f"未知的日志 {cp.origin}", f"unknown log {cp.origin}")
        try:
            if not valid_signatures(note, list(keys)):
                raise Refusal(403, "检查点没有受信任的日志签名", "checkpoint is not signed by a trusted log key")
        except SignatureError as e:
            raise Refusal(403, e.message_zh, e.message_en) from e
        if old > cp.size:
            raise Refusal(
                400, f"旧大小 {old} 大于检查点大小 {cp.size}", f"old size {old} exceeds checkpoint size {cp.size}"
            )
        if cp.size == 0 and cp.root != EMPTY_ROOT:
            raise Refusal(422, "大小为 0 的检查点根哈希错误", "a checkpoint of size 0 must have the empty root")
        with self._lock:
            split: tuple[str, str, ProofError, str, str] | None = None
            try:
                return self._cosign(old, proof, note, cp)
            except _SplitView as e:
                split = e.evidence
                raise e.refusal from e.evidence[2]
            finally:
                if split is not None:
                    self._alert(*split)

    def _cosign(self, old: int, proof: list[bytes], note: Note, cp: Checkpoint) -> str:
        with self.engine.begin() as c:
            row = c.execute(sa.select(state).where(state.c.origin == cp.origin)).first()
            latest = int(row.size) if row else 0
            if old != latest:
                raise Refusal(
                    409, f"见证人最新大小为 {latest}", f"the witness's latest size is {latest}", body=f"{latest}\n"
                )
            if old == 0:
                if proof:
                    raise Refusal(422, "旧大小为 0 时证明应为空", "proof must be empty when the old size is 0")
            else:
                assert row is not None
                try:
                    verify_consistency(old, cp.size, proof, bytes(row.root), cp.root)
                except ProofError as e:
                    kind = "same-size-other-root" if old == cp.size else "inconsistent"
                    refusal = Refusal(
                        422,
                        f"与已联署的检查点不一致（分裂视图）：{e.message_zh}",
                        f"split view, not consistent: {e.message_en}",
                    )
                    raise _SplitView(refusal, (cp.origin, kind, e, row.note, str(note))) from e
            ours = self.signer.sign(note.text.encode("utf-8"))
            cosigned = note.with_signatures([_signature(self.signer, ours)])
            values = {"size": cp.size, "root": cp.root, "note": str(cosigned), "updated_at": self.clock.now()}
            if row is None:
                c.execute(state.insert().values(origin=cp.origin, **values))
            else:
                c.execute(state.update().where(state.c.origin == cp.origin).values(**values))
        return _signature(self.signer, ours).line()

    def _alert(self, origin: str, kind: str, error: ProofError, cosigned: str, presented: str) -> None:
        # Kept although the request is refused, in a transaction of its own.
        with self.engine.begin() as c:
            c.execute(
                alerts.insert().values(
                    origin=origin,
                    kind=kind,
                    at=self.clock.now(),
                    detail=str(error),
                    cosigned=cosigned,
                    presented=presented,
                )
            )
        log.error("split view of %s (%s): %s", origin, kind, error)

    def latest(self, origin: str) -> str | None:
        """The last checkpoint cosigned for ``origin``, with the log's and this witness's signatures."""
        with self.engine.connect() as c:
            return c.execute(sa.select(state.c.note).where(state.c.origin == origin)).scalar()

    def latest_by_hash(self, origin_hash: str) -> str | None:
        for origin in self.logs:
            if hashlib.sha256(origin.encode("utf-8")).hexdigest() == origin_hash.lower():
                return self.latest(origin)
        return None

    def alerts(self) -> list[Alert]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(alerts).order_by(alerts.c.id))
            return [
                Alert(
                    r.id,
                    r.origin,
                    r.kind,
                    r.at if r.at.tzinfo else r.at.replace(tzinfo=dt.UTC),
                    r.detail,
                    r.cosigned,
                    r.presented,
                )
                for r in rows
            ]


def _signature(signer: Signer, raw: bytes) -> NoteSignature:
    return NoteSignature(signer.name, signer.key_id, raw)


def witness_app(witness: Witness) -> FastAPI:
    """The witness's HTTP interface (a FastAPI app)."""
    app = FastAPI(title=f"huiqi witness {witness.title}", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/add-checkpoint")
    async def add_checkpoint(request: Request) -> Response:
        body = await request.body()
        try:
            lines = witness.add_checkpoint(body)
        except Refusal as e:
            if e.http_status == 409:
                return Response(e.body or "", status_code=409, media_type=SIZE_CONTENT_TYPE)
            return Response(str(e) + "\n", status_code=e.http_status, media_type="text/plain; charset=utf-8")
        return Response(lines, media_type="text/plain; charset=utf-8")

    @app.get("/alerts")
    def list_alerts() -> Response:
        return Response(
            json.dumps([a.to_dict() for a in witness.alerts()], ensure_ascii=False), media_type="application/json"
        )

    @app.get("/{origin_hash}/checkpoint")
    def checkpoint(origin_hash: str) -> Response:
        note = witness.latest_by_hash(origin_hash)
        if note is None:
            return Response("not found\n", status_code=404, media_type="text/plain")
        return Response(note, media_type="text/plain; charset=utf-8")

    @app.get("/")
    def status() -> dict[str, Any]:
        return {"title": witness.title, "vkey": witness.signer.verifier.vkey, "logs": sorted(witness.logs)}

    return app
