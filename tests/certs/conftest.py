"""A platform database with the log, five department witnesses (in process), issuer keys and the register."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import Engine, create_engine

from huiqi.certs.credential import IssuerKeys
from huiqi.certs.schema import create_tables
from huiqi.certs.service import Licences, Notary
from huiqi.certs.verify import Anchors
from huiqi.clock import FixedClock
from huiqi.trust.log import TransparencyLog
from huiqi.trust.note import Signer, generate_signer
from huiqi.trust.policy import TrustPolicy, WitnessInfo
from huiqi.trust.schema import create_tables as create_trust_tables
from huiqi.trust.witness import Refusal, Witness
from tests.postgres import postgres_available, temporary_database

MEMBERS = {"samr": "市场监管局", "mps": "公安局", "tax": "税务局", "hrss": "人社局", "fin": "财政局"}
ORIGINS = [f"linjiang.example/huiqi/{y}" for y in range(2025, 2031)]

BUSINESS = {
    "uscc": "91330100MA2K00001W",
    "name": "临江市青禾餐饮有限公司",
    "entity_type": "有限责任公司（自然人投资或控股）",
    "legal_representative": "王青禾",
    "registered_capital": "500000.00",
    "established": "2023-03-15",
    "address": "临江市江滨区望江路 18 号",
    "scope": "餐饮服务；食品销售",
}


def witness_client(witnesses: dict[str, Witness]) -> httpx.Client:
    """An HTTP client whose requests reach in-process witnesses (tlog-witness answers and refusals)."""

    def handle(request: httpx.Request) -> httpx.Response:
        witness = witnesses.get(request.url.host)
        if witness is None:
            raise httpx.ConnectError("witness unreachable", request=request)
        try:
            return httpx.Response(200, text=witness.add_checkpoint(request.content))
        except Refusal as e:
            return httpx.Response(e.status, text=e.body or str(e))

    return httpx.Client(transport=httpx.MockTransport(handle))


@dataclass
class World:
    engine: Engine
    clock: FixedClock
    log: TransparencyLog
    log_key: Signer
    witness_keys: dict[str, Signer]
    witnesses: dict[str, Witness]
    policy: TrustPolicy
    keys: IssuerKeys
    licences: Licences

    def issue(self, **subject: str) -> str:
        issued = self.licences.issue("YYZZ", {**BUSINESS, **subject})
        self.licences.publish()
        return str(issued.id)


def make_world(engine: Engine, clock: FixedClock, tmp_path, *, quorum: int = 3, sm2: bool = False) -> World:  # type: ignore[no-untyped-def]
    create_trust_tables(engine)
    create_tables(engine)
    log = TransparencyLog(engine, clock=clock)
    log_key = generate_signer(ORIGINS[0])
    wkeys = {m: generate_signer(f"witness.linjiang.example/{m}", "cosignature", clock=clock) for m in MEMBERS}
    logs = {origin: [log_key.verifier] for origin in ORIGINS}
    witnesses = {
        m: Witness(create_engine(f"sqlite:///{tmp_path / f'witness-{m}.db'}"), k, logs, clock=clock)  # type: ignore[arg-type]
        for m, k in wkeys.items()
    }
    policy = TrustPolicy(
        {origin: (log_key.verifier,) for origin in ORIGINS},
        tuple(WitnessInfo(m, k.verifier, f"http://{m}", MEMBERS[m]) for m, k in wkeys.items()),
        quorum,
    )
    keys = IssuerKeys.generate(sm2=sm2)
    notary = Notary(log, [log_key], policy, witness_client(witnesses))
    licences = Licences(engine, log, clock=clock, keys=keys, notary=notary, anchors=Anchors(policy))
    licences.register_keys()
    return World(engine, clock, log, log_key, wkeys, witnesses, policy, keys, licences)


@pytest.fixture
def world(tmp_path, clock: FixedClock) -> Iterator[World]:  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite:///{tmp_path / 'huiqi.db'}")
    yield make_world(engine, clock, tmp_path)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_world(request: pytest.FixtureRequest, tmp_path, clock: FixedClock) -> Iterator[World]:  # type: ignore[no-untyped-def]
    if request.param == "postgresql" and not postgres_available():
        pytest.skip("PostgreSQL is not reachable (run scripts/ensure-postgres.sh)")
    with temporary_database(request.param, tmp_path) as url:
        engine = create_engine(url)
        yield make_world(engine, clock, tmp_path)
        engine.dispose()
