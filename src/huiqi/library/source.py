"""A LibrarySource backed by the database: newly published versions go live without restart.

``current()`` is called on every request. At most every ``poll_interval`` seconds (0.2 by
default) it reads one integer, ``library_state.generation``, which every publish and
withdrawal bumps in its own transaction. When the number (or the date) changed, the new
library is built completely off to the side and then swapped in with one reference
assignment, so a request sees the old library or the new one, never half of each.
While one thread rebuilds, the others go on serving the old library without waiting.

Each worker process has its own source; they all watch the same counter, so every worker
serves a publication within ``poll_interval`` plus one library build (~0.3 s).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from huiqi.clock import Clock, from_env
from huiqi.library.versions import contents, in_force
from huiqi.rules import Library, load_library
from huiqi.store.db import generation, make_engine, read_session
from huiqi.store.migrate import upgrade

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Live:
    generation: int
    day: dt.date
    key: tuple[int, ...]  # the version ids it was built from
    library: Library


class DbLibrarySource:
    """``LibrarySource`` over the lifecycle database (see the module docstring)."""

    def __init__(
        self,
        url: str | Engine | None = None,
        *,
        poll_interval: float = 0.2,
        migrate: bool = True,
        cache_size: int = 8,
        clock: Clock | None = None,
    ):
        self.engine = url if isinstance(url, Engine) else make_engine(url)
        if migrate:
            upgrade(self.engine)
        self.poll_interval = poll_interval
        self.clock: Clock = clock or from_env()
        self._live: _Live | None = None
        self._checked = float("-inf")
        self._refresh = threading.Lock()
        self._cache: OrderedDict[tuple[int, ...], Library] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._cache_size = cache_size

    # --- LibrarySource ------------------------------------------------------------------
    def current(self) -> Library:
        live = self._live
        if live is not None and time.monotonic() - self._checked < self.poll_interval:
            return live.library
        # One thread checks (and, if needed, rebuilds); the others keep the old library.
        if not self._refresh.acquire(blocking=live is None):
            assert live is not None
            return live.library
        try:
            live = self._live
            if live is None or time.monotonic() - self._checked >= self.poll_interval:
                self._poll()
        finally:
            self._refresh.release()
        live = self._live
        assert live is not None
        return live.library

    def _poll(self) -> None:
        live = self._live
        try:
            gen = generation(self.engine)
            today = self.clock.today()
            if live is None or gen != live.generation or today != live.day:
                key, library = self._build(today, None)
                self._live = _Live(gen, today, key, library)  # the atomic swap
                if live is not None:
                    log.info("library generation %s → %s (%d policies)", live.generation, gen, len(library.policies))
        except Exception:
            if live is None:
                raise
            log.exception("could not refresh the policy library; still serving generation %s", live.generation)
        self._checked = time.monotonic()

    @property
    def generation(self) -> int | None:
        return self._live.generation if self._live else None

    # --- any date ---------------------------------------------------------------------
    def library_for(self, as_of: dt.date, known_at: dt.datetime | None = None) -> Library:
        """The library of the versions in force on ``as_of`` (as known at ``known_at``),
        to reproduce any past result. Libraries are cached by the versions they contain."""
        return self._build(as_of, known_at)[1]

    def _build(self, as_of: dt.date, known_at: dt.datetime | None) -> tuple[tuple[int, ...], Library]:
        with read_session(self.engine) as s:
            refs = in_force(s, as_of, known_at)
            key = tuple(sorted(r.version_id for r in refs))
            with self._cache_lock:
                cached = self._cache.get(key)
                if cached is not None:
                    self._cache.move_to_end(key)
                    return key, cached
            texts = contents(s, key)
        library = load_library(Path("<db>"), files={r.path: texts[r.version_id] for r in refs})
        with self._cache_lock:
            self._cache[key] = library
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return key, library
