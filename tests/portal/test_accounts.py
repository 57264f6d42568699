"""Enterprise accounts: registration checked, two factors, throttling, agents, login by e-licence."""

from __future__ import annotations

import datetime as dt

import pyotp
import pytest
import sqlalchemy as sa
from sqlalchemy import create_engine

from huiqi.certs.sdjwt import holder_key, issue_sd_jwt, present
from huiqi.errors import InputError, PermissionDenied, RateLimited, Unauthenticated
from huiqi.portal import AUDIENCE
from huiqi.portal import schema as ps
from huiqi.portal.accounts import SmsFactor
from huiqi.store.models import AuditEntry
from tests.certs.conftest import BUSINESS, make_world
from tests.portal.conftest import AGENT, REP, USCC

PASSWORD = "correct horse 1"


def test_only_the_legal_representative_registers_and_nothing_is_kept_in_clear(world):
    accounts = world.portal.accounts
    with pytest.raises(InputError) as e:
        accounts.register(USCC, "王青禾", AGENT[1], "qinghe", PASSWORD)  # a real person, not the representative
    assert e.value.fields[0].field == "id_number"
    with pytest.raises(InputError) as e:
        accounts.register(USCC, REP[0], REP[1][:-1] + "X", "qinghe", PASSWORD)
    assert "校验位" in str(e.value)
    account_id, secret = accounts.register(USCC, REP[0], REP[1], "qinghe", PASSWORD)
    with world.portal.engine.connect() as c:
        row = c.execute(sa.select(ps.accounts).where(ps.accounts.c.id == account_id)).one()
    assert REP[1] not in str(tuple(row)) and secret not in str(tuple(row))  # 身份证号 and TOTP secret sealed
    assert row.id_masked == REP[1][:6] + "********" + REP[1][-4:]
    with pytest.raises(InputError):
        accounts.register(USCC, REP[0], REP[1], "qinghe2", PASSWORD)  # one legal representative account


def test_the_password_alone_opens_nothing_and_a_code_is_used_once(world):
    accounts = world.portal.accounts
    _, secret = accounts.register(USCC, REP[0], REP[1], "qinghe", PASSWORD)
    with pytest.raises(Unauthenticated):
        accounts.login("qinghe", PASSWORD)  # the authenticator was never confirmed
    half, view = accounts.login("qinghe", PASSWORD, allow_unconfirmed=True)
    assert view.stage == "password" and accounts.session(half).stage == "password"
    code = pyotp.TOTP(secret).at(world.clock.now())
    _full, view = accounts.second_factor(half, code)
    assert view.stage == "full" and accounts.session(half) is None  # the half session is gone
    half2, _ = accounts.login("qinghe", PASSWORD)
    with pytest.raises(Unauthenticated, match="已用过"):
        accounts.second_factor(half2, code)  # a replayed code
    world.clock.advance(seconds=30)
    accounts.second_factor(half2, pyotp.TOTP(secret).at(world.clock.now()))
    with pytest.raises(Exception, match="短信"):
        SmsFactor().verify("x", "123456", 0, world.clock.now())


def test_guessing_locks_the_account_and_is_audited(world):
    accounts = world.portal.accounts
    accounts.register(USCC, REP[0], REP[1], "qinghe", PASSWORD)
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            accounts.login("qinghe", "wrong password", address="10.9.9.9", allow_unconfirmed=True)
    with pytest.raises(RateLimited) as locked:
        accounts.login("qinghe", PASSWORD, address="10.9.9.9", allow_unconfirmed=True)  # right, but locked
    assert locked.value.retry_after > 0
    world.clock.advance(minutes=2)
    accounts.login("qinghe", PASSWORD, address="10.9.9.9", allow_unconfirmed=True)  # the lock ran out
    with world.portal.engine.connect() as c:
        actions = c.execute(sa.select(AuditEntry.action)).scalars().all()
    assert actions.count("portal.login.failed") == 5 and "portal.login.locked" in actions


