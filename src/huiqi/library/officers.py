"""Officers: users with scrypt-hashed passwords, roles, web sessions, and login throttling.

Roles are ordered (``huiqi.vocab.ROLES``): ``viewer`` reads, ``editor`` also drafts and
submits changes, ``publisher`` also publishes and withdraws (never a version they wrote:
four-eyes). Who may do which action on a version is the table in ``huiqi.library.states``.

Guessing passwords is bounded three ways:

* per account and per client address, failed logins lock further tries for a while that
  doubles with each failure past the threshold (:class:`Throttle`); a locked try is
  refused before any password is checked, even when the password is right;
* at most :data:`SCRYPT_WORKERS` scrypt computations (32 MiB each) run at once per
  process, so a burst of logins cannot exhaust the memory of a worker;
* failures and lockouts are audited — with a fixed actor, never the name the client typed.

Changing a password or disabling an officer ends all of that officer's sessions.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from huiqi import vocab
from huiqi.clock import Clock
from huiqi.errors import Message, RateLimited
from huiqi.library.errors import LifecycleError, NotFound, PermissionDenied
from huiqi.library.states import RANK
from huiqi.store import audit
from huiqi.store.db import as_utc, read_session, write_session
from huiqi.store.models import AdminSession, LoginThrottle, User

# scrypt cost: n=2**15, r=8 (≈32 MiB, ~50 ms): OWASP's recommended minimum for scrypt.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
#: Concurrent scrypt computations per process (each holds ~32 MiB while it runs).
SCRYPT_WORKERS = 2
#: How long a login waits for a free scrypt slot before it is turned away (seconds).
SCRYPT_WAIT = 10.0
MIN_PASSWORD = 8
NAME = re.compile(r"^[A-Za-z0-9_.\-]{2,64}$")
SESSION_HOURS = 8
#: The audit actor of a failed login: the name a client typed is not trusted as text.
ANONYMOUS = "anonymous"

_scrypt_slots = threading.BoundedSemaphore(SCRYPT_WORKERS)


class Busy(RateLimited):
    """Every scrypt slot stayed taken: too many logins at once."""


@contextmanager
def _scrypt_slot() -> Iterator[None]:
    if not _scrypt_slots.acquire(timeout=SCRYPT_WAIT):
        raise Busy(Message("登录请求过多，请稍后再试", "too many logins at once; try again shortly"), retry_after=2)
    try:
        yield
    finally:
        _scrypt_slots.release()


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int = 64) -> bytes:
    """Call only while holding a slot (:func:`_scrypt_slot`)."""
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=dklen)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    with _scrypt_slot():
        key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(key).decode()}"


def _verify(password: str, stored: str) -> bool:
    """Call only while holding a slot (:func:`_scrypt_slot`)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt" or int(n) > SCRYPT_N or int(r) > SCRYPT_R or int(p) > SCRYPT_P:
            return False  # never let a stored hash ask for more memory than ours
        want = base64.b64decode(key)
        got = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p), len(want))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def verify_password(password: str, stored: str) -> bool:
    with _scrypt_slot():
        return _verify(password, stored)


