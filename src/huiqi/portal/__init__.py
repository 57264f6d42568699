"""企业空间 — the enterprise's own place: accounts, my profile, my policies, online
applications and their tracking, 免申即享 grants and the 兑现 ledger, 好差评 and 诉求.

Layer: above ``huiqi.certs``, ``huiqi.sharing``, ``huiqi.batch`` and ``huiqi.discover``;
below ``huiqi.web`` and ``huiqi.cli``. Pages live in ``huiqi.web.portal`` under ``/my``.
See docs/portal.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Engine

from huiqi.clock import Clock
from huiqi.errors import InputError, Message
from huiqi.portal import schema
from huiqi.portal.accounts import AUDIENCE, Accounts
from huiqi.portal.applications import STATUSES, TRANSITIONS, Applications, Finding, Prechecker, materials_precheck
from huiqi.portal.base import RIGHTS, Actor, Conflict
from huiqi.portal.feedback import Feedback
from huiqi.portal.grants import Grants
from huiqi.portal.identity import GatewayIdentity, IdentityCheck
from huiqi.portal.profile import Profiles
from huiqi.rules.library import Library
from huiqi.store.db import read_session, write_session
from huiqi.trust.fields import Keyring, Vault

__all__ = [
    "AUDIENCE",
    "RIGHTS",
    "STATUSES",
    "TRANSITIONS",
    "Accounts",
    "Actor",
    "Applications",
    "Conflict",
    "Feedback",
    "Finding",
    "GatewayIdentity",
    "Grants",
    "IdentityCheck",
    "Portal",
    "Prechecker",
    "Profiles",
    "open_vault",
]


def open_vault(engine: Engine, *, clock: Clock, keyring_file: Path | None = None) -> Vault:
    """The platform's field encryption for the portal's secrets.

    The keyring comes from HUIQI_KEYRING / HUIQI_KEYRING_FILE, else ``keyring_file``, which is
    created (0600, one AES-256 key) when it does not exist yet.
    """
    try:
        keyring = Keyring.from_env()
    except Exception:
        if keyring_file is None:
            raise
        import json
        import os

        if not keyring_file.exists():
            keyring_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(keyring_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(Keyring.generate("platform-portal-1", "aes-256-gcm"), f)
        keyring = Keyring.load(keyring_file)
    return Vault(engine, keyring, store="platform", clock=clock, profile="aes-256-gcm")


@dataclass
class Portal:
    """Every part of the enterprise space over one platform database."""

    engine: Engine
    clock: Clock
    library: Callable[[], Library]
    vault: Vault
    identity: IdentityCheck | None = None
    prechecker: Prechecker = materials_precheck
    accounts: Accounts = field(init=False)
    applications: Applications = field(init=False)
    profiles: Profiles = field(init=False)
    grants: Grants = field(init=False)
    feedback: Feedback = field(init=False)

    def __post_init__(self) -> None:
        self.accounts = Accounts(self.engine, clock=self.clock, vault=self.vault, identity=self.identity)
        self.applications = Applications(
            self.engine, clock=self.clock, library=self.library, prechecker=self.prechecker
        )
        self.profiles = Profiles(self.engine, clock=self.clock)
        self.grants = Grants(self.engine, clock=self.clock, vault=self.vault)
        self.feedback = Feedback(self.engine, clock=self.clock, library=self.library)

    # --- officers and their offices -------------------------------------------------------------
    def officer(self, name: str, role: str) -> Actor:
        """An officer as an actor, with the offices (受理部门) whose queue they work."""
        with read_session(self.engine) as s:
            offices = frozenset(
                s.execute(sa.select(schema.desks.c.office).where(schema.desks.c.officer == name)).scalars()
            )
        return Actor("officer", name, offices=offices, role=role)

    def assign(self, officer: str, office: str, *, actor: str = "cli") -> None:
        office = office.strip()
        if not office or len(office) > 128:
            raise InputError(Message("请写明部门名称", "name the office"), field="office")
        from huiqi.portal.base import record

        with write_session(self.engine) as s:
            if s.execute(
                sa.select(schema.desks).where(schema.desks.c.officer == officer, schema.desks.c.office == office)
            ).first():
                return
            s.execute(schema.desks.insert().values(officer=officer, office=office))
            record(
                s,
                Actor("officer", actor),
                "desk.assign",
                f"user:{officer}",
                at=self.clock.now(),
                after={"office": office},
            )

    def offices(self) -> list[str]:
        """Every office that receives applications (the policies' 受理部门)."""
        return sorted({p.definition.apply.office for p in self.library().policies})

    def desks(self) -> list[tuple[str, str]]:
        with read_session(self.engine) as s:
            return [
                (r.officer, r.office) for r in s.execute(sa.select(schema.desks).order_by(schema.desks.c.officer)).all()
            ]
