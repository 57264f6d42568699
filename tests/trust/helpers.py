"""Shared setup for the trust tests: a log with a key, witnesses, a policy."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, create_engine

from huiqi.clock import FixedClock
from huiqi.trust.log import TransparencyLog
from huiqi.trust.note import Signer, generate_signer
from huiqi.trust.policy import TrustPolicy, WitnessInfo
from huiqi.trust.schema import create_tables

ORIGIN = "linjiang.example/huiqi/2026"
MEMBERS = {"samr": "市场监管局", "mps": "公安局", "tax": "税务局", "hrss": "人社局", "fin": "财政局"}


@dataclass
class Setup:
    log: TransparencyLog
    log_key: Signer
    witness_keys: dict[str, Signer]
    policy: TrustPolicy


def sqlite(path: str) -> Engine:
    engine = create_engine(f"sqlite:///{path}")
    create_tables(engine)
    return engine


def witness_keys(clock: FixedClock) -> dict[str, Signer]:
    return {m: generate_signer(f"witness.linjiang.example/{m}", "cosignature", clock=clock) for m in MEMBERS}


def policy_for(
    log_key: Signer, keys: dict[str, Signer], urls: dict[str, str] | None = None, quorum: int = 3
) -> TrustPolicy:
    witnesses = tuple(WitnessInfo(m, k.verifier, (urls or {}).get(m), MEMBERS[m]) for m, k in keys.items())
    return TrustPolicy({ORIGIN: (log_key.verifier,)}, witnesses, quorum)


def entries(n: int, start: int = 0, tag: str = "") -> list[dict[str, object]]:
    return [
        {"type": "test.entry", "time": "2026-12-01T09:00:00.000000Z", "n": i, "tag": tag}
        for i in range(start, start + n)
    ]
