"""Proof verification with no storage: RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency).

Everything here takes bytes and integers and either returns or raises
:class:`~huiqi.trust.errors.ProofError`; a monitor, a witness or an offline verifier of
an e-licence uses it without a database.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from huiqi.trust.errors import ProofError
from huiqi.trust.merkle import EMPTY_ROOT, HASH_SIZE, node_hash


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(
            f"{what} 长度为 {len(value)} 字节，应为 {HASH_SIZE}",
            f"{what} is {len(value)} bytes, expected {HASH_SIZE}",
            field=what,
        )


def _check_proof(proof: Sequence[bytes]) -> None:
    for i, p in enumerate(proof):
        _check_hash(p, f"proof[{i}]")


def root_from_inclusion_proof(index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` yields for ``leaf_hash`` at ``index`` in a tree of ``size``."""
    if not 0 <= index < size:
        raise ProofError(
            f"序号 {index} 不在大小为 {size} 的树内", f"index {index} is outside a tree of {size}", field="index"
        )
    _check_hash(leaf_hash, "leaf_hash")
    _check_proof(proof)
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofError("包含证明过长", "inclusion proof is too long", field="proof")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("包含证明过短", "inclusion proof is too short", field="proof")
    return r


def verify_inclusion(index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise :class:`ProofError` unless ``leaf_hash`` is leaf ``index`` of the tree (``size``, ``root``)."""
    _check_hash(root, "root")
    got = root_from_inclusion_proof(index, size, leaf_hash, proof)
    if not hmac.compare_digest(got, root):
        raise ProofError("包含证明与根哈希不符", "inclusion proof does not lead to the root", field="root")


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Raise :class:`ProofError` unless the tree (``size2``, ``root2``) extends (``size1``, ``root1``)."""
    if size1 < 0 or size2 < size1:
        raise ProofError(
            f"旧树大小 {size1} 大于新树大小 {size2}", f"size1 {size1} is larger than size2 {size2}", field="size1"
        )
    if size1 == size2:
        if proof:
            raise ProofError("大小相同时证明应为空", "sizes are equal but the proof is not empty", field="proof")
        if size1 == 0 and root1 != EMPTY_ROOT:
            raise ProofError("空树的根哈希不对", "root of the empty tree is wrong", field="root1")
        if not hmac.compare_digest(root1, root2):
            raise ProofError("大小相同而根哈希不同", "same size but different roots", field="root2")
        return
    if size1 == 0:
        # The empty tree is consistent with every tree; a "proof" from it proves nothing,
        # and RFC 9162 defines none.
        raise ProofError("不能从空树证明一致性", "no consistency proof starts from the empty tree", field="size1")
    if not proof:
        raise ProofError("一致性证明为空", "consistency proof is empty", field="proof")
    _check_hash(root1, "root1")
    _check_hash(root2, "root2")
    _check_proof(proof)
    chain = list(proof)
    if size1 & (size1 - 1) == 0:  # a power of two: the old root is itself a node of the new tree
        chain.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = chain[0]
    for c in chain[1:]:
        if sn == 0:
            raise ProofError("一致性证明过长", "consistency proof is too long", field="proof")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("一致性证明过短", "consistency proof is too short", field="proof")
    if not hmac.compare_digest(fr, root1):
        raise ProofError("一致性证明与旧根哈希不符", "consistency proof does not lead to the old root", field="root1")
    if not hmac.compare_digest(sr, root2):
        raise ProofError("一致性证明与新根哈希不符", "consistency proof does not lead to the new root", field="root2")
