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
* a single character or an unknown two-character string: as a substring, through an
  index of single characters (a phrase of one or two characters).

Ranking is BM25 over the jieba tokens with field weights (documents.FIELDS: title 10 …
text 1); words found only through a synonym count half. Matching, filters, the sort and
the page's LIMIT all run in the database (one SQL statement, :func:`page_sql`); only the
returned page is turned into hits with highlighted words. The embedded backend is SQLite
FTS5 in memory, built from the library; :mod:`huiqi.discover.pgsearch` is the same over
PostgreSQL's full text.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import sqlite3
import threading
import unicodedata
import weakref
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal, Protocol

from huiqi.discover import text
from huiqi.discover.catalog import region_prefix
from huiqi.discover.documents import FIELD_LABELS, FIELDS, PolicyDoc

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

    def snippet(self, width: int = 24) -> tuple[str, list[tuple[str, bool]]] | None:
        """Where a found word is when the title and summary do not show it: the field's label
        (条件, 申报, 正文) and an excerpt around the first such word, marked. None when the
        title or summary already shows every found word."""
        shown = text.normalize(self.doc.title + self.doc.summary)
        hidden = [w for w in self.found if w not in shown]
        if not hidden:
            return None
        for name in ("conditions", "apply", "text"):
            value = self.doc.field(name)
            norm = text.normalize(value)
            places = [norm.find(w) for w in hidden if w in norm]
            if not places or len(norm) != len(value):  # offsets of the normalised text are the text's
                continue
            at = min(places)
            start, end = max(at - width, 0), min(at + 2 * width, len(value))
            excerpt = ("…" if start else "") + value[start:end].replace("\n", " ") + ("…" if end < len(value) else "")
            return FIELD_LABELS[name], highlight(excerpt, self.found)
        return None


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


@dataclass(frozen=True)
class Query:
    """One search as a backend runs it: what must be found, what ranks, the filters, the
    order and the page. Dates are compared as ordinals (the same on every backend)."""

    terms: tuple[Term, ...]
    category: str | None
    region: str | None
    in_force_on: dt.date | None
    deadline_by: dt.date | None  # 即将截止: a next deadline on or before this day
    rows: tuple[int, ...] | None  # only these rows (ids of docs: index + 1), e.g. what could apply
    sort: Sort
    today: dt.date
    limit: int


class Backend(Protocol):
    """Where the words are looked up and the page is ranked: SQLite FTS5 (embedded) or
    PostgreSQL full text (:mod:`huiqi.discover.pgsearch`)."""

    @property
    def docs(self) -> Sequence[PolicyDoc]: ...

    def page(self, query: Query) -> tuple[list[tuple[int, float]], int]:
        """(index into docs, score) of the page in order, and how many policies matched."""
        ...


def parse_query(query: str) -> tuple[Term, ...]:
    if len(query) > MAX_QUERY_CHARS:
        raise SearchError(
            "q", f"搜索词过长，请不超过{MAX_QUERY_CHARS}个字", f"the query is longer than {MAX_QUERY_CHARS} characters"
        )
    # A control character is never typed: it comes from a crafted link, and NUL ends an FTS5
    # string early (SQLite: "unterminated string") and is refused by PostgreSQL's text.
    if any(unicodedata.category(c) == "Cc" and not c.isspace() for c in query):
        raise SearchError("q", "搜索词含有不可见的控制字符", "the query contains control characters")
    return tuple(Term(w, text.alternatives(w)) for w in text.query_terms(query))


def ranking_words(term: Term) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The jieba tokens BM25 scores a term by: the typed word's own tokens (full weight) and
    its synonyms' (SYNONYM_WEIGHT). A synonym that is a dictionary word (the synonym table's
    words are added to jieba's) counts as itself only — 城市维护建设税 for 六税两费, not 城市,
    建设 and 使用, which would rank any policy that mentions a city. A query's score is the
    sum of its terms' scores."""
    typed = tuple(dict.fromkeys(text.tokens(term.typed)))
    synonyms = (t for w in term.alternatives[1:] for t in ((w,) if text.is_word(w) else text.tokens(w)))
    return typed, tuple(dict.fromkeys(t for t in synonyms if t not in typed))


