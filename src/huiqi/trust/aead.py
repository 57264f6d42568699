"""The symmetric primitives of field encryption: AES-GCM and SM4-GCM, AES-SIV, HMAC-SM3 and SM3.

All from ``cryptography`` (OpenSSL). One gap is filled by hand: OpenSSL's GCM, as
``cryptography`` exposes it, takes IVs of 8 to 128 bytes only, while GCM (NIST SP 800-38D)
allows any length; for other lengths :func:`gcm_seal` / :func:`gcm_open` derive the
counter from GHASH themselves over the maintained block cipher (ECB). huiqi's own
ciphertexts always use fresh 96-bit nonces, the native path; the general one exists so
the primitive is complete and is gated, like the native one, on Wycheproof.
"""

from __future__ import annotations

import hmac as _hmac
from typing import Literal

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


class GcmKey:
    """A GCM key for many messages: the native, fast path with 96-bit nonces (what fields use)."""

    def __init__(self, cipher: BlockCipher, key: bytes):
        _algorithm(cipher, key)
        if cipher == "aes" and len(key) != 32:
            raise CryptoError("AES-256-GCM 需要 32 字节密钥", "AES-256-GCM needs a 32-byte key", field="key")
        self.cipher = cipher
        self._key = key
        self._aes = AESGCM(key) if cipher == "aes" else None

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
