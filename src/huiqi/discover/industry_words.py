"""The GB/T 4754-2017 picker in the words people use: 饭馆, 奶茶店, 小卖部, 搞软件 …

Three sources, in this order, each result saying why it is offered:

1. the everyday-words table (data/industry_words.yaml), reviewed against the 2017
   classification: a word maps to codes with the usual choice first (饭店 → 正餐服务, and
   only later the 旅游饭店 of 住宿业);
2. the standard's names (code prefix, exact name, names containing the words);
3. the standard's explanatory notes (说明), which list examples the names do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from huiqi.discover.text import normalize
from huiqi.profile import industry as gbt4754


@dataclass(frozen=True)
class Entry:
    words: tuple[str, ...]
    codes: tuple[str, ...]
    why: str


@dataclass(frozen=True)
class IndustryChoice:
    code: str
    name: str
    level: int
    path: tuple[str, ...]  # names from the section down
    why: str  # one line: why this code is offered for what was typed


@cache
def entries() -> tuple[Entry, ...]:
    text = resources.files("huiqi.discover").joinpath("data/industry_words.yaml").read_text("utf-8")
    return tuple(
        Entry(tuple(normalize(w) for w in e["words"]), tuple(e["codes"]), e["why"].strip())
        for e in yaml.safe_load(text)["entries"]
    )


def _entry_rank(entry: Entry, q: str) -> tuple[int, int] | None:
    """How well an entry fits the query: the word itself, a word inside what was typed
    (我开了家火锅店), or what was typed inside a word (奶茶 in 奶茶店); None: not at all."""
    best: tuple[int, int] | None = None
    for w in entry.words:
        if w == q:
            rank = (0, 0)
        elif w in q:
            rank = (1, -len(w))
        elif len(q) >= 2 and q in w:
            rank = (2, len(w))
        else:
            continue
        best = rank if best is None or rank < best else best
    return best


def _choice(code: str, why: str) -> IndustryChoice | None:
    node = gbt4754.lookup(code)
    if node is None:
        return None
    return IndustryChoice(node.code, node.name, node.level, tuple(p.name for p in gbt4754.path(code)), why)


def suggest(query: str, limit: int = 20) -> list[IndustryChoice]:
    """Industry codes for what was typed, the likeliest first, each with its reason."""
    q = normalize(query.strip())
    if not q:
        return []
    out: dict[str, IndustryChoice] = {}

    def add(code: str, why: str) -> None:
        if code not in out:
            choice = _choice(code, why)
            if choice is not None:
                out[code] = choice

    if gbt4754.CODE_PATTERN.match(q.upper()) or (q[:1].isascii() and q[:1].isalpha() and q[1:].isdigit()):
        for node in gbt4754.search(q.upper(), limit):
            add(node.code, f"代码以 {q.upper()} 开头")
        return list(out.values())[:limit]

    ranked = sorted(
        ((rank, i, e) for i, e in enumerate(entries()) if (rank := _entry_rank(e, q)) is not None),
        key=lambda t: (t[0], t[1]),
    )
    for _, _, entry in ranked:
        for code in entry.codes:
            add(code, entry.why)
    for node in gbt4754.search(q, limit):
        add(node.code, "行业名称就是“" + node.name + "”" if node.name == q else f"行业名称含“{q}”")
    if len(out) < limit:
        in_notes = [i for i in gbt4754.industries().values() if q in i.note]
        for node in sorted(in_notes, key=lambda i: (-i.level, i.code)):
            add(node.code, f"分类说明中提到“{q}”：{node.note[:60]}")
    return list(out.values())[:limit]


def resolve(query: str) -> IndustryChoice | None:
    """The one code an everyday word stands for when there is a usual choice, else None."""
    hits = suggest(query, 1)
    return hits[0] if hits else None
