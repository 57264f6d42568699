"""Issuer keys as W3C Multikeys: Ed25519 (what ``eddsa-jcs-2022`` signs with) and 国密 SM2.

``publicKeyMultibase`` is ``z`` + base58btc(multicodec header ‖ key): ``0xed01`` for an
Ed25519 public key, ``0x8026`` for its secret, ``0x8624`` (sm2-pub) for an SM2 point
``04 ‖ x ‖ y`` and ``0x8726`` for its secret (Multikey, VC Data Integrity §2.2). A key's
``kid`` is its public multibase: what it is, not what someone calls it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal, Protocol

import base58
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from huiqi.certs.errors import CertError
from huiqi.trust.note import SM2Signer, SM2Verifier

Algorithm = Literal["Ed25519", "SM2"]

ED25519_PUB = b"\xed\x01"
ED25519_PRIV = b"\x80\x26"
SM2_PUB = b"\x86\x24"
SM2_PRIV = b"\x87\x26"


def _base58btc(raw: bytes) -> str:
    return "z" + base58.b58encode(raw).decode("ascii")


#: base58btc multibase (prefix ``z``) of public material, cached: a verifier meets few keys.
multibase = functools.lru_cache(maxsize=1024)(_base58btc)


def from_multibase(text: str, field: str = "publicKeyMultibase") -> bytes:
    if not isinstance(text, str) or not text.startswith("z") or len(text) < 2:
        raise CertError(
            f"应为以 z 开头的 base58btc 多重编码：{text!r}",
            f"expected base58btc multibase starting with z: {text!r}",
            field=field,
        )
    try:
        return base58.b58decode(text[1:])
    except ValueError as e:
        raise CertError(f"不是有效的 base58btc：{text!r}", f"not valid base58btc: {text!r}", field=field) from e


class PublicKey(Protocol):
    @property
    def algorithm(self) -> Algorithm: ...

    @property
    def multibase(self) -> str: ...

    def verify(self, message: bytes, signature: bytes) -> bool: ...


class PrivateKey(Protocol):
    @property
    def algorithm(self) -> Algorithm: ...

    @property
    def public(self) -> PublicKey: ...

    @property
    def secret_multibase(self) -> str: ...

    def sign(self, message: bytes) -> bytes: ...


@dataclass(frozen=True)
class Ed25519Public:
    raw: bytes
    algorithm: Algorithm = "Ed25519"

    @property
    def multibase(self) -> str:
        return multibase(ED25519_PUB + self.raw)

    @functools.cached_property
    def _key(self) -> Ed25519PublicKey | None:
        try:
            return Ed25519PublicKey.from_public_bytes(self.raw)
        except ValueError:
            return None

    def verify(self, message: bytes, signature: bytes) -> bool:
        if self._key is None:
            return False
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


class Ed25519Private:
    algorithm: Algorithm = "Ed25519"

    def __init__(self, seed: bytes):
        if len(seed) != 32:
            raise CertError("Ed25519 私钥应为 32 字节", "an Ed25519 secret key is 32 bytes", field="key")
        self._seed = seed
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public = Ed25519Public(self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    @classmethod
    def generate(cls) -> Ed25519Private:
        import os

        return cls(os.urandom(32))

    @property
    def secret_multibase(self) -> str:
        return _base58btc(ED25519_PRIV + self._seed)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    @property
    def pyca(self) -> Ed25519PrivateKey:
        """The key as the cryptography library holds it (for JOSE: SD-JWT)."""
        return self._key


@dataclass(frozen=True)
class SM2Public:
    raw: bytes  # x ‖ y, 64 bytes
    algorithm: Algorithm = "SM2"

    @property
    def multibase(self) -> str:
        return multibase(SM2_PUB + b"\x04" + self.raw)

    def verify(self, message: bytes, signature: bytes) -> bool:
        return SM2Verifier("sm2", self.raw).verify(message, signature)


class SM2Private:
    """SM2 with SM3 and the default user id (GB/T 32918), through the trust layer's gmssl signer."""

    algorithm: Algorithm = "SM2"

    def __init__(self, secret: bytes):
        self._secret = secret
        try:
            self._signer = SM2Signer("sm2", secret)
        except Exception as e:
            raise CertError("SM2 私钥无效", "invalid SM2 secret key", field="key") from e
        self.public = SM2Public(self._signer.verifier.public)

    @classmethod
    def generate(cls) -> SM2Private:
        import secrets

        from huiqi.trust.note import _SM2_N

        return cls((secrets.randbelow(_SM2_N - 2) + 1).to_bytes(32, "big"))

    @property
    def secret_multibase(self) -> str:
        return _base58btc(SM2_PRIV + self._secret)

    def sign(self, message: bytes) -> bytes:
        return self._signer.sign(message)


@functools.lru_cache(maxsize=1024)
def public_key(text: str, field: str = "publicKeyMultibase") -> PublicKey:
    """The public key a ``publicKeyMultibase`` names (cached: a verifier meets a few issuer keys)."""
    raw = from_multibase(text, field)
    if raw.startswith(ED25519_PUB) and len(raw) == 34:
        return Ed25519Public(raw[2:])
    if raw.startswith(SM2_PUB + b"\x04") and len(raw) == 67:
        return SM2Public(raw[3:])
    raise CertError("不支持的公钥类型（应为 Ed25519 或 SM2）", "unsupported key type (Ed25519 or SM2)", field=field)


def private_key(text: str, field: str = "secretKeyMultibase") -> PrivateKey:
    """The private key a ``secretKeyMultibase`` names."""
    raw = from_multibase(text, field)
    if raw.startswith(ED25519_PRIV) and len(raw) == 34:
        return Ed25519Private(raw[2:])
    if raw.startswith(SM2_PRIV) and len(raw) == 34:
        return SM2Private(raw[2:])
    raise CertError("不支持的私钥类型（应为 Ed25519 或 SM2）", "unsupported key type (Ed25519 or SM2)", field=field)
