"""Per-enterprise evaluation speed: the calculator's hot path, and the CLI's cold start.

    .venv/bin/python bench/bench_match.py [--policies 500] [--profiles 10000] [--cold-runs 10]

1. Writes a synthetic library of 500 policies (~10 conditions each, derived variables,
   formulas; bench/synthetic_library.py), loads and compiles it once, and reports the
   compile time.
2. Draws 10,000 enterprises from the synthetic registry (fields missing at realistic
   rates) and times, per enterprise, ``Library.evaluate`` — every condition of every policy
   in force with its outcome (the trace), verdicts, exact ``missing`` facts and amounts —
   and, separately, the full ``match()`` answer (JSON-ready models with Chinese reasons).
   Reports p50 / p99 / mean. Targets: evaluate p50 ≤ 1 ms, p99 ≤ 5 ms.
3. Cold start: the whole ``huiqi match examples/manufacturer.json`` process with the
   shipped library, median of N runs. Target ≤ 0.6 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from huiqi.batch.registry import generate_registry  # noqa: E402
from huiqi.match import match  # noqa: E402
from huiqi.profile import parse_profile  # noqa: E402
from huiqi.rules import load_library  # noqa: E402
from synthetic_library import write_synthetic_library  # noqa: E402

AS_OF = dt.date(2026, 6, 30)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(name: str, seconds: list[float]) -> None:
    ms = [s * 1000 for s in seconds]
    print(
        f"{name:<34} p50 {percentile(ms, 0.5):7.3f} ms   p99 {percentile(ms, 0.99):7.3f} ms   "
        f"mean {statistics.fmean(ms):7.3f} ms   (n={len(ms)})"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--policies", type=int, default=500)
    ap.add_argument("--profiles", type=int, default=10_000)
    ap.add_argument("--cold-runs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        lib_dir = Path(tmp) / "library"
        write_synthetic_library(lib_dir, args.policies, args.seed)
        t0 = time.perf_counter()
        library = load_library(lib_dir)
        compile_s = time.perf_counter() - t0
        in_force = library.in_force(AS_OF)
        conditions = sum(len(p.evaluated) for p in in_force)
        print(
            f"synthetic library: {len(in_force)} policies in force, {conditions} conditions, "
            f"{len(library.variables)} derived variables; load+check+compile {compile_s:.2f} s"
        )

        registry = Path(tmp) / "registry.parquet"
        generate_registry(args.profiles, args.seed, registry)
        rows = pq.read_table(registry).to_pylist()
        profiles = [parse_profile({k: v for k, v in r.items() if v is not None}) for r in rows]

    # Two passes: the first also compiles, on first need, the explain-mode functions that
    # name missing facts; the second is the steady state of a running service.
    verdicts = {"eligible": 0, "undetermined": 0, "ineligible": 0}
    for label in ("evaluate, first pass", "evaluate, steady state"):
        gc.collect()
        gc.disable()  # measure our code, not the collector's schedule
        evaluate_s: list[float] = []
        for p in profiles:
            t = time.perf_counter()
            _, evaluations = library.evaluate(p, AS_OF)
            evaluate_s.append(time.perf_counter() - t)
            for ev in evaluations:
                verdicts[ev.verdict] += 1
        gc.enable()
        report(label, evaluate_s)
    total = sum(verdicts.values())
    print("pair verdicts: " + ", ".join(f"{k} {v / total:.1%}" for k, v in verdicts.items()))

    match_s: list[float] = []
    for p in profiles[:2000]:
        t = time.perf_counter()
        match(p, AS_OF, library)
        match_s.append(time.perf_counter() - t)
    report("match() full JSON answer", match_s)

    cold: list[float] = []
    for _ in range(args.cold_runs):
        t = time.perf_counter()
        subprocess.run(
            [str(ROOT / ".venv" / "bin" / "huiqi"), "match", str(ROOT / "examples" / "manufacturer.json")],
            check=True,
            capture_output=True,
        )
        cold.append(time.perf_counter() - t)
    print(
        f"{'cold start: huiqi match (process)':<34} median {statistics.median(cold):.3f} s   "
        f"min {min(cold):.3f} s   max {max(cold):.3f} s   (n={len(cold)})"
    )


if __name__ == "__main__":
    main()
