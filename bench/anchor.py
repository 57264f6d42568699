"""huiqi against OpenFisca, side by side: every row of issue 17's table, with ratios.

    .venv/bin/python bench/anchor.py                     # all rows, 1,000,000 enterprises, 3 rounds
    .venv/bin/python bench/anchor.py --rows 200000 --rounds 5 --only batch-summary batch-write
    .venv/bin/python bench/anchor.py --only load500      # the API under load, 500 policies

The peer is the OpenFisca model of seven shipped policies in ``../shared/anchors/openfisca7``
(``--anchor``; its README). OpenFisca is installed by this script in its own virtual
environment (``python -m venv`` + ``pip install openfisca-core numpy pyarrow`` from the
package registry, once, under ``--work``); it is never a dependency of huiqi.

Every measurement runs in a fresh process, huiqi and OpenFisca alternately (interleaved
rounds), so a noisy neighbour hurts both sides alike; the table shows medians over rounds
and the ratio huiqi / OpenFisca (below 1 = huiqi faster). Rows:

* ``one``: one enterprise, the 7 policies, with explanation — huiqi ``answer()`` (verdicts,
  amounts, every condition with its Chinese reason) vs OpenFisca building the simulation,
  calculating the 15 outputs with the tracer on and serialising the flat trace (what its
  Web API's ``/trace`` does); median per enterprise over 1,000 complete profiles;
* ``full500``: huiqi alone, the full answer with Chinese reasons for a 500-policy synthetic
  library (``bench/synthetic_library.py``), p50 and p99 per enterprise;
* ``batch-summary`` / ``batch-write``: 1,000,000 complete profiles × the 7 policies — huiqi
  ``run_batch`` (summary only / writing the pairs) vs OpenFisca's ``of_batch.py`` (summary /
  writing one wide row per enterprise), from opening the registry to the result on disk
  (library imports excluded on both sides; huiqi's CPU time is shown beside),
  OpenFisca with float64 storage. After the write rounds the two outputs are joined and
  must agree on every eligibility and every eligible amount, or the script fails;
* ``shipped-pairs``: huiqi alone, 1,000,000 profiles of the ordinary synthetic registry
  (missing facts included) × the shipped library, all pairs written: seconds and peak RSS;
* ``cold``: the whole process ``huiqi match examples/manufacturer.json`` vs OpenFisca's
  ``of_cold.py`` (import, build the system, calculate one enterprise);
* ``load500``: ``bench/load_match.py`` against ``huiqi serve --policies <500 policies>``,
  50 clients, the full answer: p99 latency.

"Complete" profiles have every profile field known: OpenFisca has no unknown (a missing
fact would silently become 0 there), so only on those can the verdicts be compared.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ANCHOR = ROOT.parent / "shared" / "anchors" / "openfisca7"
AS_OF = dt.date(2026, 6, 30)
SEVEN = (
    "cn.cit.small-low-profit",
    "cn.cit.high-tech",
    "cn.vat.small-scale-exemption",
    "cn.tax.six-taxes-two-fees-half",
    "lj.sci.rd-subsidy",
    "lj.hr.job-stabilization",
    "lj.finance.startup-guarantee-loan",
)
OPENFISCA_PACKAGES = ("openfisca-core", "numpy", "pyarrow")
#: Goals of issue 17: (kind, value). "ratio" rows compare with OpenFisca.
GOALS: dict[str, str] = {
    "one": "ratio 0.06–0.09 (keep)",
    "full500": "p50 ≤ 5 ms, p99 ≤ 15 ms",
    "batch-summary": "ratio ≤ 0.5",
    "batch-write": "ratio ≤ 0.7",
    "shipped-pairs": "≤ 8 s, ≤ 1 GB",
    "cold": "ratio ≤ 1.0, ≤ 0.3 s",
    "load500": "p99 ≤ 50 ms at 50 clients",
}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- setup (outside every timing) -----------------------------------------------------------
def openfisca_python(work: Path) -> Path:
    """The OpenFisca environment's interpreter, created on first use."""
    venv = work / "openfisca-venv"
    python = venv / "bin" / "python"
    if not (venv / ".installed").exists():
        print(f"installing OpenFisca into {venv} (once) …", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *OPENFISCA_PACKAGES], check=True)
        (venv / ".installed").touch()
    return python


