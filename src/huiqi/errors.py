"""The errors huiqi raises on purpose: one tree, one bilingual message type.

Every refusal huiqi means to make is a :class:`HuiqiError`; anything else reaching an edge
is a bug. The tree (model: httpx's ``_exceptions.py``)::

    HuiqiError                      a refusal, with a bilingual message
    ├── InputError (422)            bad input from a caller; also a ValueError
    │   ├── ProfileError            huiqi.profile — an enterprise profile, field by field
    │   └── BatchError              huiqi.batch — an option of a batch run
    ├── ExprError                   huiqi.rules.lang — a rule expression (also a ValueError)
    ├── LibraryError                huiqi.rules — the policy library does not load
    ├── LifecycleError (409)        huiqi.library — an officer's action refused
    │   ├── library NotFound (404)
    │   └── library PermissionDenied (403)
    ├── NotFound (404)
    ├── PermissionDenied (403)
    ├── Unauthenticated (401)       no (valid) credentials
    ├── RateLimited (429)           too many requests from one client or for one account
    └── Unavailable (503)           a part the request needs is not configured

Each class says how it is shown over HTTP (``status``, ``kind`` → the problem type
``urn:huiqi:problem:<kind>``, ``title``); the web layer maps the whole tree to
``application/problem+json`` in one handler, the CLI prints ``message`` and ``details()``.
This module imports nothing of huiqi: it is the lowest layer, with ``huiqi.clock``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

SEPARATOR = " / "


@dataclass(frozen=True)
class Message:
    """One text in Chinese and English. ``str()`` is ``"中文 / English"``, the form used in
    logs, CLI output and problem details; pages show ``zh``."""

    zh: str
    en: str

    def __str__(self) -> str:
        if not self.en or self.en == self.zh:
            return self.zh
        if not self.zh:
            return self.en
        return f"{self.zh}{SEPARATOR}{self.en}"

    @classmethod
    def parse(cls, text: str) -> Message:
        """``"中文 / English"`` → Message; a text without the separator is both halves.

        The one place where such a string is split (older code and pydantic validators
        still raise plain ``"中文 / English"`` strings).
        """
        zh, sep, en = text.partition(SEPARATOR)
        return cls(zh, en) if sep else cls(text, text)

    @classmethod
    def of(cls, value: Message | str) -> Message:
        return value if isinstance(value, Message) else cls.parse(value)


@dataclass(frozen=True)
class FieldMessage:
    """What is wrong with one input field (a dotted path; "" for the whole input)."""

    field: str
    message: Message


class HuiqiError(Exception):
    """Base of every error huiqi raises on purpose (see the module docstring)."""

    status: ClassVar[int] = 400
    kind: ClassVar[str] = "error"
    title: ClassVar[Message] = Message("请求有误", "Request error")

    def __init__(self, message: Message | str, *args: object):
        self.message = Message.of(message)
        super().__init__(str(self.message), *args)

    def __str__(self) -> str:
        lines = self.details()
        return "\n".join([str(self.message), *(f"  · {line}" for line in lines)])

    def details(self) -> list[str]:
        """Further reasons, one line each (bilingual text)."""
        return []

    def field_errors(self) -> list[FieldMessage]:
        """The input fields at fault, when the error is about input."""
        return []


class InputError(HuiqiError, ValueError):
    """Bad input: what was given cannot be used. Optionally names the field(s)."""

    status = 422
    kind = "invalid-input"
    title = Message("输入有误", "Invalid input")

    def __init__(self, message: Message | str, *, field: str | None = None, fields: Sequence[FieldMessage] = ()):
        super().__init__(message)
        self.fields = list(fields) or ([FieldMessage(field, self.message)] if field is not None else [])

    def field_errors(self) -> list[FieldMessage]:
        return list(self.fields)


class NotFound(HuiqiError):
    status = 404
    kind = "not-found"
    title = Message("找不到", "Not found")


class PermissionDenied(HuiqiError):
    status = 403
    kind = "forbidden"
    title = Message("无权进行此操作", "Forbidden")


class Unauthenticated(HuiqiError):
    status = 401
    kind = "unauthenticated"
    title = Message("需要登录或令牌", "Authentication required")


class RateLimited(HuiqiError):
    """Too many requests; ``retry_after`` seconds until the next one may succeed."""

    status = 429
    kind = "rate-limited"
    title = Message("请求过于频繁", "Too many requests")

    def __init__(self, message: Message | str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class Unavailable(HuiqiError):
    status = 503
    kind = "unavailable"
    title = Message("服务暂不可用", "Service unavailable")


__all__ = [
    "FieldMessage",
    "HuiqiError",
    "InputError",
    "Message",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "Unauthenticated",
    "Unavailable",
]
