"""免申即享 bulk read through the gateway: every enterprise's profile from 法人库, 税务局 and
人社局, under the batch system's legal basis, into the registry Parquet ``huiqi batch run`` reads.

Builds a deployment of ``--count`` synthetic enterprises (``huiqi departments init``: the
five registers filled and sealed; this takes a while and is timed apart), starts the
services (``huiqi departments up``, mTLS), then times ``huiqi departments bulk`` — pages of
``--page`` enterprises per gateway call, each page a logged decision, amounts decrypted
(SM4-GCM) by the departments, joined by DuckDB.

    .venv/bin/python bench/bench_sharing_bulk.py --count 1000000 [--dir /tmp/bulk] [--page 20000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, help="keep the deployment here (reused if it exists)")
    parser.add_argument("--page", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="huiqi-bulk-") as tmp:
        directory = args.dir or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        db = f"sqlite:///{directory / 'platform.db'}"
        env = dict(os.environ, PYTHONUNBUFFERED="1", HUIQI_DB=db)
        cli = [sys.executable, "-m", "huiqi.cli", "departments"]
        dep = directory / "dep"
        if not (dep / "deployment.json").exists():
            t = time.perf_counter()
            subprocess.run(
                [*cli, "init", "--dir", str(dep), "--count", str(args.count), "--db", db], check=True, env=env, cwd=ROOT
            )
            print(f"init (fill and seal five registers, {args.count} enterprises): {time.perf_counter() - t:.0f} s")
        log = directory / "up.log"
        up = subprocess.Popen(
            [*cli, "up", "--dir", str(dep), "--db", db],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
        try:
            while "部门服务已启动" not in log.read_text("utf-8"):
                if up.poll() is not None:
                    raise SystemExit(log.read_text("utf-8"))
                time.sleep(0.5)
            out = directory / "profiles.parquet"
            t = time.perf_counter()
            done = subprocess.run(
                [*cli, "bulk", "--dir", str(dep), "--out", str(out)],
                check=True,
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            elapsed = time.perf_counter() - t
            print(done.stdout.strip())
            print(
                f"bulk read of {args.count} enterprises through the gateway: {elapsed:.1f} s "
                f"({args.count / elapsed:,.0f} enterprises/s), {out.stat().st_size / 1e6:.0f} MB Parquet"
            )
        finally:
            up.terminate()
            up.wait(timeout=60)


if __name__ == "__main__":
    main()