def complete_registry(work: Path, rows: int, seed: int) -> Path:
    """``rows`` synthetic enterprises with every profile field known (drawn from a larger
    synthetic registry, keeping the complete rows in order)."""
    path = work / f"complete-{rows}-{seed}.parquet"
    if path.exists():
        return path
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from huiqi.batch.registry import iter_batches

    kept: list[pa.RecordBatch] = []
    have = 0
    for batch in iter_batches(rows * 3, seed):
        known = None
        for column in batch.columns:
            valid = pc.is_valid(column)
            known = valid if known is None else pc.and_(known, valid)
        batch = batch.filter(known)
        kept.append(batch.slice(0, rows - have))
        have += kept[-1].num_rows
        if have >= rows:
            break
    table = pa.Table.from_batches(kept)
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp, compression="zstd", row_group_size=250_000)
    tmp.rename(path)
    return path


def registry(work: Path, rows: int, seed: int) -> Path:
    from huiqi.batch.registry import generate_registry

    path = work / f"registry-{rows}-{seed}.parquet"
    if not path.exists():
        generate_registry(rows, seed, path)
    return path


def seven_library(work: Path) -> Path:
    """The shipped library reduced to the seven policies the OpenFisca model has."""
    root = work / "seven"
    shutil.rmtree(root, ignore_errors=True)
    src = ROOT / "policies"
    for f in src.glob("_*.yaml"):
        (root / f.parent.relative_to(src)).mkdir(parents=True, exist_ok=True)
        shutil.copy(f, root / f.name)
    for pid in SEVEN:
        scope, name = pid.split(".", 1)
        (root / scope).mkdir(exist_ok=True)
        shutil.copy(src / scope / f"{name}.yaml", root / scope / f"{name}.yaml")
    return root


def synthetic500(work: Path, seed: int) -> Path:
    sys.path.insert(0, str(ROOT / "bench"))
    from synthetic_library import write_synthetic_library

    root = work / f"synthetic-500-{seed}"
    if not root.exists():
        write_synthetic_library(root, 500, seed)
    return root


def openfisca_inputs(row: dict[str, Any]) -> dict[str, Any]:
    """A complete huiqi profile as the OpenFisca model's inputs."""
    certs = row["certifications"] or []
    out = {k: row[k] for k in ("region", "industry", "employees", "taxpayer_type", "credit_rating")}
    for k in ("revenue", "total_assets", "taxable_income", "rd_expense", "monthly_sales"):
        out[k] = float(row[k])
    out["cert_high_tech"] = "high_tech" in certs
    out["cert_tech_sme"] = "tech_sme" in certs
    return out


# --- the huiqi sides (each in its own process) ----------------------------------------------
def side_batch(args: argparse.Namespace) -> dict[str, Any]:
    # Libraries imported before the clock starts, as of_batch.py imports numpy, pyarrow and
    # OpenFisca before its own: both sides time the work, not the interpreter's imports.
    import duckdb  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    from huiqi.batch.run import run_batch
    from huiqi.rules import load_library

    library = load_library(Path(args.library))
    start, cpu = time.perf_counter(), time.process_time()
    kw = {"all_pairs": True} if args.mode == "all" else {}  # older huiqi wrote all pairs anyway
    result = run_batch(library, Path(args.registry), AS_OF, Path(args.out), summary_only=args.mode == "summary", **kw)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "cpu": time.process_time() - cpu,  # every thread of this process (DuckDB's, the writers')
        "peak_rss_mb": peak_rss_mb(),
        "pairs_written": result.pairs_written,
        "eligible": {s.policy_id: s.eligible for s in result.summaries},
        "undetermined": {s.policy_id: s.undetermined for s in result.summaries},
    }


