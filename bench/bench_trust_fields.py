"""Field encryption benchmarks: fields/s per core for SM4-GCM and AES-256-GCM, and a key rotation
of N rows (default 1,000,000) while a service thread keeps reading and writing.

    python bench/bench_trust_fields.py                 # 200k fields per profile, rotation of 1M rows
    python bench/bench_trust_fields.py --rows 100000   # a smaller rotation

Single thread (one core) for the throughput, one field per call (what a request does) and
in batches (``encrypt_many``/``decrypt_many``: bulk loads and re-encryption); the floor is
the bare one-shot AEAD call of ``cryptography`` on the same values (same run), so the
ratio shows what envelope, binding and token format cost and what batching saves.
The rotation runs on a SQLite file (WAL) under --dir.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from huiqi.clock import FixedClock
from huiqi.store import make_engine
from huiqi.trust.fields import Keyring, Vault
from huiqi.trust.log import TransparencyLog
from huiqi.trust.schema import create_tables

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
VALUES = [f"1101011990{i:08d}" for i in range(1000)]


def floor(profile: str, n: int) -> str:
    """The bare one-shot AEAD call of ``cryptography`` on the same values, as its rates."""
    key = os.urandom(32 if profile == "aes-256-gcm" else 16)
    aes = AESGCM(key)

    def job() -> None:
        for i in range(n):
            v = VALUES[i % 1000].encode()
            if profile == "aes-256-gcm":
                aes.encrypt(os.urandom(12), v, b"mps/people/id_number")
            else:
                enc = Cipher(algorithms.SM4(key), modes.GCM(os.urandom(12))).encryptor()
                enc.authenticate_additional_data(b"mps/people/id_number")
                enc.update(v)
                enc.finalize()

    return rates(n, job)


def rates(n: int, job: Callable[[], None]) -> str:
    """``n`` items by ``job``: per CPU-second of this thread (what one core does, whatever else the
    machine runs) and per wall-clock second."""
    wall, cpu = time.perf_counter(), time.thread_time()
    job()
    return f"{n / (time.thread_time() - cpu):,.0f}/s ({n / (time.perf_counter() - wall):,.0f}/s)"


def throughput(directory: Path, profile: str, n: int, batch: int) -> None:
    for p in directory.glob(f"keys-{profile}.db*"):  # a fresh keyring each run: its keys too
        p.unlink()
    engine = make_engine(f"sqlite:///{directory / f'keys-{profile}.db'}")
    create_tables(engine)
    vault = Vault(engine, Keyring.from_dict(Keyring.generate("kek", profile)), store="mps", clock=FixedClock(NOW),
                  profile=profile, refresh_seconds=3600)  # fmt: skip
    f = vault.field("people", "id_number")
    f.encrypt(0, "warm")
    rows = [(i, VALUES[i % 1000]) for i in range(n)]
    tokens: list[str] = []
    batched: list[str] = []

    def encrypt_one() -> None:
        tokens.extend(f.encrypt(i, v) for i, v in rows)

    def decrypt_one() -> None:
        for i, tok in enumerate(tokens):
            f.decrypt(i, tok)

    def encrypt_batches() -> None:
        batched.extend(tok for lo in range(0, n, batch) for tok in f.encrypt_many(rows[lo : lo + batch]))

    def decrypt_batches() -> None:
        for lo in range(0, n, batch):
            got = f.decrypt_many([(i, batched[i]) for i in range(lo, min(n, lo + batch))])
            assert got == [v for _, v in rows[lo : lo + batch]]

    jobs = (encrypt_one, decrypt_one, encrypt_batches, decrypt_batches)
    enc, dec, enc_many, dec_many = (rates(n, job) for job in jobs)
    base = floor(profile, n)
    print(f"{profile} ({n:,} fields, one thread; fields per CPU-second, wall-clock rate in brackets):\n"
          f"  one field per call: encrypt {enc}, decrypt {dec}\n"
          f"  batches of {batch:,}:  encrypt {enc_many}, decrypt {dec_many}\n"
          f"  bare one-shot AEAD of cryptography (the floor of one field per call): {base}")  # fmt: skip


def rotation(directory: Path, rows: int) -> None:
    for p in directory.glob("rotation.db*"):
        p.unlink()
    engine = make_engine(f"sqlite:///{directory / 'rotation.db'}")
    create_tables(engine)
    meta = sa.MetaData()
    people = sa.Table("people", meta, sa.Column("id", sa.Integer, primary_key=True), sa.Column("id_number", sa.Text))
    meta.create_all(engine)
    clock = FixedClock(NOW)
    vault = Vault(engine, Keyring.from_dict(Keyring.generate("kek", "sm4-gcm")), store="mps", clock=clock,
                  log=TransparencyLog(engine, clock=clock))  # fmt: skip
    f = vault.field("people", "id_number")
    t = time.perf_counter()
    for lo in range(1, rows + 1, 10_000):
        with engine.begin() as c:
            c.execute(people.insert(), [{"id": i, "id_number": f.encrypt(i, VALUES[i % 1000])}
                                        for i in range(lo, min(rows + 1, lo + 10_000))])  # fmt: skip
    print(f"rotation: {rows:,} encrypted rows written in {time.perf_counter() - t:.1f} s")
    vault.rotate("people", "id_number")

    stop = threading.Event()
    latencies: list[float] = []
    errors: list[Exception] = []
    written: dict[int, str] = {}

    def service() -> None:  # the department's service: a read and a write, again and again
        n = 0
        while not stop.is_set():
            n += 1
            i = 1 + (n * 7919) % rows
            t0 = time.perf_counter()
            try:
                with engine.connect() as c:
                    tok = c.execute(sa.select(people.c.id_number).where(people.c.id == i)).scalar_one()
                f.decrypt(i, tok)
                if n % 10 == 0:
                    value = f"written-{n}"
                    with engine.begin() as c:
                        c.execute(people.update().where(people.c.id == i).values(id_number=f.encrypt(i, value)))
                    written[i] = value
            except Exception as e:
                errors.append(e)
            latencies.append(time.perf_counter() - t0)

    thread = threading.Thread(target=service)
    thread.start()
    t = time.perf_counter()
    moved = vault.reencrypt(people, "id", "id_number", batch=2000)
    secs = time.perf_counter() - t
    stop.set()
    thread.join()
    retired = vault.retire(people, "id_number")
    with engine.connect() as c:
        bad = 0
        for i, tok in c.execute(sa.select(people.c.id, people.c.id_number)):
            want = written.get(i, VALUES[i % 1000])
            bad += f.decrypt(i, tok) != want
    latencies.sort()
    print(f"rotation of {rows:,} rows: {secs:.1f} s ({moved / secs:,.0f} rows/s re-encrypted); the service answered "
          f"{len(latencies):,} requests meanwhile, p50 {statistics.median(latencies) * 1e3:.2f} ms, "
          f"p99 {latencies[int(len(latencies) * 0.99)] * 1e3:.2f} ms, {len(errors)} errors; "
          f"old key retired {retired}; {bad} rows wrong after")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", type=Path, default=Path("/tmp/huiqi-bench-trust"))
    ap.add_argument("--fields", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    for profile in ("sm4-gcm", "aes-256-gcm"):
        throughput(args.dir, profile, args.fields, args.batch)
    if args.rows:
        rotation(args.dir, args.rows)


if __name__ == "__main__":
    main()
