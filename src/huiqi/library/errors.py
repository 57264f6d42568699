"""The one error the lifecycle raises: a refusal with every reason listed."""

from __future__ import annotations

from collections.abc import Sequence


class LifecycleError(Exception):
    """An action was refused; ``problems`` lists each reason (Chinese / English)."""

    def __init__(self, message: str, problems: Sequence[str] = ()):
        self.message = message
        self.problems = list(problems)
        super().__init__("\n".join([message, *(f"  · {p}" for p in self.problems)]))


class PermissionDenied(LifecycleError):
    """The officer lacks the role, or four-eyes forbids the action."""


class NotFound(LifecycleError):
    pass
