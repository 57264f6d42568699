"""The e-licence layer's exceptions: every message in Chinese and English, naming the field at fault.

``CertError`` is the root. A verification failure carries a ``reason`` code (stable, for
programs: ``tampered``, ``unknown_key``, ``quorum`` …) beside the sentence a clerk reads.
"""

from __future__ import annotations

from typing import ClassVar

from huiqi.errors import InputError, Message


class CertError(InputError):
    """Something the e-licence layer refused (HTTP 422 naming ``field``). ``str()`` is ``"中文 / English"``."""

    def __init__(self, message_zh: str, message_en: str, *, field: str | None = None, reason: str = "invalid"):
        self.message_zh = message_zh
        self.message_en = message_en
        self.field = field
        self.reason = reason
        super().__init__(Message(message_zh, message_en), field=field)


class IdentifierError(CertError):
    """A 证照标识 is malformed or its check character is wrong."""

    def __init__(self, message_zh: str, message_en: str, *, field: str = "id"):
        super().__init__(message_zh, message_en, field=field, reason="malformed_id")


class ProofError(CertError):
    """A Data Integrity proof is malformed or does not verify."""


class IssuanceError(CertError):
    """A licence cannot be issued, changed or revoked as asked."""


class NotFoundError(CertError):
    """No licence with this identifier was ever issued here."""

    status: ClassVar[int] = 404
    kind: ClassVar[str] = "not-found"
    title: ClassVar[Message] = Message("找不到", "Not found")
