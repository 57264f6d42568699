"""Load benchmark of past evaluation dates on a database-backed server (issue 10 finding 4).

Builds a SQLite lifecycle database with the shipped library and ``--sets`` − 1 later
publications (each a new value of one parameter, effective on its own date, so the
database holds that many different sets of versions in force), then measures three things
with the closed-loop load generator of ``load_match.py``:

1. throughput of ``POST /api/v1/match`` with a past ``as_of`` on ``huiqi serve`` over the
   policy files (the static source) and over the database, and their ratio
   (target: the database within 1.5× of the static source);
2. the median latency of one ordinary client (sequential requests, one past date) alone;
3. the same client's median while another client cycles ``as_of`` through dates of every
   set of versions as fast as it can (target: the ordinary client's median moves ≤ 2×).
   The two clients are told apart by ``X-Forwarded-For`` (uvicorn trusts it from loopback,
   as it would from a reverse proxy in front of the server).

    .venv/bin/python bench/load_as_of.py                  # 50 clients, 20 s a run, serve's default workers
    .venv/bin/python bench/load_as_of.py --duration 10 --workers 1 --json

Bounded in time; starts and stops its own servers on loopback ports.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_match import profiles, run

ROOT = Path(__file__).resolve().parents[1]
PAST = "2026-06-30"
POLICY = "lj/tax.credit-a-award.yaml"
ANCHOR = "      - {from: 2025-01-01, value: 5000000, source: 临发改〔2025〕17号 第二条}\n"


def build_database(folder: Path, sets: int) -> tuple[str, list[dt.date]]:
    """A database with ``sets`` sets of versions in force; returns its URL and one date per set."""
    from huiqi.clock import FixedClock
    from huiqi.library import Lifecycle
    from huiqi.library.officers import add_user

    url = f"sqlite:///{folder / 'huiqi.db'}"
    clock = FixedClock(dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC))
    lc = Lifecycle.open(url, clock=clock)
    lc.import_directory(ROOT / "policies")
    add_user(lc.engine, "alice", "editor", "alice-password", clock=clock)
    add_user(lc.engine, "bob", "publisher", "bob-password", clock=clock)
    text = (ROOT / "policies" / POLICY).read_text(encoding="utf-8")
    dates = [dt.date(2026, 6, 30)]
    lines = ANCHOR
    for i in range(1, sets):
        day = dt.date(2027, 1, 1) + dt.timedelta(days=30 * i)
        lines += f"      - {{from: {day.isoformat()}, value: {5000000 - i * 100000}, source: 临发改〔2027〕{i}号}}\n"
        v = lc.create_draft(text.replace(ANCHOR, lines), author="alice", note=f"第{i}次调整")
        lc.submit(v.id, actor="alice")
        lc.publish(v.id, actor="bob", effective=day)
        dates.append(day + dt.timedelta(days=3))
    lc.engine.dispose()
    return url, dates


def start(workers: int, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    log = Path(tempfile.mkstemp(prefix="huiqi-serve-", suffix=".log")[1])
    cmd = [sys.executable, "-m", "huiqi.cli", "serve", "--port", "0", "--workers", str(workers), *extra]
    env = dict(os.environ, HUIQI_NOW="2026-12-01")
    with log.open("w") as f:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        found = re.search(r"(http://127\.0\.0\.1:\d+)", log.read_text("utf-8"))
        if found:
            try:
                if httpx.get(found.group(1) + "/api/v1/health", timeout=2).status_code == 200:
                    for _ in range(workers * 4):
                        httpx.get(found.group(1) + "/api/v1/health", timeout=5)
                    return proc, found.group(1)
            except httpx.TransportError:
                pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit(f"huiqi serve did not start:\n{log.read_text('utf-8')}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


async def ordinary(base: str, duration: float, body: bytes) -> list[float]:
    """One client, one request at a time, always the same past date: its latencies (ms)."""
    out: list[float] = []
    headers = {"content-type": "application/json", "x-forwarded-for": "198.51.100.10"}
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for _ in range(20):  # warm up
            await client.post("/api/v1/match", content=body, headers=headers)
        end = time.perf_counter() + duration
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            r = await client.post("/api/v1/match", content=body, headers=headers)
            assert r.status_code == 200, r.text
            out.append((time.perf_counter() - t0) * 1000)
    return out


async def cycler(
    base: str, dates: list[dt.date], until: asyncio.Event, counts: dict[str, int], *, cycle: bool = True
) -> None:
    """Another client cycling through dates of every set of versions, as fast as answers come
    (``cycle=False``: the same client on one fixed date, the baseline of any busy neighbour)."""
    headers = {"content-type": "application/json", "x-forwarded-for": "203.0.113.66"}
    profile = {"employees": 20, "revenue": "3000000", "credit_rating": "A", "region": "339901"}
    i = 0
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while not until.is_set():
            day = dates[i % len(dates)] + dt.timedelta(days=i // len(dates) % 25) if cycle else dates[0]
            i += 1
            r = await client.post("/api/v1/match", json={"profile": profile, "as_of": day.isoformat()}, headers=headers)
            counts[str(r.status_code)] = counts.get(str(r.status_code), 0) + 1


async def beside(base: str, duration: float, dates: list[dt.date], body: bytes, cycle: bool) -> tuple[float, dict]:
    until: asyncio.Event = asyncio.Event()
    counts: dict[str, int] = {}
    other = asyncio.create_task(cycler(base, dates, until, counts, cycle=cycle))
    await asyncio.sleep(1.0)
    try:
        loaded = await ordinary(base, duration, body)
    finally:
        until.set()
        await other
    return statistics.median(loaded), counts


async def interference(base: str, duration: float, dates: list[dt.date], body: bytes) -> dict[str, Any]:
    alone = statistics.median(await ordinary(base, duration, body))
    steady, _ = await beside(base, duration, dates, body, cycle=False)
    cycling, counts = await beside(base, duration, dates, body, cycle=True)
    return {
        "ordinary_alone_p50_ms": alone,
        "ordinary_beside_steady_client_p50_ms": steady,
        "ordinary_with_cycler_p50_ms": cycling,
        "ratio": cycling / alone,
        "cycler_answers": counts,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 4))
    ap.add_argument("--sets", type=int, default=12, help="sets of versions in force in the database")
    ap.add_argument("--rounds", type=int, default=1, help="alternate static and database runs this often (medians)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not 1 <= args.concurrency <= 500 or not 0 < args.duration <= 300 or not 2 <= args.sets <= 40:
        raise SystemExit("concurrency 1..500, duration 0..300 s, sets 2..40")
    if not 1 <= args.rounds <= 10:
        raise SystemExit("rounds 1..10")
    bodies = [json.dumps({**json.loads(b), "as_of": PAST}).encode() for b in profiles(2000, seed=7)]
    figures: dict[str, Any] = {"workers": args.workers, "concurrency": args.concurrency, "sets": args.sets}
    with tempfile.TemporaryDirectory(prefix="huiqi-as-of-") as folder:
        t0 = time.perf_counter()
        url, dates = build_database(Path(folder), args.sets)
        figures["database_built_s"] = round(time.perf_counter() - t0, 1)
        runs: dict[str, list[dict[str, Any]]] = {"static": [], "database": []}
        for round_ in range(args.rounds):
            for name, extra in (("static", ()), ("database", ("--db", url))):
                proc, base = start(args.workers, *extra)
                try:
                    result = asyncio.run(run(base, bodies, args.concurrency, args.duration, None, 2.0))
                    runs[name].append({k: result[k] for k in ("rps", "p50_ms", "p99_ms", "errors")})
                    if name == "database" and round_ == args.rounds - 1:
                        figures["interference"] = asyncio.run(interference(base, args.duration / 2, dates, bodies[0]))
                finally:
                    stop(proc)
        for name, results in runs.items():
            middle = sorted(results, key=lambda r: r["rps"])[len(results) // 2]
            figures[name] = {**middle, "rps_each": [round(r["rps"]) for r in results]}
    figures["static_over_database"] = figures["static"]["rps"] / max(figures["database"]["rps"], 1e-9)
    if args.json:
        print(json.dumps(figures, indent=2, ensure_ascii=False))
        return
    s, d, i = figures["static"], figures["database"], figures["interference"]
    print(f"workers {args.workers}, {args.concurrency} clients, {args.sets} sets of versions, as_of {PAST}")
    for label, r in (("static source:  ", s), ("database source:", d)):
        print(f"{label} {r['rps']:6.0f} req/s {r['rps_each']}  p50 {r['p50_ms']:.1f} ms  p99 {r['p99_ms']:.1f} ms")
    print(f"static / database throughput: {figures['static_over_database']:.2f}× (target ≤ 1.5×)")
    print(
        f"ordinary client p50: alone {i['ordinary_alone_p50_ms']:.1f} ms, beside a client on one date "
        f"{i['ordinary_beside_steady_client_p50_ms']:.1f} ms, beside an as_of cycler "
        f"{i['ordinary_with_cycler_p50_ms']:.1f} ms = {i['ratio']:.2f}× (target ≤ 2×); cycler got {i['cycler_answers']}"
    )


if __name__ == "__main__":
    main()
