"""One search index per library: SQLite FTS5 in memory, or PostgreSQL's full text when the
platform's store is PostgreSQL; built on first use, dropped with the library (a published
change makes a new library, so the index follows it)."""

from __future__ import annotations

import threading
import weakref

from sqlalchemy import Engine

from huiqi.discover.documents import PolicyDoc, policy_doc
from huiqi.discover.pgsearch import PgBackend
from huiqi.discover.search import Backend, SqliteBackend
from huiqi.rules import Library

_INDEXES: weakref.WeakKeyDictionary[Library, dict[str, Backend]] = weakref.WeakKeyDictionary()
_DOCS: weakref.WeakKeyDictionary[Library, dict[str, PolicyDoc]] = weakref.WeakKeyDictionary()
_INDEX_LOCK = threading.Lock()


def library_docs(library: Library) -> dict[str, PolicyDoc]:
    """Policy id → the policy as search and recommendation see it, once per library."""
    with _INDEX_LOCK:
        docs = _DOCS.get(library)
        if docs is None:
            docs = {p.id: policy_doc(p, library) for p in library.policies}
            _DOCS[library] = docs
        return docs


def library_index(library: Library, engine: Engine | None = None) -> Backend:
    """The search index of a library: on a platform whose store is PostgreSQL (``engine``),
    PostgreSQL's full text (:mod:`huiqi.discover.pgsearch`); otherwise SQLite FTS5 in memory."""
    docs = list(library_docs(library).values())
    postgres = engine is not None and engine.dialect.name == "postgresql"
    key = engine.url.render_as_string() if engine is not None and postgres else "sqlite"
    with _INDEX_LOCK:
        indexes = _INDEXES.setdefault(library, {})
        index = indexes.get(key)
        if index is None:
            index = PgBackend(engine, docs) if engine is not None and postgres else SqliteBackend(docs)
            indexes[key] = index
        return index
