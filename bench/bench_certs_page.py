"""Load benchmark of the public verification page (``GET /certs/v/{证照标识}?k=…``, what a QR code opens).

Sets up a platform database with 200 licences issued and cosigned by five department
witnesses (in process), starts ``huiqi serve`` on a free loopback port with the trust
policy only (no private keys), then runs ``--concurrency`` clients for ``--duration``
seconds, each opening pages of random licences. Every answer verifies the licence from
its log evidence and records the access on the log (``cert.lookup``), so each request
also writes. Prints requests/s, latency percentiles (target p99 ≤ 50 ms at 50 clients) and
the server's CPU time per page (user + system of the server and its workers, from /proc).
Bounded in time and requests; loopback only.

    .venv/bin/python bench/bench_certs_page.py                    # 50 clients, 20 s, 2 workers
    .venv/bin/python bench/bench_certs_page.py --rate 200         # open loop, 200 pages/s
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench_certs import subject, world
from huiqi.certs import IssueRequest

ROOT = Path(__file__).resolve().parents[1]
MAX_REQUESTS = 1_000_000


async def get(conn: list[asyncio.StreamReader | asyncio.StreamWriter | None], host: str, port: int, path: str) -> int:
    if conn[1] is None:
        conn[0], conn[1] = await asyncio.open_connection(host, port)
    reader, writer = conn[0], conn[1]
    assert isinstance(reader, asyncio.StreamReader) and isinstance(writer, asyncio.StreamWriter)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    await writer.drain()
    status = int((await reader.readuntil(b"\r\n")).split()[1])
    length = 0
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    await reader.readexactly(length)
    return status


async def load(port: int, paths: list[str], concurrency: int, duration: float, rate: float | None) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    sent = 0
    rng = random.Random(7)
    start = time.perf_counter()
    stop = start + duration
    interval = concurrency / rate if rate else 0.0

    async def worker(k: int) -> None:
        nonlocal sent, errors
        conn: list[asyncio.StreamReader | asyncio.StreamWriter | None] = [None, None]
        next_at = start + (interval * k / concurrency if interval else 0.0)
        while sent < MAX_REQUESTS and time.perf_counter() < stop:
            if interval:
                delay = next_at - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                next_at += interval
            sent += 1
            t0 = time.perf_counter()
            try:
                status = await asyncio.wait_for(get(conn, "127.0.0.1", port, rng.choice(paths)), 30)
            except (OSError, TimeoutError, asyncio.IncompleteReadError):
                errors += 1
                conn = [None, None]
                continue
            if status != 200:
                errors += 1
                continue
            latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000 if latencies else float("nan")

    return {"ok": len(latencies), "errors": errors, "rps": len(latencies) / elapsed, "p50": pct(50), "p99": pct(99)}


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by the server process ``pid`` and its worker processes.

    What a page costs however busy the machine is (the latencies above also count waiting
    for a core that other programs hold); Linux /proc only.
    """
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):  # the server, or a worker it started
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--rate", type=float, default=None, help="open loop: pages per second in all")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--licences", type=int, default=200)
    args = ap.parse_args()
    if not 1 <= args.concurrency <= 500 or not 0 < args.duration <= 300:
        raise SystemExit("concurrency 1..500 and duration 0..300 s")
    folder = Path(tempfile.mkdtemp(prefix="bench-certs-page-"))
    db = f"sqlite:///{folder / 'huiqi.db'}"
    from huiqi.store import make_engine, upgrade

    upgrade(make_engine(db))
    lic, policy = world(db, folder)
    issued = lic.issue_many([IssueRequest("YYZZ", subject(i)) for i in range(args.licences)])
    lic.publish()
    policy.save(folder / "policy.json")
    paths = [f"/certs/v/{x.id}?k={lic.access_token(x.credential)}" for x in issued]
    from bench_certs import free_port

    port = free_port()
    env = {
        **os.environ,
        "HUIQI_DB": db,
        "HUIQI_TRUST_POLICY": str(folder / "policy.json"),
        "HUIQI_NOW": "2026-12-01T17:00:00+08:00",
    }
    log = (folder / "serve.log").open("w")
    cmd = [sys.executable, "-m", "huiqi.cli", "serve", "--port", str(port), "--workers", str(args.workers)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}{paths[0]}", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit((folder / "serve.log").read_text())
            time.sleep(0.2)
        page = httpx.get(f"http://127.0.0.1:{port}{paths[0]}").text
        assert 'data-verdict="valid"' in page, page[:2000]
        asyncio.run(load(port, paths, args.concurrency, 2.0, None))  # warm every worker
        cpu = server_cpu(proc.pid)
        r = asyncio.run(load(port, paths, args.concurrency, args.duration, args.rate))
        per_page = (server_cpu(proc.pid) - cpu) / max(1, r["ok"] + r["errors"]) * 1000
        print(
            f"verification page, {args.concurrency} clients, {args.workers} workers: {r['rps']:,.0f} pages/s, "
            f"p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms (target ≤ 50 ms), errors {r['errors']:.0f}; "
            f"server CPU {per_page:.2f} ms per page"
        )
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