def side_one(args: argparse.Namespace) -> dict[str, Any]:
    import gc

    from huiqi.match.engine import answer
    from huiqi.profile import parse_profile
    from huiqi.rules import load_library

    library = load_library(Path(args.library))
    profiles = [parse_profile(p) for p in json.loads(Path(args.profiles_file).read_text("utf-8"))]
    for p in profiles[:50]:  # warm: the explain-mode code is compiled on first need
        answer(p, AS_OF, library)
    seconds: list[float] = []
    cpu: list[float] = []  # this process's CPU time: what a shared, loaded machine hides in the wall time
    eligible: list[dict[str, bool]] = []
    gc.collect()
    gc.freeze()  # as `huiqi serve` does once loaded (web/app.py): no collection walks the library
    for r in range(args.repeat):
        for p in profiles:
            t, c = time.perf_counter(), time.process_time()
            doc = answer(p, AS_OF, library)
            seconds.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            if r == 0:
                eligible.append({x["policy_id"]: x["verdict"] == "eligible" for x in doc["results"]})
    return {"seconds": seconds, "cpu": cpu, "eligible": eligible}


# --- rows -------------------------------------------------------------------------------------
def run_json(cmd: list[str], **kw: Any) -> dict[str, Any]:
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"failed: {' '.join(cmd)}")
    text = proc.stdout.strip()
    out: dict[str, Any] = json.loads(text if text.startswith("{\n") else text.splitlines()[-1])
    return out


def huiqi_side(side: str, **options: Any) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--side", side]
    for k, v in options.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    return run_json(cmd, cwd=ROOT)


def openfisca_batch(py: Path, anchor: Path, reg: Path, work: Path, write: Path | None) -> dict[str, Any]:
    result = work / "of-result.json"
    cmd = [str(py), str(anchor / "of_batch.py"), str(reg), str(result), "--float64"]
    if write is not None:
        cmd += ["--write", str(write)]
    subprocess.run(cmd, check=True, capture_output=True)
    out: dict[str, Any] = json.loads(result.read_text())
    return out


def row_one(ctx: Context) -> dict[str, Any]:
    import pyarrow.parquet as pq

    rows = pq.read_table(ctx.complete).slice(0, ctx.args.profiles).to_pylist()
    huiqi_profiles = [{k: v for k, v in r.items() if v is not None} for r in rows]
    profiles = ctx.work / "one-profiles.json"
    profiles.write_text(json.dumps(huiqi_profiles, default=str, ensure_ascii=False), "utf-8")
    of_profiles = ctx.work / "one-profiles-of.json"
    of_profiles.write_text(json.dumps([openfisca_inputs(r) for r in rows]), "utf-8")
    h_med, o_med = [], []
    for _ in range(ctx.args.rounds):
        h = huiqi_side("one", library=ctx.seven, profiles_file=profiles, repeat=1)
        h_med.append(statistics.median(h["seconds"]))
        dst = ctx.work / "of-one.json"
        subprocess.run(
            [str(ctx.of_python), str(ROOT / "bench" / "openfisca_side.py"), str(ctx.anchor), "one", str(of_profiles),
             str(dst)],
            check=True,
        )  # fmt: skip
        o = json.loads(dst.read_text())
        o_med.append(statistics.median(o["seconds"]))
    disagree = sum(
        h_e.get(pid) != o_e[pid] for h_e, o_e in zip(h["eligible"], o["eligible"], strict=True) for pid in SEVEN
    )
    if disagree:
        raise SystemExit(f"one: huiqi and OpenFisca disagree on {disagree} eligibilities")
    h_ms, o_ms = statistics.median(h_med) * 1000, statistics.median(o_med) * 1000
    return {
        "huiqi": f"{h_ms:.3f} ms",
        "openfisca": f"{o_ms:.3f} ms",
        "ratio": h_ms / o_ms,
        "ok": h_ms / o_ms <= 0.09,
        "note": f"{len(rows)} complete profiles, same eligibilities",
    }


