"""Transparency log benchmarks: batched append, inclusion and consistency proofs, fsck.

    python bench/bench_trust_log.py                      # append 200k, proofs and fsck at 1M, proofs at 10M
    python bench/bench_trust_log.py --big 0              # skip the 10-million-entry log
    python bench/bench_trust_log.py --append 0           # proofs and fsck only (the kept logs)

Databases are SQLite files as the platform opens them (WAL) under --dir (default
/tmp/huiqi-bench-trust); the 1M and 10M logs are kept between runs and extended, since
building them is most of the time. Prints medians; the append rate is also given as a
ratio against plain inserts of the same rows without hashing (the floor, same run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sqlite3
import statistics
import time
from pathlib import Path

from huiqi.clock import FixedClock
from huiqi.store import make_engine
from huiqi.trust import merkle
from huiqi.trust.log import TransparencyLog
from huiqi.trust.schema import create_tables
from huiqi.trust.verify import verify_consistency, verify_inclusion

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
BATCH = 2000


def entry(i: int) -> dict[str, object]:
    return {
        "type": "sharing.decision",
        "time": "2026-12-01T09:00:00.000000Z",
        "consumer": "tax-gateway",
        "purpose": "policy_match",
        "subject": f"91330100MA{i:08d}",
        "fields": ["employees", "revenue"],
        "n": i,
    }


def open_log(path: Path) -> TransparencyLog:
    engine = make_engine(f"sqlite:///{path}")
    create_tables(engine)
    return TransparencyLog(engine, clock=FixedClock(NOW))


def grow(log: TransparencyLog, target: int) -> float:
    start = log.size("2026")
    t = time.perf_counter()
    for lo in range(start, target, BATCH):
        log.append_many([entry(i) for i in range(lo, min(target, lo + BATCH))])
        if (lo // BATCH) % 250 == 0 and lo > start:
            rate = (lo - start) / (time.perf_counter() - t)
            print(f"  … {lo:,} entries ({rate:,.0f}/s)", flush=True)
    return time.perf_counter() - t


def floor_rate(path: Path, n: int) -> float:
    """Plain sqlite3 inserts of the same canonical rows, no hashing or tiles: the floor."""
    import rfc8785

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS t (shard TEXT, idx INTEGER, type TEXT, time TEXT, natural_key TEXT UNIQUE,"
                 " entry BLOB, PRIMARY KEY (shard, idx))")  # fmt: skip
    t = time.perf_counter()
    for lo in range(0, n, BATCH):
        rows = [("2026", i, "sharing.decision", "2026-12-01T09:00:00.000000Z", None, rfc8785.dumps(entry(i)))
                for i in range(lo, min(n, lo + BATCH))]  # fmt: skip
        with conn:
            conn.executemany("INSERT INTO t VALUES (?,?,?,?,?,?)", rows)
    conn.close()
    return n / (time.perf_counter() - t)


def warm_tiles(log: TransparencyLog) -> None:
    """Read the whole tiles table once, so it sits in the page cache as on a server that serves
    proofs (tiles are about a tenth of the file; a random tile not in the cache is a disk read)."""
    with log.engine.connect() as c:  # the last byte of each tile walks its overflow pages; then the key index
        c.exec_driver_sql("SELECT count(substr(hashes, -1)) FROM tlog_tiles").scalar()
        c.exec_driver_sql("SELECT count(*) FROM tlog_tiles WHERE shard = '2026' AND level >= 0").scalar()


def time_proofs(log: TransparencyLog, size: int, count: int, state: str) -> None:
    """Median wall-clock and CPU time (this thread) per proof: on a shared machine the wall clock
    also counts the time other processes held the cores."""
    print(f"[{state}]")
    rng = random.Random(7 if state.startswith("first") else 8)
    root = log.root("2026", size)
    inc, inc_cpu = [], []
    for _ in range(count):
        i = rng.randrange(size)
        leaf = merkle.leaf_hash(log.entry("2026", i))
        t, c = time.perf_counter(), time.thread_time()
        proof = log.inclusion_proof("2026", i, size)
        inc.append(time.perf_counter() - t)
        inc_cpu.append(time.thread_time() - c)
        verify_inclusion(i, size, leaf, proof, root)
    inc.sort()
    print(f"inclusion proof at {size:,}: median {statistics.median(inc) * 1e3:.3f} ms wall "
          f"({statistics.median(inc_cpu) * 1e3:.3f} ms CPU), p99 {inc[int(len(inc) * 0.99)] * 1e3:.3f} ms wall "
          f"({count} random leaves, each verified)")  # fmt: skip
    cons, cons_cpu = [], []
    for _ in range(count // 4):
        old = rng.randrange(1, size)
        t, c = time.perf_counter(), time.thread_time()
        proof = log.consistency_proof("2026", old, size)
        cons.append(time.perf_counter() - t)
        cons_cpu.append(time.thread_time() - c)
        verify_consistency(old, size, proof, log.root("2026", old), root)
    print(f"consistency proof to {size:,}: median {statistics.median(cons) * 1e3:.3f} ms wall "
          f"({statistics.median(cons_cpu) * 1e3:.3f} ms CPU; {len(cons)} random old sizes, each verified)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", type=Path, default=Path("/tmp/huiqi-bench-trust"))
    ap.add_argument("--append", type=int, default=200_000)
    ap.add_argument("--mid", type=int, default=1_000_000)
    ap.add_argument("--big", type=int, default=10_000_000)
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)

    if args.append:
        fresh = args.dir / "append.db"
        for p in args.dir.glob("append.db*"):
            p.unlink()
        cpu = time.process_time()
        secs = grow(open_log(fresh), args.append)
        cpu = time.process_time() - cpu
        rate = args.append / secs
        for p in args.dir.glob("floor.db*"):
            p.unlink()
        floor = floor_rate(args.dir / "floor.db", args.append)
        print(f"append, batches of {BATCH}: {rate:,.0f} entries/s ({args.append:,} in {secs:.1f} s wall, "
              f"{cpu:.1f} s CPU: {args.append / cpu:,.0f} per CPU-second); "
              f"plain inserts {floor:,.0f} rows/s; ratio {floor / rate:.2f}x the floor's time")  # fmt: skip

    mid = open_log(args.dir / "log-1m.db")
    if mid.size("2026") < args.mid:
        print(f"building the {args.mid:,}-entry log …")
        grow(mid, args.mid)
    time_proofs(mid, args.mid, 400, "first pass, page cache as found")
    warm_tiles(mid)
    time_proofs(mid, args.mid, 400, "tiles in the page cache")
    t, cpu = time.perf_counter(), time.process_time()
    report = mid.fsck("2026")
    assert report.ok, report.problems
    print(
        f"fsck of {args.mid:,} entries: {time.perf_counter() - t:.1f} s wall, {time.process_time() - cpu:.1f} s CPU "
        "(every leaf hash and tile recomputed)"
    )

    if args.big:
        big = open_log(args.dir / "log-10m.db")
        if big.size("2026") < args.big:
            print(f"building the {args.big:,}-entry log (kept for the next run) …")
            grow(big, args.big)
        time_proofs(big, args.big, 1000, "first pass, page cache as found")
        warm_tiles(big)
        time_proofs(big, args.big, 1000, "tiles in the page cache")


if __name__ == "__main__":
    main()
