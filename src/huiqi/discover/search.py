"""Policy search in Chinese: what a user types → the policies that say it, best first.

Matching
--------
Every word typed must be found (multi-word AND); a word is found when it, or a word the
synonym table (data/synonyms.yaml) gives for it, occurs in one of the policy's fields. How
"occurs" is decided depends on the word, because Chinese has no spaces:

* three characters or more: as a substring, through a trigram index (在建工程 finds only
  在建工程; 工具箱 finds 测试工具箱 whatever jieba made of it);
* a two-character dictionary word (or a Latin word): as a jieba token of the policy's text.
  Documents are cut with ``cut_for_search`` (HMM off), which emits a long word *and* the
  words inside it: 中国农业发展银行 carries 农业 and 银行, 待处理 carries 处理, 在建工程
  carries 工程. A word spanning two words of the text (工程在建设中 holds 在建 only as
  characters) is not a match;
* a single character or an unknown two-character string: as a substring (a scan).

Ranking is BM25 over the jieba tokens with field weights (documents.FIELDS: title 10 …
text 1); words found only through a synonym count half. The embedded backend is SQLite
FTS5 in memory, built from the library (10,000 policies in about a second and a half);
:mod:`huiqi.discover.pgsearch` is the same over PostgreSQL's full text.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, Protocol

from huiqi.discover import text
from huiqi.discover.documents import FIELDS, PolicyDoc, policy_doc
from huiqi.rules import Library

Sort = Literal["relevance", "published", "deadline", "amount"]
SORTS: dict[str, str] = {"relevance": "相关度", "published": "发布日期", "deadline": "截止日期", "amount": "金额"}
#: "即将截止": an application deadline within this many days.
CLOSING_SOON_DAYS = 30
#: Words found only through a synonym weigh this much of a word typed.
SYNONYM_WEIGHT = 0.5
MAX_QUERY_CHARS = 100


class SearchError(ValueError):
    """A query that cannot be searched, with a bilingual message naming the field."""

    def __init__(self, field: str, message_zh: str, message_en: str):
        self.field = field
        self.message_zh = message_zh
        self.message_en = message_en
        super().__init__(f"{field}: {message_zh} / {message_en}")


@dataclass(frozen=True)
class Term:
    """One word typed and the words it also stands for (itself first)."""

    typed: str
    alternatives: tuple[str, ...]


@dataclass(frozen=True)
class Hit:
    doc: PolicyDoc
    score: float
    deadline: dt.date | None
    found: tuple[str, ...]  # the words (typed or synonyms) found in the policy, for highlighting

    def highlight(self, field_name: str) -> list[tuple[str, bool]]:
        """The field's text cut into (piece, is a found word) for a template to mark safely."""
        return highlight(self.doc.field(field_name), self.found)

    @property
    def closing_soon(self) -> bool:
        return self.deadline is not None


@dataclass(frozen=True)
class SearchResult:
    query: str
    terms: tuple[Term, ...]
    hits: list[Hit]
    total: int
    sort: Sort
    today: dt.date
    filters: dict[str, str] = field(default_factory=dict)

    def closing_soon(self, hit: Hit) -> bool:
        return hit.deadline is not None and (hit.deadline - self.today).days <= CLOSING_SOON_DAYS


class Backend(Protocol):
    """Where the words are looked up: SQLite FTS5 (embedded) or PostgreSQL full text."""

    @property
    def docs(self) -> Sequence[PolicyDoc]: ...

    def candidates(self, terms: Sequence[Term]) -> set[int]: ...  # indexes into docs

    def scores(self, words: Sequence[str], among: set[int]) -> dict[int, float]: ...


def parse_query(query: str) -> tuple[Term, ...]:
    if len(query) > MAX_QUERY_CHARS:
        raise SearchError(
            "q", f"搜索词过长，请不超过{MAX_QUERY_CHARS}个字", f"the query is longer than {MAX_QUERY_CHARS} characters"
        )
    return tuple(Term(w, text.alternatives(w)) for w in text.query_terms(query))


