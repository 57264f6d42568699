"""A deployment of the departments on one machine: ``huiqi departments init`` lays it out,
``huiqi departments up`` runs it.

Layout (``var/departments`` by default)::

    deployment.json            what was created: members, databases, systems, snapshot date
    pki/ca.pem, ca-key.pem     the platform CA (huiqi.trust.tls), crl.pem
    pki/<member>-<system>.pem  one certificate (and -key.pem, 0600) per system
    <member>/keyring.json      the department's key-encryption key (0600): its own keys
    <member>/register.db       its register (SQLite) unless a PostgreSQL URL was given
    directory.json             where each running service listens (written by ``up``)

Every department has its own database and its own keys; nothing is shared but the CA's
certificate (to recognise each other) and the catalogue the platform publishes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from huiqi.clock import Clock
from huiqi.errors import InputError, Message
from huiqi.sharing.members import PROVIDERS
from huiqi.sharing.registers import REGISTERS, Register
from huiqi.sharing.registers.fill import FillReport, Registers, fill
from huiqi.store.db import make_engine
from huiqi.trust import create_tables
from huiqi.trust.fields import DEPARTMENT_PROFILES, Keyring, Vault
from huiqi.trust.schema import metadata as trust_metadata
from huiqi.trust.tls import CertificateAuthority

#: Systems that get a certificate: each provider's security server, the platform's central
#: services and monitor, and the consumer systems of the shipped declarations.
GATEWAY = "gateway"
CONSUMERS = (
    "platform/huiqi",
    "platform/batch",
    "platform/onestop",
    "platform/portal",
    "platform/monitor",
    "fin/grants",
    "samr/supervision",
)
CENTRAL = "platform/central"
CERT_DAYS = 30


@dataclass(frozen=True)
class Tls:
    cert: Path
    key: Path
    ca: Path


@dataclass
class Deployment:
    root: Path
    data: dict[str, Any]

    # --- paths -----------------------------------------------------------------------------
    @property
    def pki(self) -> Path:
        return self.root / "pki"

    def tls(self, system: str) -> Tls:
        stem = system.replace("/", "-")
        return Tls(self.pki / f"{stem}.pem", self.pki / f"{stem}-key.pem", self.pki / "ca.pem")

    @property
    def crl(self) -> Path:
        return self.pki / "crl.pem"

    def db_url(self, member: str) -> str:
        return str(self.data["databases"][member])

    @property
    def platform_db(self) -> str:
        return str(self.data["platform_db"])

    @property
    def snapshot(self) -> dt.date:
        return dt.date.fromisoformat(self.data["snapshot"])

    # --- the department's own register and keys -------------------------------------------
    def register(self, member: str, *, clock: Clock, engine: Engine | None = None) -> Register:
        engine = engine or make_engine(self.db_url(member))
        keyring = Keyring.load(self.root / member / "keyring.json")
        vault = Vault(engine, keyring, store=member, clock=clock, profile=DEPARTMENT_PROFILES[member])
        return REGISTERS[member](engine, vault)

    # --- directory of running services ------------------------------------------------------
    def write_directory(self, urls: Mapping[str, str]) -> None:
        tmp = self.root / "directory.json.tmp"
        tmp.write_text(json.dumps({"urls": dict(urls)}, indent=1), encoding="utf-8")
        os.replace(tmp, self.root / "directory.json")

    def urls(self) -> dict[str, str]:
        path = self.root / "directory.json"
        if not path.exists():
            raise InputError(
                Message(
                    f"{self.root} 中的部门服务尚未启动（请运行 huiqi departments up）",
                    f"the departments in {self.root} are not running (run huiqi departments up)",
                ),
                field="departments",
            )
        return dict(json.loads(path.read_text(encoding="utf-8"))["urls"])

    @classmethod
    def load(cls, root: Path) -> Deployment:
        path = Path(root) / "deployment.json"
        if not path.exists():
            raise InputError(
                Message(
                    f"{root} 不是部门部署目录（请先运行 huiqi departments init）",
                    f"{root} is not a departments deployment (run huiqi departments init)",
                ),
                field="departments",
            )
        return cls(Path(root), json.loads(path.read_text(encoding="utf-8")))


def _write_secret(path: Path, data: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(data)


def issue_certificates(root: Path, *, clock: Clock, ca: CertificateAuthority | None = None) -> CertificateAuthority:
    """The platform CA (created once) and a fresh certificate for every system."""
    pki = root / "pki"
    now = clock.now()
    if ca is None:
        if (pki / "ca.pem").exists():
            ca = CertificateAuthority.load(pki, clock=clock)
        else:
            ca = CertificateAuthority.create(
                clock=clock, not_before=now - dt.timedelta(days=2), not_after=now + dt.timedelta(days=3 * 365)
            )
            ca.save(pki)
    systems = [f"{m}/{GATEWAY}" for m in PROVIDERS] + [CENTRAL, *CONSUMERS]
    for system in systems:
        member, name = system.split("/", 1)
        issued = ca.issue(
            member, name, not_before=now - dt.timedelta(days=2), not_after=now + dt.timedelta(days=CERT_DAYS)
        )
        issued.write(pki, system.replace("/", "-"))
    (pki / "crl.pem").write_bytes(ca.crl(lifetime=dt.timedelta(days=CERT_DAYS)))
    return ca


def init(
    root: Path,
    batches: Iterable[Any],
    *,
    clock: Clock,
    platform_db: str,
    databases: Mapping[str, str] | None = None,
    seed: int = 0,
    on_progress: Any = None,
) -> tuple[Deployment, FillReport]:
    """Lay out a new deployment: PKI, keys, and the five registers filled from ``batches``."""
    root = Path(root)
    if (root / "deployment.json").exists():
        raise InputError(
            Message(f"{root} 已初始化；换一个目录或删除它", f"{root} is already initialised"), field="departments"
        )
    created = not root.exists() or not any(root.iterdir())
    if not created:
        raise InputError(
            Message(f"{root} 不是空目录；请换一个目录", f"{root} is not empty: choose another directory"),
            field="departments",
        )
    root.mkdir(parents=True, exist_ok=True)
    urls = {m: (databases or {}).get(m) or f"sqlite:///{(root / m / 'register.db').resolve()}" for m in PROVIDERS}
    registers: dict[str, Any] = {}
    try:
        issue_certificates(root, clock=clock)
        for member in PROVIDERS:
            _write_secret(
                root / member / "keyring.json",
                json.dumps(Keyring.generate(f"{member}-kek-1", DEPARTMENT_PROFILES[member])),
            )
            engine = make_engine(urls[member])
            create_tables(engine)
            registers[member] = Deployment(root, {"databases": urls}).register(member, clock=clock, engine=engine)
        snapshot = clock.today()
        report = fill(Registers(**registers), batches, snapshot=snapshot, seed=seed, on_progress=on_progress)
    except BaseException:
        # Nothing half-made stays behind: the registers' tables (PostgreSQL ones too) and the directory go.
        for reg in registers.values():
            reg.metadata.drop_all(reg.engine)
            trust_metadata.drop_all(reg.engine)
            reg.engine.dispose()
        shutil.rmtree(root, ignore_errors=True)
        raise
    for reg in registers.values():
        reg.engine.dispose()
    data = {
        "created_at": clock.now().isoformat(),
        "snapshot": snapshot.isoformat(),
        "seed": seed,
        "enterprises": report.enterprises,
        "databases": urls,
        "platform_db": platform_db,
        "synthetic": True,
    }
    (root / "deployment.json").write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    return Deployment(root, data), report
