"""RFC 6962 / RFC 9162 Merkle tree arithmetic: hashes, proof shapes, range hashes.

Pure functions, no storage. A proof is a list of Merkle tree hashes of leaf ranges
``[lo, hi)``; :func:`inclusion_ranges` and :func:`consistency_ranges` say which ranges
(RFC 9162 §2.1.3.1 and §2.1.4.1), and :func:`range_hash` computes a range's hash from
the hashes of perfect subtrees (``node(level, index)`` covers leaves
``[index·2^level, (index+1)·2^level)``), which storage keeps.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
#: MTH of the empty list: SHA-256 of nothing.
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """MTH of one entry: SHA-256(0x00 ‖ data)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Interior node: SHA-256(0x01 ‖ left ‖ right)."""
    return _sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n ≥ 2): where RFC 6962 splits a tree of n leaves."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_subtrees(lo: int, hi: int) -> list[tuple[int, int]]:
    """The perfect subtrees ``(level, index)`` whose hashes make MTH(D[lo:hi]), left to right.

    ``[lo, hi)`` must be a range that RFC 6962's recursion produces (``lo`` aligned to the
    power of two above ``hi - lo``), as every proof and root range is.
    """
    nodes: list[tuple[int, int]] = []
    while lo < hi:
        size = hi - lo
        level = size.bit_length() - 1  # largest power of two ≤ size
        if size == 1 << level:
            nodes.append((level, lo >> level))
            break
        k = split(size)
        level = k.bit_length() - 1
        nodes.append((level, lo >> level))
        lo += k
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from its perfect subtrees left to right: H(P1, H(P2, … Pn))."""
    h = hashes[-1]
    for left in reversed(hashes[:-1]):
        h = node_hash(left, h)
    return h


def range_hash(lo: int, hi: int, node: Callable[[int, int], bytes]) -> bytes:
    if lo >= hi:
        return EMPTY_ROOT
    return fold([node(level, index) for level, index in perfect_subtrees(lo, hi)])


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Ranges whose hashes form the inclusion proof of leaf ``index`` in a tree of ``size``, leaf upward."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} outside a tree of {size}")
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    ranges.reverse()
    return ranges


def consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """Ranges whose hashes form the consistency proof from ``size1`` to ``size2`` (0 < size1 ≤ size2)."""
    if not 0 < size1 <= size2:
        raise ValueError(f"no consistency proof from {size1} to {size2}")
    ranges: list[tuple[int, int]] = []
    lo, hi, m, whole = 0, size2, size1, True
    while m != hi - lo:
        k = split(hi - lo)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
            m -= k
            whole = False
    if not whole:
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of a whole list of leaf hashes, computed level by level (reference and fsck)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    # Pair left to right; an odd last node rises unchanged. This equals RFC 6962's
    # split-at-the-largest-power-of-two definition.
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]
