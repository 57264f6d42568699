"""C2SP signed notes (c2sp.org/signed-note), their keys, and checkpoints (c2sp.org/tlog-checkpoint).

Three kinds of key, each a ``(name, key id, algorithm)``:

* ``ed25519`` — signature type 0x01, what the log signs checkpoints with;
* ``cosignature`` — type 0x04, C2SP tlog-cosignature/v1 (timestamped Ed25519), what witnesses sign with;
* ``sm2`` — 国密 SM2 with SM3 (GB/T 32918, default user id), type 0xff followed by the
  identifier ``huiqi/sm2-sm3`` as signed-note reserves for types it does not assign.
  An optional second line on checkpoints for verifiers who must see a 国密 signature.

Keys are strings: ``PRIVATE+KEY+<name>+<id hex>+<base64(type ‖ secret)>`` (as Go's
``x/mod/sumdb/note``) and verifier keys ``<name>+<id hex>+<base64(type ‖ public key)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from huiqi.clock import Clock
from huiqi.trust.errors import NoteError, SignatureError

ED25519 = b"\x01"
COSIGNATURE_V1 = b"\x04"
SM2_SM3 = b"\xffhuiqi/sm2-sm3"
_TYPES = {"ed25519": ED25519, "cosignature": COSIGNATURE_V1, "sm2": SM2_SM3}

#: More than signed-note's minimum of 16, few enough that a note stays small.
MAX_SIGNATURES = 64
_NAME = re.compile(r"^[^\s+]+$")


def key_id(name: str, type_and_public: bytes) -> bytes:
    """signed-note's recommended key id: SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4]."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + type_and_public).digest()[:4]


def _check_name(name: str) -> None:
    if not name or not _NAME.match(name):
        raise NoteError(
            f"密钥名称不能为空，也不能含空白或加号：{name!r}",
            f"a key name must be non-empty without spaces or '+': {name!r}",
            field="name",
        )


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise NoteError(f"{what} 不是有效的 base64", f"{what} is not valid base64", field=what) from e


class Verifier(Protocol):
    """Checks one key's signatures; ``vkey`` is its verifier-key string."""

    @property
    def name(self) -> str: ...
    @property
    def key_id(self) -> bytes: ...
    @property
    def vkey(self) -> str: ...

    def verify(self, message: bytes, signature: bytes) -> bool: ...


class Signer(Protocol):
    """Signs note texts; ``skey`` is its private-key string (keep it secret)."""

    @property
    def name(self) -> str: ...
    @property
    def key_id(self) -> bytes: ...
    @property
    def verifier(self) -> Verifier: ...
    @property
    def skey(self) -> str: ...

    def sign(self, message: bytes) -> bytes: ...


# --- Ed25519 (0x01) and timestamped cosignatures (0x04) ---------------------------------


@dataclass(frozen=True)
class Ed25519Verifier:
    name: str
    public: bytes
    kind: bytes = ED25519

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.kind + self.public)

    @property
    def vkey(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(self.kind + self.public).decode()}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        if self.kind == COSIGNATURE_V1:
            if len(signature) != 8 + 64:
                return False
            (timestamp,) = struct.unpack(">Q", signature[:8])
            if timestamp >= 1 << 63:
                return False
            message = cosigned_message(message, timestamp)
            signature = signature[8:]
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


def cosigned_message(body: bytes, timestamp: int) -> bytes:
    """tlog-cosignature/v1: what a witness signs for a checkpoint body at ``timestamp``."""
    return b"cosignature/v1\ntime %d\n" % timestamp + body


def cosignature_time(signature: bytes) -> int:
    """The POSIX timestamp a cosignature carries (raw signature, without the key id)."""
    if len(signature) < 8:
        raise NoteError("联署签名过短", "cosignature is too short", field="signature")
    return int(struct.unpack(">Q", signature[:8])[0])


