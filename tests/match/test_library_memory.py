"""Caches live and die with the Library: a long-running server rebuilds the library on
every publish, so fifty rebuilds must not leave fifty libraries' worth of caches behind."""

from __future__ import annotations

import datetime as dt
import gc
import json
import tracemalloc
import weakref
from pathlib import Path

from huiqi.match import engine, explain
from huiqi.match.engine import answer
from huiqi.rules import load_library

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AS_OF = dt.date(2026, 6, 30)


def test_memory_is_flat_over_fifty_library_loads() -> None:
    profiles = [json.loads(p.read_text("utf-8")) for p in sorted(EXAMPLES.glob("*.json"))]
    assert profiles

    def load_and_answer() -> weakref.ref[object]:
        library = load_library()
        for profile in profiles:  # fills the explanation and static-part caches
            assert answer(profile, AS_OF, library)["results"]
        return weakref.ref(library)

    load_and_answer()  # first use fills process-wide, library-independent caches
    gc.collect()
    caches = (explain._PLANS, engine._WORDING)
    before = [len(c) for c in caches]  # other tests' libraries may still be alive
    tracemalloc.start()
    try:
        refs = [load_and_answer() for _ in range(10)]
        gc.collect()
        after_10 = tracemalloc.get_traced_memory()[0]
        refs += [load_and_answer() for _ in range(40)]
        gc.collect()
        after_50 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert all(ref() is None for ref in refs), "a library outlived its last user"
    assert [len(c) for c in caches] == before
    # 40 more loads may leave a little (interned strings, sqlglot's caches), not a library's worth.
    one_library = after_10 / 10
    assert after_50 - after_10 < 256 * 1024, (after_10, after_50, one_library)