def row_full500(ctx: Context) -> dict[str, Any]:
    import pyarrow.parquet as pq

    lib = synthetic500(ctx.work, ctx.args.seed)
    reg = registry(ctx.work, 10_000, 7)
    rows = pq.read_table(reg).slice(0, 2000).to_pylist()
    profiles = ctx.work / "full500-profiles.json"
    profiles.write_text(
        json.dumps([{k: v for k, v in r.items() if v is not None} for r in rows], default=str, ensure_ascii=False),
        "utf-8",
    )
    p50s, p99s, cpu50s, cpu99s = [], [], [], []
    for _ in range(ctx.args.rounds):
        h = huiqi_side("one", library=lib, profiles_file=profiles, repeat=1)
        p50s.append(percentile(h["seconds"], 0.5) * 1000)
        p99s.append(percentile(h["seconds"], 0.99) * 1000)
        cpu50s.append(percentile(h["cpu"], 0.5) * 1000)
        cpu99s.append(percentile(h["cpu"], 0.99) * 1000)
    p50, p99 = statistics.median(p50s), statistics.median(p99s)
    cpu50, cpu99 = statistics.median(cpu50s), statistics.median(cpu99s)
    return {
        "huiqi": f"p50 {p50:.2f} ms, p99 {p99:.2f} ms",
        "openfisca": "—",
        "ratio": None,
        "ok": p50 <= 5 and p99 <= 15,
        "note": f"{len(rows)} synthetic profiles (facts missing at registry rates); "
        f"CPU time p50 {cpu50:.2f} ms, p99 {cpu99:.2f} ms",
    }


def _batch_rows(ctx: Context, write: bool) -> dict[str, Any]:
    name = "batch-write" if write else "batch-summary"
    h_s, o_s, h_rss, o_rss, h_cpu = [], [], [], [], []
    out = ctx.work / f"{name}-huiqi"
    of_out = ctx.work / f"{name}-openfisca.parquet" if write else None
    for _ in range(ctx.args.rounds):
        h = huiqi_side("batch", library=ctx.seven, registry=ctx.complete, out=out, mode="write" if write else "summary")
        o = openfisca_batch(ctx.of_python, ctx.anchor, ctx.complete, ctx.work, of_out)
        h_s.append(h["seconds"])
        h_cpu.append(h["cpu"])
        o_s.append(o["seconds"])
        h_rss.append(h["peak_rss_mb"])
        o_rss.append(o["peak_rss_mb"])
    for pid in SEVEN:  # the summaries agree …
        if h["eligible"][pid] != o["summary"][pid]["eligible"]:
            raise SystemExit(f"{name}: {pid} eligible {h['eligible'][pid]} (huiqi) ≠ {o['summary'][pid]['eligible']}")
    note = "eligible counts equal"
    if write:  # … and so does every pair
        note = check_pairs(out, of_out)
    note += f"; huiqi CPU {statistics.median(h_cpu):.2f} s (OpenFisca is single-threaded)"
    shutil.rmtree(out, ignore_errors=True)
    h_med, o_med = statistics.median(h_s), statistics.median(o_s)
    return {
        "huiqi": f"{h_med:.2f} s, {statistics.median(h_rss):,.0f} MB",
        "openfisca": f"{o_med:.2f} s, {statistics.median(o_rss):,.0f} MB",
        "ratio": h_med / o_med,
        "ok": h_med / o_med <= (0.7 if write else 0.5),
        "note": note,
    }


