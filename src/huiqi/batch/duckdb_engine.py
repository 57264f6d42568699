"""Batch matching on DuckDB (embedded, the default engine).

The registry is read with pyarrow in batches of ``chunk_rows`` rows (whatever its row
groups), so memory is bounded by one chunk plus DuckDB's pipeline, not by the registry.
Each chunk is one SQL statement:

* pairs mode: ``COPY (… UNNEST …) TO 'pairs' (FORMAT parquet, PARTITION_BY (policy_id),
  COMPRESSION zstd)``, one file per policy per chunk; the summary is then aggregated
  from the written files, so it counts exactly what was written;
* summary mode: one aggregate row per chunk (counts and sums per policy), added up here.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlglot import exp

from huiqi.batch.run import (
    PAIRS,
    Plan,
    Progress,
    RunResult,
    canonical_schema,
    join_missing,
    summaries_from_counts,
)

DEFAULT_CHUNK_ROWS = 250_000
#: A summary chunk holds only its input (~200 bytes a row) and one aggregate row; planning
#: a 500-policy query costs ~0.5 s, so summary chunks are larger.
SUMMARY_CHUNK_ROWS = 500_000
#: Pairs per chunk above which a chunk is split further: DuckDB buffers a partitioned
#: COPY per partition, so the buffered pairs (not the registry rows) bound memory.
MAX_CHUNK_PAIRS = 8_000_000


def pairs_select(plan: Plan, source: str, *, only_actionable: bool = False, masks: str = "missing_masks") -> exp.Select:
    """The (enterprise, policy) pairs as rows: policy_id, uscc, verdict, amount, missing.

    ``masks`` names the table of :meth:`Plan.missing_masks`; joining it turns the
    undetermined pairs' field masks into lists (a hash join on a small table is far
    cheaper than building a list per pair with a lambda)."""
    wide = plan.wide_query(source).subquery("w")
    lists = {
        "policy_id": [exp.Literal.string(p.id) for p in plan.policies],
        "verdict": [exp.column(f"{p.id}:verdict", quoted=True) for p in plan.policies],
        "amount": [exp.column(f"{p.id}:amount", quoted=True) for p in plan.policies],
        "mask": [exp.column(f"{p.id}:mask", quoted=True) for p in plan.policies],
    }
    inner = exp.select(exp.column(plan.key, quoted=True)).from_(wide)
    for name, items in lists.items():
        inner = inner.select(exp.alias_(exp.Unnest(expressions=[exp.Array(expressions=items)]), name), copy=False)
    return join_missing(plan, inner.subquery("u"), masks, only_actionable)


class DuckDBEngine:
    def __init__(self, chunk_rows: int | None = None, threads: int | None = None, memory_limit: str | None = None):
        self.chunk_rows = chunk_rows
        self.threads = threads
        self.memory_limit = memory_limit

    def connect(self) -> Any:
        import duckdb

        con = duckdb.connect()
        if self.threads:
            con.execute(f"SET threads = {int(self.threads)}")
        if self.memory_limit:
            con.execute("SET memory_limit = ?", [self.memory_limit])
        con.execute("SET preserve_insertion_order = false")
        return con

    def chunk_size(self, plan: Plan, *, summary_only: bool = False) -> int:
        """Rows per chunk: ``chunk_rows`` if given; else 500,000 for a summary and, for pairs,
        250,000 but at most ``MAX_CHUNK_PAIRS`` pairs."""
        if self.chunk_rows:
            return self.chunk_rows
        if summary_only:
            return SUMMARY_CHUNK_ROWS
        per_policy = MAX_CHUNK_PAIRS // max(1, len(plan.policies))
        return max(10_000, min(DEFAULT_CHUNK_ROWS, per_policy))

    def chunks(self, pf: Any, size: int) -> Any:
        import pyarrow as pa

        schema = canonical_schema()
        for batch in pf.iter_batches(batch_size=size, columns=schema.names):
            yield pa.Table.from_batches([batch]).cast(schema)

    def run(
        self,
        plan: Plan,
        pf: Any,
        out: Path,
        *,
        only_actionable: bool = False,
        summary_only: bool = False,
        on_progress: Progress | None = None,
        on_stage: Callable[[str], None] | None = None,
    ) -> RunResult:
        total = pf.metadata.num_rows
        con = self.connect()
        done = 0
        if on_progress:
            on_progress(0, total)
        pairs_dir = out / PAIRS
        size = self.chunk_size(plan, summary_only=summary_only)
        if summary_only:
            sql = plan.sql(plan.summary_query("profiles"))
            acc: dict[str, dict[str, Any]] = {
                p.id: {"eligible": 0, "decided": 0, "amount": Decimal(0)} for p in plan.policies
            }
            n = 0
            for i, table in enumerate(self.chunks(pf, size)):
                if on_stage and i == 0:
                    on_stage("evaluate")
                con.register("profiles", table)
                cur = con.execute(sql)
                names = [d[0] for d in cur.description]
                (row,) = cur.fetchall()
                values = dict(zip(names, row, strict=True))
                n += int(values["n"])
                for p in plan.policies:
                    a = acc[p.id]
                    a["eligible"] += int(values[f"{p.id}:eligible"] or 0)
                    a["decided"] += int(values[f"{p.id}:decided"] or 0)
                    a["amount"] += values.get(f"{p.id}:amount") or 0
                con.unregister("profiles")
                done += table.num_rows
                if on_progress:
                    on_progress(done, total)
            return RunResult(out, plan.as_of, "duckdb", n, summaries_from_counts(plan, n, acc), None)

        pairs_dir.mkdir(parents=True, exist_ok=True)
        # One open file per policy partition: fewer would close and reopen files per chunk.
        con.execute(f"SET partitioned_write_max_open_files = {max(100, len(plan.policies) + 1)}")
        con.register("missing_masks", plan.missing_masks())
        select = plan.sql(pairs_select(plan, "profiles", only_actionable=only_actionable))
        target = str(pairs_dir).replace("'", "''")
        n = 0
        for i, table in enumerate(self.chunks(pf, size)):
            if on_stage and i == 0:
                on_stage("evaluate")
            con.register("profiles", table)
            con.execute(
                f"COPY ({select}) TO '{target}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (policy_id), "
                f"OVERWRITE_OR_IGNORE true, FILENAME_PATTERN 'part-{i:05d}-{{i}}')"
            )
            con.unregister("profiles")
            n += table.num_rows
            done += table.num_rows
            if on_progress:
                on_progress(done, total)
        if on_stage:
            on_stage("summarize")
        counts, written = summarize_pairs(con, pairs_dir) if n else ({}, 0)
        return RunResult(out, plan.as_of, "duckdb", n, summaries_from_counts(plan, n, counts), written)


def summarize_pairs(con: Any, pairs_dir: Path) -> tuple[dict[str, dict[str, Any]], int]:
    """Counts per policy and verdict, and the eligible amount, from written pair files."""
    pattern = str(pairs_dir / "*" / "*.parquet").replace("'", "''")
    rows = con.execute(
        f"""SELECT policy_id,
                   count_if(verdict = 'eligible'),
                   count_if(verdict = 'undetermined'),
                   sum(CASE WHEN verdict = 'eligible' THEN amount END),
                   count(*)
            FROM read_parquet('{pattern}', hive_partitioning = true, hive_types = {{'policy_id': VARCHAR}})
            GROUP BY policy_id"""
    ).fetchall()
    counts = {r[0]: {"eligible": r[1], "undetermined": r[2], "amount": r[3]} for r in rows}
    return counts, sum(int(r[4]) for r in rows)