def search(
    backend: Backend,
    query: str,
    *,
    today: dt.date,
    category: str | None = None,
    region: str | None = None,
    in_force_on: dt.date | None = None,
    closing_within: int | None = None,
    only: Collection[str] | None = None,
    sort: Sort = "relevance",
    limit: int = 50,
) -> SearchResult:
    """Policies matching every word of ``query`` and every filter, in ``sort`` order.

    An empty query lists every policy that passes the filters. ``closing_within`` keeps
    policies whose next deadline (:meth:`PolicyDoc.deadline`) is at most that many days
    away ("即将截止"); ``only`` keeps the policies of these ids (the catalogue's "could apply
    to this region and industry", :func:`huiqi.discover.catalog.could_apply`). Sorting by
    date or amount puts unknown values last, never as 0.
    Matching, filtering, ranking and the page's limit run in the backend; hits (with the
    words to highlight) are built for the returned page only.
    """
    if sort not in SORTS:
        raise SearchError("sort", "排序方式只能是：" + "、".join(SORTS.values()), f"sort must be one of {list(SORTS)}")
    terms = parse_query(query)
    plan = Query(
        terms=terms,
        category=category,
        region=region,
        in_force_on=in_force_on,
        deadline_by=today + dt.timedelta(days=closing_within) if closing_within is not None else None,
        rows=None if only is None else tuple(sorted(r for r in map(_rows_of(backend).get, only) if r is not None)),
        sort=sort,
        today=today,
        limit=limit,
    )
    rows, total = backend.page(plan)
    docs = backend.docs
    all_words = tuple(dict.fromkeys(a for t in terms for a in t.alternatives))
    hits = [Hit(docs[i], score, docs[i].deadline(today), _found(docs[i], all_words)) for i, score in rows]
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
    return SearchResult(query, terms, hits, total, sort, today, filters)


@lru_cache(maxsize=4096)
def haystack(doc: PolicyDoc) -> str:
    """A policy's searchable text, normalised (what the trigram and character indexes hold)."""
    return text.normalize("\n".join(doc.field(f) for f in FIELDS))


_ROWS: weakref.WeakKeyDictionary[Backend, dict[str, int]] = weakref.WeakKeyDictionary()


def _rows_of(backend: Backend) -> dict[str, int]:
    """Policy id → row id (index into docs + 1) of a backend, worked out once."""
    rows = _ROWS.get(backend)
    if rows is None:
        rows = {d.policy_id: i for i, d in enumerate(backend.docs, start=1)}
        _ROWS[backend] = rows
    return rows


def _found(doc: PolicyDoc, words: Sequence[str]) -> tuple[str, ...]:
    hay = haystack(doc)
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


# --- the SQL both backends share: a table ``docs`` and three match subqueries --------------------
#: ORDER BY per sort; unknown dates and amounts last, never as 0; ``ord`` is the policy id's
#: rank in Python's order, so that ties break the same way on every backend.
ORDER_BY: dict[str, str] = {
    "relevance": "score DESC, d.sample, d.ord",
    "published": "d.valid_from DESC, score DESC, d.ord",
    "deadline": "d.deadline IS NULL, d.deadline, score DESC, d.ord",
    "amount": "d.amount IS NULL, d.amount DESC, score DESC, d.ord",
}


@dataclass(frozen=True)
class DocRow:
    """A policy's row in the ``docs`` table: what filters and sorts read."""

    id: int  # index into docs + 1
    ord: int
    category: str
    region_prefix: str
    valid_from: int  # ordinal
    valid_to: int | None
    amount: int | None  # max_amount in fen (分): exact, sortable
    sample: bool


def doc_rows(docs: Sequence[PolicyDoc]) -> list[DocRow]:
    order = {pid: n for n, pid in enumerate(sorted(d.policy_id for d in docs))}
    return [
        DocRow(
            id=i,
            ord=order[d.policy_id],
            category=d.category,
            region_prefix=region_prefix(d.region),
            valid_from=d.valid_from.toordinal(),
            valid_to=d.valid_to.toordinal() if d.valid_to else None,
            amount=int(d.max_amount * 100) if d.max_amount is not None else None,
            sample=d.sample,
        )
        for i, d in enumerate(docs, start=1)
    ]


