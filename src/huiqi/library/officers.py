"""Officers: users with scrypt-hashed passwords, roles, and web sessions.

Roles are ordered: ``viewer`` reads, ``editor`` also drafts and submits changes,
``publisher`` also publishes and withdraws (never a version they wrote: four-eyes).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from functools import cache

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from huiqi import vocab
from huiqi.clock import Clock
from huiqi.library.errors import LifecycleError, PermissionDenied
from huiqi.store import audit
from huiqi.store.db import as_utc, read_session, write_session
from huiqi.store.models import ROLES, AdminSession, User

RANK = {role: i for i, role in enumerate(ROLES)}
# scrypt cost: n=2**15, r=8 (≈32 MiB, ~50 ms): OWASP's recommended minimum for scrypt.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
MIN_PASSWORD = 8
NAME = re.compile(r"^[A-Za-z0-9_.\-]{2,64}$")
SESSION_HOURS = 8


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=64 * 1024 * 1024
    )
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(key).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(key)
        got = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=64 * 1024 * 1024,
            dklen=len(want),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


@dataclass(frozen=True)
class Officer:
    name: str
    role: str

    def can(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]


def add_user(engine: Engine, name: str, role: str, password: str, *, clock: Clock, actor: str = "cli") -> Officer:
    if not NAME.match(name):
        raise LifecycleError(f"用户名 “{name}” 无效：2–64 个字母、数字或 _.- / invalid user name")
    if role not in RANK:
        raise LifecycleError(f"角色 “{role}” 无效，应为 {', '.join(ROLES)} / unknown role")
    if len(password) < MIN_PASSWORD:
        raise LifecycleError(f"密码至少 {MIN_PASSWORD} 位 / the password needs at least {MIN_PASSWORD} characters")
    with write_session(engine) as s:
        if s.get(User, name) is not None:
            raise LifecycleError(f"用户 “{name}” 已存在 / user exists")
        s.add(User(name=name, password_hash=hash_password(password), role=role, active=True, created_at=clock.now()))
        audit.record(s, actor, "user.add", f"user:{name}", at=clock.now(), after={"name": name, "role": role})
    return Officer(name, role)


def set_password(engine: Engine, name: str, password: str, *, clock: Clock, actor: str = "cli") -> None:
    if len(password) < MIN_PASSWORD:
        raise LifecycleError(f"密码至少 {MIN_PASSWORD} 位 / the password needs at least {MIN_PASSWORD} characters")
    with write_session(engine) as s:
        user = s.get(User, name)
        if user is None:
            raise LifecycleError(f"没有用户 “{name}” / no such user")
        before = user.password_hash
        user.password_hash = hash_password(password)
        audit.record(s, actor, "user.password", f"user:{name}", at=clock.now(), before=before, after=user.password_hash)


def list_users(engine: Engine) -> list[tuple[str, str, bool]]:
    with read_session(engine) as s:
        return [(u.name, u.role, u.active) for u in s.scalars(select(User).order_by(User.name))]


def officer(session: Session, name: str, role: str) -> Officer:
    """The active user ``name``, who must hold at least ``role``."""
    user = session.get(User, name)
    if user is None or not user.active:
        raise PermissionDenied(
            f"没有启用的用户 “{name}” / no active user {name!r}",
            ["用 huiqi user add NAME --role ROLE 添加 / add one with huiqi user add"],
        )
    if RANK[user.role] < RANK[role]:
        raise PermissionDenied(
            f"用户 “{name}” 的角色是 {vocab.ROLES[user.role]}，此操作需要 {vocab.ROLES[role]} / "
            f"role {user.role} cannot do this; it needs {role}"
        )
    return Officer(user.name, user.role)


# --- web sessions -----------------------------------------------------------------------
@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login(engine: Engine, name: str, password: str, *, clock: Clock) -> tuple[str, Officer] | None:
    """Check the password; on success open a session and return (cookie token, officer)."""
    with read_session(engine) as s:
        user = s.get(User, name)
        stored = user.password_hash if user is not None and user.active else None
    # Hash even for unknown users so that timing does not reveal which names exist.
    ok = verify_password(password, stored or _dummy_hash())
    with write_session(engine) as s:
        if not ok or stored is None or user is None:
            audit.record(s, name[:64] or "?", "login.failed", f"user:{name[:48]}", at=clock.now())
            return None
        token = secrets.token_urlsafe(32)
        s.add(
            AdminSession(
                token_hash=_token_hash(token),
                user_name=name,
                csrf=secrets.token_urlsafe(24),
                created_at=clock.now(),
                expires_at=clock.now() + dt.timedelta(hours=SESSION_HOURS),
            )
        )
        audit.record(s, name, "login", f"user:{name}", at=clock.now())
        return token, Officer(user.name, user.role)


def session_officer(engine: Engine, token: str | None, *, clock: Clock) -> tuple[Officer, str] | None:
    """The officer behind a session cookie and the session's CSRF token (None if expired)."""
    if not token:
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
