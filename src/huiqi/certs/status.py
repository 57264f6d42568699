"""W3C Bitstring Status List v1.0: one revocation list per issuing department, a snapshot per checkpoint.

The list is a bitstring of at least 131,072 entries (16 KiB, the spec's herd-privacy
minimum), index 0 the most significant bit of the first byte, GZIP-compressed and written
as base64url multibase (prefix ``u``). A bit is set when that licence version is no longer
valid: 注销/吊销 (cert.revoke) or replaced by a newer version (cert.change). Each snapshot
is itself a credential signed by the department, naming the checkpoint whose log it reflects.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import zlib
from collections.abc import Iterable

from huiqi.certs.errors import CertError

LIST_SIZE = 131_072  # bits


def encode(indices: Iterable[int], size: int = LIST_SIZE) -> str:
    bits = bytearray(size // 8)
    for i in indices:
        if not 0 <= i < size:
            raise CertError(f"状态序号 {i} 超出列表", f"status index {i} is outside the list", field="statusListIndex")
        bits[i // 8] |= 0x80 >> (i % 8)
    return "u" + base64.urlsafe_b64encode(gzip.compress(bytes(bits), mtime=0)).decode("ascii").rstrip("=")


def decode(encoded: str) -> bytes:
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise CertError(
            "状态列表应为 base64url 多重编码", "encodedList must be base64url multibase", field="encodedList"
        )
    try:
        raw = base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4))
        bits = gzip.decompress(raw)
    except (binascii.Error, ValueError, OSError, EOFError, zlib.error) as e:
        raise CertError("状态列表无法解码", "encodedList cannot be decoded", field="encodedList") from e
    if len(bits) * 8 < LIST_SIZE:
        raise CertError("状态列表过短", "the status list is shorter than 131,072 entries", field="encodedList")
    return bits


def is_set(bits: bytes, index: int) -> bool:
    if not 0 <= index < len(bits) * 8:
        raise CertError(
            f"状态序号 {index} 超出列表", f"status index {index} is outside the list", field="statusListIndex"
        )
    return bool(bits[index // 8] & (0x80 >> (index % 8)))
