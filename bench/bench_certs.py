"""E-licence benchmarks: issuance with the log append, and verification with a cached checkpoint.

    .venv/bin/python bench/bench_certs.py                 # SQLite file in a temporary folder
    .venv/bin/python bench/bench_certs.py --db postgresql+psycopg://127.0.0.1:5432/test_bench_certs

Issuance: ``Licences.issue_many`` in batches (check the holder's fields, sign
eddsa-jcs-2022, canonical log entry, append to the Merkle log with its tiles, index rows;
one transaction per batch), then one checkpoint cosigned by five department witnesses (in
process). Figures are credentials per second including all of that (the sample holders'
fields are made before the clock starts); the target is ≥ 1,000/s.

Verification: ``Verifier.verify`` of a licence package (identifier, key evidence on the
log, Data Integrity proof, issue entry's inclusion proof under a quorum-cosigned
checkpoint, back-dating, validity, status list) with the checkpoint already in the
verifier's cache — what a department's offline verifier does all day; target ≤ 2 ms.
Medians of ``--repeat`` runs; the machine is shared, so look at the median, and at the CPU
time (this process's user + system time), which waiting for a busy core does not inflate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine

from huiqi.certs import Anchors, IssueRequest, IssuerKeys, Licences, Notary, Verifier
from huiqi.certs.schema import create_tables
from huiqi.clock import FixedClock
from huiqi.trust.log import TransparencyLog
from huiqi.trust.note import generate_signer
from huiqi.trust.policy import TrustPolicy, WitnessInfo
from huiqi.trust.schema import create_tables as create_trust_tables
from huiqi.trust.witness import Refusal, Witness

NOW = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
MEMBERS = ["samr", "mps", "tax", "hrss", "fin"]
ORIGIN = "linjiang.example/huiqi/2026"


def subject(i: int) -> dict[str, str]:
    from stdnum.cn import uscc

    first = f"91330100MA{i:07d}"
    return {
        "uscc": first + str(uscc.calc_check_digit(first)),
        "name": f"临江市样例企业{i:06d}有限公司",
        "entity_type": "有限责任公司",
        "legal_representative": "张三",
        "registered_capital": f"{100000 + i}.00",
        "established": "2020-01-01",
        "address": f"临江市江滨区望江路 {i % 999 + 1} 号",
        "scope": "软件开发；信息技术咨询服务",
    }


def world(url: str, folder: Path) -> tuple[Licences, TrustPolicy]:
    clock = FixedClock(NOW)
    engine = create_engine(url)
    create_trust_tables(engine)
    create_tables(engine)
    log = TransparencyLog(engine, clock=clock)
    log_key = generate_signer(ORIGIN)
    wkeys = {m: generate_signer(f"witness.linjiang.example/{m}", "cosignature", clock=clock) for m in MEMBERS}
    witnesses = {
        m: Witness(create_engine(f"sqlite:///{folder / f'w-{m}.db'}"), k, {ORIGIN: [log_key.verifier]}, clock=clock)
        for m, k in wkeys.items()
    }

    def handle(request: httpx.Request) -> httpx.Response:
        try:
            return httpx.Response(200, text=witnesses[request.url.host].add_checkpoint(request.content))
        except Refusal as e:
            return httpx.Response(e.status, text=e.body or str(e))

    policy = TrustPolicy(
        {ORIGIN: (log_key.verifier,)}, tuple(WitnessInfo(m, k.verifier, f"http://{m}") for m, k in wkeys.items()), 3
    )
    notary = Notary(log, [log_key], policy, httpx.Client(transport=httpx.MockTransport(handle)))
    lic = Licences(engine, log, clock=clock, keys=IssuerKeys.generate(["samr"]), notary=notary, anchors=Anchors(policy))
    lic.register_keys()
    return lic, policy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", default=None, help="database URL (default: a SQLite file in a temporary folder)")
    ap.add_argument("--count", type=int, default=5000, help="credentials per issuance run")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--verify", type=int, default=2000, help="verifications per run")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-certs-"))
    rates, per_verify, cpu_rates, cpu_verify = [], [], [], []
    for run in range(args.repeat):
        url = args.db or f"sqlite:///{folder / f'huiqi-{run}.db'}"
        lic, policy = world(url, _mk(folder / str(run)))
        requests = [IssueRequest("YYZZ", subject(run * args.count + i)) for i in range(args.count)]  # input, not timed
        t0, c0 = time.perf_counter(), time.process_time()
        ids = []
        for start in range(0, args.count, args.batch):
            ids += [str(x.id) for x in lic.issue_many(requests[start : start + args.batch])]
        lic.publish()
        elapsed = time.perf_counter() - t0
        rates.append(args.count / elapsed)
        cpu_rates.append(args.count / (time.process_time() - c0))
        packages = [lic.package(i, status=False) for i in ids[: min(50, len(ids))]]
        verifier = Verifier(Anchors(policy), clock=lic.clock)
        assert all(verifier.verify(p).ok for p in packages)  # warm: checkpoint cached
        t0, c0 = time.perf_counter(), time.process_time()
        for k in range(args.verify):
            result = verifier.verify(packages[k % len(packages)])
        per_verify.append((time.perf_counter() - t0) / args.verify * 1000)
        cpu_verify.append((time.process_time() - c0) / args.verify * 1000)
        assert result.ok
        print(
            f"run {run + 1}: issuance {rates[-1]:,.0f} credentials/s (with log append and one cosigned checkpoint); "
            f"verification {per_verify[-1]:.3f} ms each; CPU time: {cpu_rates[-1]:,.0f} credentials per CPU-second, "
            f"{cpu_verify[-1]:.3f} ms per verification"
        )
    print(
        f"median: issuance {statistics.median(rates):,.0f}/s (target ≥ 1,000/s); "
        f"verification {statistics.median(per_verify):.3f} ms (target ≤ 2 ms); CPU time: "
        f"{statistics.median(cpu_rates):,.0f} credentials per CPU-second, "
        f"{statistics.median(cpu_verify):.3f} ms per verification"
    )


def _mk(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


if __name__ == "__main__":
    main()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
