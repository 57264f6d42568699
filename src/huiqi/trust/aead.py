"""The symmetric primitives of field encryption: AES-GCM and SM4-GCM, AES-SIV, HMAC-SM3 and SM3.

All from ``cryptography`` (OpenSSL). One gap is filled by hand: OpenSSL's GCM, as
``cryptography`` exposes it, takes IVs of 8 to 128 bytes only, while GCM (NIST SP 800-38D)
allows any length; for other lengths :func:`gcm_seal` / :func:`gcm_open` derive the
counter from GHASH themselves over the maintained block cipher (ECB). huiqi's own
ciphertexts always use fresh 96-bit nonces, the native path; the general one exists so
the primitive is complete and is gated, like the native one, on Wycheproof.

Many messages under one key (a column being re-encrypted, a register being loaded) go
through :meth:`GcmKey.seal_many` / :meth:`GcmKey.open_many`. AES-GCM simply reuses one
``AESGCM`` object. For SM4-GCM ``cryptography`` offers only a one-shot context per message
(a new cipher context, key schedule and GCM setup: about 13 µs, which caps a core below
80,000 fields/s), so the batch path computes GCM itself from the two things it is made
of: the counter-mode key stream, from one reused SM4-ECB context over all the batch's
counter blocks in one call, and GHASH, as multiplications by the fixed hash key H with
8-bit tables (Shoup's method) over the whole batch at once in numpy. Wycheproof gates it
like the native path, and a property test holds the two to the same bytes.
"""

from __future__ import annotations

import hmac as _hmac
from collections.abc import Sequence
from typing import Literal

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as _crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV

from huiqi.trust.errors import CryptoError

BlockCipher = Literal["aes", "sm4"]
TAG_SIZE = 16
NONCE_SIZE = 12


def _algorithm(cipher: BlockCipher, key: bytes) -> algorithms.AES | algorithms.SM4:
    try:
        return algorithms.AES(key) if cipher == "aes" else algorithms.SM4(key)
    except ValueError as e:
        raise CryptoError(f"{cipher} 密钥长度错误", f"wrong {cipher} key length: {len(key)} bytes", field="key") from e


def _rejected() -> CryptoError:
    return CryptoError(
        "密文无法解密：被篡改、移到了别处或密钥不对",
        "ciphertext does not decrypt: tampered, moved elsewhere or the wrong key",
        field="ciphertext",
    )


# --- GCM ---------------------------------------------------------------------------------

_R = 0xE1 << 120


def _gmul(x: int, y: int) -> int:
    z, v = 0, y
    for i in range(127, -1, -1):
        if (x >> i) & 1:
            z ^= v
        v = (v >> 1) ^ _R if v & 1 else v >> 1
    return z


def _ghash(h: int, aad: bytes, data: bytes) -> int:
    y = 0
    for part in (aad, data):
        for i in range(0, len(part), 16):
            y = _gmul(y ^ int.from_bytes(part[i : i + 16].ljust(16, b"\0"), "big"), h)
    lengths = ((len(aad) * 8) << 64) | (len(data) * 8)
    return _gmul(y ^ lengths, h)