def page_sql(
    query: Query, driver: str | None, found: Sequence[str], scores: Sequence[str]
) -> tuple[str, str, dict[str, object]]:
    """The page query over ``docs d`` and the query counting every match. ``driver`` selects
    ``id, s`` of the policies the first word is found in (the rows to start from; ``s`` its
    score or NULL), ``found`` are conditions on ``d`` for the other words, ``scores`` their
    score expressions on the row ``d`` (BM25, higher is better). Parameters are named
    (``:name``), which sqlite3 and SQLAlchemy both take. The count is its own query:
    ``count(*) OVER ()`` on the page query costs ten times more (it keeps every row, not the
    page's)."""
    params: dict[str, object] = {"limit": query.limit}
    where = list(found)
    join = f"JOIN ({driver}) m ON m.id = d.id" if driver is not None else ""
    score = " + ".join(f"coalesce({x}, 0.0)" for x in (["m.s"] if driver else []) + list(scores)) or "0.0"
    if query.category is not None:
        where.append("d.category = :category")
        params["category"] = query.category
    if query.region is not None:
        where.append("substr(:region, 1, length(d.region_prefix)) = d.region_prefix")
        params["region"] = query.region
    if query.in_force_on is not None:
        where.append("d.valid_from <= :in_force_on AND (d.valid_to IS NULL OR d.valid_to >= :in_force_on)")
        params["in_force_on"] = query.in_force_on.toordinal()
    if query.deadline_by is not None:
        where.append("d.deadline <= :deadline_by")
        params["deadline_by"] = query.deadline_by.toordinal()
    if query.rows is not None:
        where.append(f"d.id IN ({_marks('row', query.rows, params)})" if query.rows else "0 = 1")
    rows = f"FROM docs d {join}" + (f" WHERE {' AND '.join(where)}" if where else "")
    page = f"SELECT d.id, {score} AS score {rows} ORDER BY {ORDER_BY[query.sort]} LIMIT :limit"
    return page, f"SELECT count(*) {rows}", params


def needs_deadlines(query: Query) -> bool:
    return query.deadline_by is not None or query.sort == "deadline"


def deadlines(docs: Sequence[PolicyDoc], today: dt.date) -> list[tuple[int | None, int]]:
    """(next deadline as an ordinal, id) per policy on ``today``, for the ``docs.deadline`` column."""
    out = []
    for i, d in enumerate(docs, start=1):
        when = d.deadline(today)
        out.append((when.toordinal() if when else None, i))
    return out


# --- SQLite FTS5 ------------------------------------------------------------------------------
def _quote(word: str) -> str:
    """An FTS5 string literal: the word as one phrase, never query syntax."""
    return '"' + word.replace('"', '""') + '"'


#: Characters unicode61 would drop (spaces, punctuation, symbols) become a private-use
#: character of their own, so that the ``chars`` table keeps every character as a token.
_PRIVATE = 0xF0000
_TOKEN_CATEGORIES = ("L", "N")


def _char_token(c: str) -> str:
    if unicodedata.category(c)[0] in _TOKEN_CATEGORIES:
        return c
    if c.isspace():
        c = " "
    return chr(_PRIVATE + ord(c)) if ord(c) < 0xFFFE else chr(0x100000)


def char_tokens(value: str) -> str:
    """Normalised text one character per token: a phrase of them is an exact substring."""
    return " ".join(_char_token(c) for c in value)


#: FTS5's bm25() constants (fts5_aux.c), so that the scores below are the ones it computes.
BM25_K1 = 1.2
BM25_B = 0.75


