"""Batch matching (免申即享), engine-agnostic part: the plan, the SQL, the run directory.

A :class:`Plan` is the policy library compiled for one ``as_of`` date into SQL that any
engine can run (DuckDB here, Spark through sqlglot): the same :class:`SqlGen` that
``huiqi.rules.sqlquery.match_query`` uses, laid out for throughput:

* derived variables as stacked layers ``v1 … vK`` (as in ``match_query``);
* every *distinct* condition once, as a boolean column ``"c:<n>"`` (policies share
  conditions such as ``region LIKE '3399%'``; a library of 500 policies × 10 conditions
  has far fewer than 5,000 distinct ones), which also gives the per-condition outcomes
  that ``missing`` needs;
* per policy ``"<id>:met"``: the three-valued AND of its conditions (TRUE eligible,
  FALSE ineligible, NULL undetermined);
* on top of that either the *pairs* (verdict, amount, missing per enterprise and policy)
  or the *summary* (counts and the eligible amount per policy, aggregated in the engine).

``missing`` in SQL: for an undetermined pair, the profile fields that are NULL among the
fields read by its unknown conditions (``Condition.fields``, transitive through derived
variables). This can name more fields than the Python evaluator's exact
``Evaluation.missing`` (see docs/batch.md), never fewer.

The run directory (``huiqi batch run --out DIR``)::

    DIR/run.json                               manifest: as_of, engine, policies, counts
    DIR/pairs/policy_id=<id>/*.parquet         uscc, verdict, amount DECIMAL(18,2), missing LIST<VARCHAR>
    DIR/summary.parquet, DIR/summary.csv       one row per policy

It is written beside ``DIR`` under a temporary name and renamed when complete.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from sqlglot import exp

from huiqi.profile import FIELDS
from huiqi.rules.library import FIELD_BITS, Library, Policy
from huiqi.rules.sqlgen import DECIMAL_2, SqlGen, cast

Engine = Literal["duckdb", "spark"]
ENGINES: tuple[str, ...] = ("duckdb", "spark")
VERDICTS = ("eligible", "undetermined", "ineligible")
MANIFEST = "run.json"
PAIRS = "pairs"
SUMMARY_COLUMNS = ("policy_id", "title", "eligible", "undetermined", "ineligible", "eligible_amount")
#: ``on_progress(done, total)``: rows (DuckDB) or tasks (Spark) done so far.
Progress = Callable[[int, int], None]


class BatchError(Exception):
    """Bad input to a batch run: names the option, in Chinese and English."""

    def __init__(self, option: str, message_zh: str, message_en: str):
        self.option = option
        self.message_zh = message_zh
        self.message_en = message_en
        super().__init__(f"{option}: {message_zh} / {message_en}")


# --- the plan ---------------------------------------------------------------------------------
@dataclass
class PolicyPlan:
    policy: Policy
    conditions: list[int]  # indices into Plan.conditions, in the policy's order
    fields: list[str]  # profile fields its conditions read, in FIELDS order

    @property
    def id(self) -> str:
        return self.policy.id

    @property
    def title(self) -> str:
        return self.policy.definition.title


@dataclass
class Plan:
    """The library compiled for one date: what every engine runs."""

    library: Library
    as_of: dt.date
    policies: list[PolicyPlan]
    conditions: list[exp.Expr] = field(default_factory=list)  # distinct, as SQL
    condition_fields: list[frozenset[str]] = field(default_factory=list)
    key: str = "uscc"

    @property
    def policy_ids(self) -> list[str]:
        return [p.id for p in self.policies]

    # --- SQL building blocks ----------------------------------------------------------------
    def _layers(self, source: str) -> tuple[list[tuple[str, exp.Select]], str]:
        gen = SqlGen(self.as_of, self.library.params_at(self.as_of))
        ctes: list[tuple[str, exp.Select]] = [("v0", exp.select("*").from_(exp.to_table(source)))]
        for i, var in enumerate(self.library.variables, start=1):
            layer = exp.select("*", exp.alias_(gen.sql(var.expr.tree), var.name, quoted=True)).from_(f"v{i - 1}")
            ctes.append((f"v{i}", layer))
        last = f"v{len(self.library.variables)}"
        conds = exp.select("*").from_(last)
        for n, cond in enumerate(self.conditions):
            conds = conds.select(exp.alias_(cond.copy(), _cond(n), quoted=True, copy=False), copy=False)
        ctes.append(("c", conds))
        mets = exp.select("*").from_("c")
        for p in self.policies:
            mets = mets.select(exp.alias_(self._met(p), f"{p.id}:met", quoted=True, copy=False), copy=False)
        # For missing: each condition's fields as a bit mask when it is unknown (else 0), and
        # the row's NULL fields as a bit mask. Engines drop these columns when unused.
        for n, fields in enumerate(self.condition_fields):
            unknown = exp.Is(this=exp.column(_cond(n), quoted=True), expression=exp.null())
            bits = exp.Literal.number(_mask(fields))
            mets = mets.select(
                exp.alias_(exp.Case(ifs=[exp.If(this=unknown, true=bits)], default=exp.Literal.number(0)), f"u:{n}"),
                copy=False,
            )
        nulls = [
            exp.Case(
                ifs=[
                    exp.If(
                        this=exp.Is(this=exp.column(f, quoted=True), expression=exp.null()), true=exp.Literal.number(b)
                    )
                ],
                default=exp.Literal.number(0),
            )
            for f, b in FIELD_BITS.items()
            if f in self.read_fields
        ]
        null_mask = _sum(nulls) if nulls else exp.Literal.number(0)
        mets = mets.select(exp.alias_(null_mask, "u:nulls", quoted=True, copy=False), copy=False)
        ctes.append(("m", mets))
        return ctes, "m"

    @property
    def read_fields(self) -> list[str]:
        """Profile fields read by any planned condition, in FIELDS order."""
        read = set().union(*self.condition_fields) if self.condition_fields else set()
        return [f for f in FIELDS if f in read]

    def _met(self, p: PolicyPlan) -> exp.Expr:
        cols = [exp.column(_cond(n), quoted=True) for n in p.conditions]
        return exp.and_(*cols, copy=False) if cols else exp.true()

    def _formula(self, p: PolicyPlan) -> exp.Expr | None:
        if p.policy.formula is None:
            return None
        gen = SqlGen(self.as_of, self.library.params_at(self.as_of))
        return cast(gen.sql(p.policy.formula.tree), DECIMAL_2)

    def _with(self, query: exp.Select, source: str) -> exp.Select:
        ctes, _ = self._layers(source)
        for name, cte in ctes:
            query = query.with_(name, as_=cte, copy=False)
        return query

    def verdict_sql(self, p: PolicyPlan) -> exp.Expr:
        met = exp.column(f"{p.id}:met", quoted=True)
        return exp.Case(
            ifs=[
                exp.If(this=met.copy(), true=exp.Literal.string("eligible")),
                exp.If(this=exp.Not(this=met.copy()), true=exp.Literal.string("ineligible")),
            ],
            default=exp.Literal.string("undetermined"),
        )

    def amount_sql(self, p: PolicyPlan) -> exp.Expr:
        """As ``sqlquery.policy_columns``: NULL when ineligible, else the formula to the cent."""
        formula = self._formula(p)
        if formula is None:
            return cast(exp.null(), DECIMAL_2)
        met = exp.column(f"{p.id}:met", quoted=True)
        return exp.Case(ifs=[exp.If(this=exp.Not(this=met), true=exp.null())], default=formula)

    def mask_sql(self, p: PolicyPlan) -> exp.Expr:
        """The NULL fields read by the policy's unknown conditions, as a FIELD_BITS mask.

        Only meaningful for an undetermined pair; the engines turn it into the ``missing``
        list with :meth:`missing_masks` (a lookup table), for undetermined pairs only."""
        if not p.conditions:
            return exp.Literal.number(0)
        unknown = _bit_or([exp.column(f"u:{n}", quoted=True) for n in dict.fromkeys(p.conditions)])
        return exp.BitwiseAnd(this=exp.Paren(this=unknown), expression=exp.column("u:nulls", quoted=True))

    def missing_masks(self) -> Any:
        """Arrow table ``mask BIGINT, missing LIST<VARCHAR>``: every subset of the fields the
        plan reads (2^k rows, k ≤ the number of profile fields), mask 0 → []."""
        import pyarrow as pa

        fields = self.read_fields
        masks, lists = [], []
        for combo in range(1 << len(fields)):
            chosen = [f for i, f in enumerate(fields) if combo >> i & 1]
            masks.append(_mask(chosen))
            lists.append(chosen)
        return pa.table({"mask": pa.array(masks, pa.int64()), "missing": pa.array(lists, pa.list_(pa.string()))})

    # --- whole queries ----------------------------------------------------------------------
    def wide_query(self, source: str) -> exp.Select:
        """One row per enterprise: key, then ``<id>:verdict``, ``<id>:amount``, ``<id>:mask``."""
        q = exp.select(exp.column(self.key, quoted=True)).from_("m")
        for p in self.policies:
            q = q.select(
                exp.alias_(self.verdict_sql(p), f"{p.id}:verdict", quoted=True, copy=False),
                exp.alias_(self.amount_sql(p), f"{p.id}:amount", quoted=True, copy=False),
                exp.alias_(self.mask_sql(p), f"{p.id}:mask", quoted=True, copy=False),
                copy=False,
            )
        return self._with(q, source)

    def summary_query(self, source: str) -> exp.Select:
        """One row: ``n`` enterprises, then per policy ``<id>:eligible``, ``<id>:decided``
        (eligible + ineligible) and ``<id>:amount`` (the sum over eligible enterprises)."""
        q = exp.select(exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True, copy=False)).from_("m")
        for p in self.policies:
            met = exp.column(f"{p.id}:met", quoted=True)
            cols: list[exp.Expr] = [
                exp.alias_(exp.CountIf(this=met.copy()), f"{p.id}:eligible", quoted=True, copy=False),
                exp.alias_(exp.Count(this=met.copy()), f"{p.id}:decided", quoted=True, copy=False),
            ]
            formula = self._formula(p)
            if formula is not None:
                # amount × (met as 0/1): NULL and FALSE add nothing. Measured faster in DuckDB
                # than CASE WHEN met THEN amount END (which re-evaluates the formula inside the
                # CASE) and far faster than SUM(amount) FILTER (WHERE met) with hundreds of
                # aggregates (docs/batch.md).
                flag = exp.Cast(this=met.copy(), to=exp.DataType.build("TINYINT"))
                only_met = exp.Mul(this=formula, expression=flag)
                cols.append(exp.alias_(exp.Sum(this=only_met), f"{p.id}:amount", quoted=True, copy=False))
            q = q.select(*cols, copy=False)
        return self._with(q, source)

    def sql(self, query: exp.Select, dialect: str = "duckdb") -> str:
        return query.sql(dialect=dialect)


def _cond(n: int) -> str:
    return f"c:{n}"


def _mask(fields: Iterable[str]) -> int:
    return sum(FIELD_BITS[f] for f in set(fields))


def _sum(items: Sequence[exp.Expr]) -> exp.Expr:
    out = items[0]
    for e in items[1:]:
        out = exp.Add(this=out, expression=e)
    return out


def _bit_or(items: Sequence[exp.Expr]) -> exp.Expr:
    out = items[0]
    for e in items[1:]:
        out = exp.BitwiseOr(this=out, expression=e)
    return out


def plan_batch(library: Library, as_of: dt.date, policy_ids: Sequence[str] | None = None) -> Plan:
    """Compile ``library`` for ``as_of``; ``policy_ids`` selects policies (all in force by default).

    Raises :class:`BatchError` naming ``--policy`` for an id that does not exist or is
    not in force on ``as_of``.
    """
    in_force = library.in_force(as_of)
    if policy_ids:
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
        policies = chosen
    else:
        policies = list(in_force)
    gen = SqlGen(as_of, library.params_at(as_of))
    plan = Plan(library, as_of, [])
    index: dict[str, int] = {}
    for policy in policies:
        refs: list[int] = []
        for cond in policy.evaluated:
            assert cond.expr is not None
            sql = gen.sql(cond.expr.tree)
            key = sql.sql(dialect="duckdb")
            if key not in index:
                index[key] = len(plan.conditions)
                plan.conditions.append(sql)
                plan.condition_fields.append(cond.fields)
            refs.append(index[key])
        read = set().union(*(plan.condition_fields[n] for n in refs)) if refs else set()
        plan.policies.append(PolicyPlan(policy, refs, [f for f in FIELDS if f in read]))
    return plan


# --- input checks ------------------------------------------------------------------------------
def check_registry_schema(schema: Any, option: str = "--enterprises") -> None:
    """The Parquet schema must have every profile field with a compatible type."""
    import pyarrow as pa

    def is_string(t: Any) -> bool:
        return bool(pa.types.is_string(t) or pa.types.is_large_string(t))

    accepts: dict[str, Callable[[Any], bool]] = {
        "string": is_string,
        "integer": lambda t: bool(pa.types.is_integer(t)),
        "money": lambda t: bool(pa.types.is_integer(t) or (pa.types.is_decimal(t) and t.scale <= 2)),
        "date": lambda t: bool(pa.types.is_date(t)),
        "list": lambda t: bool((pa.types.is_list(t) or pa.types.is_large_list(t)) and is_string(t.value_type)),
    }
    problems: list[str] = []
    absent = [name for name in FIELDS if name not in schema.names]
    if absent:
        problems.append(f"缺少列 missing columns: {', '.join(absent)}")
    for name, spec in FIELDS.items():
        if name in absent:
            continue
        if not accepts[spec.kind](schema.field(name).type):
            problems.append(f"列 {name} 应为 {_KIND_ZH[spec.kind]}，实际为 {schema.field(name).type}")
    if problems:
        raise BatchError(
            option,
            "企业名录的 Parquet 结构不符合企业画像：" + "；".join(problems),
            "the Parquet file does not have the enterprise profile schema (docs/registry.md)",
        )


_KIND_ZH = {
    "string": "字符串 string",
    "integer": "整数 integer",
    "money": "金额 decimal(≤2 places)",
    "date": "日期 date",
    "list": "字符串列表 list<string>",
}


def canonical_schema() -> Any:
    """The Arrow schema every engine reads (the registry's, docs/registry.md)."""
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "integer": pa.int64(),
        "money": pa.decimal128(18, 2),
        "date": pa.date32(),
        "list": pa.list_(pa.string()),
    }
    return pa.schema([pa.field(n, types[s.kind]) for n, s in FIELDS.items()])


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
@dataclass
class PolicySummary:
    policy_id: str
    title: str
    eligible: int = 0
    undetermined: int = 0
    ineligible: int = 0
    eligible_amount: Decimal | None = None  # None: the policy has no amount formula


