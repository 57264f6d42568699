"""Officers: passwords are never stored plain; roles; sessions."""

import pytest
from sqlalchemy import select

from huiqi.library import LifecycleError
from huiqi.library.officers import add_user, hash_password, login, logout, session_officer, verify_password
from huiqi.store import read_session
from huiqi.store.models import User


def test_password_hash_is_salted_scrypt_and_verifies():
    a, b = hash_password("correct horse"), hash_password("correct horse")
    assert a != b and a.startswith("scrypt$") and "correct horse" not in a
    assert verify_password("correct horse", a) and verify_password("correct horse", b)
    assert not verify_password("Correct horse", a)
    assert not verify_password("correct horse", "plain:correct horse")


def test_users_are_stored_hashed_and_checked(sqlite_lc):
    with read_session(sqlite_lc.engine) as s:
        stored = {u.name: u.password_hash for u in s.scalars(select(User))}
    assert set(stored) == {"alice", "bob", "carol"}
    assert all(h.startswith("scrypt$") and "password" not in h for h in stored.values())
    with pytest.raises(LifecycleError, match="at least"):
        add_user(sqlite_lc.engine, "dave", "editor", "short", clock=sqlite_lc.clock)
    with pytest.raises(LifecycleError, match="unknown role"):
        add_user(sqlite_lc.engine, "dave", "admin", "long-enough-password", clock=sqlite_lc.clock)
    with pytest.raises(LifecycleError, match="user exists"):
        add_user(sqlite_lc.engine, "alice", "editor", "long-enough-password", clock=sqlite_lc.clock)


def test_login_session_and_logout(sqlite_lc):
    assert login(sqlite_lc.engine, "bob", "wrong", clock=sqlite_lc.clock) is None
    assert login(sqlite_lc.engine, "nobody", "bob-password", clock=sqlite_lc.clock) is None
    token, officer = login(sqlite_lc.engine, "bob", "bob-password", clock=sqlite_lc.clock)
    assert officer.role == "publisher" and officer.can("editor")
    found, csrf = session_officer(sqlite_lc.engine, token, clock=sqlite_lc.clock)
    assert found.name == "bob" and len(csrf) > 20
    assert session_officer(sqlite_lc.engine, token + "x", clock=sqlite_lc.clock) is None
    logout(sqlite_lc.engine, token, clock=sqlite_lc.clock)
    assert session_officer(sqlite_lc.engine, token, clock=sqlite_lc.clock) is None
