"""Prefill of one enterprise from three registers through the gateway over mTLS, under load.

Lays out a deployment (``--count`` synthetic enterprises) in a temporary directory (or
uses ``--dir``), starts ``huiqi departments up`` (six processes on loopback, mTLS), gives
``--subjects`` enterprises a consent, then runs ``--concurrency`` clients for
``--duration`` seconds. Each prefill asks 法人库, 税务局 and 人社局 at once (three gateway
calls, each with its Cedar decision, consent check with the consent service, register
read, decryption and log entry) and counts as done when all three answered.

Closed loop (default): each client starts its next prefill when the last one finished —
the services run flat out, and latency ≈ concurrency / throughput (Little's law).
Open loop (``--rate R``): prefills start on a fixed schedule, R per second, whatever the
answers — the latency an enterprise sees at that traffic. Target: p99 ≤ 30 ms.

    .venv/bin/python bench/bench_sharing_prefill.py                    # 50 clients, closed loop, 20 s
    .venv/bin/python bench/bench_sharing_prefill.py --rate 20          # open loop, 20 prefills/s
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start(directory: Path, count: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", HUIQI_DB=f"sqlite:///{directory / 'platform.db'}")
    log = directory / "up.log"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "huiqi.cli",
            "departments",
            "up",
            "--dir",
            str(directory / "dep"),
            "--count",
            str(count),
            "--db",
            env["HUIQI_DB"],
        ],
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    deadline = time.monotonic() + 600
    while "部门服务已启动" not in log.read_text("utf-8"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"departments up failed:\n{log.read_text('utf-8')}")
        time.sleep(0.5)
    return proc


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(args: argparse.Namespace, directory: Path) -> None:
    import sqlalchemy as sa

    from huiqi.clock import SystemClock
    from huiqi.match import default_library
    from huiqi.sharing.catalogue_store import CatalogueStore
    from huiqi.sharing.client import GatewayClient
    from huiqi.sharing.consent import ConsentService
    from huiqi.sharing.deployment import Deployment
    from huiqi.sharing.prefill import SOURCES, prefill
    from huiqi.sharing.registers import hrss, tax
    from huiqi.store import make_engine

    clock = SystemClock()
    deployment = Deployment.load(directory / "dep")
    engine = make_engine(deployment.platform_db)
    catalogue = CatalogueStore(engine, clock=clock).published()
    consents = ConsentService(engine, clock=clock)
    with make_engine(deployment.db_url("tax")).connect() as t, make_engine(deployment.db_url("hrss")).connect() as h:
        usccs = sorted(
            set(t.execute(sa.select(tax.taxpayers.c.uscc)).scalars())
            & set(h.execute(sa.select(hrss.contributions.c.uscc)).scalars())
        )
    rng = random.Random(7)
    subjects = rng.sample(usccs, min(args.subjects, len(usccs)))
    granted = {}
    for uscc in subjects:
        c = consents.request(
            catalogue,
            uscc=uscc,
            consumer="platform/huiqi",
            purpose="policy_match",
            scope={
                "tax.taxpayer": {
                    "read": [
                        "taxable_income",
                        "revenue",
                        "taxpayer_type",
                        "credit_rating",
                        "total_assets",
                        "rd_expense",
                        "monthly_sales",
                    ]
                },
                "hrss.insurance": {"read": ["employees"]},
            },
            official="bench",
        )
        granted[uscc] = consents.approve(c.ref, uscc=uscc)
    library = default_library()
    client = GatewayClient.for_system(deployment, "platform/huiqi", clock=clock, timeout=30)
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + args.duration
    today = clock.today()

    async def one(i: int) -> None:
        nonlocal errors
        uscc = subjects[i % len(subjects)]
        t0 = time.perf_counter()
        got = await prefill(
            client,
            catalogue,
            uscc,
            consent=granted[uscc],
            library=library,
            as_of=today,
            official="bench",
            case_id=f"BENCH-{i}",
        )
        latencies.append((time.perf_counter() - t0) * 1000)
        if got.unavailable or got.refused or not got.profile:
            errors += 1

    # warm up: connections, slices, compiled conditions
    await asyncio.gather(*(one(i) for i in range(args.concurrency)))
    latencies.clear()
    errors = 0
    started = time.monotonic()
    if args.rate:
        tasks = []
        i = 0
        while time.monotonic() < stop:
            tasks.append(asyncio.create_task(one(i)))
            i += 1
            await asyncio.sleep(1 / args.rate)
        await asyncio.gather(*tasks)
    else:

        async def worker(k: int) -> None:
            i = k
            while time.monotonic() < stop:
                await one(i)
                i += args.concurrency

        await asyncio.gather(*(worker(k) for k in range(args.concurrency)))
    elapsed = time.monotonic() - started
    mode = f"open loop {args.rate}/s" if args.rate else f"closed loop, {args.concurrency} clients"
    print(
        f"prefill from {len(SOURCES)} registers over mTLS ({mode}), {elapsed:.0f} s: {len(latencies)} prefills, "
        f"{len(latencies) / elapsed:.1f}/s, errors {errors}"
    )
    print(
        f"latency ms: p50 {statistics.median(latencies):.1f}, p90 {percentile(latencies, 0.9):.1f}, "
        f"p99 {percentile(latencies, 0.99):.1f}, max {max(latencies):.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, help="an existing bench directory (kept); default: a temporary one")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--subjects", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--rate", type=float, default=0, help="open loop: prefills per second")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="huiqi-bench-") as tmp:
        directory = args.dir or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        proc = start(directory, args.count)
        try:
            asyncio.run(run(args, directory))
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
