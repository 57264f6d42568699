"""Verifying an e-licence anywhere, with pinned public keys only: no database, no network.

A *licence package* is what a holder keeps and shows (JSON)::

    {"credential": {…the signed VC…},
     "evidence": {"issue":  {"entry": {cert.issue entry}, "proof": "c2sp.org/tlog-proof@v1 …"},
                  "key":    {"entry": {key.register entry}, "proof": "…"},
                  "events": [{"entry": {cert.change | cert.revoke entry}, "proof": "…"}],
                  "status": {…BitstringStatusListCredential snapshot…}}}

:func:`verify_package` checks, in order: the 证照标识; the issuer key (registered on the log
by the issuing department, or pinned); every Data Integrity proof; that the log holds the
issue entry of exactly this credential, under a checkpoint signed by the log and cosigned by
the witness quorum (and not contradicting a checkpoint this verifier saw before: split
view); that neither the signature nor the log entry is back-dated; the validity period; and
the later events and the status list. The answer says 有效 / 已注销 / 已变更 / 已过期 / 伪造 /
无法核验, with every reason in words a clerk understands.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from huiqi.certs.catalog import DEPARTMENTS, LICENCE_TYPES, department_of_did
from huiqi.certs.credential import credential_digest, credential_id, parse_vc_time
from huiqi.certs.errors import CertError
from huiqi.certs.integrity import EDDSA_JCS, canonical, proofs_of, verify_proof
from huiqi.certs.keys import PublicKey, public_key
from huiqi.certs.status import decode, is_set
from huiqi.clock import Clock
from huiqi.trust.entries import parse_time
from huiqi.trust.errors import QuorumError, SignatureError, SplitViewError, TrustError
from huiqi.trust.merkle import leaf_hash
from huiqi.trust.note import cosignature_time
from huiqi.trust.policy import TrustPolicy, VerifiedCheckpoint
from huiqi.trust.proofs import ProofBundle
from huiqi.trust.verify import verify_inclusion

#: verdict → what the page says.
VERDICTS: dict[str, str] = {
    "valid": "有效",
    "revoked": "已注销",
    "superseded": "已变更",
    "expired": "已过期",
    "forged": "伪造",
    "unverified": "无法核验",
}
#: reason code → verdict it leads to (the worst reason decides).
_VERDICT_OF = {
    "malformed_id": "forged",
    "malformed": "forged",
    "no_proof": "forged",
    "tampered": "forged",
    "unknown_key": "forged",
    "key_mismatch": "forged",
    "retired_key": "forged",
    "not_logged": "forged",
    "unknown_licence": "forged",
    "backdated": "forged",
    "quorum": "unverified",
    "split_view": "unverified",
    "no_evidence": "unverified",
    "log": "unverified",
    "expired": "expired",
    "not_yet_valid": "expired",
    "revoked": "revoked",
    "cancelled": "revoked",
    "superseded": "superseded",
}
_ORDER = ["forged", "unverified", "revoked", "superseded", "expired", "valid"]


@dataclass(frozen=True)
class Reason:
    code: str
    zh: str
    en: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "zh": self.zh, "en": self.en}


@dataclass
class Verification:
    """The answer: ``verdict`` (a key of :data:`VERDICTS`), why, what passed, and what the licence says."""

    verdict: str
    id: str | None
    reasons: list[Reason] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)  # what was verified, in Chinese
    licence: dict[str, Any] | None = None
    event: dict[str, Any] | None = None  # the event that ended validity: kind, time, reason
    log_index: int | None = None  # where an access (lookup by identifier) was recorded

    @property
    def label(self) -> str:
        if self.verdict == "revoked" and self.event and self.event.get("kind") == "revoke":
            return "已吊销"
        return VERDICTS[self.verdict]

    @property
    def ok(self) -> bool:
        return self.verdict == "valid"

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "label": self.label,
            "id": self.id,
            "reasons": [r.to_dict() for r in self.reasons],
            "checks": list(self.checks),
            "licence": self.licence,
            "event": self.event,
            "log_index": self.log_index,
        }


@dataclass(frozen=True)
class KeyRecord:
    """An issuer key as the registry (the log) says: whose, which algorithm, retired since when."""

    kid: str
    department: str
    algorithm: str
    retired_at: dt.datetime | None = None


@dataclass
class Anchors:
    """What a verifier pins: the trust policy (log keys, witnesses, quorum) and how strict to be on time.

    ``keys`` is an optional copy of the key registry (a department's cached one); a key not
    in it must come with its own log evidence in the package.
    """

    policy: TrustPolicy
    keys: dict[str, KeyRecord] = field(default_factory=dict)
    #: A log entry must be cosigned within this time of its stated time (checkpoints are made far more often).
    max_lag: dt.timedelta = dt.timedelta(days=1)
    #: The signature's ``created`` may differ this much from the log entry's time.
    skew: dt.timedelta = dt.timedelta(minutes=10)


class CheckpointCache:
    """Checkpoints one verifier has accepted, per origin: the fast path, and split-view detection.

    A checkpoint already verified is not re-verified, nor even parsed again (its note text is
    the key); a different root for a size already seen is a split view and is refused. When
    its witnesses had cosigned (what back-dating is judged by) is worked out once, on acceptance.
    """

    def __init__(self) -> None:
        self._verified: dict[str, tuple[VerifiedCheckpoint, dt.datetime | None]] = {}
        self._roots: dict[tuple[str, int], bytes] = {}

    def accept(self, bundle: ProofBundle, policy: TrustPolicy) -> VerifiedCheckpoint:
        return self.accept_note(str(bundle.checkpoint), policy)[0]

    def accept_note(self, text: str, policy: TrustPolicy) -> tuple[VerifiedCheckpoint, dt.datetime | None]:
        """The verified checkpoint of the signed note ``text``, and when the witness quorum had cosigned it."""
        hit = self._verified.get(text)
        if hit is None:
            verified = policy.verify_checkpoint(text)
            cp = verified.checkpoint
            seen = self._roots.get((cp.origin, cp.size))
            if seen is not None and seen != cp.root:
                raise SplitViewError(
                    f"日志 {cp.origin} 在大小 {cp.size} 出现了两个不同的根：有人向不同的人出示了不同的日志",
                    f"log {cp.origin} shows two roots at size {cp.size}: a split view",
                    field="checkpoint",
                )
            self._roots[(cp.origin, cp.size)] = cp.root
            hit = (verified, _quorum_time(verified, policy))
            self._verified[text] = hit
        return hit

    def add(self, note: str, policy: TrustPolicy) -> VerifiedCheckpoint:
        """Pin a checkpoint fetched while online (a department's cached checkpoint)."""
        from huiqi.trust.note import parse_note

        return self.accept_note(str(parse_note(note)), policy)[0]

    def latest(self, origin: str) -> VerifiedCheckpoint | None:
        mine = [v for v, _ in self._verified.values() if v.checkpoint.origin == origin]
        return max(mine, key=lambda v: v.checkpoint.size, default=None)

    def notes(self) -> list[str]:
        return [str(v.note) for v, _ in self._verified.values()]


@dataclass(frozen=True)
class _Proven:
    """A log entry shown to be leaf ``index`` under a checkpoint that counts."""

    entry: Mapping[str, Any]
    index: int
    checkpoint: VerifiedCheckpoint
    witnessed: dt.datetime | None  # when the witness quorum had cosigned that checkpoint


class _Refused(Exception):
    def __init__(self, reason: Reason):
        self.reason = reason


def _reason(code: str, zh: str, en: str) -> Reason:
    return Reason(code, zh, en)


def _from_trust(e: TrustError, what: str) -> Reason:
    if isinstance(e, QuorumError):
        return _reason("quorum", f"{what}的检查点未获足够部门见证人联署：{e.message_zh}", f"{what}: {e.message_en}")
    if isinstance(e, SplitViewError):
        return _reason("split_view", f"{what}：{e.message_zh}", f"{what}: {e.message_en}")
    if isinstance(e, SignatureError):
        return _reason("log", f"{what}的检查点签名无效：{e.message_zh}", f"{what}: {e.message_en}")
    return _reason("not_logged", f"{what}不在透明日志中：{e.message_zh}", f"{what} is not in the log: {e.message_en}")


def _entry_bytes(entry: Any, what: str) -> bytes:
    if not isinstance(entry, Mapping):
        raise _Refused(_reason("no_evidence", f"缺少{what}的日志条目", f"the {what} log entry is missing"))
    try:
        return canonical(dict(entry), "evidence")
    except CertError as e:
        raise _Refused(_reason("not_logged", f"{what}的日志条目无效", f"the {what} log entry is malformed")) from e


def _proven(item: Any, what: str, anchors: Anchors, cache: CheckpointCache) -> _Proven:
    """The entry of an evidence item, after its inclusion under a cosigned checkpoint verified."""
    if not isinstance(item, Mapping):
        raise _Refused(_reason("no_evidence", f"缺少{what}的日志证明", f"no log proof of the {what}"))
    data = _entry_bytes(item.get("entry"), what)
    try:
        bundle = ProofBundle.parse(str(item.get("proof") or ""))
        verified, witnessed = cache.accept_note(str(item["proof"]).partition("\n\n")[2], anchors.policy)
        cp = verified.checkpoint
        verify_inclusion(bundle.index, cp.size, leaf_hash(data), list(bundle.proof), cp.root)
    except TrustError as e:
        raise _Refused(_from_trust(e, what)) from e
    return _Proven(item["entry"], bundle.index, verified, witnessed)


def _quorum_time(verified: VerifiedCheckpoint, policy: TrustPolicy) -> dt.datetime | None:
    """When ``quorum`` witnesses had all cosigned: the quorum-th earliest cosignature time."""
    times = []
    for w in policy.witnesses:
        if w.member in verified.witnesses:
            sig = verified.note.signed_by(w.verifier)
            if sig is not None:
                times.append(cosignature_time(sig.signature))
    times.sort()
    if not times or policy.quorum == 0:
        return None
    return dt.datetime.fromtimestamp(times[min(policy.quorum, len(times)) - 1], dt.UTC)


def _days(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} 天" if hours >= 48 else f"{hours:.1f} 小时"


def summary(credential: Mapping[str, Any]) -> dict[str, Any]:
    """What a clerk reads off a licence: type, holder, issuer, validity (unverified fields until verified)."""
    subject = credential.get("credentialSubject") if isinstance(credential.get("credentialSubject"), Mapping) else {}
    assert isinstance(subject, Mapping)
    issuer = credential.get("issuer") if isinstance(credential.get("issuer"), Mapping) else {}
    assert isinstance(issuer, Mapping)
    kind = LICENCE_TYPES.get(str(subject.get("licenceType")))
    return {
        "type": kind.code if kind else None,
        "type_name": kind.name if kind else credential.get("name"),
        "holder": subject.get("name"),
        "uscc": subject.get("uscc"),
        "issuer": issuer.get("name"),
        "valid_from": credential.get("validFrom"),
        "valid_until": credential.get("validUntil"),
        "fields": {
            (kind.labels.get(k, k) if kind else k): v for k, v in subject.items() if k not in ("id", "licenceType")
        },
    }


class Verifier:
    """Verifies licence packages against :class:`Anchors`; keeps a :class:`CheckpointCache` across calls."""

    def __init__(self, anchors: Anchors, *, clock: Clock, cache: CheckpointCache | None = None):
        self.anchors = anchors
        self.clock = clock
        self.cache = cache or CheckpointCache()
        self._proven_keys: dict[str, KeyRecord] = {}

    def verify(self, package: Any) -> Verification:
        if isinstance(package, Mapping) and "credential" not in package and "proof" in package:
            package = {"credential": package, "evidence": {}}
        if not isinstance(package, Mapping) or not isinstance(package.get("credential"), Mapping):
            return Verification(
                "forged", None, [_reason("malformed", "不是电子证照文件", "not an e-licence (no credential)")]
            )
        credential: Mapping[str, Any] = package["credential"]
        evidence = package.get("evidence") if isinstance(package.get("evidence"), Mapping) else {}
        assert isinstance(evidence, Mapping)
        raw_id = credential.get("id")
        result = Verification("valid", raw_id if isinstance(raw_id, str) else None, licence=summary(credential))
        try:
            self._verify(credential, evidence, result)
        except _Refused as e:
            result.reasons.append(e.reason)
        except CertError as e:
            code = e.reason if e.reason in _VERDICT_OF else "malformed"
            result.reasons.append(_reason(code, e.message_zh, e.message_en))
        if result.reasons:
            result.verdict = min((_VERDICT_OF[r.code] for r in result.reasons), key=_ORDER.index)
        return result

    # --- the steps -------------------------------------------------------------------------------

    def _verify(self, credential: Mapping[str, Any], evidence: Mapping[str, Any], result: Verification) -> None:
        lid = credential_id(credential)
        result.id = str(lid)
        result.checks.append("证照标识格式与校验位正确")
        issuer = credential.get("issuer")
        dept = department_of_did(issuer.get("id") if isinstance(issuer, Mapping) else None)  # type: ignore[arg-type]
        if dept is None or dept.uscc != lid.issuer:
            raise _Refused(
                _reason(
                    "unknown_key",
                    "颁发机构不是本市登记的发证部门，或与证照标识中的机构代码不符",
                    "the issuer is not a registered department, or differs from the identifier's issuer code",
                )
            )
        subject = credential.get("credentialSubject")
        kind = LICENCE_TYPES.get(lid.type_code)
        if kind is None or kind.department != dept.code or not isinstance(subject, Mapping):
            raise _Refused(
                _reason("malformed", f"{dept.name} 不颁发此类证照", f"{dept.code} does not issue this licence type")
            )
        proofs = proofs_of(credential)
        keys: dict[str, PublicKey] = {}
        created: dt.datetime | None = None
        for proof in proofs:
            key = self._key(str(proof.get("verificationMethod")), dept.code, dept.did, evidence, proof)
            verify_proof(credential, proof, lambda _vm, key=key: key)  # type: ignore[misc]
            keys[key.multibase] = key
            if proof.get("cryptosuite") == EDDSA_JCS:
                created = parse_vc_time(proof.get("created"), "proof.created")
        if created is None:
            raise _Refused(_reason("tampered", "缺少 eddsa-jcs-2022 签名", "the eddsa-jcs-2022 proof is missing"))
        suites = "、".join(sorted(str(p.get("cryptosuite")) for p in proofs))
        result.checks.append(f"{dept.name} 的数字签名有效（{suites}）")
        self._logged(credential, lid, created, evidence, result)
        self._validity(credential, created, result)
        self._events(lid, evidence, result)
        self._status(credential, dept.code, evidence, result)

    def _key(
        self, method: str, department: str, did: str, evidence: Mapping[str, Any], proof: Mapping[str, Any]
    ) -> PublicKey:
        controller, _, kid = method.partition("#")
        if controller != did or not kid:
            raise _Refused(
                _reason(
                    "key_mismatch",
                    "签名密钥不属于证照上写明的颁发机构",
                    "the signing key does not belong to the issuer named on the licence",
                )
            )
        created = parse_vc_time(proof.get("created"), "proof.created")
        record = self.anchors.keys.get(kid) or self._proven_keys.get(kid)
        if record is None:
            more = evidence.get("keys") if isinstance(evidence.get("keys"), list) else []
            item = next(
                (
                    i
                    for i in [evidence.get("key"), *more]  # type: ignore[misc]
                    if isinstance(i, Mapping) and isinstance(i.get("entry"), Mapping) and i["entry"].get("key") == kid
                ),
                None,
            )
            if item is not None:
                entry = _proven(item, "签发密钥登记", self.anchors, self.cache).entry
                if entry.get("type") != "key.register":
                    raise _Refused(_reason("unknown_key", "密钥登记条目类型不对", "not a key.register entry"))
                record = KeyRecord(kid, str(entry.get("department")), str(entry.get("algorithm")))
                self._proven_keys[kid] = record  # a logged registration stays logged
            elif self.anchors.keys:
                raise _Refused(
                    _reason(
                        "unknown_key",
                        "签名密钥未在发证部门的密钥登记册（透明日志）中登记：证照不是该部门签发的",
                        "the signing key is not in the departments' key registry on the log: not issued by them",
                    )
                )
            else:
                raise _Refused(
                    _reason(
                        "no_evidence",
                        "证照未附签名密钥的登记证明，离线无法确认密钥属于发证部门（请联网核验）",
                        "no log proof that the signing key is registered: verify online",
                    )
                )
        if record.department != department:
            owner = DEPARTMENTS.get(record.department)
            raise _Refused(
                _reason(
                    "key_mismatch",
                    f"签名密钥登记在{owner.name if owner else record.department}名下，不属于颁发机构",
                    f"the key is registered to {record.department}, not to the issuer",
                )
            )
        if record.retired_at is not None and created >= record.retired_at:
            raise _Refused(
                _reason(
                    "retired_key",
                    f"签名密钥已于 {record.retired_at:%Y-%m-%d} 停用，之后的签名无效",
                    f"the key was retired on {record.retired_at:%Y-%m-%d}",
                )
            )
        return public_key(kid, "proof.verificationMethod")

    def _logged(
        self,
        credential: Mapping[str, Any],
        lid: Any,
        created: dt.datetime,
        evidence: Mapping[str, Any],
        result: Verification,
    ) -> None:
        item = evidence.get("issue")
        if item is None:
            raise _Refused(
                _reason(
                    "no_evidence",
                    "证照没有附带透明日志证明，暂无法确认已登记（请联网核验或稍后重试）",
                    "no transparency-log proof came with the licence",
                )
            )
        proven = _proven(item, "颁发记录", self.anchors, self.cache)
        entry, verified = proven.entry, proven.checkpoint
        if (
            entry.get("type") not in ("cert.issue", "cert.change")
            or entry.get("id") != str(lid)
            or entry.get("credential") != credential_digest(credential)
        ):
            raise _Refused(
                _reason(
                    "not_logged",
                    "透明日志中登记的不是这张证照（内容或标识不一致）",
                    "the log entry records another credential than this one",
                )
            )
        members = "、".join(verified.witnesses) or "无"
        result.checks.append(
            f"颁发记录在透明日志 {verified.checkpoint.origin} 第 {proven.index} 条，"
            f"检查点由日志签名并经 {len(verified.witnesses)} 个部门见证人联署（{members}）"
        )
        logged_at = parse_time(entry.get("time"))  # type: ignore[arg-type]
        if abs(logged_at - created) > self.anchors.skew:
            raise _Refused(
                _reason(
                    "backdated",
                    f"签名时间 {created:%Y-%m-%d %H:%M} 与日志登记时间 {logged_at:%Y-%m-%d %H:%M} 相差 "
                    f"{_days(abs(logged_at - created))}：疑似倒签",
                    "the signature's time and the log entry's time differ: back-dated",
                )
            )
        witnessed = proven.witnessed
        if witnessed is not None and witnessed - logged_at > self.anchors.max_lag:
            raise _Refused(
                _reason(
                    "backdated",
                    f"日志条目写明 {logged_at:%Y-%m-%d}，而见证人直到 {witnessed:%Y-%m-%d} 才首次见到它"
                    f"（晚 {_days(witnessed - logged_at)}）：疑似倒签",
                    "the witnesses first saw the entry long after its stated time: back-dated",
                )
            )
        valid_from = parse_vc_time(credential.get("validFrom"), "validFrom")
        if valid_from < created - self.anchors.skew:
            raise _Refused(
                _reason(
                    "backdated",
                    f"有效期起始 {valid_from:%Y-%m-%d} 早于签发时间 {created:%Y-%m-%d}：疑似倒签",
                    "validFrom is earlier than the issue: back-dated",
                )
            )

    def _validity(self, credential: Mapping[str, Any], created: dt.datetime, result: Verification) -> None:
        now = self.clock.now()
        valid_from = parse_vc_time(credential.get("validFrom"), "validFrom")
        if now < valid_from:
            raise _Refused(
                _reason(
                    "not_yet_valid", f"证照自 {valid_from:%Y-%m-%d} 起才有效", f"not valid before {valid_from:%Y-%m-%d}"
                )
            )
        until = credential.get("validUntil")
        if until is not None:
            end = parse_vc_time(until, "validUntil")
            if now > end:
                raise _Refused(
                    _reason(
                        "expired",
                        f"证照已于 {end.astimezone(dt.UTC):%Y-%m-%d} 过期",
                        f"the licence expired on {end:%Y-%m-%d}",
                    )
                )
            result.checks.append(f"在有效期内（至 {end:%Y-%m-%d}）")
        else:
            result.checks.append("长期有效")

    def _events(self, lid: Any, evidence: Mapping[str, Any], result: Verification) -> None:
        items = evidence.get("events") or []
        if not isinstance(items, list):
            raise _Refused(_reason("malformed", "events 应为列表", "events must be a list"))
        for item in items:
            entry = _proven(item, "变更或注销记录", self.anchors, self.cache).entry
            kind = entry.get("type")
            if kind == "cert.revoke" and entry.get("id") == str(lid):
                how = str(entry.get("kind") or "cancel")
                when = str(entry.get("effective") or entry.get("time"))
                result.event = {
                    "kind": how,
                    "time": entry.get("time"),
                    "effective": when,
                    "reason": entry.get("reason"),
                }
                word = "吊销" if how == "revoke" else "注销"
                raise _Refused(
                    _reason(
                        "revoked" if how == "revoke" else "cancelled",
                        f"已于 {when[:10]} {word}" + (f"：{entry.get('reason')}" if entry.get("reason") else ""),
                        f"{'revoked' if how == 'revoke' else 'cancelled'} on {when[:10]}",
                    )
                )
            if kind == "cert.change" and entry.get("supersedes") == str(lid):
                result.event = {
                    "kind": "change",
                    "time": entry.get("time"),
                    "reason": entry.get("reason"),
                    "by": entry.get("id"),
                }
                raise _Refused(
                    _reason(
                        "superseded",
                        f"已于 {str(entry.get('time'))[:10]} 变更，现行版本为 {entry.get('id')}",
                        f"changed on {str(entry.get('time'))[:10]}; the current version is {entry.get('id')}",
                    )
                )

    def _status(
        self, credential: Mapping[str, Any], department: str, evidence: Mapping[str, Any], result: Verification
    ) -> None:
        snapshot = evidence.get("status")
        if snapshot is None:
            return
        entry = credential.get("credentialStatus")
        if not isinstance(snapshot, Mapping) or not isinstance(entry, Mapping):
            raise _Refused(_reason("malformed", "状态列表格式错误", "malformed status list"))
        if snapshot.get("id") != entry.get("statusListCredential"):
            raise _Refused(_reason("malformed", "状态列表不是本证照所指的那一份", "not this licence's status list"))
        for proof in proofs_of(snapshot):
            key = self._key(
                str(proof.get("verificationMethod")), department, DEPARTMENTS[department].did, evidence, proof
            )
            verify_proof(snapshot, proof, lambda _vm, key=key: key)  # type: ignore[misc]
        subject = snapshot.get("credentialSubject")
        assert isinstance(subject, Mapping)
        bits = decode(str(subject.get("encodedList")))
        index = int(str(entry.get("statusListIndex")))
        at = str(snapshot.get("validFrom"))
        if is_set(bits, index):
            raise _Refused(
                _reason(
                    "revoked",
                    f"发证部门 {at[:10]} 的状态列表显示此版本已失效（注销、吊销或已被新版本取代）",
                    f"the department's status list of {at[:10]} marks this version as no longer valid",
                )
            )
        result.checks.append(f"发证部门状态列表（{at[:16].replace('T', ' ')} 检查点）未标记失效")


def load_package(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise CertError(
            f"不是有效的 JSON：{e.msg}", f"not valid JSON: {e.msg}", field="file", reason="malformed"
        ) from e
