"""Where a running service gets the library it evaluates with.

A server asks its source for the current library on every request. The file-based
source never changes; the lifecycle's database source (``huiqi.library``) swaps in a
newly published library atomically, so a request sees either the old library or the
new one, never half of each.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from huiqi.rules.library import Library


class LibrarySource(Protocol):
    def current(self) -> Library:
        """The library to evaluate this request with (cheap: called per request)."""
        ...

    def library_for(self, as_of: dt.date) -> Library:
        """The library of the versions in force on ``as_of``, to reproduce a past answer."""
        ...

    def cached_for(self, as_of: dt.date) -> Library | None:
        """``library_for(as_of)`` if that needs no build and no I/O, else None (a server
        then builds it off its event loop, and may limit how many builds a client causes)."""
        ...


class StaticSource:
    """A library loaded once, e.g. from the policies/ directory."""

    def __init__(self, library: Library):
        self._library = library

    def current(self) -> Library:
        return self._library

    def library_for(self, as_of: dt.date) -> Library:
        return self._library  # one YAML library: its policies carry their own validity dates

    def cached_for(self, as_of: dt.date) -> Library | None:
        return self._library
