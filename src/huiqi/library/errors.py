"""The lifecycle's refusals: an officer action refused, with every reason listed."""

from __future__ import annotations

from collections.abc import Sequence

from huiqi import errors
from huiqi.errors import HuiqiError, Message


class LifecycleError(HuiqiError):
    """An action was refused; ``problems`` lists each reason (Chinese / English)."""

    status = 409
    kind = "refused"
    title = Message("操作未被接受", "Action refused")

    def __init__(self, message: Message | str, problems: Sequence[object] = ()):
        super().__init__(message)
        self.problems = [str(p) for p in problems]

    def details(self) -> list[str]:
        return list(self.problems)


class PermissionDenied(LifecycleError, errors.PermissionDenied):
    """The officer lacks the role, or four-eyes forbids the action."""

    status = errors.PermissionDenied.status
    kind = errors.PermissionDenied.kind
    title = errors.PermissionDenied.title


class NotFound(LifecycleError, errors.NotFound):
    """No such document, version or user."""

    status = errors.NotFound.status
    kind = errors.NotFound.kind
    title = errors.NotFound.title


class TamperedVersion(HuiqiError):
    """Stored version texts that no longer match their hashes: changed behind the lifecycle."""

    status = 503
    kind = "integrity"
    title = Message("政策库完整性校验失败", "Library integrity check failed")

    def __init__(self, versions: Sequence[str]):
        self.versions = list(versions)
        names = ", ".join(self.versions)
        super().__init__(
            Message(
                f"以下版本的内容与其哈希不符，已拒绝加载：{names}",
                f"these versions do not match their stored hashes and were refused: {names}",
            )
        )
