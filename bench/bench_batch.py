"""Benchmark of batch matching (免申即享) on DuckDB: wall time, pairs/s, peak memory, floor ratio.

    .venv/bin/python bench/bench_batch.py                       # 1,000,000 enterprises, both libraries
    .venv/bin/python bench/bench_batch.py --rows 200000 --write-pairs

Scenarios (each in its own subprocess, so that its peak RSS is its own):

* ``shipped``: the library in policies/ (summary, and with --write-pairs all pairs);
* ``synthetic``: ``bench/synthetic_library.py``'s 500 policies × ~10 conditions;
* ``floor``: a hand-written DuckDB query computing the same verdicts and amounts for the
  synthetic library — the conditions as plain SQL (no three-valued wrappers, no decimal
  rounding casts, no stacked CTEs, no shared-condition columns), aggregated the same way
  over the same registry view. ``synthetic / floor`` is the overhead of the generated SQL.

The measured job evaluates every (enterprise, policy) pair and aggregates the verdict
counts and eligible amounts per policy (``huiqi batch run --summary-only``); writing all
pairs to Parquet (``--write-pairs``, all of them: ``--all-pairs``) is reported separately. Peak RSS is
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of the scenario's process (the same figure
``/usr/bin/time -v`` reports as "Maximum resident set size").
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from huiqi.batch.duckdb_engine import DuckDBEngine, registry_view  # noqa: E402
from huiqi.batch.registry import generate_registry  # noqa: E402
from huiqi.batch.run import run_batch  # noqa: E402
from huiqi.rules import load_library  # noqa: E402
from synthetic_library import write_synthetic_library  # noqa: E402

AS_OF = dt.date(2026, 6, 30)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def registry(work: Path, rows: int, seed: int) -> Path:
    path = work / f"registry-{rows}-{seed}.parquet"
    if not path.exists():
        generate_registry(rows, seed, path)
    return path


def synthetic(work: Path, n: int, seed: int) -> Path:
    root = work / f"synthetic-{n}-{seed}"
    if not root.exists():
        write_synthetic_library(root, n, seed)
    return root


def floor_sql(n: int, seed: int) -> tuple[str, list[str]]:
    lib = write_synthetic_library(Path(tempfile.mkdtemp()), n, seed)
    cols, aggs = [], ["count(*) AS n"]
    for i, p in enumerate(lib.policies):
        met = " AND ".join(f"({plain})" for _, plain in p.conditions)
        cols.append(f"{met} AS m{i}")
        aggs += [f"count_if(m{i}) AS e{i}", f"count(m{i}) AS d{i}"]
        if p.formula is not None:
            cols.append(f"CAST({p.formula[1]} AS DECIMAL(18, 2)) AS a{i}")
            aggs.append(f"sum(CASE WHEN m{i} THEN a{i} END) AS s{i}")
    sql = (
        f"SELECT {', '.join(aggs)} FROM (SELECT {', '.join(cols)} "
        f"FROM (SELECT *, {lib.plain_variables_sql()} FROM profiles))"
    )
    shutil.rmtree(lib.root, ignore_errors=True)
    return sql, [p.id for p in lib.policies]


def scenario(args: argparse.Namespace) -> dict:
    work = Path(args.work)
    reg = registry(work, args.rows, args.seed)
    out: dict = {"scenario": args.scenario, "rows": args.rows}
    cpu0 = cpu_seconds()
    if args.scenario == "floor":
        sql, ids = floor_sql(args.policies, args.seed)
        con = DuckDBEngine().connect()
        start = time.perf_counter()
        con.execute(f"CREATE VIEW profiles AS {registry_view(reg)}")
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        (row,) = cur.fetchall()
        totals = {k: v or 0 for k, v in zip(names, row, strict=True)}
        out.update(seconds=time.perf_counter() - start, policies=len(ids))
        n = totals["n"]
        eligible = sum(v for k, v in totals.items() if k[0] == "e")
        undetermined = sum(n - v for k, v in totals.items() if k[0] == "d")
        amount = sum((v for k, v in totals.items() if k[0] == "s"), Decimal(0))
    else:
        lib = load_library(synthetic(work, args.policies, args.seed) if args.scenario == "synthetic" else None)
        n_policies = len(lib.in_force(AS_OF))
        target = work / f"run-{args.scenario}"
        start = time.perf_counter()
        result = run_batch(lib, reg, AS_OF, target, summary_only=not args.write_pairs, all_pairs=True)
        out.update(seconds=time.perf_counter() - start, policies=n_policies, pairs_written=result.pairs_written)
        if args.write_pairs:
            out["pairs_bytes"] = sum(f.stat().st_size for f in (target / "pairs").rglob("*.parquet"))
        s = result.summaries
        eligible = sum(x.eligible for x in s)
        undetermined = sum(x.undetermined for x in s)
        amount = sum((x.eligible_amount or 0 for x in s), Decimal(0))
        shutil.rmtree(target, ignore_errors=True)
    out["cpu_seconds"] = cpu_seconds() - cpu0  # includes loading the library and planning
    out["digest"] = f"eligible={eligible} undetermined={undetermined} amount={amount}"
    out["pairs"] = out["rows"] * out["policies"]
    out["pairs_per_s"] = out["pairs"] / out["seconds"]
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--policies", type=int, default=500, help="synthetic library size")
    ap.add_argument("--seed", type=int, default=20260630)
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "huiqi-bench-batch"))
    ap.add_argument("--write-pairs", action="store_true", help="also time writing every pair to Parquet")
    ap.add_argument("--scenario", choices=["shipped", "synthetic", "floor"], help=argparse.SUPPRESS)
    ap.add_argument("--only", nargs="*", choices=["shipped", "synthetic", "floor"], help="run only these scenarios")
    args = ap.parse_args()
    Path(args.work).mkdir(parents=True, exist_ok=True)
    if args.scenario:
        print(json.dumps(scenario(args)))
        return
    registry(Path(args.work), args.rows, args.seed)  # generated once, outside the timings
    synthetic(Path(args.work), args.policies, args.seed)
    results = {}
    for name in args.only or ["shipped", "synthetic", "floor"]:
        jobs = [False, True] if args.write_pairs and name != "floor" else [False]
        for write in jobs:
            cmd = [sys.executable, __file__, "--scenario", name, "--rows", str(args.rows)]
            cmd += ["--policies", str(args.policies), "--seed", str(args.seed), "--work", args.work]
            if write:
                cmd.append("--write-pairs")
            r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip())
            key = name + (" + write pairs" if write else "")
            results[key] = r
            extra = f", {r['pairs_bytes'] / 1e6:,.0f} MB of pairs" if "pairs_bytes" in r else ""
            print(
                f"{key:26s} {r['rows']:>9,} × {r['policies']:>3} policies: {r['seconds']:7.2f} s, "
                f"{r['pairs_per_s']:>13,.0f} pairs/s, CPU {r['cpu_seconds']:6.1f} s, "
                f"peak RSS {r['peak_rss_mb']:,.0f} MB{extra}",
                flush=True,
            )
    if "synthetic" in results and "floor" in results:
        s, f = results["synthetic"], results["floor"]
        ratio, cpu_ratio = s["seconds"] / f["seconds"], s["cpu_seconds"] / f["cpu_seconds"]
        print(f"generated / hand-written floor = {ratio:.2f} (wall), {cpu_ratio:.2f} (CPU)")
        same = "identical" if s["digest"] == f["digest"] else f"DIFFERENT: {s['digest']} vs {f['digest']}"
        print(f"verdict counts and eligible amounts of generated and floor: {same}")


if __name__ == "__main__":
    main()
