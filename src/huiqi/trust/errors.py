"""The trust layer's exceptions: one tree, every message in Chinese and English.

``TrustError`` is the root; callers catch a branch (``ProofError``, ``SignatureError``,
``WitnessError``, ``CryptoError`` …) or the root. ``field`` names the input at fault
when there is one, so edges (CLI, HTTP) can say which field was wrong.
"""

from __future__ import annotations


class TrustError(Exception):
    """Something the trust layer refused or could not do. ``str()`` is ``"中文 / English"``."""

    def __init__(self, message_zh: str, message_en: str, *, field: str | None = None):
        self.message_zh = message_zh
        self.message_en = message_en
        self.field = field
        prefix = f"{field}: " if field else ""
        super().__init__(f"{prefix}{message_zh} / {message_en}")


class EntryError(TrustError):
    """A log entry is not acceptable (not an object, no ``type`` or ``time``, not canonical JSON)."""


class DuplicateEntryError(EntryError):
    """An entry with the same natural key is already in the log."""

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


class NoteError(TrustError):
    """A signed note, checkpoint or key string is malformed."""


class SignatureError(TrustError):
    """A signature does not verify, or no trusted key signed."""


class SplitViewError(TrustError):
    """Two views of one log that cannot both be true: same size with another root, or no consistency."""


class QuorumError(TrustError):
    """Fewer witnesses cosigned a checkpoint than the policy requires."""


class WitnessError(TrustError):
    """A witness could not be reached or answered outside the protocol."""


class LogError(TrustError):
    """The stored log is damaged (fsck) or asked for something it does not hold."""


class CryptoError(TrustError):
    """Field encryption: a ciphertext does not decrypt (tampered, moved to another row, wrong key)."""


class KeyringError(TrustError):
    """A key is missing, malformed or retired."""


class CertificateError(TrustError):
    """A certificate cannot be issued, loaded or is not acceptable."""