def check_pairs(huiqi_run: Path, openfisca_out: Path | None) -> str:
    """Every (enterprise, policy): huiqi eligible ⇔ OpenFisca eligible, and the same amount
    — to the cent, except where OpenFisca's binary floats round a half cent the other way
    (huiqi computes in exact decimals: 2912166.65 × 0.10 = 291216.665 → 291216.67; float64
    makes it 291216.66). Those one-cent cases are counted, anything more fails."""
    import duckdb

    con = duckdb.connect()
    pairs = str(huiqi_run / "pairs" / "*" / "*.parquet")
    con.execute(
        f"CREATE VIEW h AS SELECT * FROM read_parquet('{pairs}', hive_partitioning = true, "
        "hive_types = {'policy_id': VARCHAR})"
    )
    con.execute(f"CREATE VIEW o AS SELECT * FROM read_parquet('{openfisca_out}')")
    checked, half_cents = 0, 0
    for pid, (elig, amount) in _openfisca_policies().items():
        diff = f'abs(h.amount - round(o."{amount}", 2))' if amount else "0"
        row = con.execute(
            f"""SELECT count(*) FILTER (WHERE (h.uscc IS NULL) <> (NOT o."{elig}") OR {diff} > 0.0101),
                       count(*) FILTER (WHERE o."{elig}" AND {diff} > 0.005)
                FROM o FULL JOIN (SELECT * FROM h WHERE policy_id = ? AND verdict = 'eligible') h USING (uscc)""",
            [pid],
        ).fetchone()
        assert row is not None
        if row[0]:
            raise SystemExit(f"batch-write: {pid}: {row[0]} enterprises where huiqi and OpenFisca disagree")
        half_cents += row[1]
        checked += 1
    n = con.execute("SELECT count(*) FROM o").fetchone()
    return (
        f"all {n[0] if n else 0:,} × {checked} eligibilities equal, amounts equal but {half_cents} "
        "half-cent boundaries OpenFisca's floats round down"
    )


def _openfisca_policies() -> dict[str, tuple[str, str | None]]:
    # The anchor's POLICIES table, without importing OpenFisca (its module needs it).
    return {
        "cn.cit.small-low-profit": ("cit_small_low_profit_eligible", "cit_small_low_profit_amount"),
        "cn.cit.high-tech": ("cit_high_tech_eligible", "cit_high_tech_amount"),
        "cn.vat.small-scale-exemption": ("vat_small_scale_exemption_eligible", "vat_small_scale_exemption_amount"),
        "cn.tax.six-taxes-two-fees-half": ("six_taxes_two_fees_half_eligible", None),
        "lj.sci.rd-subsidy": ("rd_subsidy_eligible", "rd_subsidy_amount"),
        "lj.hr.job-stabilization": ("job_stabilization_eligible", "job_stabilization_amount"),
        "lj.finance.startup-guarantee-loan": ("startup_guarantee_loan_eligible", "startup_guarantee_loan_amount"),
    }


def row_shipped_pairs(ctx: Context) -> dict[str, Any]:
    reg = registry(ctx.work, ctx.args.rows, ctx.args.seed)
    out = ctx.work / "shipped-huiqi"
    secs, rss, cpu = [], [], []
    for _ in range(ctx.args.rounds):
        h = huiqi_side("batch", library=ROOT / "policies", registry=reg, out=out, mode="all")
        secs.append(h["seconds"])
        rss.append(h["peak_rss_mb"])
        cpu.append(h["cpu"])
    size = sum(f.stat().st_size for f in (out / "pairs").rglob("*.parquet")) / 1e6
    shutil.rmtree(out, ignore_errors=True)
    s, m = statistics.median(secs), statistics.median(rss)
    return {
        "huiqi": f"{s:.2f} s, {m:,.0f} MB",
        "openfisca": "—",
        "ratio": None,
        "ok": s <= 8 and m <= 1024,
        "note": f"{h['pairs_written']:,} pairs written ({size:,.0f} MB); CPU {statistics.median(cpu):.2f} s",
    }


def row_cold(ctx: Context) -> dict[str, Any]:
    huiqi = [str(ROOT / ".venv" / "bin" / "huiqi"), "match", str(ROOT / "examples" / "manufacturer.json")]
    of = [str(ctx.of_python), str(ctx.anchor / "of_cold.py"), str(ctx.anchor / "manufacturer.json"), "--trace"]
    env = {**os.environ, "HUIQI_NOW": "2026-06-30T12:00:00+08:00"}
    # Installed, huiqi has its bytecode compiled (pip does it for a wheel, as it did for
    # OpenFisca's packages); an editable checkout run with PYTHONDONTWRITEBYTECODE would
    # compile every module from source on every start instead.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src" / "huiqi")], check=True)
    for cmd in (huiqi, of):  # warm the page cache (and huiqi's disk cache of the compiled library)
        subprocess.run(cmd, check=True, capture_output=True, env=env)
    h_s, o_s, h_cpu, o_cpu = [], [], [], []
    for _ in range(max(10, ctx.args.rounds * 3)):
        for cmd, acc, cpu in ((huiqi, h_s, h_cpu), (of, o_s, o_cpu)):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=env)
            acc.append(time.perf_counter() - t)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    h, o = statistics.median(h_s), statistics.median(o_s)
    hc, oc = statistics.median(h_cpu), statistics.median(o_cpu)
    return {
        "huiqi": f"{h:.3f} s",
        "openfisca": f"{o:.3f} s",
        "ratio": h / o,
        "ok": h / o <= 1.0 and h <= 0.3,
        "note": f"{len(h_s)} runs each, interleaved; CPU time {hc:.3f} s vs {oc:.3f} s (ratio {hc / oc:.2f})",
    }


