"""GB/T 4754-2017 国民经济行业分类, shipped as package data (data/gbt4754-2017.csv)."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CODE_PATTERN = re.compile(r"^[A-T](\d{2}(\d{1,2})?)?$")


@dataclass(frozen=True, slots=True)
class Industry:
    code: str
    level: int  # 1 门类, 2 大类, 3 中类, 4 小类
    name: str
    parent: str | None
    note: str


@cache
def industries() -> dict[str, Industry]:
    """Every code of the standard, keyed by code (``C``, ``C39``, ``C391``, ``C3911``)."""
    # Read beside this module (not through importlib.resources, whose import costs more than
    # the table: ``huiqi match`` reads it on every start); csv.reader, not DictReader, likewise.
    with (Path(__file__).parent / "data" / "gbt4754-2017.csv").open(encoding="utf-8", newline="") as f:
        rows = csv.reader(f)
        assert next(rows) == ["code", "level", "name", "parent", "note"]
        return {row[0]: Industry(row[0], int(row[1]), row[2], row[3] or None, row[4]) for row in rows}


def lookup(code: str) -> Industry | None:
    return industries().get(code.strip().upper())


def path(code: str) -> list[Industry]:
    """The code and its ancestors, section first."""
    out: list[Industry] = []
    node = lookup(code)
    while node is not None:
        out.append(node)
        node = industries().get(node.parent) if node.parent else None
    return out[::-1]


def search(query: str, limit: int = 20) -> list[Industry]:
    """Codes whose code starts with, or whose name contains, the query (小类 first for names)."""
    q = query.strip()
    if not q:
        return []
    qu = q.upper()
    by_code = [i for c, i in industries().items() if c.startswith(qu)]
    if by_code:
        return sorted(by_code, key=lambda i: (len(i.code), i.code))[:limit]
    hits = [i for i in industries().values() if q in i.name]
    # Exact names first, then names that begin with the words typed, then the rest;
    # within each, the most specific class (小类) first.
    return sorted(hits, key=lambda i: (i.name != q, not i.name.startswith(q), -i.level, i.code))[:limit]