@dataclass(frozen=True)
class Officer:
    name: str
    role: str

    def can(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise LifecycleError(f"密码至少 {MIN_PASSWORD} 位 / the password needs at least {MIN_PASSWORD} characters")


def add_user(engine: Engine, name: str, role: str, password: str, *, clock: Clock, actor: str = "cli") -> Officer:
    if not NAME.match(name):
        raise LifecycleError(f"用户名 “{name[:64]}” 无效：2–64 个字母、数字或 _.- / invalid user name")
    if role not in RANK:
        raise LifecycleError(f"角色 “{role}” 无效，应为 {', '.join(vocab.ROLES)} / unknown role")
    _check_password(password)
    with write_session(engine) as s:
        if s.get(User, name) is not None:
            raise LifecycleError(f"用户 “{name}” 已存在 / user exists")
        s.add(User(name=name, password_hash=hash_password(password), role=role, active=True, created_at=clock.now()))
        audit.record(s, actor, "user.add", f"user:{name}", at=clock.now(), after={"name": name, "role": role})
    return Officer(name, role)


def _user(s: Session, name: str) -> User:
    user = s.get(User, name) if NAME.match(name) else None
    if user is None:
        raise NotFound(f"没有用户 “{name[:64]}” / no such user")
    return user


def _end_sessions(s: Session, name: str) -> int:
    result = s.execute(delete(AdminSession).where(AdminSession.user_name == name))
    return int(getattr(result, "rowcount", 0) or 0)


def set_password(engine: Engine, name: str, password: str, *, clock: Clock, actor: str = "cli") -> None:
    """A new password; every session of the officer ends (a stolen cookie dies with the old password)."""
    _check_password(password)
    new_hash = hash_password(password)
    with write_session(engine) as s:
        user = _user(s, name)
        before = user.password_hash
        user.password_hash = new_hash
        ended = _end_sessions(s, name)
        audit.record(
            s,
            actor,
            "user.password",
            f"user:{name}",
            at=clock.now(),
            before=before,
            after=new_hash,
            detail={"sessions_ended": ended},
        )


def set_active(engine: Engine, name: str, active: bool, *, clock: Clock, actor: str = "cli") -> None:
    """Disable (or enable again) an officer; disabling ends every session at once."""
    with write_session(engine) as s:
        user = _user(s, name)
        before = {"name": name, "active": user.active}
        user.active = active
        ended = 0 if active else _end_sessions(s, name)
        audit.record(
            s,
            actor,
            "user.enable" if active else "user.disable",
            f"user:{name}",
            at=clock.now(),
            before=before,
            after={"name": name, "active": active},
            detail={"sessions_ended": ended},
        )


def list_users(engine: Engine) -> list[tuple[str, str, bool]]:
    with read_session(engine) as s:
        return [(u.name, u.role, u.active) for u in s.scalars(select(User).order_by(User.name))]


def officer(session: Session, name: str, role: str) -> Officer:
    """The active user ``name``, who must hold at least ``role``."""
    user = session.get(User, name) if NAME.match(name) else None
    if user is None or not user.active:
        raise PermissionDenied(
            f"没有启用的用户 “{name[:64]}” / no active user {name[:64]!r}",
            ["用 huiqi user add NAME --role ROLE 添加 / add one with huiqi user add"],
        )
    if RANK[user.role] < RANK[role]:
        raise PermissionDenied(
            f"用户 “{name}” 的角色是 {vocab.ROLES[user.role]}，此操作需要 {vocab.ROLES[role]} / "
            f"role {user.role} cannot do this; it needs {role}"
        )
    return Officer(user.name, user.role)


# --- throttling ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Throttle:
    """Failures allowed before a lock, and how long the lock lasts (doubling, capped)."""

    threshold: int
    first_lock: dt.timedelta = dt.timedelta(minutes=1)
    max_lock: dt.timedelta = dt.timedelta(hours=1)
    #: Failures older than this (and no lock running) are forgotten.
    window: dt.timedelta = dt.timedelta(minutes=15)

    def lock_for(self, failures: int) -> dt.timedelta | None:
        if failures < self.threshold:
            return None
        return min(self.max_lock, self.first_lock * 2 ** (failures - self.threshold))


ACCOUNT = Throttle(threshold=5)
ADDRESS = Throttle(threshold=20)


class LoginLocked(RateLimited):
    """Too many failed logins for this account or from this address: try again later."""


def _keys(name: str, address: str | None) -> list[tuple[str, Throttle]]:
    keys = [(f"user:{name[:64]}", ACCOUNT)]
    if address:
        keys.append((f"addr:{address[:64]}", ADDRESS))
    return keys


def _locked_until(engine: Engine, keys: list[tuple[str, Throttle]], now: dt.datetime) -> dt.datetime | None:
    with read_session(engine) as s:
        rows = s.scalars(select(LoginThrottle).where(LoginThrottle.key.in_([k for k, _ in keys]))).all()
    until = [as_utc(r.locked_until) for r in rows if r.locked_until is not None and as_utc(r.locked_until) > now]
    return max(until) if until else None


def _refuse_if_locked(engine: Engine, keys: list[tuple[str, Throttle]], now: dt.datetime) -> None:
    until = _locked_until(engine, keys, now)
    if until is not None:
        seconds = int((until - now).total_seconds()) + 1
        minutes = max(1, (seconds + 59) // 60)
        raise LoginLocked(
            Message(
                f"登录失败次数过多，请 {minutes} 分钟后再试",
                f"too many failed logins; try again in {seconds} seconds",
            ),
            retry_after=seconds,
        )


def _count_failure(s: Session, key: str, rule: Throttle, now: dt.datetime) -> dt.datetime | None:
    """One more failure under ``key``; returns the end of a lock that starts now, if any."""
    row = s.get(LoginThrottle, key)
    if row is None:
        row = LoginThrottle(key=key, failures=0, first_failure_at=now, locked_until=None)
        s.add(row)
    locked = row.locked_until is not None and as_utc(row.locked_until) > now
    if not locked and now - as_utc(row.first_failure_at) > rule.window:
        row.failures, row.first_failure_at = 0, now
    row.failures += 1
    lock = rule.lock_for(row.failures)
    if lock is None:
        return None
    row.locked_until = now + lock
    return row.locked_until


#: The same lock for the enterprise space's logins (huiqi.portal.accounts): one mechanism.
refuse_if_locked = _refuse_if_locked
count_failure = _count_failure


# --- web sessions ---------------------------------------------------------------------------
@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login(
    engine: Engine, name: str, password: str, *, clock: Clock, address: str | None = None
) -> tuple[str, Officer] | None:
    """Check the password; on success open a session and return (cookie token, officer).

    Raises :class:`LoginLocked` while the account or the address is locked (the password is
    then not even checked) and :class:`Busy` when too many logins are being checked at once.
    """
    keys = _keys(name, address)
    _refuse_if_locked(engine, keys, clock.now())
    valid_name = bool(NAME.match(name))
    with read_session(engine) as s:
        user = s.get(User, name) if valid_name else None
        stored = user.password_hash if user is not None and user.active else None
    # Hash even for unknown users so that timing does not reveal which names exist.
    against = stored or _dummy_hash()
    with _scrypt_slot():
        _refuse_if_locked(engine, keys, clock.now())  # tries that queued while a burst locked the account
        ok = _verify(password, against)
    now = clock.now()
    with write_session(engine) as s:
        if not ok or stored is None or user is None:
            target = f"user:{name}" if user is not None else "user:?"
            audit.record(s, ANONYMOUS, "login.failed", target, at=now, detail={"address": address or ""})
            for key, rule in keys:
                until = _count_failure(s, key, rule, now)
                if until is not None:
                    locked = key if key.startswith("addr:") or user is not None else "user:?"
                    audit.record(s, "system", "login.locked", locked, at=now, detail={"until": until.isoformat()})
            return None
        s.execute(delete(LoginThrottle).where(LoginThrottle.key == keys[0][0]))
        token = secrets.token_urlsafe(32)
        s.add(
            AdminSession(
                token_hash=_token_hash(token),
                user_name=name,
                csrf=secrets.token_urlsafe(24),
                created_at=now,
                expires_at=now + dt.timedelta(hours=SESSION_HOURS),
            )
        )
        audit.record(s, name, "login", f"user:{name}", at=now, detail={"address": address or ""})
        return token, Officer(user.name, user.role)


def session_officer(engine: Engine, token: str | None, *, clock: Clock) -> tuple[Officer, str] | None:
    """The officer behind a session cookie and the session's CSRF token (None if expired)."""
    if not token or len(token) > 128:
        return None
    with read_session(engine) as s:
        row = s.get(AdminSession, _token_hash(token))
        if row is None or as_utc(row.expires_at) < clock.now():
            return None
        user = s.get(User, row.user_name)
        if user is None or not user.active:
            return None
        return Officer(user.name, user.role), row.csrf


def logout(engine: Engine, token: str, *, clock: Clock) -> None:
    with write_session(engine) as s:
        row = s.get(AdminSession, _token_hash(token))
        if row is not None:
            s.delete(row)
            audit.record(s, row.user_name, "logout", f"user:{row.user_name}", at=clock.now())
