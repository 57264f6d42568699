"""The trust layer's exceptions: one branch of :class:`huiqi.errors.HuiqiError`.

::

    TrustError
    ├── EntryError (422)            a log entry is not acceptable
    │   └── DuplicateEntryError (409)   its natural key is already logged
    ├── ProofError (422)            a proof does not verify or cannot be built
    ├── NoteError (422)             a note, checkpoint, key string or policy is malformed
    ├── SignatureError (403)        a signature fails, or no trusted key signed
    ├── SplitViewError (409)        two views of one log that cannot both be true
    ├── QuorumError (503)           too few witnesses cosigned
    ├── WitnessError (502)          a witness is unreachable or off-protocol
    ├── LogError (500)              the stored log is damaged or lacks what was asked
    ├── CryptoError (422)           a ciphertext does not decrypt here
    ├── KeyringError (500)          a key is missing, malformed or retired
    └── CertificateError (403)      a certificate cannot be issued, loaded or accepted

``field`` names the input at fault when there is one (``field_errors()`` for the edges).
"""

from __future__ import annotations

from huiqi.errors import FieldMessage, HuiqiError, Message


class TrustError(HuiqiError):
    """Something the trust layer refused or could not do. ``str()`` is ``"中文 / English"``."""

    kind = "trust"
    title = Message("信任层拒绝", "Trust layer refusal")

    def __init__(self, message_zh: str, message_en: str, *, field: str | None = None):
        self.message_zh = message_zh
        self.message_en = message_en
        self.field = field
        super().__init__(Message(message_zh, message_en))

    def field_errors(self) -> list[FieldMessage]:
        return [FieldMessage(self.field, self.message)] if self.field else []


class EntryError(TrustError):
    """A log entry is not acceptable (not an object, no ``type`` or ``time``, not canonical JSON)."""

    status = 422
    kind = "invalid-entry"


class DuplicateEntryError(EntryError):
    """An entry with the same natural key is already in the log."""

    status = 409
    kind = "duplicate-entry"

    def __init__(self, natural_key: str, index: int, shard: str):
        self.natural_key = natural_key
        self.index = index
        self.shard = shard
        super().__init__(
            f"自然键 {natural_key} 已在日志 {shard} 第 {index} 条",
            f"natural key {natural_key} is already logged in {shard} at index {index}",
            field="natural_key",
        )


class ProofError(TrustError):
    """An inclusion or consistency proof does not verify, or cannot be built."""

    status = 422
    kind = "invalid-proof"


class NoteError(TrustError):
    """A signed note, checkpoint or key string is malformed."""

    status = 422
    kind = "malformed-note"


class SignatureError(TrustError):
    """A signature does not verify, or no trusted key signed."""

    status = 403
    kind = "bad-signature"


class SplitViewError(TrustError):
    """Two views of one log that cannot both be true: same size with another root, or no consistency."""

    status = 409
    kind = "split-view"


class QuorumError(TrustError):
    """Fewer witnesses cosigned a checkpoint than the policy requires."""

    status = 503
    kind = "no-quorum"


class WitnessError(TrustError):
    """A witness could not be reached or answered outside the protocol."""

    status = 502
    kind = "witness-failed"


class LogError(TrustError):
    """The stored log is damaged (fsck) or asked for something it does not hold."""

    status = 500
    kind = "log-damaged"


class CryptoError(TrustError):
    """Field encryption: a ciphertext does not decrypt (tampered, moved to another row, wrong key)."""

    status = 422
    kind = "does-not-decrypt"


class KeyringError(TrustError):
    """A key is missing, malformed or retired."""

    status = 500
    kind = "key-unavailable"


class CertificateError(TrustError):
    """A certificate cannot be issued, loaded or is not acceptable."""

    status = 403
    kind = "bad-certificate"
