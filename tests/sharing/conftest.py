"""Fixtures of the data-sharing tests.

One deployment per test session (PKI, keys, five registers filled from a small synthetic
registry, the platform database with the shipped declarations), shared read-mostly by the
in-process tests; the real processes (``huiqi departments up``) are started once per
session too, only by the tests that need them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import Engine

from huiqi.batch.registry import iter_batches
from huiqi.clock import FixedClock
from huiqi.library import Lifecycle
from huiqi.library.officers import add_user
from huiqi.match import default_library
from huiqi.rules import Library
from huiqi.sharing.catalogue import shipped_declarations
from huiqi.sharing.catalogue_store import CatalogueStore
from huiqi.sharing.consent import ConsentService
from huiqi.sharing.decisions import DecisionLog
from huiqi.sharing.deployment import Deployment, init
from huiqi.sharing.gateway import SecurityServer, StaticCatalogue
from tests.conftest import TEST_NOW

ROOT = Path(__file__).resolve().parents[2]
COUNT = 400
SEED = 7


@pytest.fixture(scope="session")
def raw_registry() -> pa.Table:
    """The synthetic registry the registers are filled from: the raw data of the differential tests."""
    return pa.Table.from_batches(list(iter_batches(COUNT, SEED)))


@dataclass
class World:
    deployment: Deployment
    platform: Engine
    clock: FixedClock

    @property
    def store(self) -> CatalogueStore:
        return CatalogueStore(self.platform, clock=self.clock)

    @property
    def consents(self) -> ConsentService:
        return ConsentService(self.platform, clock=self.clock)


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory, raw_registry: pa.Table) -> Iterator[World]:
    root = tmp_path_factory.mktemp("departments")
    clock = FixedClock(TEST_NOW)
    platform_url = f"sqlite:///{root / 'platform.db'}"
    lifecycle = Lifecycle.open(platform_url, clock=clock)
    lifecycle.import_directory(ROOT / "policies")
    for name, role in (("alice", "editor"), ("bob", "publisher"), ("carol", "publisher")):
        add_user(lifecycle.engine, name, role, f"{name}-password", clock=clock)
    platform = lifecycle.engine
    deployment, _ = init(root / "dep", raw_registry.to_batches(), clock=clock, platform_db=platform_url, seed=SEED)
    CatalogueStore(platform, clock=clock).import_texts(shipped_declarations())
    yield World(deployment, platform, clock)
    platform.dispose()


@pytest.fixture(scope="session")
def library() -> Library:
    return default_library()


@pytest.fixture(scope="session")
def registers(world: World) -> dict[str, Any]:
    """Each department's register, opened once (its own engine and keys)."""
    return {m: world.deployment.register(m, clock=world.clock) for m in ("samr", "mps", "tax", "hrss", "nhc")}


@pytest.fixture
def server_for(world: World, registers: dict[str, Any], library: Library, clock: FixedClock) -> Any:
    """A security server in process (no network) for a department, against the published
    catalogue and the platform's consent service; its decisions go to the register's log."""
    logs: dict[str, DecisionLog] = {}

    def make(member: str, catalogue: Any = None) -> SecurityServer:
        register = registers[member]
        log = logs.get(member) or DecisionLog(register.engine, member, clock=clock)
        logs[member] = log
        return SecurityServer(
            register=register,
            catalogue=catalogue or StaticCatalogue(world.store.published()),
            consents=ConsentService(world.platform, clock=clock),
            log=log,
            library=lambda: library,
            clock=clock,
        )

    yield make
    for log in logs.values():
        log.close()


@dataclass
class Running:
    deployment: Deployment
    process: subprocess.Popen[bytes]
    log: Path


@pytest.fixture(scope="session")
def running(world: World) -> Iterator[Running]:
    """``huiqi departments up`` on the session's deployment: six processes over mTLS."""
    log_path = world.deployment.root / "up.log"
    env = dict(os.environ, PYTHONUNBUFFERED="1", HUIQI_NOW=TEST_NOW.isoformat(), HUIQI_CATALOGUE_TTL="0")
    with log_path.open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "huiqi.cli", "departments", "up", "--dir", str(world.deployment.root)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            text = log_path.read_text(encoding="utf-8")
            if "部门服务已启动" in text:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"huiqi departments up did not come up:\n{text}")
            time.sleep(0.2)
        yield Running(Deployment.load(world.deployment.root), proc, log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        logs = "\n".join(p.read_text(encoding="utf-8") for p in (world.deployment.root / "logs").glob("*.log"))
        assert not re.search(r"Traceback", logs), f"a service logged an error:\n{logs}"
