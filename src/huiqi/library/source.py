"""A LibrarySource backed by the database: newly published versions go live without restart.

``current()`` is called on every request. At most every ``poll_interval`` seconds (0.2 by
default) it reads one integer, ``library_state.generation``, which every publish and
withdrawal bumps in its own transaction. When the number (or the date) changed, it reads
the index of published versions (one small query) and builds the new library completely
off to the side, then swaps it in with one reference assignment, so a request sees the old
library or the new one, never half of each. While one thread rebuilds, the others go on
serving the old library without waiting.

Any other date (``library_for``) is answered from that in-memory index: which versions are
in force on the date is computed without a query, and libraries are cached by that set of
versions, so every date with the same versions shares one library. Only a set of versions
not seen lately costs a build (texts read and checked against their hashes, then
compiled, ~0.2 s); :meth:`cached_for` lets a server find out, without any I/O, whether a
date would cost one — to do the build off its event loop and to bound how many one
client may cause.

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

from sqlalchemy import Engine

from huiqi.clock import Clock, from_env
from huiqi.library.checks import DB_ROOT
from huiqi.library.versions import Published, contents, select_in_force, version_index
from huiqi.rules import Library, load_library
from huiqi.store.db import generation, make_engine, read_session
from huiqi.store.migrate import upgrade

log = logging.getLogger(__name__)

#: A set of versions in force: the version ids, sorted.
Key = tuple[int, ...]


@dataclass(frozen=True)
class _Index:
    """Every published version as of one generation, and the dates already looked up."""

    generation: int
    rows: tuple[Published, ...]
    keys: dict[tuple[dt.date, dt.datetime | None], Key]

    MAX_DATES = 4096

    def key(self, as_of: dt.date, known_at: dt.datetime | None) -> Key:
        found = self.keys.get((as_of, known_at))
        if found is None:
            found = tuple(sorted(r.version_id for r in select_in_force(self.rows, as_of, known_at)))
            if len(self.keys) >= self.MAX_DATES:
                self.keys.clear()
            self.keys[(as_of, known_at)] = found
        return found

    def paths(self, key: Key) -> dict[int, str]:
        wanted = set(key)
        return {r.version_id: r.path for r in self.rows if r.version_id in wanted}


@dataclass(frozen=True)
class _Live:
    generation: int
    day: dt.date
    key: Key
    library: Library


class DbLibrarySource:
    """``LibrarySource`` over the lifecycle database (see the module docstring)."""

    def __init__(
        self,
        url: str | Engine | None = None,
        *,
        poll_interval: float = 0.2,
        migrate: bool = True,
        cache_size: int = 32,
        clock: Clock | None = None,
    ):
        self.engine = url if isinstance(url, Engine) else make_engine(url)
        if migrate:
            upgrade(self.engine)
        self.poll_interval = poll_interval
        self.clock: Clock = clock or from_env()
        self._live: _Live | None = None
        self._index: _Index | None = None
        self._checked = float("-inf")
        self._refresh = threading.Lock()
        self._cache: OrderedDict[Key, Library] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._build_lock = threading.Lock()
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
                index = self._load_index(gen)
                key = index.key(today, None)
                library = self._library(index, key)
                self._live = _Live(gen, today, key, library)  # the atomic swap
                if live is not None:
                    log.info("library generation %s → %s (%d policies)", live.generation, gen, len(library.policies))
        except Exception:
            if live is None:
                raise
            log.exception("could not refresh the policy library; still serving generation %s", live.generation)
        self._checked = time.monotonic()

    def _load_index(self, gen: int) -> _Index:
        index = self._index
        if index is None or index.generation != gen:
            with read_session(self.engine) as s:
                index = _Index(gen, tuple(version_index(s)), {})
            self._index = index
        return index

    @property
    def generation(self) -> int | None:
        return self._live.generation if self._live else None

    # --- any date ---------------------------------------------------------------------
    def cached_for(self, as_of: dt.date, known_at: dt.datetime | None = None) -> Library | None:
        """The library for ``as_of`` if it is already built, else None. No I/O beyond the
        generation poll of :meth:`current`: safe to call on an event loop."""
        self.current()
        index = self._index
        if index is None:
            return None
        key = index.key(as_of, known_at)
        with self._cache_lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
            return found

    def library_for(self, as_of: dt.date, known_at: dt.datetime | None = None) -> Library:
        """The library of the versions in force on ``as_of`` (as known at ``known_at``),
        to reproduce any past result. Libraries are cached by the versions they contain."""
        found = self.cached_for(as_of, known_at)
        if found is not None:
            return found
        index = self._index
        assert index is not None
        return self._library(index, index.key(as_of, known_at))

    def _library(self, index: _Index, key: Key) -> Library:
        with self._cache_lock:
            found = self._cache.get(key)
        if found is not None:
            return found
        with self._build_lock:  # one build at a time; a second asker of the same key waits for it
            with self._cache_lock:
                found = self._cache.get(key)
            if found is not None:
                return found
            with read_session(self.engine) as s:
                texts = contents(s, key)  # checked against their hashes
            paths = index.paths(key)
            library = load_library(DB_ROOT, files={paths[vid]: texts[vid] for vid in key})
            with self._cache_lock:
                self._cache[key] = library
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            return library
