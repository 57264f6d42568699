"""Checkpoint + cosignatures of 5 department witnesses (separate processes, mTLS, loopback).

    python bench/bench_trust_witness.py [--rounds 50]

Each round appends 100 entries, signs a checkpoint and gathers the 5 cosignatures
(consistency proof, witness verification, its state written, signature checked). The
floor is a bare mTLS request to the 5 witnesses at once over the same connections.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from huiqi.clock import FixedClock
from huiqi.store import make_engine
from huiqi.trust.cosign import Cosigner
from huiqi.trust.log import TransparencyLog
from huiqi.trust.note import generate_signer
from huiqi.trust.policy import TrustPolicy, WitnessInfo
from huiqi.trust.schema import create_tables
from huiqi.trust.tls import CertificateAuthority, mtls_client

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
ORIGIN = "linjiang.example/huiqi/2026"
MEMBERS = {"samr": "市场监管局", "mps": "公安局", "tax": "税务局", "hrss": "人社局", "nhc": "卫健委"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=50)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="huiqi-bench-witness-"))
    clock = FixedClock(NOW)
    wide = dt.timedelta(days=3650)
    ca = CertificateAuthority.create(clock=clock, not_before=NOW - wide, not_after=NOW + wide)
    (root / "ca.pem").write_bytes(ca.cert_pem)
    log_key = generate_signer(ORIGIN)
    keys = {m: generate_signer(f"witness.linjiang.example/{m}", "cosignature", clock=clock) for m in MEMBERS}
    ports = {m: free_port() for m in MEMBERS}
    witnesses = tuple(WitnessInfo(m, k.verifier, f"https://127.0.0.1:{ports[m]}", MEMBERS[m]) for m, k in keys.items())
    policy = TrustPolicy({ORIGIN: (log_key.verifier,)}, witnesses, 3)
    policy.save(root / "policy.json")
    procs = []
    for m, title in MEMBERS.items():
        cert, key = ca.issue(m, "witness", not_before=NOW - wide, not_after=NOW + wide).write(root, m)
        (root / f"{m}.key").write_text(keys[m].skey)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "huiqi.cli", "witness", "serve", "--name", title, "--key", str(root / f"{m}.key"),
             "--state", str(root / f"{m}.db"), "--policy", str(root / "policy.json"), "--port", str(ports[m]),
             "--tls-cert", str(cert), "--tls-key", str(key), "--tls-ca", str(root / "ca.pem")],
            env={**os.environ, "HUIQI_NOW": NOW.isoformat()}))  # fmt: skip
    cert, key = ca.issue("platform", "log", not_before=NOW - wide, not_after=NOW + wide).write(root, "platform")
    client = mtls_client(cert, key, root / "ca.pem", limits=httpx.Limits(max_keepalive_connections=10))
    try:
        for p in ports.values():
            for _ in range(300):
                try:
                    client.get(f"https://127.0.0.1:{p}/")
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
        engine = make_engine(f"sqlite:///{root / 'log.db'}")
        create_tables(engine)
        log = TransparencyLog(engine, clock=clock)
        cosigner = Cosigner(log, policy, client)
        n = 0
        times, floors = [], []
        with ThreadPoolExecutor(5) as pool:
            for _ in range(args.rounds):
                log.append_many([{"type": "cert.issue", "n": n + i} for i in range(100)])
                n += 100
                clock.advance(seconds=1)
                t = time.perf_counter()
                result = cosigner.cosign(log.checkpoint("2026", [log_key]))
                times.append(time.perf_counter() - t)
                assert len(result.cosigned_by) == 5, result.refused
                t = time.perf_counter()
                list(pool.map(lambda p: client.get(f"https://127.0.0.1:{p}/"), ports.values()))
                floors.append(time.perf_counter() - t)
        times.sort()
        print(f"checkpoint + 5 witness cosignatures (mTLS, loopback): median {statistics.median(times) * 1e3:.1f} ms, "
              f"p90 {times[int(len(times) * 0.9)] * 1e3:.1f} ms over {args.rounds} rounds; "
              f"bare mTLS GET to the 5 at once: median {statistics.median(floors) * 1e3:.1f} ms")  # fmt: skip
    finally:
        client.close()
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()


if __name__ == "__main__":
    main()