def bm25_impacts(docs: Sequence[PolicyDoc]) -> Iterator[tuple[str, int, float]]:
    """(jieba token, row id, score) for every token of every policy: what FTS5's
    ``bm25(words, *FIELDS weights)`` gives a one-token query, precomputed.

    BM25 is a sum over the query's words, so the score of a query is the sum of its words'
    rows here — the same number FTS5 computes, without reading every matching row's
    position lists at query time (31 ms for a word found in 10,000 policies). The library
    behind an index never changes (a publication makes a new library and a new index), so
    the corpus statistics (document count, lengths, document frequencies) are fixed.
    """
    freqs: list[dict[str, float]] = []
    sizes: list[int] = []
    df: dict[str, int] = {}
    for d in docs:
        tf: dict[str, float] = {}
        size = 0
        for name, weight in FIELDS.items():
            for t in text.tokens(d.field(name)):
                tf[t] = tf.get(t, 0.0) + weight
                size += 1
        freqs.append(tf)
        sizes.append(size)
        for t in tf:
            df[t] = df.get(t, 0) + 1
    n = len(docs)
    avgdl = (sum(sizes) / n) if n else 1.0
    idf = {t: max(math.log((n - k + 0.5) / (k + 0.5)), 1e-6) for t, k in df.items()}
    for i, (tf, size) in enumerate(zip(freqs, sizes, strict=True), start=1):
        norm = BM25_K1 * (1 - BM25_B + BM25_B * size / (avgdl or 1.0))
        for t, f in tf.items():
            yield t, i, idf[t] * f * (BM25_K1 + 1) / (f + norm)


@dataclass(frozen=True)
class TermSql:
    """How one term is found and scored in SQL: ``select`` gives ``id, s`` of the policies it
    is found in (``s`` its score when ``carried``, else NULL), ``found`` is the same as a
    condition on the row ``d``, ``score`` the term's score on ``d``."""

    select: str
    found: str
    score: str
    carried: bool


