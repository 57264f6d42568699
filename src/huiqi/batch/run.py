"""Batch matching (免申即享), engine-agnostic part: checking the input, the run directory.

``run_batch`` checks the registry and the policy ids, compiles the library into a
:class:`~huiqi.rules.sqlquery.Plan` (the same plan ``match_query`` and impact analysis use:
derived variables as layers, every distinct condition once, per policy the three-valued
AND of its conditions), hands it to an engine found by name in
:mod:`huiqi.batch.engines` (the contract is :mod:`huiqi.batch.base`), and writes the run
directory around what the engine returns.

``missing`` in SQL: for an undetermined pair, the profile fields that are NULL among the
fields read by its unknown conditions (``Condition.fields``, transitive through derived
variables). This can name more fields than the Python evaluator's exact
``Evaluation.missing`` (see docs/batch.md), never fewer.

The run directory (``huiqi batch run --out DIR``)::

    DIR/run.json                               manifest: as_of, engine, policies, counts
    DIR/pairs/policy_id=<id>/*.parquet         uscc, verdict, amount DECIMAL(18,2), missing LIST<VARCHAR>
                                               (eligible and undetermined pairs; all with all_pairs)
    DIR/summary.parquet, DIR/summary.csv       one row per policy, every pair counted

It is written beside ``DIR`` under a temporary name and renamed when complete.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from huiqi.batch import arrowbits
from huiqi.batch.base import (
    MANIFEST,
    BatchEngine,
    BatchError,
    PolicySummary,
    Progress,
    RunOptions,
    RunResult,
)
from huiqi.batch.engines import DEFAULT_ENGINE, check_engine, create_engine
from huiqi.clock import Clock, from_env
from huiqi.profile import FIELDS
from huiqi.rules.library import Library, Policy
from huiqi.rules.sqlquery import Plan, plan_for

#: ``preconditions``: for a policy that waits on an action, its 前提 (its eligible enterprises are
#: 满足前提即可享受, not 可享受); empty otherwise.
SUMMARY_COLUMNS = ("policy_id", "title", "eligible", "undetermined", "ineligible", "eligible_amount", "preconditions")


def plan_batch(library: Library, as_of: dt.date, policy_ids: Sequence[str] | None = None) -> Plan:
    """Compile ``library`` for ``as_of``; ``policy_ids`` selects policies (all in force by default).

    Raises :class:`BatchError` naming ``--policy`` for an id that does not exist or is
    not in force on ``as_of``.
    """
    in_force = library.in_force(as_of)
    if not policy_ids:
        return plan_for(library, as_of, in_force)
    by_id = {p.id: p for p in in_force}
    chosen: list[Policy] = []
    for pid in dict.fromkeys(policy_ids):
        if pid not in library.by_id:
            raise BatchError("--policy", f"政策库中没有政策 {pid}", f"no policy {pid!r} in the library")
        if pid not in by_id:
            raise BatchError(
                "--policy",
                f"政策 {pid} 在 {as_of} 不在有效期内",
                f"policy {pid!r} is not in force on {as_of}",
            )
        chosen.append(by_id[pid])
    return plan_for(library, as_of, chosen)


def check_registry_schema(schema: Any, option: str = "--enterprises") -> None:
    """The Parquet schema must have every profile field with a compatible type."""
    import pyarrow as pa

    problems: list[str] = []
    absent = [name for name in FIELDS if name not in schema.names]
    if absent:
        problems.append(f"缺少列 missing columns: {', '.join(absent)}")
    for name, spec in FIELDS.items():
        if name in absent:
            continue
        if not spec.kind_spec.arrow_accepts(pa, schema.field(name).type):
            problems.append(f"列 {name} 应为 {spec.kind_spec.zh}，实际为 {schema.field(name).type}")
    if problems:
        raise BatchError(
            option,
            "企业名录的 Parquet 结构不符合企业画像：" + "；".join(problems),
            "the Parquet file does not have the enterprise profile schema (docs/registry.md)",
        )


def parse_as_of(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BatchError(
            "--as-of", f"日期格式应为 YYYY-MM-DD，收到 {text!r}", f"expected a date YYYY-MM-DD, got {text!r}"
        ) from None


def open_registry(path: Path, option: str = "--enterprises") -> Any:
    """The registry as a ``pyarrow.parquet.ParquetFile``, schema checked."""
    import pyarrow.parquet as pq

    if not path.exists():
        raise BatchError(option, f"找不到文件 {path}", f"file not found: {path}")
    if path.is_dir():
        raise BatchError(option, f"{path} 是目录，应为 Parquet 文件", f"{path} is a directory, not a Parquet file")
    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises ArrowInvalid, OSError, … for a non-Parquet file
        raise BatchError(
            option, f"{path} 不是有效的 Parquet 文件", f"{path} is not a readable Parquet file: {e}"
        ) from None
    check_registry_schema(pf.schema_arrow, option)
    return pf


# --- results -------------------------------------------------------------------------------------
def write_summary(out: Path, summaries: list[PolicySummary]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # Built from buffers: pa.array would import pandas (huiqi.batch.arrowbits).
    table = pa.Table.from_arrays(
        [
            arrowbits.strings([s.policy_id for s in summaries]),
            arrowbits.strings([s.title for s in summaries]),
            arrowbits.int64s([s.eligible for s in summaries]),
            arrowbits.int64s([s.undetermined for s in summaries]),
            arrowbits.int64s([s.ineligible for s in summaries]),
            arrowbits.decimals([s.eligible_amount for s in summaries], 38, 2),
            arrowbits.strings(["；".join(s.preconditions) for s in summaries]),
        ],
        names=list(SUMMARY_COLUMNS),
    )
    pq.write_table(table, out / "summary.parquet", compression="zstd")
    with (out / "summary.csv").open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(SUMMARY_COLUMNS)
        for s in summaries:
            amount = "" if s.eligible_amount is None else f"{s.eligible_amount:.2f}"
            row = [s.policy_id, s.title, s.eligible, s.undetermined, s.ineligible, amount, "；".join(s.preconditions)]
            w.writerow(row)


# --- the run directory ----------------------------------------------------------------------------
def prepare_out(out: Path) -> Path:
    """A fresh temporary directory beside ``out``; refuses to replace a directory that is
    not a previous batch run."""
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise BatchError("--out", f"{out} 已存在且不是目录", f"{out} exists and is not a directory")
        if any(out.iterdir()) and not (out / MANIFEST).exists():
            raise BatchError(
                "--out",
                f"{out} 不是空目录，也不是以前的批量运行结果，不会覆盖",
                f"{out} is not empty and not a previous batch run; refusing to replace it",
            )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BatchError("--out", f"无法创建目录 {out.parent}", f"cannot create {out.parent}: {e}") from None
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    return tmp


def commit_out(tmp: Path, out: Path) -> None:
    """Replace ``out`` by ``tmp`` (the old run is removed only once the new one is in place)."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.{os.getpid()}.old")
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_manifest(
    tmp: Path, plan: Plan, result: RunResult, enterprises: Path, *, created: dt.datetime, **extra: Any
) -> None:
    doc = {
        "format": 1,
        "as_of": plan.as_of.isoformat(),
        "engine": result.engine,
        "enterprises": str(Path(enterprises).resolve()),
        "enterprise_count": result.enterprises,
        "policy_library": str(plan.library.root),
        # Texts worded with the parameters in force on the run's date (labels quote thresholds).
        "policies": [_manifest_policy(plan, p.policy) for p in plan.policies],
        "pairs_written": result.pairs_written,
        "seconds": round(result.seconds, 3),
        "created": created.isoformat(timespec="seconds"),
        **extra,
    }
    (tmp / MANIFEST).write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _manifest_policy(plan: Plan, policy: Policy) -> dict[str, Any]:
    texts = plan.library.texts_of(policy, plan.as_of)
    return {
        "id": policy.id,
        "title": policy.definition.title,
        "summary": texts.summary,
        "preconditions": list(texts.preconditions),
    }