@dataclass
class RunResult:
    out: Path
    as_of: dt.date
    engine: str
    enterprises: int
    summaries: list[PolicySummary]
    pairs_written: int | None  # None when only the summary was computed
    seconds: float = 0.0

    @property
    def pairs(self) -> int:
        return self.enterprises * len(self.summaries)


def summaries_from_counts(plan: Plan, n: int, counts: dict[str, dict[str, Any]]) -> list[PolicySummary]:
    """``counts[policy id]`` has ``eligible``, ``undetermined`` (or ``decided``) and ``amount``."""
    out = []
    for p in plan.policies:
        c = counts.get(p.id, {})
        eligible = int(c.get("eligible") or 0)
        if "decided" in c:
            decided = int(c["decided"] or 0)
            undetermined = n - decided
            ineligible = decided - eligible
        else:
            undetermined = int(c.get("undetermined") or 0)
            ineligible = n - eligible - undetermined
        amount = None if p.policy.formula is None else Decimal(c.get("amount") or 0).quantize(Decimal("0.01"))
        out.append(PolicySummary(p.id, p.title, eligible, undetermined, ineligible, amount))
    return out


def write_summary(out: Path, summaries: list[PolicySummary]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "policy_id": pa.array([s.policy_id for s in summaries], pa.string()),
            "title": pa.array([s.title for s in summaries], pa.string()),
            "eligible": pa.array([s.eligible for s in summaries], pa.int64()),
            "undetermined": pa.array([s.undetermined for s in summaries], pa.int64()),
            "ineligible": pa.array([s.ineligible for s in summaries], pa.int64()),
            "eligible_amount": pa.array([s.eligible_amount for s in summaries], pa.decimal128(38, 2)),
        }
    )
    pq.write_table(table, out / "summary.parquet", compression="zstd")
    with (out / "summary.csv").open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(SUMMARY_COLUMNS)
        for s in summaries:
            amount = "" if s.eligible_amount is None else f"{s.eligible_amount:.2f}"
            w.writerow([s.policy_id, s.title, s.eligible, s.undetermined, s.ineligible, amount])


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