class SqliteBackend:
    """An in-memory SQLite database. Tables: ``docs`` (what filters and sorts read);
    ``words`` (each policy's jieba tokens with their BM25 share, :func:`bm25_impacts`);
    ``terms`` (each word of the synonym table with the policies it or a synonym is found in
    and its score there, worked out once here: a search for 高企 or 六税两费 is one lookup);
    two contentless FTS5 tables over the normalised text — ``grams`` (trigrams: substrings of
    three or more characters) and ``chars`` (one character per token: a phrase is a
    substring of one or two characters, found through the index instead of a scan). Row id
    = index into ``docs`` + 1."""

    def __init__(self, docs: Sequence[PolicyDoc]):
        self._docs = list(docs)
        self._lock = threading.Lock()
        self._day: dt.date | None = None  # the day docs.deadline was computed for
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.executescript(
            """
            CREATE TABLE docs (id INTEGER PRIMARY KEY, ord INTEGER NOT NULL, category TEXT NOT NULL,
                region_prefix TEXT NOT NULL, valid_from INTEGER NOT NULL, valid_to INTEGER, amount INTEGER,
                sample INTEGER NOT NULL, deadline INTEGER);
            CREATE TABLE words (token TEXT NOT NULL, id INTEGER NOT NULL, s REAL NOT NULL,
                PRIMARY KEY (token, id)) WITHOUT ROWID;
            CREATE TABLE terms (word TEXT NOT NULL, id INTEGER NOT NULL, s REAL NOT NULL,
                PRIMARY KEY (word, id)) WITHOUT ROWID;
            CREATE VIRTUAL TABLE grams USING fts5(body, content='', tokenize='trigram');
            CREATE VIRTUAL TABLE chars USING fts5(body, content='', tokenize='unicode61 remove_diacritics 0');
            """
        )
        self._db.executemany(
            "INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            [
                (r.id, r.ord, r.category, r.region_prefix, r.valid_from, r.valid_to, r.amount, int(r.sample))
                for r in doc_rows(self._docs)
            ],
        )
        self._db.executemany("INSERT INTO words VALUES (?, ?, ?)", bm25_impacts(self._docs))
        self._db.executemany(
            "INSERT INTO grams(rowid, body) VALUES (?, ?)",
            ((i, haystack(d)) for i, d in enumerate(self._docs, start=1)),
        )
        self._db.executemany(
            "INSERT INTO chars(rowid, body) VALUES (?, ?)",
            ((i, char_tokens(haystack(d))) for i, d in enumerate(self._docs, start=1)),
        )
        self._terms: frozenset[str] = frozenset()
        for word in sorted(text.synonym_words()):
            params: dict[str, object] = {"word": word}
            term = self._term_sql(Term(word, text.alternatives(word)), "t", params)
            self._db.execute(
                f"INSERT INTO terms SELECT :word, d.id, coalesce({term.score}, 0.0) FROM docs d "
                f"JOIN ({term.select}) m ON m.id = d.id",
                params,
            )
        self._terms = frozenset(text.synonym_words())
        self._db.commit()

    @property
    def docs(self) -> Sequence[PolicyDoc]:
        return self._docs

    @staticmethod
    def _found_in(word: str) -> str:
        """Which table finds ``word`` (see the module docstring)."""
        if len(word) >= 3:
            return "grams"
        if len(word) == 2 and (text.is_word(word) or not any(text.is_cjk(c) for c in word)):
            return "words"
        return "chars"

    def _term_sql(self, term: Term, name: str, params: dict[str, object]) -> TermSql:
        """Where ``term`` (or one of its alternatives) is found, and its score: one lookup in
        ``terms`` for a word of the synonym table; else one per table, with the score from
        ``words`` (carried by the lookup when the term is one token found as that token)."""
        typed, synonyms = ranking_words(term)
        one_token = len(term.alternatives) == 1 and self._found_in(term.typed) == "words" and typed == (term.typed,)
        if term.typed in self._terms or one_token:
            params[name] = term.typed
            lookup = "FROM terms WHERE word" if term.typed in self._terms else "FROM words WHERE token"
            lookup += f" = :{name}"
            return TermSql(
                f"SELECT id, s {lookup}",
                f"EXISTS (SELECT 1 {lookup} AND id = d.id)",
                f"(SELECT s {lookup} AND id = d.id)",
                carried=True,
            )
        by_table: dict[str, list[str]] = {}
        for a in term.alternatives:
            by_table.setdefault(self._found_in(a), []).append(a)
        selects, conditions = [], []
        for table, words in by_table.items():
            key = f"{name}{table}"
            if table == "words":
                lookup = f"FROM words WHERE token IN ({_marks(key, words, params)})"
                selects.append(f"SELECT {'DISTINCT ' if len(words) > 1 else ''}id {lookup}")
                conditions.append(f"EXISTS (SELECT 1 {lookup} AND id = d.id)")
                continue
            params[key] = " OR ".join(_quote(w if table == "grams" else char_tokens(w)) for w in words)
            select = f"SELECT rowid AS id FROM {table} WHERE {table} MATCH :{key}"
            selects.append(select)
            conditions.append(f"d.id IN ({select})")
        scores = [
            f"{weight} * (SELECT sum(w.s) FROM words w WHERE w.token IN ({_marks(name + kind, tokens, params)}) "
            "AND w.id = d.id)"
            for kind, tokens, weight in (("typed", typed, 1.0), ("synonyms", synonyms, SYNONYM_WEIGHT))
            if tokens
        ]
        return TermSql(
            f"SELECT id, NULL AS s FROM ({' UNION '.join(selects)})",
            conditions[0] if len(conditions) == 1 else "(" + " OR ".join(conditions) + ")",
            " + ".join(f"coalesce({x}, 0.0)" for x in scores) or "0.0",
            carried=False,
        )

    def page(self, query: Query) -> tuple[list[tuple[int, float]], int]:
        params: dict[str, object] = {}
        plans = [self._term_sql(t, f"t{n}", params) for n, t in enumerate(query.terms)]
        # Start from a term whose lookup carries its score (m.s), else from the first.
        first = next((p for p in plans if p.carried), plans[0]) if plans else None
        found = [p.found for p in plans if p is not first]
        scores = [p.score for p in plans if p is not first or not p.carried]
        page, count, more = page_sql(query, first.select if first else None, found, scores)
        params |= more
        with self._lock:
            if needs_deadlines(query) and self._day != query.today:
                self._db.executemany("UPDATE docs SET deadline = ? WHERE id = ?", deadlines(self._docs, query.today))
                self._day = query.today
            rows = self._db.execute(page, params).fetchall()
            total = self._db.execute(count, params).fetchone()[0] if len(rows) == query.limit else len(rows)
        return [(r[0] - 1, r[1]) for r in rows], total


def _marks(name: str, values: Sequence[object], params: dict[str, object]) -> str:
    """Named parameters ``:name0, :name1 …`` for an IN list, added to ``params``."""
    for n, v in enumerate(values):
        params[f"{name}{n}"] = v
    return ", ".join(f":{name}{n}" for n in range(len(values)))
