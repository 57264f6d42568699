"""Refusals and faults of data sharing, in huiqi's one error tree (:mod:`huiqi.errors`).

Each carries a stable ``code`` (pages, tests and the log's ``refused`` reasons use it) and
the ``field`` of the request at fault:

* :class:`BadRequest` (422): an unknown field, purpose, service or subject — named;
* :class:`Refused` (403): the gateway decided not to answer (deny by default): no
  declaration, no consent or legal basis, consent expired or withdrawn, a Cedar forbid;
* :class:`ProviderUnavailable` (503): a provider could not be reached — ``暂时无法获取（税务局）``.
"""

from __future__ import annotations

from huiqi.errors import InputError, Message, PermissionDenied, Unavailable


class SharingErrorMixin:
    code: str
    field: str | None
    message: Message

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "field": self.field, "message_zh": self.message.zh, "message_en": self.message.en}


class BadRequest(SharingErrorMixin, InputError):
    """The request names something that does not exist (a field, purpose, service, subject)."""

    def __init__(self, code: str, message: Message, *, field: str):
        super().__init__(message, field=field)
        self.code = code
        self.field = field


class Refused(SharingErrorMixin, PermissionDenied):
    kind = "sharing-refused"
    title = Message("数据共享请求被拒绝", "Data sharing request refused")

    def __init__(self, code: str, message: Message, *, field: str | None = None):
        super().__init__(message)
        self.code = code
        self.field = field


class ProviderUnavailable(SharingErrorMixin, Unavailable):
    kind = "provider-unavailable"

    def __init__(self, member: str, short_name: str, detail: str = ""):
        super().__init__(
            Message(
                f"暂时无法获取（{short_name}）", f"temporarily unavailable ({member}){': ' + detail if detail else ''}"
            )
        )
        self.code = "provider_unavailable"
        self.field = member
        self.member = member


SharingError = BadRequest | Refused | ProviderUnavailable