def write_manifest(tmp: Path, plan: Plan, result: RunResult, enterprises: Path, **extra: Any) -> None:
    doc = {
        "format": 1,
        "as_of": plan.as_of.isoformat(),
        "engine": result.engine,
        "enterprises": str(Path(enterprises).resolve()),
        "enterprise_count": result.enterprises,
        "policy_library": str(plan.library.root),
        "policies": [{"id": p.id, "title": p.title} for p in plan.policies],
        "pairs_written": result.pairs_written,
        "seconds": round(result.seconds, 3),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **extra,
    }
    (tmp / MANIFEST).write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


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
    engine: str = "duckdb",
    policy_ids: Iterable[str] | None = None,
    only_actionable: bool = False,
    summary_only: bool = False,
    chunk_rows: int | None = None,
    on_progress: Progress | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> RunResult:
    """Evaluate every policy in force on ``as_of`` for every enterprise of ``enterprises``.

    Writes the run directory ``out`` (whole or not at all) and returns the summary.
    """
    import time

    if engine not in ENGINES:
        raise BatchError("--engine", f"引擎只能是 {' 或 '.join(ENGINES)}", f"engine must be one of {ENGINES}")
    pf = open_registry(Path(enterprises))
    plan = plan_batch(library, as_of, list(policy_ids) if policy_ids else None)
    tmp = prepare_out(Path(out))
    start = time.perf_counter()
    try:
        if engine == "duckdb":
            from huiqi.batch.duckdb_engine import DuckDBEngine

            result = DuckDBEngine(chunk_rows=chunk_rows).run(
                plan,
                pf,
                tmp,
                only_actionable=only_actionable,
                summary_only=summary_only,
                on_progress=on_progress,
                on_stage=on_stage,
            )
        else:
            from huiqi.batch.spark_engine import SparkEngine

            result = SparkEngine().run(
                plan,
                Path(enterprises),
                tmp,
                only_actionable=only_actionable,
                summary_only=summary_only,
                on_progress=on_progress,
                on_stage=on_stage,
            )
        result.seconds = time.perf_counter() - start
        write_summary(tmp, result.summaries)
        write_manifest(tmp, plan, result, Path(enterprises), only_actionable=only_actionable)
        commit_out(tmp, Path(out))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    result.out = Path(out)
    return result


def join_missing(plan: Plan, unpivoted: exp.Expr, masks: str, only_actionable: bool) -> exp.Select:
    """Unpivoted pairs joined to the table of missing-fact lists (both engines use it)."""
    undetermined = exp.EQ(this=exp.column("verdict", "u"), expression=exp.Literal.string("undetermined"))
    key = exp.Case(ifs=[exp.If(this=undetermined, true=exp.column("mask", "u"))], default=exp.Literal.number(0))
    outer = (
        exp.select(
            exp.column("policy_id", "u"),
            exp.column(plan.key, "u", quoted=True),
            exp.column("verdict", "u"),
            exp.column("amount", "u"),
            exp.column("missing", "k"),
        )
        .from_(unpivoted)
        .join(exp.to_table(masks).as_("k"), on=exp.EQ(this=exp.column("mask", "k"), expression=key), join_type="left")
    )
    if only_actionable:
        outer = outer.where(exp.NEQ(this=exp.column("verdict", "u"), expression=exp.Literal.string("ineligible")))
    return outer
