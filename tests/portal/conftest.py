"""Fixtures of the enterprise-space tests.

``portal`` is a fresh platform database (migrated) with the shipped policies published, three
officers, desks, a keyring and an identity check that answers from a small table shaped like
the registers' answers (the real check over the gateway is tested against the running
departments in test_identity.py and the browser story).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pyotp
import pytest

from huiqi.batch.registry import iter_batches
from huiqi.batch.run import run_batch
from huiqi.clock import FixedClock
from huiqi.errors import InputError, Message
from huiqi.library import Lifecycle
from huiqi.library.officers import add_user
from huiqi.library.source import DbLibrarySource
from huiqi.match import default_library
from huiqi.portal import Actor, Portal
from huiqi.portal.identity import Checked
from huiqi.sharing.masking import mask_id_number
from huiqi.trust.fields import Keyring, Vault

ROOT = Path(__file__).resolve().parents[2]
USCC = "91330100MA2K00001W"
OTHER = "91330100MA2K000020"
REP = ("王青禾", "110101199003071234")
AGENT = ("李代办", "110101198506152345")
OFFICE = "临江市科学技术局高新技术处"


def valid_id(prefix17: str) -> str:
    from stdnum.cn import ric

    return prefix17 + ric.calc_check_digit(prefix17 + "0")


REP = ("王青禾", valid_id("11010119900307123"))
AGENT = ("李代办", valid_id("11010119850615234"))
OTHER_REP = ("赵其他", valid_id("11010119700101111"))


@dataclass
class TableIdentity:
    """Registers as a table: uscc → (enterprise name, legal rep name, id); persons by id."""

    enterprises: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    persons: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def legal_rep(self, uscc: str, name: str, id_number: str, *, case_id: str) -> Checked:
        self.calls.append(("legal_rep", uscc))
        ent = self.enterprises.get(uscc)
        if ent is None:
            raise InputError(Message("法人库中没有这个统一社会信用代码", "unknown"), field="uscc")
        if ent[1] != name or mask_id_number(ent[2]) != mask_id_number(id_number) or self.persons.get(id_number) != name:
            raise InputError(
                Message("核验未通过：申请人不是法人库登记的法定代表人", "not the legal rep"), field="id_number"
            )
        return Checked(ent[0], name, mask_id_number(id_number), [{"origin": "test", "index": len(self.calls)}])

    def person(self, uscc: str, name: str, id_number: str, *, case_id: str) -> Checked:
        self.calls.append(("person", uscc))
        if self.persons.get(id_number) != name:
            raise InputError(Message("核验未通过：姓名与身份证号不一致", "mismatch"), field="id_number")
        return Checked(self.enterprises[uscc][0], name, mask_id_number(id_number), [])


@cache
def _seed_db(root: str) -> Path:
    """One migrated database with the shipped policies, copied per test (migrations are slow)."""
    path = Path(root) / "seed.db"
    clock = FixedClock(__import__("tests.conftest", fromlist=["TEST_NOW"]).TEST_NOW)
    lifecycle = Lifecycle.open(f"sqlite:///{path}", clock=clock)
    lifecycle.import_directory(ROOT / "policies")
    for name, role in (("alice", "editor"), ("bob", "publisher"), ("carol", "publisher")):
        add_user(lifecycle.engine, name, role, f"{name}-password", clock=clock)
    lifecycle.engine.dispose()
    return path


@pytest.fixture(scope="session")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _seed_db(str(tmp_path_factory.mktemp("portal-seed")))


@dataclass
class World:
    portal: Portal
    clock: FixedClock
    identity: TableIdentity
    source: DbLibrarySource
    url: str

    def register(self, uscc: str = USCC, person: tuple[str, str] = REP, login: str = "qinghe") -> tuple[Actor, str]:
        _account_id, secret = self.portal.accounts.register(uscc, person[0], person[1], login, "correct horse 1")
        token, _ = self.portal.accounts.login(login, "correct horse 1", allow_unconfirmed=True)
        _, sess = self.portal.accounts.second_factor(token, pyotp.TOTP(secret).at(self.clock.now()))
        return sess.actor, secret

    def officer(self, name: str) -> Actor:
        role = {"alice": "editor", "bob": "publisher", "carol": "publisher"}[name]
        return self.portal.officer(name, role)


@pytest.fixture
def world(seed: Path, tmp_path: Path, clock: FixedClock) -> Iterator[World]:
    import shutil

    db = tmp_path / "platform.db"
    shutil.copy(seed, db)
    url = f"sqlite:///{db}"
    lifecycle = Lifecycle.open(url, clock=clock)
    source = DbLibrarySource(lifecycle.engine, migrate=False, clock=clock)
    identity = TableIdentity(
        enterprises={USCC: ("临江市青禾餐饮有限公司", *REP), OTHER: ("临江市其他科技有限公司", *OTHER_REP)},
        persons={REP[1]: REP[0], AGENT[1]: AGENT[0], OTHER_REP[1]: OTHER_REP[0]},
    )
    vault = Vault(
        lifecycle.engine,
        Keyring.from_dict(Keyring.generate("k1", "aes-256-gcm")),
        store="platform",
        clock=clock,
        profile="aes-256-gcm",
    )
    portal = Portal(lifecycle.engine, clock, source.current, vault, identity)
    for officer in ("alice", "bob", "carol"):
        portal.assign(officer, OFFICE)
    yield World(portal, clock, identity, source, url)
    lifecycle.engine.dispose()


def applicable_policy(world: World) -> Any:
    """A policy of our office, applied for online, with materials."""
    for p in world.portal.library().policies:
        d = p.definition
        if (
            d.apply.office == OFFICE
            and d.apply.mode in ("申报享受", "申请审批")
            and d.apply.materials
            and d.in_force(world.clock.today())
        ):
            return p
    raise AssertionError("no applicable policy of " + OFFICE)


@pytest.fixture
def app(world: World) -> Any:
    from huiqi.web import create_app

    application = create_app(world.source, clock=world.clock)
    application.state.portal = world.portal
    return application


def login_page(client: Any, login: str, password: str, secret: str, clock: FixedClock) -> None:
    """Log in through the pages: password, then the TOTP code (of the next 30-second step:
    each code is used once, and the test's registration used the current one)."""
    import re

    clock.advance(seconds=30)
    page = client.get("/my/login")
    token = re.search(r'name="form_token" value="([^"]+)"', page.text).group(1)
    r = client.post(
        "/my/login", data={"login": login, "password": password, "form_token": token}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    r = client.post("/my/2fa", data={"code": pyotp.TOTP(secret).at(clock.now())}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/my", r.text


def csrf_of(html: str) -> str:
    import re

    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


GRANT_POLICY = "lj.tax.credit-a-award"


@pytest.fixture(scope="session")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("grants")
    pq.write_table(pa.Table.from_batches(list(iter_batches(3000, 11))), root / "registry.parquet")
    run_batch(
        default_library(),
        root / "registry.parquet",
        dt.date(2026, 11, 30),
        root / "run-2026-11-30",
        policy_ids=[GRANT_POLICY],
    )
    return root / "run-2026-11-30"