def ranking_words(words: Sequence[str]) -> list[str]:
    """The jieba tokens BM25 scores a list of words by (each word's own words)."""
    out: list[str] = []
    for w in words:
        for t in text.tokens(w):
            if t not in out:
                out.append(t)
    return out


def search(
    backend: Backend,
    query: str,
    *,
    today: dt.date,
    category: str | None = None,
    region: str | None = None,
    in_force_on: dt.date | None = None,
    closing_within: int | None = None,
    sort: Sort = "relevance",
    limit: int = 50,
) -> SearchResult:
    """Policies matching every word of ``query`` and every filter, in ``sort`` order.

    An empty query lists every policy that passes the filters. ``closing_within`` keeps
    policies whose next deadline (:meth:`PolicyDoc.deadline`) is at most that many days
    away ("即将截止"). Sorting by date or amount puts unknown values last, never as 0.
    """
    if sort not in SORTS:
        raise SearchError("sort", "排序方式只能是：" + "、".join(SORTS.values()), f"sort must be one of {list(SORTS)}")
    terms = parse_query(query)
    docs = backend.docs
    chosen = backend.candidates(terms) if terms else set(range(len(docs)))
    kept = []
    for i in chosen:
        d = docs[i]
        if category is not None and d.category != category:
            continue
        if region is not None and not region.startswith(_region_prefix(d.region)):
            continue
        if in_force_on is not None and not d.in_force(in_force_on):
            continue
        deadline = d.deadline(today)
        if closing_within is not None and (deadline is None or (deadline - today).days > closing_within):
            continue
        kept.append((i, deadline))
    scores: dict[int, float] = {}
    if terms and kept:
        among = {i for i, _ in kept}
        typed = backend.scores(ranking_words([t.typed for t in terms]), among)
        synonyms = [a for t in terms for a in t.alternatives[1:]]
        extra = backend.scores(ranking_words(synonyms), among) if synonyms else {}
        for i in among:
            scores[i] = typed.get(i, 0.0) + SYNONYM_WEIGHT * extra.get(i, 0.0)
    all_words = tuple(dict.fromkeys(a for t in terms for a in t.alternatives))
    # Sort light (index, score, deadline) rows; build full hits (highlighting) for the page only.
    rows = [_Row(docs[i], scores.get(i, 0.0), deadline) for i, deadline in kept]
    rows.sort(key=_SORT_KEYS[sort])
    hits = [Hit(r.doc, r.score, r.deadline, _found(r.doc, all_words)) for r in rows[:limit]]
    filters = {
        k: str(v)
        for k, v in {
            "category": category,
            "region": region,
            "in_force_on": in_force_on,
            "closing_within": closing_within,
        }.items()
        if v is not None
    }
    return SearchResult(query, terms, hits, len(rows), sort, today, filters)


def _region_prefix(code: str) -> str:
    while code.endswith("00"):
        code = code[:-2]
    return code


@dataclass(frozen=True, slots=True)
class _Row:
    doc: PolicyDoc
    score: float
    deadline: dt.date | None


_FAR = dt.date.max
_SORT_KEYS = {
    "relevance": lambda h: (-h.score, h.doc.sample, h.doc.policy_id),
    "published": lambda h: (-h.doc.valid_from.toordinal(), -h.score, h.doc.policy_id),
    "deadline": lambda h: (h.deadline or _FAR, -h.score, h.doc.policy_id),
    "amount": lambda h: (h.doc.max_amount is None, -(h.doc.max_amount or Decimal(0)), -h.score, h.doc.policy_id),
}


def _found(doc: PolicyDoc, words: Sequence[str]) -> tuple[str, ...]:
    hay = text.normalize(" ".join(doc.field(f) for f in FIELDS))
    return tuple(w for w in words if w in hay)


def highlight(value: str, words: Sequence[str]) -> list[tuple[str, bool]]:
    """``value`` cut into pieces, the occurrences of ``words`` (case-insensitive) marked."""
    if not words or not value:
        return [(value, False)] if value else []
    pattern = re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)), re.IGNORECASE)
    out: list[tuple[str, bool]] = []
    pos = 0
    for m in pattern.finditer(value):
        if m.start() > pos:
            out.append((value[pos : m.start()], False))
        out.append((m.group(0), True))
        pos = m.end()
    if pos < len(value):
        out.append((value[pos:], False))
    return out