class Ed25519Signer:
    """An Ed25519 note key; ``kind=COSIGNATURE_V1`` makes a witness's timestamped cosigner (needs a clock)."""

    def __init__(self, name: str, seed: bytes, *, kind: bytes = ED25519, clock: Clock | None = None):
        _check_name(name)
        if len(seed) != 32:
            raise NoteError("Ed25519 私钥应为 32 字节", "an Ed25519 private key is 32 bytes", field="key")
        if kind == COSIGNATURE_V1 and clock is None:
            raise NoteError("联署密钥需要时钟", "a cosignature key needs a clock", field="clock")
        self.name = name
        self.kind = kind
        self._seed = seed
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self._clock = clock
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        self.verifier = Ed25519Verifier(name, self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw), kind)
        self.key_id = self.verifier.key_id

    @property
    def skey(self) -> str:
        secret = base64.b64encode(self.kind + self._seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{secret}"

    def sign(self, message: bytes) -> bytes:
        if self.kind == COSIGNATURE_V1:
            assert self._clock is not None
            timestamp = int(self._clock.now().timestamp())
            return struct.pack(">Q", timestamp) + self._key.sign(cosigned_message(message, timestamp))
        return self._key.sign(message)


# --- SM2 with SM3 (国密) ------------------------------------------------------------------


def _sm2(private_hex: str, public_hex: str) -> Any:
    from gmssl import sm2

    crypt = sm2.CryptSM2(private_key=private_hex, public_key="")
    # Set after construction: gmssl drops an "04" prefix with str.lstrip("04"), which strips
    # every leading 0 and 4, so a key whose x begins with byte 0x04 lost digits (1 key in 256).
    crypt.public_key = public_hex
    return crypt


_SM2_N = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123", 16)


@dataclass(frozen=True)
class SM2Verifier:
    name: str
    public: bytes  # x ‖ y, 64 bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, SM2_SM3 + self.public)

    @property
    def vkey(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(SM2_SM3 + self.public).decode()}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != 64:
            return False
        try:
            return bool(_sm2("", self.public.hex()).verify_with_sm3(signature.hex(), message))
        except Exception:  # gmssl raises assorted errors on malformed points
            return False


class SM2Signer:
    """A 国密 SM2 note key (signature = r ‖ s, 64 bytes, over SM3 with the Z value of GB/T 32918)."""

    def __init__(self, name: str, secret: bytes):
        _check_name(name)
        d = int.from_bytes(secret, "big")
        if len(secret) != 32 or not 0 < d < _SM2_N - 1:
            raise NoteError(
                "SM2 私钥应为 32 字节且在曲线阶内", "an SM2 private key is 32 bytes below the order", field="key"
            )
        self.name = name
        self._secret = secret
        crypt = _sm2(secret.hex(), "")
        public_hex = crypt._kg(d, crypt.ecc_table["g"])
        self._crypt = _sm2(secret.hex(), public_hex)
        self.verifier = SM2Verifier(name, bytes.fromhex(public_hex))
        self.key_id = self.verifier.key_id

    @property
    def skey(self) -> str:
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{base64.b64encode(SM2_SM3 + self._secret).decode()}"

    def sign(self, message: bytes) -> bytes:
        import secrets

        k = secrets.randbelow(_SM2_N - 2) + 1
        return bytes.fromhex(self._crypt.sign_with_sm3(message, f"{k:064x}"))


# --- key strings ------------------------------------------------------------------------


def _split_type(raw: bytes, what: str) -> tuple[str, bytes]:
    for kind, prefix in _TYPES.items():
        if (
            raw.startswith(prefix)
            and (prefix != ED25519 or len(raw) == 33)
            and (prefix != COSIGNATURE_V1 or len(raw) == 33)
        ):
            return kind, raw[len(prefix) :]
    raise NoteError("不支持的密钥类型", "unsupported key type", field=what)


def generate_signer(name: str, kind: str = "ed25519", *, clock: Clock | None = None) -> Signer:
    """A fresh key of ``kind`` (``ed25519``, ``cosignature`` or ``sm2``)."""
    import os

    if kind == "sm2":
        import secrets

        return SM2Signer(name, (secrets.randbelow(_SM2_N - 2) + 1).to_bytes(32, "big"))
    if kind not in ("ed25519", "cosignature"):
        raise NoteError(f"未知的密钥类型 {kind}", f"unknown key kind {kind}", field="kind")
    return Ed25519Signer(name, os.urandom(32), kind=_TYPES[kind], clock=clock)


def parse_signer(skey: str, *, clock: Clock | None = None) -> Signer:
    """A signer from ``PRIVATE+KEY+name+id+base64`` (the key id is checked against the key)."""
    parts = skey.strip().split("+", 4)  # base64 may contain "+"
    if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
        raise NoteError(
            "私钥格式应为 PRIVATE+KEY+名称+ID+密钥", "a private key reads PRIVATE+KEY+name+id+key", field="key"
        )
    name, id_hex, secret = parts[2], parts[3], _b64decode(parts[4], "key")
    kind, material = _split_type(secret, "key")
    signer: Signer
    if kind == "sm2":
        signer = SM2Signer(name, material)
    else:
        signer = Ed25519Signer(name, material, kind=_TYPES[kind], clock=clock)
    if signer.key_id.hex() != id_hex.lower():
        raise NoteError("私钥的 ID 与密钥不符", "the private key's id does not match the key", field="key")
    return signer


def parse_verifier(vkey: str) -> Verifier:
    """A verifier from ``name+id+base64(type ‖ public key)``."""
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise NoteError("验证公钥格式应为 名称+ID+公钥", "a verifier key reads name+id+key", field="vkey")
    name, id_hex, raw = parts[0], parts[1], _b64decode(parts[2], "vkey")
    _check_name(name)
    kind, material = _split_type(raw, "vkey")
    verifier: Verifier
    if kind == "sm2":
        if len(material) != 64:
            raise NoteError("SM2 公钥应为 64 字节", "an SM2 public key is 64 bytes", field="vkey")
        verifier = SM2Verifier(name, material)
    else:
        verifier = Ed25519Verifier(name, material, _TYPES[kind])
    if verifier.key_id.hex() != id_hex.lower():
        raise NoteError("公钥的 ID 与密钥不符", "the verifier key's id does not match the key", field="vkey")
    return verifier


# --- notes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes  # without the key id

    def line(self) -> str:
        return f"— {self.name} {base64.b64encode(self.key_id + self.signature).decode()}\n"


@dataclass(frozen=True)
class Note:
    """A note: its text (ending in a newline) and every signature line, verified or not."""

    text: str
    signatures: tuple[NoteSignature, ...] = field(default=())

    def __str__(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)

    def signed_by(self, verifier: Verifier) -> NoteSignature | None:
        for s in self.signatures:
            if s.name == verifier.name and s.key_id == verifier.key_id:
                return s
        return None

    def with_signatures(self, extra: list[NoteSignature] | tuple[NoteSignature, ...]) -> Note:
        """The note with ``extra`` added, skipping any already there (same name and key id)."""
        seen = {(s.name, s.key_id) for s in self.signatures}
        new = [s for s in extra if (s.name, s.key_id) not in seen]
        return Note(self.text, self.signatures + tuple(new))


_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


def _check_text(text: str, what: str) -> None:
    if not text.endswith("\n"):
        raise NoteError(f"{what} 应以换行结尾", f"{what} must end with a newline", field=what)
    if _CONTROL.search(text):  # a regex: a per-character generator cost ~0.7 ms per note
        raise NoteError(f"{what} 含控制字符", f"{what} contains control characters", field=what)


def sign_note(text: str, *signers: Signer) -> Note:
    """Sign ``text`` (which must end in a newline) with each signer."""
    _check_text(text, "text")
    if not signers:
        raise NoteError("至少需要一个签名密钥", "at least one signer is needed", field="signers")
    data = text.encode("utf-8")
    return Note(text, tuple(NoteSignature(s.name, s.key_id, s.sign(data)) for s in signers))


def parse_signature_lines(text: str) -> list[NoteSignature]:
    """Signature lines ``— name base64\\n`` (a witness's answer, or the tail of a note)."""
    sigs: list[NoteSignature] = []
    if text and not text.endswith("\n"):
        raise NoteError("签名行应以换行结尾", "signature lines must end with a newline", field="signatures")
    for line in text.splitlines():
        if not line.startswith("— "):
            raise NoteError("签名行应以“— ”开头", "a signature line starts with '— '", field="signatures")
        parts = line[2:].split(" ")
        if len(parts) != 2:
            raise NoteError("签名行格式错误", "malformed signature line", field="signatures")
        name, raw = parts[0], _b64decode(parts[1], "signatures")
        _check_name(name)
        if len(raw) < 5:
            raise NoteError("签名过短", "signature is too short", field="signatures")
        sigs.append(NoteSignature(name, raw[:4], raw[4:]))
    if len(sigs) > MAX_SIGNATURES:
        raise NoteError(f"签名多于 {MAX_SIGNATURES} 个", f"more than {MAX_SIGNATURES} signatures", field="signatures")
    return sigs


def parse_note(message: str | bytes) -> Note:
    """Split a signed note into text and signatures (nothing verified yet)."""
    if isinstance(message, bytes):
        try:
            message = message.decode("utf-8")
        except UnicodeDecodeError as e:
            raise NoteError("签名文本不是 UTF-8", "a note must be UTF-8", field="note") from e
    _check_text(message, "note")
    cut = message.rfind("\n\n")
    if cut < 0:
        raise NoteError("签名文本缺少空行和签名", "a note needs a blank line and signatures", field="note")
    text, tail = message[: cut + 1], message[cut + 2 :]
    sigs = parse_signature_lines(tail)
    if not sigs:
        raise NoteError("签名文本没有签名", "a note has no signature", field="note")
    return Note(text, tuple(sigs))


def verify_note(note: Note | str | bytes, verifiers: list[Verifier] | tuple[Verifier, ...]) -> list[Verifier]:
    """The verifiers whose signatures on ``note`` verify; unknown signatures are ignored.

    Raises :class:`SignatureError` when a known key's signature fails (the note is forged or
    damaged) or when no known key signed.
    """
    if not isinstance(note, Note):
        note = parse_note(note)
    data = note.text.encode("utf-8")
    good: list[Verifier] = []
    for s in note.signatures:
        for v in verifiers:
            if s.name == v.name and hmac.compare_digest(s.key_id, v.key_id):
                if not v.verify(data, s.signature):
                    raise SignatureError(
                        f"{s.name} 的签名无效", f"signature by {s.name} does not verify", field="signatures"
                    )
                if v not in good:
                    good.append(v)
    if not good:
        raise SignatureError("没有受信任密钥的签名", "no signature by a trusted key", field="signatures")
    return good


# --- checkpoints --------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """c2sp.org/tlog-checkpoint: origin, tree size, root hash (and rarely extension lines)."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):
            raise NoteError(
                "检查点至少三行且无空行", "a checkpoint has three or more non-empty lines", field="checkpoint"
            )
        origin, size_text, root_text = lines[0], lines[1], lines[2]
        if not size_text.isascii() or not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
            raise NoteError(f"树大小格式错误：{size_text!r}", f"malformed tree size: {size_text!r}", field="size")
        root = _b64decode(root_text, "root")
        if len(root) != 32:
            raise NoteError("根哈希应为 32 字节", "the root hash is 32 bytes", field="root")
        return cls(origin, int(size_text), root, tuple(lines[3:-1]))
