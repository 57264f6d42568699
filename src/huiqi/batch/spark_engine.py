"""Batch matching on Apache Spark: the same plan, its SQL transpiled by sqlglot.

The plan's queries are built as sqlglot trees and printed in the Spark dialect
(``Plan.sql(query, dialect="spark")``); only the unpivot differs: DuckDB zips
``UNNEST`` lists, Spark uses the ``stack`` generator. Spark reads the registry itself
(``spark.read.parquet``), so the registry is never loaded into this process, and writes
``pairs/policy_id=<id>/`` with ``DataFrameWriter.partitionBy``.

Local mode by default (``HUIQI_SPARK_MASTER``, default ``local[2]``); the settings keep a
small machine and CI predictable: few shuffle partitions, no UI, UTC session time zone
(dates are dates, never shifted), zstd Parquet.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from sqlglot import exp

from huiqi.batch.base import (
    PAIRS,
    BatchError,
    Progress,
    RunOptions,
    RunResult,
    counts_from_rows,
    summaries_from_counts,
    summarize_pairs_query,
)
from huiqi.profile import FIELDS
from huiqi.rules.sqlquery import Plan

_SESSION: Any = None
_LOCK = threading.Lock()

SPARK_CONF: dict[str, str] = {
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.compression.codec": "zstd",
    "spark.sql.sources.partitionOverwriteMode": "static",
    "spark.driver.memory": "2g",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "false",
    "spark.sql.ansi.enabled": "true",
}


def session() -> Any:
    """The shared local SparkSession (created on first use)."""
    global _SESSION
    with _LOCK:
        if _SESSION is None:
            try:
                from pyspark.sql import SparkSession
            except ImportError:
                raise BatchError(
                    "--engine",
                    "未安装 PySpark：pip install 'huiqi[spark]'（还需要 Java 17）",
                    "PySpark is not installed: pip install 'huiqi[spark]' (needs Java 17)",
                ) from None
            builder = SparkSession.builder.master(os.environ.get("HUIQI_SPARK_MASTER", "local[2]")).appName(
                "huiqi-batch"
            )
            for k, v in SPARK_CONF.items():
                builder = builder.config(k, v)
            spark = builder.getOrCreate()
            spark.sparkContext.setLogLevel("ERROR")
            _SESSION = spark
        return _SESSION


def stop_session() -> None:
    global _SESSION
    with _LOCK:
        if _SESSION is not None:
            _SESSION.stop()
            _SESSION = None


def join_missing(plan: Plan, unpivoted: exp.Expr, masks: str, all_pairs: bool) -> exp.Select:
    """Unpivoted pairs joined to the table of missing-fact lists (undetermined pairs only)."""
    undetermined = exp.EQ(this=exp.column("verdict", "u"), expression=exp.Literal.string("undetermined"))
    key = exp.Case(ifs=[exp.If(this=undetermined, true=exp.column("mask", "u"))], default=exp.Literal.number(0))
    outer = (
        exp.select(
            exp.column(plan.key, "u", quoted=True),
            exp.column("verdict", "u"),
            exp.column("amount", "u"),
            exp.column("missing", "k"),
            exp.column("policy_id", "u"),
        )
        .from_(unpivoted)
        .join(exp.to_table(masks).as_("k"), on=exp.EQ(this=exp.column("mask", "k"), expression=key), join_type="left")
    )
    if not all_pairs:
        outer = outer.where(exp.NEQ(this=exp.column("verdict", "u"), expression=exp.Literal.string("ineligible")))
    return outer


def pairs_select(plan: Plan, source: str, *, all_pairs: bool = False, masks: str = "missing_masks") -> str:
    """The pairs as Spark SQL: the wide query unpivoted with ``stack``, masks joined."""

    wide = plan.sql(plan.wide_query(source), dialect="spark")
    args = [str(len(plan.policies))]
    for p in plan.policies:
        args.append(exp.Literal.string(p.id).sql(dialect="spark"))
        for col in ("verdict", "amount", "mask"):
            args.append(exp.column(f"{p.id}:{col}", quoted=True).sql(dialect="spark"))
    key = exp.column(plan.key, quoted=True).sql(dialect="spark")
    unpivoted = (
        f"(SELECT {key}, stack({', '.join(args)}) AS (policy_id, verdict, amount, mask) FROM ({wide}) AS w) AS u"
    )
    outer = join_missing(plan, exp.to_table("__unpivoted__").as_("u"), masks, all_pairs).sql(dialect="spark")
    return outer.replace("__unpivoted__ AS u", unpivoted, 1)


class SparkEngine:
    """Spark in local mode by default; ``spark``: a session the caller owns (never stopped
    here). ``close()`` stops the shared session this engine started."""

    name = "spark"
    progress_unit = "任务"

    def __init__(self, spark: Any = None):
        self.spark = spark

    def close(self) -> None:
        if self.spark is None:
            stop_session()

    def profiles(self, spark: Any, path: Path) -> Any:
        from pyspark.sql import functions as F
        from pyspark.sql import types as T

        df = spark.read.parquet(str(path))
        cols = [F.col(f"`{name}`").cast(spec.kind_spec.spark(T)).alias(name) for name, spec in FIELDS.items()]
        return df.select(*cols)

    def run(
        self, plan: Plan, enterprises: Path, out: Path, options: RunOptions, on_progress: Progress | None = None
    ) -> RunResult:
        spark = self.spark or session()
        self.profiles(spark, enterprises).createOrReplaceTempView("profiles")
        with _JobProgress(spark, on_progress):
            if options.summary_only:
                row = spark.sql(plan.sql(plan.summary_query("profiles"), dialect="spark")).collect()[0].asDict()
                n = int(row["n"])
                counts = {
                    p.id: {
                        "eligible": row[f"{p.id}:eligible"],
                        "decided": row[f"{p.id}:decided"],
                        "amount": row.get(f"{p.id}:amount"),
                    }
                    for p in plan.policies
                }
                return RunResult(out, plan.as_of, self.name, n, summaries_from_counts(plan, n, counts), None)
            pairs_dir = out / PAIRS
            spark.createDataFrame(
                plan.missing_masks().to_pylist(), "mask BIGINT, missing ARRAY<STRING>"
            ).createOrReplaceTempView("missing_masks")
            df = spark.sql(pairs_select(plan, "profiles", all_pairs=options.all_pairs))
            df.write.mode("overwrite").partitionBy("policy_id").parquet(str(pairs_dir))
            n = spark.table("profiles").count()
            spark.read.parquet(str(pairs_dir)).createOrReplaceTempView("pairs")
            query = summarize_pairs_query(exp.to_table("pairs")).sql(dialect="spark")
            counts, written = counts_from_rows([tuple(r) for r in spark.sql(query).collect()])
        return RunResult(out, plan.as_of, self.name, n, summaries_from_counts(plan, n, counts), written)


class _JobProgress:
    """Reports Spark task progress (completed / total tasks of the active stages)."""

    def __init__(self, spark: Any, on_progress: Progress | None, interval: float = 0.25):
        self.spark = spark
        self.on_progress = on_progress
        self.interval = interval
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.done_stages: dict[int, int] = {}

    def poll(self) -> None:
        tracker = self.spark.sparkContext.statusTracker()
        while not self.stop.wait(self.interval):
            try:
                active = {}
                for sid in tracker.getActiveStageIds():
                    info = tracker.getStageInfo(sid)
                    if info is not None:
                        active[sid] = (info.numCompletedTasks, info.numTasks)
                for sid, (_, tasks) in list(self.seen.items()):
                    if sid not in active:
                        self.done_stages[sid] = tasks
                self.seen.update(active)
                done = sum(self.done_stages.values()) + sum(c for c, _ in active.values())
                total = sum(self.done_stages.values()) + sum(t for _, t in active.values())
                if self.on_progress and total:
                    self.on_progress(done, total)
            except Exception:  # the JVM may be shutting down; progress is best effort
                return

    def __enter__(self) -> _JobProgress:
        self.seen: dict[int, tuple[int, int]] = {}
        if self.on_progress:
            self.thread = threading.Thread(target=self.poll, daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
        if self.on_progress and exc[0] is None:
            total = sum(self.done_stages.values()) + sum(t for _, t in self.seen.values()) or 1
            self.on_progress(total, total)