def _gcm_by_hand(
    cipher: BlockCipher, key: bytes, iv: bytes, aad: bytes, data: bytes, *, seal: bool
) -> tuple[bytes, bytes]:
    """GCM over the block cipher, for IV lengths the native path does not take: (output, full tag)."""
    ecb = Cipher(_algorithm(cipher, key), modes.ECB()).encryptor()
    h = int.from_bytes(ecb.update(b"\0" * 16), "big")
    j0 = int.from_bytes(iv + b"\0\0\0\1", "big") if len(iv) == 12 else _ghash(h, b"", iv)
    count = -(-len(data) // 16)
    high, low = j0 >> 32, j0 & 0xFFFFFFFF
    blocks = b"".join(((high << 32) | ((low + i) & 0xFFFFFFFF)).to_bytes(16, "big") for i in range(1, count + 1))
    stream = ecb.update(blocks)[: len(data)]
    out = bytes(a ^ b for a, b in zip(data, stream, strict=True))
    ciphertext = out if seal else data
    mask = int.from_bytes(ecb.update(j0.to_bytes(16, "big")), "big")
    tag = (_ghash(h, aad, ciphertext) ^ mask).to_bytes(16, "big")
    return out, tag


def gcm_seal(cipher: BlockCipher, key: bytes, iv: bytes, data: bytes, aad: bytes = b"") -> bytes:
    """GCM encryption: ciphertext ‖ 16-byte tag. ``cipher`` is ``aes`` (16/24/32-byte key) or ``sm4`` (16)."""
    if not iv:
        raise CryptoError("GCM 的 IV 不能为空", "a GCM IV cannot be empty", field="iv")
    if 8 <= len(iv) <= 128:
        if cipher == "aes":
            try:
                return AESGCM(key).encrypt(iv, data, aad)
            except ValueError as e:
                raise CryptoError("AES 密钥长度错误", f"wrong AES key length: {len(key)} bytes", field="key") from e
        enc = Cipher(_algorithm(cipher, key), modes.GCM(iv)).encryptor()
        enc.authenticate_additional_data(aad)
        return enc.update(data) + enc.finalize() + enc.tag
    out, tag = _gcm_by_hand(cipher, key, iv, aad, data, seal=True)
    return out + tag


def gcm_open(cipher: BlockCipher, key: bytes, iv: bytes, sealed: bytes, aad: bytes = b"") -> bytes:
    """GCM decryption of ciphertext ‖ tag; raises :class:`CryptoError` unless the tag verifies."""
    if not iv or len(sealed) < TAG_SIZE:
        raise _rejected()
    if 8 <= len(iv) <= 128:
        try:
            if cipher == "aes":
                return AESGCM(key).decrypt(iv, sealed, aad)
            dec = Cipher(_algorithm(cipher, key), modes.GCM(iv, sealed[-TAG_SIZE:])).decryptor()
            dec.authenticate_additional_data(aad)
            return dec.update(sealed[:-TAG_SIZE]) + dec.finalize()
        except InvalidTag as e:
            raise _rejected() from e
        except ValueError as e:
            raise CryptoError(
                f"{cipher} 密钥长度错误", f"wrong {cipher} key length: {len(key)} bytes", field="key"
            ) from e
    out, tag = _gcm_by_hand(cipher, key, iv, aad, sealed[:-TAG_SIZE], seal=False)
    if not _hmac.compare_digest(tag, sealed[-TAG_SIZE:]):
        raise _rejected()
    return out


class _Ghash:
    """GHASH under one hash key H for a batch of equally shaped inputs (SP 800-38D §6.4).

    Multiplying by the fixed H is linear over GF(2), so X·H is the XOR of 16 table rows,
    one per byte of X: ``table[j][b]`` is (byte b at position j)·H. The tables (64 KB)
    are made once per key from the 128 products H·x^k.
    """

    _OFFSETS = np.arange(16, dtype=np.intp) * 256

    def __init__(self, h: int):
        basis = []  # basis[k] = H·x^k: what GCM bit k of X (bit 0 = first byte's top bit) contributes
        v = h
        for _ in range(128):
            basis.append(v)
            v = (v >> 1) ^ _R if v & 1 else v >> 1
        rows = []
        for j in range(16):
            row = [0] * 256
            for b in range(1, 256):
                low = b & -b  # the byte's lowest set bit, bit t; bit 7 is GCM bit 8j
                row[b] = row[b ^ low] ^ basis[8 * j + 8 - low.bit_length()]
            rows += row
        # table[256·j + b]: the high and low 64 bits of (byte b at position j)·H
        self._high = np.array([r >> 64 for r in rows], dtype=np.uint64)
        self._low = np.array([r & 0xFFFFFFFFFFFFFFFF for r in rows], dtype=np.uint64)

    def __call__(self, blocks: np.ndarray) -> np.ndarray:
        """GHASH of each row of ``blocks`` (n × m × 16 bytes) → n × 16 bytes."""
        y = np.zeros((blocks.shape[0], 16), dtype=np.uint8)
        for k in range(blocks.shape[1]):
            index = (y ^ blocks[:, k]).astype(np.intp)
            index += self._OFFSETS
            product = np.empty((blocks.shape[0], 2), dtype=">u8")
            product[:, 0] = np.bitwise_xor.reduce(self._high.take(index), axis=1)
            product[:, 1] = np.bitwise_xor.reduce(self._low.take(index), axis=1)
            y = product.view(np.uint8)
        return y


def _rows(parts: Sequence[bytes], width: int) -> np.ndarray:
    """Byte strings of at most ``width`` bytes as the rows of an array, zero-padded."""
    return np.frombuffer(b"".join(p.ljust(width, b"\0") for p in parts), dtype=np.uint8).reshape(len(parts), width)


class GcmKey:
    """A GCM key for many messages: the native, fast path with 96-bit nonces (what fields use)."""

    #: Below this many messages the batch path's fixed costs outweigh what it saves.
    BATCH_MIN = 16

    def __init__(self, cipher: BlockCipher, key: bytes):
        _algorithm(cipher, key)
        if cipher == "aes" and len(key) != 32:
            raise CryptoError("AES-256-GCM 需要 32 字节密钥", "AES-256-GCM needs a 32-byte key", field="key")
        self.cipher = cipher
        self._key = key
        self._aes = AESGCM(key) if cipher == "aes" else None
        self._ghash: _Ghash | None = None

    def seal_many(self, nonces: Sequence[bytes], datas: Sequence[bytes], aads: Sequence[bytes]) -> list[bytes]:
        """``seal`` of each (nonce, data, aad), 96-bit nonces; the same bytes, batched."""
        if self._aes is not None or len(datas) < self.BATCH_MIN:
            return [self.seal(n, d, a) for n, d, a in zip(nonces, datas, aads, strict=True)]
        out: list[bytes] = [b""] * len(datas)
        for length, idx in self._groups(nonces, datas, aads):
            if len(idx) < self.BATCH_MIN:
                for i in idx:
                    out[i] = self.seal(nonces[i], datas[i], aads[i])
                continue
            stream, mask = self._stream([nonces[i] for i in idx], length)
            ct = _rows([datas[i] for i in idx], length) ^ stream
            tags = self._tags([aads[i] for i in idx], ct, mask)
            whole, width = np.concatenate([ct, tags], axis=1).tobytes(), length + TAG_SIZE
            for row, i in enumerate(idx):
                out[i] = whole[row * width : (row + 1) * width]
        return out

    def open_many(self, nonces: Sequence[bytes], sealed: Sequence[bytes], aads: Sequence[bytes]) -> list[bytes | None]:
        """``open`` of each (nonce, ciphertext ‖ tag, aad); None where the tag does not verify."""
        out: list[bytes | None] = [None] * len(sealed)
        if self._aes is not None or len(sealed) < self.BATCH_MIN:
            for i, (n, s, a) in enumerate(zip(nonces, sealed, aads, strict=True)):
                out[i] = self._open_or_none(n, s, a)
            return out
        cts = [s[:-TAG_SIZE] if len(s) >= TAG_SIZE else None for s in sealed]
        for length, idx in self._groups(nonces, cts, aads):
            if len(idx) < self.BATCH_MIN:
                for i in idx:
                    out[i] = self._open_or_none(nonces[i], sealed[i], aads[i])
                continue
            stream, mask = self._stream([nonces[i] for i in idx], length)
            ct = _rows([sealed[i] for i in idx], length + TAG_SIZE)
            tags = self._tags([aads[i] for i in idx], ct[:, :length], mask)
            good = (tags == ct[:, length:]).all(axis=1)  # every byte compared: no early exit
            whole = (ct[:, :length] ^ stream).tobytes()
            for row, i in enumerate(idx):
                if good[row]:
                    out[i] = whole[row * length : (row + 1) * length]
        return out

    def _open_or_none(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes | None:
        try:
            return self.open(nonce, sealed, aad)
        except CryptoError:
            return None

    def _groups(
        self, nonces: Sequence[bytes], datas: Sequence[bytes | None], aads: Sequence[bytes]
    ) -> list[tuple[int, list[int]]]:
        """Indices by (AAD blocks, data length), each group one array; data None (no room for a tag) is left out."""
        if self._ghash is None:
            ecb = Cipher(algorithms.SM4(self._key), modes.ECB()).encryptor()
            self._ghash = _Ghash(int.from_bytes(ecb.update(b"\0" * 16), "big"))
        groups: dict[tuple[int, int], list[int]] = {}
        for i, (n, d, a) in enumerate(zip(nonces, datas, aads, strict=True)):
            if len(n) != NONCE_SIZE:
                raise CryptoError("批量 GCM 需要 96 位随机数", "batched GCM takes 96-bit nonces", field="nonce")
            if d is not None:
                groups.setdefault(((len(a) + 15) // 16, len(d)), []).append(i)
        return [(length, idx) for (_, length), idx in groups.items()]

    def _stream(self, nonces: list[bytes], length: int) -> tuple[np.ndarray, np.ndarray]:
        """Counter-mode key stream for ``length`` bytes of each message, and E(J0) that masks its tag."""
        blocks = (length + 15) // 16
        counters = np.empty((len(nonces), blocks + 1, 16), dtype=np.uint8)
        counters[:, :, :12] = np.frombuffer(b"".join(nonces), dtype=np.uint8).reshape(-1, 1, 12)
        counters[:, :, 12:] = np.arange(1, blocks + 2, dtype=">u4").view(np.uint8).reshape(1, -1, 4)
        ecb = Cipher(algorithms.SM4(self._key), modes.ECB()).encryptor()  # one context per batch: thread-safe
        stream = np.frombuffer(ecb.update(counters.tobytes()), dtype=np.uint8).reshape(len(nonces), -1)
        return stream[:, 16 : 16 + length], stream[:, :16]

    def _tags(self, aads: list[bytes], ct: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """GCM tags: GHASH(A ‖ 0* ‖ C ‖ 0* ‖ len(A) ‖ len(C)) ⊕ E(J0)."""
        count, length = ct.shape
        a = _rows(aads, (max(len(x) for x in aads) + 15) // 16 * 16)
        c = np.zeros((count, (length + 15) // 16 * 16), dtype=np.uint8)
        c[:, :length] = ct
        bits = np.empty((count, 2), dtype=">u8")
        bits[:, 0] = [len(x) * 8 for x in aads]
        bits[:, 1] = length * 8
        blocks = np.concatenate([a, c, bits.view(np.uint8)], axis=1).reshape(count, -1, 16)
        assert self._ghash is not None
        return self._ghash(blocks) ^ mask

    def seal(self, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        if self._aes is not None:
            return self._aes.encrypt(nonce, data, aad)
        enc = Cipher(algorithms.SM4(self._key), modes.GCM(nonce)).encryptor()
        enc.authenticate_additional_data(aad)
        return enc.update(data) + enc.finalize() + enc.tag

    def open(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        try:
            if self._aes is not None:
                return self._aes.decrypt(nonce, sealed, aad)
            if len(sealed) < TAG_SIZE:
                raise _rejected()
            dec = Cipher(algorithms.SM4(self._key), modes.GCM(nonce, sealed[-TAG_SIZE:])).decryptor()
            dec.authenticate_additional_data(aad)
            return dec.update(sealed[:-TAG_SIZE]) + dec.finalize()
        except InvalidTag as e:
            raise _rejected() from e


# --- deterministic AEAD, MACs, hashes ----------------------------------------------------------


def siv_seal(key: bytes, data: bytes, aad: bytes) -> bytes:
    """AES-SIV (RFC 5297) with one associated-data string: SIV ‖ ciphertext, deterministic."""
    try:
        return AESSIV(key).encrypt(data, [aad])
    except ValueError as e:
        raise CryptoError(
            "AES-SIV 密钥应为 32、48 或 64 字节", "AES-SIV keys are 32, 48 or 64 bytes", field="key"
        ) from e


def siv_open(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    try:
        return AESSIV(key).decrypt(sealed, [aad])
    except InvalidTag as e:
        raise _rejected() from e
    except ValueError as e:
        raise CryptoError(
            "AES-SIV 密钥应为 32、48 或 64 字节", "AES-SIV keys are 32, 48 or 64 bytes", field="key"
        ) from e


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    """HMAC-SM3 (GB/T 32905 hash in RFC 2104): 32 bytes."""
    mac = _crypto_hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize()


def verify_hmac_sm3(key: bytes, data: bytes, tag: bytes) -> None:
    """Raise unless ``tag`` is HMAC-SM3(key, data), possibly truncated (at least 10 bytes)."""
    if len(tag) < 10:
        raise CryptoError("MAC 过短", "MAC is too short", field="tag")
    if not _hmac.compare_digest(hmac_sm3(key, data)[: len(tag)], tag):
        raise CryptoError("MAC 不符", "MAC does not match", field="tag")


def sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()