def row_load500(ctx: Context) -> dict[str, Any]:
    lib = synthetic500(ctx.work, ctx.args.seed)
    cmd = [sys.executable, str(ROOT / "bench" / "load_match.py"), "--policies", str(lib), "--json"]
    cmd += ["--duration", str(ctx.args.load_seconds)]
    r = run_json(cmd, cwd=ROOT)
    return {
        "huiqi": f"p99 {r['p99_ms']:.1f} ms, p50 {r['p50_ms']:.1f} ms, {r['rps']:,.0f} req/s",
        "openfisca": "—",
        "ratio": None,
        "ok": r["p99_ms"] <= 50 and not r["errors"],
        "note": f"{r['concurrency']} clients, {r['requests']:,} requests, {sum(r['errors'].values())} errors",
    }


class Context:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.work = Path(args.work)
        self.work.mkdir(parents=True, exist_ok=True)
        self.anchor = Path(args.anchor).resolve()
        self.of_python = openfisca_python(self.work)
        self.seven = seven_library(self.work)
        self.complete = complete_registry(self.work, args.rows, args.seed)


ROWS = {
    "one": ("one enterprise, 7 policies, with explanation", row_one),
    "full500": ("one enterprise, full answer, 500 policies", row_full500),
    "batch-summary": ("batch 1 M × 7 policies, summary", lambda c: _batch_rows(c, write=False)),
    "batch-write": ("batch 1 M × 7 policies, writing results", lambda c: _batch_rows(c, write=True)),
    "shipped-pairs": ("batch 1 M × shipped library, all pairs", row_shipped_pairs),
    "cold": ("cold start, one-enterprise process", row_cold),
    "load500": ("API under load, 500 policies, full answer", row_load500),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="enterprises in the batch rows")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds per row (medians)")
    ap.add_argument("--profiles", type=int, default=1000, help="profiles in the one-enterprise row")
    ap.add_argument("--load-seconds", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=20260630)
    ap.add_argument("--anchor", default=str(DEFAULT_ANCHOR), help="the OpenFisca model's folder")
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "huiqi-bench-anchor"))
    ap.add_argument("--only", nargs="*", choices=list(ROWS), help="run only these rows")
    # internal: one huiqi measurement in this process
    ap.add_argument("--side", choices=["batch", "one"], help=argparse.SUPPRESS)
    for name in ("library", "registry", "out", "mode", "profiles-file"):
        ap.add_argument(f"--{name}", help=argparse.SUPPRESS)
    ap.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        print(json.dumps(side_batch(args) if args.side == "batch" else side_one(args)))
        return
    ctx = Context(args)
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores", flush=True)
    print(f"{'work':<44} {'huiqi':<34} {'OpenFisca':<18} {'ratio':>6}  {'goal':<26} met")
    failed = []
    for key in args.only or list(ROWS):
        title, fn = ROWS[key]
        r = fn(ctx)
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        mark = "yes" if r["ok"] else "NO"
        if not r["ok"]:
            failed.append(key)
        print(f"{title:<44} {r['huiqi']:<34} {r['openfisca']:<18} {ratio:>6}  {GOALS[key]:<26} {mark}", flush=True)
        print(f"{'':<44} ({r['note']})", flush=True)
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if failed:
        print(f"goals not met: {', '.join(failed)}")


if __name__ == "__main__":
    main()