# --- SQLite FTS5 ------------------------------------------------------------------------------
def _quote(word: str) -> str:
    """An FTS5 string literal: the word as one phrase, never query syntax."""
    return '"' + word.replace('"', '""') + '"'


class SqliteBackend:
    """Two FTS5 tables in an in-memory SQLite database: ``words`` holds each field's jieba
    tokens separated by spaces (unicode61 splits on them), ``grams`` the whole normalised
    text under the trigram tokenizer. Row id = index into ``docs`` + 1."""

    def __init__(self, docs: Sequence[PolicyDoc]):
        self._docs = list(docs)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        columns = ", ".join(FIELDS)
        self._db.execute(f"CREATE VIRTUAL TABLE words USING fts5({columns}, tokenize='unicode61 remove_diacritics 0')")
        self._db.execute("CREATE VIRTUAL TABLE grams USING fts5(body, tokenize='trigram')")
        rows = []
        grams = []
        for i, d in enumerate(self._docs, start=1):
            rows.append((i, *(" ".join(text.tokens(d.field(f))) for f in FIELDS)))
            grams.append((i, text.normalize("\n".join(d.field(f) for f in FIELDS))))
        marks = ", ".join("?" for _ in FIELDS)
        self._db.executemany(f"INSERT INTO words(rowid, {columns}) VALUES (?, {marks})", rows)
        self._db.executemany("INSERT INTO grams(rowid, body) VALUES (?, ?)", grams)
        self._db.commit()
        self._weights = ", ".join(str(w) for w in FIELDS.values())

    @property
    def docs(self) -> Sequence[PolicyDoc]:
        return self._docs

    def _select(self, word: str) -> tuple[str, str]:
        """SQL selecting the row ids where ``word`` occurs (see the module docstring)."""
        if len(word) >= 3:
            return "SELECT rowid FROM grams WHERE grams MATCH ?", _quote(word)
        if len(word) == 2 and (text.is_word(word) or not any(text.is_cjk(c) for c in word)):
            return "SELECT rowid FROM words WHERE words MATCH ?", _quote(word)
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return "SELECT rowid FROM grams WHERE body LIKE ? ESCAPE '\\'", f"%{escaped}%"

    def candidates(self, terms: Sequence[Term]) -> set[int]:
        parts, params = [], []
        for t in terms:
            union = []
            for a in t.alternatives:
                sql, p = self._select(a)
                union.append(sql)
                params.append(p)
            parts.append("SELECT rowid FROM (" + " UNION ".join(union) + ")")
        sql = " INTERSECT ".join(parts)
        with self._lock:
            return {r[0] - 1 for r in self._db.execute(sql, params)}

    def scores(self, words: Sequence[str], among: set[int]) -> dict[int, float]:
        if not words:
            return {}
        expr = " OR ".join(_quote(w) for w in words)
        sql = f"SELECT rowid, bm25(words, {self._weights}) FROM words WHERE words MATCH ?"
        with self._lock:
            rows = self._db.execute(sql, (expr,)).fetchall()
        # bm25() is lower-is-better and negative; flip it so higher is better.
        return {r[0] - 1: -r[1] for r in rows if r[0] - 1 in among}


# --- one index per library --------------------------------------------------------------------
_INDEXES: weakref.WeakKeyDictionary[Library, SqliteBackend] = weakref.WeakKeyDictionary()
_INDEX_LOCK = threading.Lock()


def library_index(library: Library) -> SqliteBackend:
    """The search index of a library, built on first use and dropped with the library (a
    published change makes a new library, so the index follows it)."""
    with _INDEX_LOCK:
        index = _INDEXES.get(library)
        if index is None:
            index = SqliteBackend([policy_doc(p) for p in library.policies])
            _INDEXES[library] = index
        return index
