"""The log's side of tlog-witness: ask every witness to cosign a checkpoint, keep what they sign.

:func:`collect_cosignatures` sends ``add-checkpoint`` to all witnesses of the policy at
once, with a consistency proof from the size each one last cosigned (learned from its
409 answer when unknown), verifies each returned cosignature against the policy's key for
that witness, stores them with the checkpoint, and raises :class:`QuorumError` when fewer
than the quorum cosigned. A witness that reports a split view (422), or that has seen a
larger tree than the log now holds, is reported in ``alerts``: the log was forked or
rolled back.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from huiqi.trust.errors import NoteError, ProofError, QuorumError, SplitViewError, WitnessError
from huiqi.trust.log import StoredCheckpoint, TransparencyLog
from huiqi.trust.note import NoteSignature, parse_signature_lines
from huiqi.trust.policy import TrustPolicy, WitnessInfo, valid_signatures

log = logging.getLogger("huiqi.trust.cosign")


@dataclass
class CosignResult:
    checkpoint: StoredCheckpoint
    cosigned_by: list[str] = field(default_factory=list)  # members
    refused: dict[str, str] = field(default_factory=dict)  # member → reason
    alerts: dict[str, str] = field(default_factory=dict)  # member → what it saw


def request_body(old: int, proof: list[bytes], note: str) -> bytes:
    import base64

    lines = [f"old {old}", *(base64.b64encode(p).decode() for p in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode("utf-8")


class Cosigner:
    """Talks to the policy's witnesses for one log; remembers each witness's last cosigned size."""

    def __init__(
        self, log: TransparencyLog, policy: TrustPolicy, client: httpx.Client | None = None, *, timeout: float = 5.0
    ):
        self.log = log
        self.policy = policy
        self.client = client or httpx.Client(timeout=timeout)
        self.known_sizes: dict[tuple[str, str], int] = {}

    def close(self) -> None:
        self.client.close()

    def _ask(self, witness: WitnessInfo, cp: StoredCheckpoint) -> NoteSignature:
        if not witness.url:
            raise WitnessError(f"见证人 {witness.member} 没有地址", f"witness {witness.member} has no URL", field="url")
        key = (witness.member, cp.shard)
        old = self.known_sizes.get(key, 0)
        for _ in range(2):
            if old > cp.size:
                raise SplitViewError(
                    f"见证人 {witness.member} 已联署大小 {old}，而日志只有 {cp.size}（日志被回滚或分叉）",
                    f"witness {witness.member} cosigned size {old} but the log holds {cp.size}: rolled back or forked",
                )
            proof = self.log.consistency_proof(cp.shard, old, cp.size)
            try:
                r = self.client.post(
                    witness.url.rstrip("/") + "/add-checkpoint",
                    content=request_body(old, proof, str(cp.note)),
                    headers={"content-type": "text/plain; charset=utf-8"},
                )
            except httpx.HTTPError as e:
                raise WitnessError(
                    f"无法连接见证人 {witness.member}：{e}", f"witness {witness.member} unreachable: {e}"
                ) from e
            if r.status_code == 409:
                text = r.text.strip()
                if not text.isdigit():
                    raise WitnessError(f"见证人 {witness.member} 的 409 应答无效", f"invalid 409 from {witness.member}")
                old = int(text)
                self.known_sizes[key] = old
                continue
            if r.status_code == 422:
                raise SplitViewError(
                    f"见证人 {witness.member} 拒绝：与其联署过的检查点不一致：{r.text.strip()}",
                    f"witness {witness.member} refused, inconsistent with what it cosigned: {r.text.strip()}",
                )
            if r.status_code != 200:
                raise WitnessError(
                    f"见证人 {witness.member} 拒绝（{r.status_code}）：{r.text.strip()}",
                    f"witness {witness.member} refused ({r.status_code}): {r.text.strip()}",
                )
            try:
                sigs = parse_signature_lines(r.text)
            except NoteError as e:
                raise WitnessError(
                    f"见证人 {witness.member} 的应答无效", f"malformed answer from {witness.member}"
                ) from e
            note = cp.note.with_signatures(sigs)
            if witness.verifier not in valid_signatures(note, [witness.verifier]):
                raise WitnessError(
                    f"见证人 {witness.member} 没有返回有效联署", f"no valid cosignature from {witness.member}"
                )
            self.known_sizes[key] = cp.size
            return next(s for s in sigs if s.name == witness.name and s.key_id == witness.verifier.key_id)
        raise WitnessError(f"见证人 {witness.member} 的大小一直在变", f"witness {witness.member} keeps changing size")

    def cosign(self, cp: StoredCheckpoint, *, require_quorum: bool = True) -> CosignResult:
        """Gather cosignatures on ``cp`` from every witness at once; keep them with the checkpoint."""
        result = CosignResult(cp)
        witnesses = [w for w in self.policy.witnesses if w.url]
        got: list[NoteSignature] = []
        with ThreadPoolExecutor(max_workers=max(1, len(witnesses))) as pool:
            futures = {w.member: pool.submit(self._ask, w, cp) for w in witnesses}
            for member, future in futures.items():
                try:
                    got.append(future.result())
                    result.cosigned_by.append(member)
                except SplitViewError as e:
                    result.alerts[member] = str(e)
                    result.refused[member] = str(e)
                    log.error("split view reported by %s: %s", member, e)
                except (WitnessError, ProofError) as e:
                    result.refused[member] = str(e)
        if got:
            result.checkpoint = self.log.add_cosignatures(cp.shard, cp.size, got)
        if require_quorum and len(result.cosigned_by) < self.policy.quorum:
            raise QuorumError(
                f"只有 {len(result.cosigned_by)} 个见证人联署，需要 {self.policy.quorum} 个：{result.refused}",
                f"{len(result.cosigned_by)} witnesses cosigned, {self.policy.quorum} needed: {result.refused}",
            )
        return result


def fetch_latest(client: httpx.Client, witness: WitnessInfo, origin: str) -> str | None:
    """The checkpoint ``witness`` last cosigned for ``origin`` (tlog-witness monitoring GET), if any."""
    import hashlib

    if not witness.url:
        return None
    url = f"{witness.url.rstrip('/')}/{hashlib.sha256(origin.encode()).hexdigest()}/checkpoint"
    try:
        r = client.get(url)
    except httpx.HTTPError as e:
        raise WitnessError(f"无法连接见证人 {witness.member}", f"witness {witness.member} unreachable: {e}") from e
    if r.status_code == 404:
        return None
    if r.status_code != 200:
        raise WitnessError(
            f"见证人 {witness.member} 应答 {r.status_code}", f"witness {witness.member} answered {r.status_code}"
        )
    return r.text
