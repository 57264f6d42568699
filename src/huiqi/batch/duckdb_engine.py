"""Batch matching on DuckDB (embedded, the default engine).

DuckDB reads the registry itself (``read_parquet``: parallel, only the columns the plan
reads, row groups streamed), cast to the profile schema in a view, so memory is bounded by
DuckDB's pipeline and one result batch, not by the registry.

* summary mode: one aggregate row (counts and sums per policy), progress polled from
  DuckDB's own query progress;
* pairs mode: the plan's layers evaluated once per enterprise into one *wide* row per
  enterprise (per policy: a verdict code, the amount, the missing-facts mask), streamed as
  Arrow record batches; each batch is split per policy with pyarrow (no SQL unpivot) and
  appended to one Parquet file per policy, ``pairs/policy_id=<id>/part-0.parquet``, the
  policies written in parallel threads (pyarrow releases the GIL while it encodes) while
  DuckDB computes the next batch. The verdict is dictionary-encoded; ``missing`` is taken
  by index from the table of :meth:`Plan.missing_masks` (built with numpy,
  :func:`huiqi.batch.arrowbits.subsets`). The summary is counted from exactly the arrays
  written.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlglot import exp

from huiqi.batch import arrowbits
from huiqi.batch.base import PAIRS, VERDICTS, Progress, RunOptions, RunResult, summaries_from_counts
from huiqi.rules.library import FIELD_BITS
from huiqi.rules.sqlquery import PROFILE_COLUMNS, Plan

#: Enterprises per streamed result batch in pairs mode (``--chunk-rows`` overrides it), at
#: most BATCH_PAIRS pairs: a batch is held whole while its per-policy tables are encoded.
BATCH_ROWS = 122_880  # a multiple of DuckDB's vector size (2,048)
BATCH_PAIRS = 4_000_000
#: Verdict codes of the wide query, indices into VERDICTS (the pairs' dictionary).
ELIGIBLE, UNDETERMINED, INELIGIBLE = (VERDICTS.index(v) for v in ("eligible", "undetermined", "ineligible"))


def registry_view(path: Path) -> str:
    """SQL of the registry as the profile table: every field cast to its profile type."""
    source = exp.func("read_parquet", exp.Literal.string(str(path)))
    cols = [
        exp.alias_(exp.cast(exp.column(name, quoted=True), sql_type), name, quoted=True)
        for name, sql_type in PROFILE_COLUMNS.items()
    ]
    return exp.select(*cols).from_(source).sql(dialect="duckdb")


def wide_select(plan: Plan, source: str) -> exp.Select:
    """One row per enterprise: the key, then per policy ``v<i>`` (verdict code: 0 eligible,
    1 undetermined, 2 ineligible), ``a<i>`` (amount) and ``k<i>`` (missing-facts mask,
    0 unless undetermined)."""
    q = exp.select(exp.column(plan.key, quoted=True)).from_("m")
    for i, p in enumerate(plan.policies):
        met = exp.column(f"{p.id}:met", quoted=True)
        verdict = exp.Case(
            ifs=[
                exp.If(this=met.copy(), true=exp.Literal.number(ELIGIBLE)),
                exp.If(this=exp.Not(this=met.copy()), true=exp.Literal.number(INELIGIBLE)),
            ],
            default=exp.Literal.number(UNDETERMINED),
        )
        undetermined = exp.Is(this=met.copy(), expression=exp.null())
        # FIELD_BITS < 2^31: read as int32 by PairsWriter.
        mask = exp.cast(
            exp.Case(ifs=[exp.If(this=undetermined, true=plan.mask_sql(p))], default=exp.Literal.number(0)), "INTEGER"
        )
        q = q.select(
            exp.alias_(exp.cast(verdict, "TINYINT"), f"v{i}"),
            exp.alias_(plan.amount_sql(p), f"a{i}"),
            exp.alias_(mask, f"k{i}"),
            copy=False,
        )
    return plan.with_layers(q, source)


def batch_size(policies: int) -> int:
    """Enterprises per result batch: BATCH_ROWS, fewer for big libraries (whole vectors)."""
    return max(2048, min(BATCH_ROWS, BATCH_PAIRS // max(1, policies) // 2048 * 2048))


class DuckDBEngine:
    name = "duckdb"
    progress_unit = "企业"

    def __init__(self, threads: int | None = None, memory_limit: str | None = None):
        self.threads = threads
        self.memory_limit = memory_limit
        self._con: Any = None

    def connect(self) -> Any:
        import duckdb

        if self._con is None:
            con = duckdb.connect()
            if self.threads:
                con.execute(f"SET threads = {int(self.threads)}")
            if self.memory_limit:
                con.execute("SET memory_limit = ?", [self.memory_limit])
            con.execute("SET preserve_insertion_order = false")
            self._con = con
        return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def run(
        self, plan: Plan, enterprises: Path, out: Path, options: RunOptions, on_progress: Progress | None = None
    ) -> RunResult:
        import pyarrow.parquet as pq

        total = pq.ParquetFile(enterprises).metadata.num_rows
        con = self.connect()
        con.execute(f"CREATE OR REPLACE TEMP VIEW profiles AS {registry_view(enterprises)}")
        if on_progress:
            on_progress(0, total)
        if options.summary_only:
            return self._summary(con, plan, total, out, on_progress)
        return self._pairs(con, plan, total, out, options, on_progress)

    def _summary(self, con: Any, plan: Plan, total: int, out: Path, on_progress: Progress | None) -> RunResult:
        with _QueryProgress(con, total, on_progress):
            cur = con.execute(plan.sql(plan.summary_query("profiles")))
            names = [d[0] for d in cur.description]
            (row,) = cur.fetchall()
        values = dict(zip(names, row, strict=True))
        n = int(values["n"])
        counts = {
            p.id: {
                "eligible": values[f"{p.id}:eligible"],
                "decided": values[f"{p.id}:decided"],
                "amount": values.get(f"{p.id}:amount"),
            }
            for p in plan.policies
        }
        if on_progress:
            on_progress(n, total)
        return RunResult(out, plan.as_of, self.name, n, summaries_from_counts(plan, n, counts), None)

    def _pairs(
        self, con: Any, plan: Plan, total: int, out: Path, options: RunOptions, on_progress: Progress | None
    ) -> RunResult:
        writer = PairsWriter(plan, out / PAIRS, all_pairs=options.all_pairs)
        batch_rows = options.chunk_rows or batch_size(len(plan.policies))
        reader = con.sql(plan.sql(wide_select(plan, "profiles"))).to_arrow_reader(batch_rows)
        n = 0
        try:
            with ThreadPoolExecutor(max_workers=2, thread_name_prefix="huiqi-pairs") as pool:
                # Pipelined: DuckDB computes the next batch while the pool encodes this one
                # (both release the GIL); a policy's file still gets its batches in order.
                writing: list[Future[None]] = []
                for batch in reader:
                    for done in writing:
                        done.result()
                    writing = writer.submit(batch, pool)
                    n += batch.num_rows
                    if on_progress:
                        on_progress(n, total)
                for done in writing:
                    done.result()
        finally:
            writer.close()
        if on_progress:
            on_progress(n, total, "summarize")
        return RunResult(out, plan.as_of, self.name, n, summaries_from_counts(plan, n, writer.counts), writer.written)


class PairsWriter:
    """Appends wide result batches to one Parquet file per policy, and counts what it wrote."""

    def __init__(self, plan: Plan, root: Path, *, all_pairs: bool):
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.plan = plan
        self.all_pairs = all_pairs
        self.schema = pa.schema(
            [
                pa.field("uscc", pa.string()),
                pa.field("verdict", pa.dictionary(pa.int8(), pa.string())),
                pa.field("amount", pa.decimal128(18, 2)),
                pa.field("missing", pa.list_(pa.string())),
            ]
        )
        # Arrays are built from buffers, never with pa.array (see huiqi.batch.arrowbits).
        self.verdicts = arrowbits.strings(VERDICTS)
        fields = plan.read_fields
        masks, self.missing = arrowbits.subsets(fields, [FIELD_BITS[f] for f in fields])
        # FIELD_BITS mask → index of its missing list (as Plan.missing_masks, which Spark joins).
        self.mask_row = np.zeros(1 << max(FIELD_BITS.values()).bit_length(), dtype=np.int32)
        self.mask_row[masks] = np.arange(len(masks), dtype=np.int32)
        self.writers = []
        for p in plan.policies:
            folder = root / f"policy_id={p.id}"
            folder.mkdir(parents=True)
            self.writers.append(
                pq.ParquetWriter(
                    folder / "part-0.parquet",
                    self.schema,
                    compression="zstd",
                    # uscc is unique: trying a dictionary for it only costs time.
                    use_dictionary=["verdict", "missing.list.element"],
                )
            )
        self.counts: dict[str, dict[str, Any]] = {
            p.id: {"eligible": 0, "undetermined": 0, "amount": Decimal(0)} for p in plan.policies
        }
        self.written = 0
        self._lock = threading.Lock()

    def submit(self, batch: Any, pool: ThreadPoolExecutor) -> list[Future[None]]:
        """Start writing ``batch`` (every policy's part of it) on ``pool``."""
        return [pool.submit(self._write_policy, batch, i) for i in range(len(self.plan.policies))]

    def _write_policy(self, batch: Any, i: int) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        code = arrowbits.to_numpy(batch.column(f"v{i}"), np.int8)
        amount = batch.column(f"a{i}")
        keep = None if self.all_pairs else code != INELIGIBLE
        rows = (
            batch.column(self.plan.key),
            code,
            amount,
            arrowbits.to_numpy(batch.column(f"k{i}"), np.int32),
        )
        if keep is not None and not keep.all():
            mask = arrowbits.bools(keep)
            rows = (rows[0].filter(mask), code[keep], amount.filter(mask), rows[3][keep])
        uscc, code, amount, fields = rows
        table = pa.Table.from_arrays(
            [
                uscc,
                pa.DictionaryArray.from_arrays(arrowbits.from_numpy(code, pa.int8()), self.verdicts),
                amount,
                self.missing.take(arrowbits.from_numpy(self.mask_row[fields], pa.int32())),
            ],
            schema=self.schema,
        )
        self.writers[i].write_table(table)
        eligible = code == ELIGIBLE
        eligible_amount = pc.sum(amount.filter(arrowbits.bools(eligible))).as_py() if eligible.any() else None
        with self._lock:
            c = self.counts[self.plan.policies[i].id]
            c["eligible"] += int(np.count_nonzero(eligible))
            c["undetermined"] += int(np.count_nonzero(code == UNDETERMINED))
            c["amount"] += eligible_amount or 0
            self.written += len(code)

    def close(self) -> None:
        for w in self.writers:
            w.close()


class _QueryProgress:
    """Reports DuckDB's progress of the running query as enterprises done (best effort)."""

    def __init__(self, con: Any, total: int, on_progress: Progress | None, interval: float = 0.2):
        self.con = con
        self.total = total
        self.on_progress = on_progress
        self.interval = interval
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def poll(self) -> None:
        assert self.on_progress is not None
        while not self.stop.wait(self.interval):
            try:
                percent = float(self.con.query_progress())
            except Exception:  # no query running (yet or any more)
                continue
            if 0 <= percent <= 100:
                try:
                    self.on_progress(int(self.total * percent / 100), self.total)
                except BaseException as e:  # the caller wants the run stopped
                    self.error = e
                    self.con.interrupt()
                    return

    def __enter__(self) -> _QueryProgress:
        if self.on_progress:
            self.thread = threading.Thread(target=self.poll, daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
        if self.error is not None:
            raise self.error
