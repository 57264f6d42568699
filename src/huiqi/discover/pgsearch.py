"""Policy search over PostgreSQL's full text, for a platform that runs on PostgreSQL.

The same matching rules and the same SQL (:func:`huiqi.discover.search.page_sql`) as the
embedded SQLite backend, with PostgreSQL's ``tsvector`` in place of FTS5. The text is cut
in Python, never by PostgreSQL's parser (whose idea of a word depends on the server's
locale and knows nothing of Chinese): each column holds a ``tsvector`` written out lexeme
by lexeme, with positions, so the ``'simple'`` configuration's parser never runs on it.

* ``tsv``: the jieba tokens of every field (``cut_for_search``, HMM off), weighted A
  (title), B (summary), C (conditions), D (how to apply and the policy's text); a
  two-character dictionary word is a lexeme of it;
* ``grams``: the normalised text's trigrams at their character positions, so a word of
  three characters or more is the phrase of its trigrams (``'在建工' <-> '建工程'``): a
  substring, as FTS5's trigram tokenizer finds it;
* ``chars``: every character at its position, for one- and two-character substrings.

Each has a GIN index. Ranking is ``ts_rank`` with the field weights (title 1, summary 0.5,
conditions 0.3, the rest 0.15; a synonym half), divided by 1 + log(length) as BM25 divides
by length — PostgreSQL has no BM25, so scores differ from SQLite's; the order of the golden
cases does not. Positions above 16,383 (tsvector's
limit) are left out of ``grams`` and ``chars``: a substring past the 16,383rd character of
a policy's text is not found on PostgreSQL.

The table is a TEMP table on a connection the backend holds for its life: one index per
library and worker, like the in-memory SQLite database, nothing to migrate or to grant
(TEMP is granted to every role by default), gone with the library.
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from collections.abc import Sequence

from sqlalchemy import Engine, text

from huiqi.discover import search
from huiqi.discover import text as words
from huiqi.discover.documents import FIELDS, PolicyDoc

#: tsvector weight letter per field; ts_rank's weights array is {D, C, B, A}.
WEIGHT_LETTERS = {"title": "A", "summary": "B", "conditions": "C", "apply": "D", "text": "D"}
RANK_WEIGHTS = "{0.15, 0.3, 0.5, 1.0}"
MAX_POSITION = 16383


def _lexeme(value: str) -> str:
    """A quoted tsvector / tsquery lexeme: any text, never syntax."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _tsvector(positions: dict[str, list[str]]) -> str:
    return " ".join(f"{_lexeme(t)}:{','.join(ps)}" for t, ps in positions.items())


def token_vector(doc: PolicyDoc) -> str:
    """The jieba tokens of every field at increasing positions, weighted by field."""
    out: dict[str, list[str]] = {}
    pos = 0
    for name in FIELDS:
        for t in words.tokens(doc.field(name)):
            pos = min(pos + 1, MAX_POSITION)
            out.setdefault(t, []).append(f"{pos}{WEIGHT_LETTERS[name]}")
    return _tsvector(out)


def _ngrams(body: str, n: int) -> list[tuple[str, int]]:
    return [(body[i : i + n], i + 1) for i in range(min(len(body) - n + 1, MAX_POSITION))]


def gram_vector(body: str, n: int) -> str:
    """The ``n``-character pieces of ``body`` at their positions (whitespace never searched for)."""
    out: dict[str, list[str]] = {}
    for piece, pos in _ngrams(body, n):
        if not any(c.isspace() for c in piece):
            out.setdefault(piece, []).append(str(pos))
    return _tsvector(out)


def phrase(word: str, n: int) -> str:
    """A tsquery finding ``word`` as consecutive ``n``-character pieces (a substring)."""
    if len(word) < n:
        return _lexeme(word)
    return "(" + " <-> ".join(_lexeme(p) for p, _ in _ngrams(word, n)) + ")"


