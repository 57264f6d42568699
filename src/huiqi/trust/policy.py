"""Trust policy: which log keys sign which origins, which witnesses count, and how many must cosign.

A checkpoint *counts* when a log key of its origin signed it and at least ``quorum``
distinct witnesses cosigned it. With ``2·quorum > len(witnesses)`` two conflicting
checkpoints can never both count: their cosigners would share an honest witness, who
cosigns only consistent views.

The policy is a JSON file (``huiqi log`` and ``huiqi audit verify`` read it)::

    {"quorum": 3,
     "logs": {"linjiang.example/huiqi/2026": ["<vkey>", "<next year's or rotated vkey>"]},
     "witnesses": [{"member": "samr", "title": "市场监管局", "vkey": "<cosignature vkey>",
                    "url": "https://127.0.0.1:9101"}, …]}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huiqi.trust.errors import NoteError, QuorumError, SignatureError
from huiqi.trust.note import COSIGNATURE_V1, Checkpoint, Ed25519Verifier, Note, Verifier, parse_note, parse_verifier


@dataclass(frozen=True)
class WitnessInfo:
    member: str  # department code: samr, mps, tax, hrss, nhc, fin
    verifier: Verifier
    url: str | None = None
    title: str = ""

    @property
    def name(self) -> str:
        return self.verifier.name


@dataclass(frozen=True)
class VerifiedCheckpoint:
    """A checkpoint whose log signature and witness quorum verified."""

    checkpoint: Checkpoint
    note: Note
    log_keys: tuple[str, ...]
    witnesses: tuple[str, ...]  # members that cosigned


def valid_signatures(note: Note, verifiers: list[Verifier]) -> list[Verifier]:
    """Verifiers whose signatures on ``note`` verify; a known key's bad signature raises."""
    data = note.text.encode("utf-8")
    good: list[Verifier] = []
    for s in note.signatures:
        for v in verifiers:
            if s.name == v.name and s.key_id == v.key_id:
                if not v.verify(data, s.signature):
                    raise SignatureError(
                        f"{s.name} 的签名无效", f"signature by {s.name} does not verify", field="signatures"
                    )
                if v not in good:
                    good.append(v)
    return good


@dataclass(frozen=True)
class TrustPolicy:
    logs: dict[str, tuple[Verifier, ...]]
    witnesses: tuple[WitnessInfo, ...] = ()
    quorum: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 <= self.quorum <= len(self.witnesses):
            raise NoteError(
                f"法定数 {self.quorum} 应在 0 与见证人数 {len(self.witnesses)} 之间",
                f"quorum {self.quorum} must lie between 0 and the {len(self.witnesses)} witnesses",
                field="quorum",
            )

    def log_verifiers(self, origin: str) -> tuple[Verifier, ...]:
        keys = self.logs.get(origin)
        if not keys:
            raise SignatureError(f"未知的日志来源 {origin}", f"unknown log origin {origin}", field="origin")
        return keys

    def verify_checkpoint(self, note: Note | str, *, quorum: int | None = None) -> VerifiedCheckpoint:
        """The checkpoint, if a log key of its origin signed it and ``quorum`` witnesses cosigned it."""
        if isinstance(note, str):
            note = parse_note(note)
        cp = Checkpoint.parse(note.text)
        logs = valid_signatures(note, list(self.log_verifiers(cp.origin)))
        if not logs:
            raise SignatureError(
                f"检查点没有 {cp.origin} 的日志签名",
                f"the checkpoint is not signed by a key of {cp.origin}",
                field="signatures",
            )
        by_key = {(w.verifier.name, w.verifier.key_id): w for w in self.witnesses}
        cosigners = valid_signatures(note, [w.verifier for w in self.witnesses])
        members = tuple(dict.fromkeys(by_key[(v.name, v.key_id)].member for v in cosigners))
        need = self.quorum if quorum is None else quorum
        if len(members) < need:
            raise QuorumError(
                f"只有 {len(members)} 个见证人联署，需要 {need} 个",
                f"{len(members)} witnesses cosigned, {need} needed",
                field="signatures",
            )
        return VerifiedCheckpoint(cp, note, tuple(v.vkey for v in logs), members)

    # --- files -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "quorum": self.quorum,
            "logs": {origin: [v.vkey for v in keys] for origin, keys in self.logs.items()},
            "witnesses": [
                {"member": w.member, "title": w.title, "vkey": w.verifier.vkey, "url": w.url} for w in self.witnesses
            ],
            **self.extra,
        }

    @classmethod
    def from_dict(cls, data: Any) -> TrustPolicy:
        if not isinstance(data, dict):
            raise NoteError("信任策略须为 JSON 对象", "a trust policy is a JSON object", field="policy")
        try:
            logs = {str(o): tuple(parse_verifier(k) for k in keys) for o, keys in dict(data.get("logs") or {}).items()}
            witnesses = []
            for i, w in enumerate(data.get("witnesses") or []):
                verifier = parse_verifier(w["vkey"])
                if not (isinstance(verifier, Ed25519Verifier) and verifier.kind == COSIGNATURE_V1):
                    raise NoteError(
                        "见证人公钥须为联署密钥（类型 0x04）",
                        "a witness key must be a cosignature key (0x04)",
                        field=f"witnesses[{i}].vkey",
                    )
                witnesses.append(WitnessInfo(str(w["member"]), verifier, w.get("url"), str(w.get("title") or "")))
            quorum = int(data.get("quorum", 0))
        except (KeyError, TypeError, ValueError) as e:
            raise NoteError(f"信任策略格式错误：{e}", f"malformed trust policy: {e}", field="policy") from e
        extra = {k: v for k, v in data.items() if k not in ("logs", "witnesses", "quorum")}
        return cls(logs, tuple(witnesses), quorum, extra)

    @classmethod
    def load(cls, path: Path) -> TrustPolicy:
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except FileNotFoundError as e:
            raise NoteError(f"找不到信任策略文件 {path}", f"trust policy file not found: {path}", field="policy") from e
        except json.JSONDecodeError as e:
            raise NoteError(
                f"信任策略不是有效的 JSON：{e.msg}", f"trust policy is not valid JSON: {e.msg}", field="policy"
            ) from e

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
