"""Offline-verifiable proofs (c2sp.org/tlog-proof): leaf index, inclusion proof and a cosigned checkpoint.

An e-licence or a gateway answer carries one; the holder verifies it with pinned keys
(a :class:`~huiqi.trust.policy.TrustPolicy`) and the entry bytes, without the database::

    bundle = ProofBundle.parse(text)
    verified = bundle.verify(entry_bytes, policy)     # raises a TrustError subclass
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from huiqi.trust.errors import NoteError
from huiqi.trust.merkle import leaf_hash
from huiqi.trust.note import Note, parse_note
from huiqi.trust.policy import TrustPolicy, VerifiedCheckpoint
from huiqi.trust.verify import verify_inclusion

HEADER = "c2sp.org/tlog-proof@v1"


@dataclass(frozen=True)
class ProofBundle:
    index: int
    proof: tuple[bytes, ...]
    checkpoint: Note
    extra: bytes | None = None

    def __str__(self) -> str:
        lines = [HEADER]
        if self.extra is not None:
            lines.append("extra " + base64.b64encode(self.extra).decode())
        lines.append(f"index {self.index}")
        lines += [base64.b64encode(p).decode() for p in self.proof]
        return "\n".join(lines) + "\n\n" + str(self.checkpoint)

    @classmethod
    def parse(cls, text: str) -> ProofBundle:
        head, sep, note = text.partition("\n\n")
        if not sep:
            raise NoteError("证明缺少空行", "a tlog-proof needs a blank line before the checkpoint", field="proof")
        lines = head.split("\n")
        if lines[0] != HEADER:
            raise NoteError(f"证明第一行应为 {HEADER}", f"a tlog-proof starts with {HEADER}", field="proof")
        rest = lines[1:]
        extra = None
        try:
            if rest and rest[0].startswith("extra "):
                extra = base64.b64decode(rest.pop(0)[6:], validate=True)
            if not rest or not rest[0].startswith("index "):
                raise NoteError("证明缺少 index 行", "a tlog-proof needs an index line", field="index")
            index_text = rest.pop(0)[6:]
            if not index_text.isdigit() or (index_text != "0" and index_text.startswith("0")):
                raise NoteError(f"序号格式错误：{index_text!r}", f"malformed index: {index_text!r}", field="index")
            proof = tuple(base64.b64decode(line, validate=True) for line in rest)
        except (binascii.Error, ValueError) as e:
            raise NoteError("证明行不是 base64", "a proof line is not base64", field="proof") from e
        return cls(int(index_text), proof, parse_note(note), extra)

    def verify(self, entry: bytes, policy: TrustPolicy) -> VerifiedCheckpoint:
        """Check the checkpoint's signatures and quorum, then that ``entry`` is leaf ``index`` of its tree."""
        verified = policy.verify_checkpoint(self.checkpoint)
        cp = verified.checkpoint
        verify_inclusion(self.index, cp.size, leaf_hash(entry), list(self.proof), cp.root)
        return verified