def read_manifest(run: Path) -> dict[str, Any]:
    path = Path(run) / MANIFEST
    if not path.exists():
        raise BatchError(
            "--run", f"{run} 不是批量运行结果目录（没有 {MANIFEST}）", f"{run} is not a batch run directory"
        )
    try:
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise BatchError("--run", f"无法读取 {path}", f"cannot read {path}: {e}") from None
    return doc


def run_batch(
    library: Library,
    enterprises: Path,
    as_of: dt.date,
    out: Path,
    *,
    engine: str | BatchEngine = DEFAULT_ENGINE,
    policy_ids: Iterable[str] | None = None,
    all_pairs: bool = False,
    summary_only: bool = False,
    chunk_rows: int | None = None,
    on_progress: Progress | None = None,
    clock: Clock | None = None,
) -> RunResult:
    """Evaluate every policy in force on ``as_of`` for every enterprise of ``enterprises``.

    ``engine`` is a name of :data:`huiqi.batch.engines.ENGINES` (created here and closed
    when done) or an engine the caller owns. Pairs written: the eligible and undetermined
    ones, and with ``all_pairs`` the ineligible ones too; the summary counts all of them.
    Writes the run directory ``out`` (whole or not at all) and returns the summary; the
    manifest's ``created`` time comes from ``clock`` (default ``HUIQI_NOW`` or the system).
    """
    if isinstance(engine, str):
        check_engine(engine)
    open_registry(Path(enterprises))
    plan = plan_batch(library, as_of, list(policy_ids) if policy_ids else None)
    options = RunOptions(summary_only=summary_only, all_pairs=all_pairs, chunk_rows=chunk_rows)
    tmp = prepare_out(Path(out))
    start = time.perf_counter()
    runner = create_engine(engine) if isinstance(engine, str) else engine
    try:
        result = runner.run(plan, Path(enterprises), tmp, options, on_progress)
        result.seconds = time.perf_counter() - start
        write_summary(tmp, result.summaries)
        write_manifest(tmp, plan, result, Path(enterprises), created=(clock or from_env()).now(), all_pairs=all_pairs)
        commit_out(tmp, Path(out))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if isinstance(engine, str):
            runner.close()
    result.out = Path(out)
    return result
