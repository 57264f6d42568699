"""Load benchmark of ``POST /api/v1/match`` on loopback.

Starts ``huiqi serve`` on a free loopback port (or uses ``--url``, which must be a
loopback address), then runs ``--concurrency`` clients for ``--duration`` seconds and
prints requests/s, latency percentiles and errors. Bounded in time and in requests;
stops by itself.

Closed loop (default): each client sends its next request as soon as the last one is
answered, i.e. the server runs flat out. Then Little's law ties the numbers together:
latency ≈ concurrency / throughput, so 50 clients with p99 ≤ 50 ms need ≥ 1,000 req/s.

Open loop (``--rate R``): requests are started on a fixed schedule, R per second in all,
whatever the answers; this shows the latency a person sees at a given traffic level.

    .venv/bin/python bench/load_match.py                      # 50 clients, 30 s, serve's default workers
    .venv/bin/python bench/load_match.py --workers 1
    .venv/bin/python bench/load_match.py --rate 200           # open loop, 200 req/s

The profiles sent are the examples/ files and variations of them (employees, revenue,
assets changed per request, seeded), so no two consecutive requests are alike.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
MAX_REQUESTS = 2_000_000  # a hard bound, whatever the duration


def profiles(count: int, seed: int) -> list[bytes]:
    """Request bodies: the example enterprises, each varied a little."""
    rng = random.Random(seed)
    bases = [json.loads(p.read_text("utf-8")) for p in sorted((ROOT / "examples").glob("*.json"))]
    if not bases:
        bases = [{"industry": "C3911", "region": "339901", "employees": 120}]
    out = []
    for i in range(count):
        profile = dict(bases[i % len(bases)])
        if rng.random() < 0.8:
            profile["employees"] = rng.randint(1, 1200)
        if rng.random() < 0.8:
            profile["revenue"] = f"{rng.randint(10_000, 500_000_000)}.{rng.randint(0, 99):02d}"
        if rng.random() < 0.5:
            profile["total_assets"] = f"{rng.randint(10_000, 300_000_000)}.00"
        out.append(json.dumps({"profile": profile, "as_of": "2026-06-30"}).encode())
    return out


def start_server(workers: int, policies: Path | None = None) -> tuple[subprocess.Popen[bytes], str, Path]:
    log = Path(tempfile.mkstemp(prefix="huiqi-serve-", suffix=".log")[1])
    cmd = [sys.executable, "-m", "huiqi.cli", "serve", "--host", "127.0.0.1", "--port", "0", "--workers", str(workers)]
    if policies is not None:
        cmd += ["--policies", str(policies)]
    with log.open("w") as f:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"(http://127\.0\.0\.1:\d+)", log.read_text("utf-8"))
        if found:
            base = found.group(1)
            try:
                if httpx.get(base + "/api/v1/health", timeout=2).status_code == 200:
                    # Every worker up: a few more health checks.
                    for _ in range(workers * 4):
                        httpx.get(base + "/api/v1/health", timeout=5)
                    return proc, base, log
            except httpx.TransportError:
                pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit(f"huiqi serve did not start:\n{log.read_text('utf-8')}")


def check_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        ok = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise SystemExit(f"--url must be a loopback address (127.0.0.0/8, ::1, localhost), got {host!r}")


class RawConnection:
    """One keep-alive HTTP/1.1 connection, just enough for this benchmark (Content-Length
    bodies only). Much lighter than a general client, so the load generator takes less of
    the CPU the server needs on a small machine."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        await self.writer.drain()
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        payload = await self.reader.readexactly(length)
        return status, payload

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def run(
    base: str,
    bodies: list[bytes],
    concurrency: int,
    duration: float,
    rate: float | None,
    warmup: float,
    client_kind: str = "raw",
) -> dict[str, Any]:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    sent = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"content-type": "application/json"}
    split = urlsplit(base)
    raw = [RawConnection(split.hostname or "127.0.0.1", split.port or 80) for _ in range(concurrency)]
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30.0) as client:

        async def post(k: int, body: bytes) -> int:
            if client_kind == "raw":
                status, _ = await asyncio.wait_for(raw[k].post("/api/v1/match", body), timeout=30)
                return status
            r = await client.post("/api/v1/match", content=body, headers=headers)
            await r.aread()
            return r.status_code

        # Warm up (connections, caches), not measured.
        end_warm = time.perf_counter() + warmup
        while time.perf_counter() < end_warm:
            await asyncio.gather(*(post(k, bodies[k]) for k in range(concurrency)))

        start = time.perf_counter()
        stop = start + duration
        interval = concurrency / rate if rate else 0.0

        async def one(k: int, body: bytes) -> None:
            t0 = time.perf_counter()
            try:
                status = await post(k, body)
                if status != 200:
                    errors[f"HTTP {status}"] = errors.get(f"HTTP {status}", 0) + 1
                    return
            except (TimeoutError, httpx.HTTPError, OSError, asyncio.IncompleteReadError, ValueError) as e:
                errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
                await raw[k].close()
                return
            latencies.append(time.perf_counter() - t0)

        async def worker(k: int) -> None:
            nonlocal sent
            i = k
            next_at = start + (interval * k / concurrency if interval else 0.0)
            while sent < MAX_REQUESTS:
                if interval:
                    now = time.perf_counter()
                    if next_at > now:
                        await asyncio.sleep(next_at - now)
                    next_at += interval
                if time.perf_counter() >= stop:
                    return
                sent += 1
                await one(k, bodies[i % len(bodies)])
                i += concurrency

        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        elapsed = time.perf_counter() - start
        for c in raw:
            await c.close()
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000

    return {
        "requests": len(latencies) + sum(errors.values()),
        "ok": len(latencies),
        "errors": errors,
        "seconds": elapsed,
        "rps": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "max_ms": latencies[-1] * 1000 if latencies else float("nan"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--rate", type=float, default=None, help="open loop: requests per second in all")
    ap.add_argument(
        "--workers", type=int, default=min(os.cpu_count() or 1, 4), help="huiqi serve --workers (default: as serve)"
    )
    ap.add_argument("--url", default=None, help="use a running server (loopback only)")
    ap.add_argument("--policies", type=Path, default=None, help="serve this policy library (e.g. 500 synthetic ones)")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--client", choices=["raw", "httpx"], default="raw", help="load generator's HTTP client")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()
    if not 1 <= args.concurrency <= 1000 or not 0 < args.duration <= 600:
        raise SystemExit("concurrency 1..1000 and duration 0..600 s")

    proc = None
    if args.url:
        check_loopback(args.url)
        base = args.url.rstrip("/")
    else:
        proc, base, log = start_server(args.workers, args.policies)
    try:
        bodies = profiles(2000, seed=42)
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        figures = asyncio.run(run(base, bodies, args.concurrency, args.duration, args.rate, args.warmup, args.client))
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        figures["client_cpu_s"] = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            os.unlink(log)
    mode = f"open loop {args.rate:g} req/s" if args.rate else "closed loop"
    figures |= {
        "concurrency": args.concurrency,
        "workers": args.workers,
        "mode": mode,
        "client": args.client,
        "cpus": os.cpu_count(),
        "loadavg_after": os.getloadavg()[0],
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    errors = sum(figures["errors"].values())
    print(
        f"POST /api/v1/match · {mode} · {args.concurrency} clients · {figures['seconds']:.1f} s · "
        f"{args.workers} worker(s) · {args.client} client · {os.cpu_count()} CPUs "
        f"(load average {figures['loadavg_after']:.1f})\n"
        f"  requests {figures['requests']}  ok {figures['ok']}  errors {errors} {figures['errors'] or ''}\n"
        f"  throughput {figures['rps']:.1f} req/s\n"
        f"  latency p50 {figures['p50_ms']:.1f} ms  p90 {figures['p90_ms']:.1f} ms  "
        f"p99 {figures['p99_ms']:.1f} ms  max {figures['max_ms']:.1f} ms\n"
        f"  load generator CPU {figures['client_cpu_s']:.1f} s "
        f"({100 * figures['client_cpu_s'] / figures['seconds']:.0f}% of one core)"
    )


if __name__ == "__main__":
    main()