class PgBackend:
    """Search over a TEMP table of a connection held by the backend (see the module docstring)."""

    def __init__(self, engine: Engine, docs: Sequence[PolicyDoc]):
        self._docs = list(docs)
        self._lock = threading.Lock()
        self._day: dt.date | None = None
        self._conn = engine.connect()
        # Closed for good with the index (not returned to the pool with the TEMP table in it).
        weakref.finalize(self, self._conn.invalidate)
        self._conn.execute(text("DROP TABLE IF EXISTS pg_temp.docs"))
        self._conn.execute(
            text(
                "CREATE TEMP TABLE docs (id integer PRIMARY KEY, ord integer NOT NULL, category text NOT NULL, "
                "region_prefix text NOT NULL, valid_from integer NOT NULL, valid_to integer, amount bigint, "
                "sample boolean NOT NULL, deadline integer, tsv tsvector NOT NULL, grams tsvector NOT NULL, "
                "chars tsvector NOT NULL)"
            )
        )
        rows = []
        for r, d in zip(search.doc_rows(self._docs), self._docs, strict=True):
            body = search.haystack(d)
            rows.append(
                {
                    "id": r.id,
                    "ord": r.ord,
                    "category": r.category,
                    "region_prefix": r.region_prefix,
                    "valid_from": r.valid_from,
                    "valid_to": r.valid_to,
                    "amount": r.amount,
                    "sample": r.sample,
                    "tsv": token_vector(d),
                    "grams": gram_vector(body, 3),
                    "chars": gram_vector(body, 1),
                }
            )
        if rows:
            self._conn.execute(
                text(
                    "INSERT INTO docs VALUES (:id, :ord, :category, :region_prefix, :valid_from, :valid_to, :amount, "
                    ":sample, NULL, CAST(:tsv AS tsvector), CAST(:grams AS tsvector), CAST(:chars AS tsvector))"
                ),
                rows,
            )
        for column in ("tsv", "grams", "chars"):
            self._conn.execute(text(f"CREATE INDEX ON docs USING gin ({column})"))
        self._conn.execute(text("ANALYZE docs"))
        self._conn.commit()

    @property
    def docs(self) -> Sequence[PolicyDoc]:
        return self._docs

    @staticmethod
    def _column(word: str) -> tuple[str, str]:
        """The column and the tsquery finding ``word`` (the rules of huiqi.discover.search)."""
        if len(word) >= 3:
            return "grams", phrase(word, 3)
        if len(word) == 2 and (words.is_word(word) or not any(words.is_cjk(c) for c in word)):
            return "tsv", _lexeme(word)
        return "chars", phrase(word, 1)

    def page(self, query: search.Query) -> tuple[list[tuple[int, float]], int]:
        params: dict[str, object] = {"rank_weights": RANK_WEIGHTS}
        found, scores = [], []
        for n, term in enumerate(query.terms):
            by_column: dict[str, list[str]] = {}
            for a in term.alternatives:
                column, q = self._column(a)
                by_column.setdefault(column, []).append(q)
            conditions = []
            for column, queries in by_column.items():
                name = f"t{n}{column}"
                params[name] = " | ".join(queries)
                conditions.append(f"d.{column} @@ CAST(:{name} AS tsquery)")
            found.append("(" + " OR ".join(conditions) + ")")
            typed, synonyms = search.ranking_words(term)
            for kind, tokens, weight in (("typed", typed, 1.0), ("synonyms", synonyms, search.SYNONYM_WEIGHT)):
                if tokens:
                    params[f"t{n}{kind}"] = " | ".join(_lexeme(t) for t in tokens)
                    scores.append(
                        f"{weight} * ts_rank(CAST(:rank_weights AS real[]), d.tsv, CAST(:t{n}{kind} AS tsquery), 1)"
                    )
        page, count, more = search.page_sql(query, None, found, scores)
        params |= more
        with self._lock:
            if search.needs_deadlines(query) and self._day != query.today:
                self._conn.execute(
                    text("UPDATE docs SET deadline = :deadline WHERE id = :id"),
                    [{"deadline": d, "id": i} for d, i in search.deadlines(self._docs, query.today)],
                )
                self._conn.commit()
                self._day = query.today
            rows = self._conn.execute(text(page), params).all()
            total = self._conn.execute(text(count), params).scalar_one() if len(rows) == query.limit else len(rows)
            self._conn.rollback()  # end the read's transaction: the TEMP table stays
        return [(int(r[0]) - 1, float(r[1])) for r in rows], int(total)
