"""The policy lifecycle: versions, effective dates, publishing without restart, impact
analysis, subscriptions and notifications, officers and the audit trail."""

from huiqi.library.errors import LifecycleError, NotFound, PermissionDenied, TamperedVersion
from huiqi.library.source import DbLibrarySource
from huiqi.library.versions import BEGINNING, Lifecycle

__all__ = [
    "BEGINNING",
    "DbLibrarySource",
    "Lifecycle",
    "LifecycleError",
    "NotFound",
    "PermissionDenied",
    "TamperedVersion",
]