def test_guessing_the_second_factor_locks_too(world):
    accounts = world.portal.accounts
    accounts.register(USCC, REP[0], REP[1], "qinghe", PASSWORD)
    half, _ = accounts.login("qinghe", PASSWORD, allow_unconfirmed=True)
    for guess in range(5):
        with pytest.raises(Unauthenticated):
            accounts.second_factor(half, f"{guess:06d}")
    with pytest.raises(RateLimited):
        accounts.second_factor(half, "000009")


def test_an_agent_has_limited_rights_and_can_be_dismissed(world):
    rep, _ = world.register()
    accounts = world.portal.accounts
    with pytest.raises(InputError):
        accounts.invite_agent(rep, AGENT[0], AGENT[1], ["bank"])  # never the bank account
    code = accounts.invite_agent(rep, AGENT[0], AGENT[1], ["apply"])
    agent_id, secret = accounts.accept_invite(code, "daiban", "agent password 1")
    with pytest.raises(InputError):
        accounts.accept_invite(code, "daiban2", "agent password 1")  # one time only
    half, _ = accounts.login("daiban", "agent password 1", allow_unconfirmed=True)
    token, view = accounts.second_factor(half, pyotp.TOTP(secret).at(world.clock.now()))
    assert view.actor.rights == {"view", "apply"} and view.actor.uscc == USCC
    with pytest.raises(PermissionDenied):
        accounts.invite_agent(view.actor, "某人", REP[1], ["apply"])
    accounts.disable(rep, agent_id)
    assert accounts.session(token) is None


@pytest.fixture
def certs(tmp_path, clock):
    engine = create_engine(f"sqlite:///{tmp_path / 'certs.db'}")
    yield make_world(engine, clock, tmp_path)
    engine.dispose()


def test_login_by_e_licence_needs_the_wallet_the_nonce_and_a_valid_licence(world, certs):
    world.register()  # the enterprise's account exists
    issued = certs.licences.issue("YYZZ", {**BUSINESS, "uscc": USCC})
    certs.licences.publish()
    lid = str(issued.id)
    wallet = holder_key()
    token = issue_sd_jwt(certs.licences.credential(lid), certs.keys, wallet, clock=certs.clock)
    accounts = world.portal.accounts

    nonce = accounts.nonce()
    shown = present(token, ["uscc", "name"], wallet, audience=AUDIENCE, nonce=nonce)
    _cookie, view = accounts.login_with_licence(shown, nonce, certs.licences)
    assert view.stage == "full" and view.method == "licence" and view.actor.uscc == USCC
    with pytest.raises(Unauthenticated):
        accounts.login_with_licence(shown, nonce, certs.licences)  # the nonce is used up: no replay
    nonce = accounts.nonce()
    with pytest.raises(Unauthenticated):  # a bare credential (a public document) is not a login
        accounts.login_with_licence(__import__("json").dumps(certs.licences.credential(lid)), nonce, certs.licences)
    nonce = accounts.nonce()
    thief = present(token, ["uscc", "name"], holder_key(), audience=AUDIENCE, nonce=nonce)
    with pytest.raises(Unauthenticated):
        accounts.login_with_licence(thief, nonce, certs.licences)  # without the wallet's key
    certs.licences.revoke(lid, reason="注销")
    certs.licences.publish()
    nonce = accounts.nonce()
    shown = present(token, ["uscc", "name"], wallet, audience=AUDIENCE, nonce=nonce)
    with pytest.raises(Unauthenticated, match="电子营业执照"):
        accounts.login_with_licence(shown, nonce, certs.licences)  # revoked
    nonce = accounts.nonce()
    world.clock.advance(dt.timedelta(minutes=6))
    with pytest.raises(Unauthenticated):
        accounts.login_with_licence(
            present(token, ["uscc"], wallet, audience=AUDIENCE, nonce=nonce), nonce, certs.licences
        )
