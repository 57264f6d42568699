"""Enterprise accounts: registration checked against the registers, a second factor, sessions,
login by e-licence, agents with limited rights, and login throttling.

* **Registration** (:meth:`Accounts.register`): the legal representative, checked by
  :mod:`huiqi.portal.identity`; the account gets a TOTP secret (``pyotp``, RFC 6238) which
  must be confirmed with a code before the first login. SMS is :class:`SmsFactor`, an
  interface with no gateway behind it here (it refuses, saying so).
* **Login** is two steps: the password opens a half session (``stage = password``) that can
  do nothing but answer the TOTP challenge; the code (each 30-second step once: replays
  refused) makes it a full session. Sessions are server-side rows (the cookie holds a random
  token, the table its SHA-256), 8 hours, with a CSRF token — the officers' design.
* **Login by e-licence**: the portal issues a one-time nonce; the enterprise's wallet answers
  with an SD-JWT presentation bound to the portal's audience and that nonce; the portal
  checks it (``huiqi.certs.sdjwt.verify_presentation`` with the key registry and the status
  list) and the licence's current status (``Licences.lookup``). A bare credential — a public
  document — is never a login. It logs the enterprise's legal representative in.
* **Agents**: the legal representative appoints one (checked in 人口库) with a subset of
  :data:`~huiqi.portal.base.AGENT_RIGHTS`; the agent opens the account with a one-time code.
* **Throttling**: failed passwords and failed second factors count per account and per
  client address; past the threshold the next try is refused before anything is checked,
  for a lock that doubles with each further failure (capped). Failures and locks are on the
  audit log. It is the officers' mechanism (``huiqi.library.officers``: ``Throttle``, the
  ``login_throttle`` table), under keys ``enterprise:<login>`` and ``addr:<address>``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

import pyotp
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from huiqi.clock import Clock
from huiqi.errors import InputError, Message, NotFound, Unauthenticated, Unavailable
from huiqi.library.officers import (
    ACCOUNT,
    ADDRESS,
    Throttle,
    count_failure,
    hash_password,
    refuse_if_locked,
    verify_password,
)
from huiqi.portal import schema
from huiqi.portal.base import AGENT_RIGHTS, RIGHTS, Actor, changed_rows, dumps, insert_row, loads, record
from huiqi.portal.identity import IdentityCheck, clean_id_number
from huiqi.profile.uscc import InvalidUSCC, normalize
from huiqi.store.db import as_utc, read_session, write_session
from huiqi.store.models import LoginThrottle
from huiqi.trust.fields import Vault

LOGIN = re.compile(r"^[A-Za-z0-9_.\-]{3,64}$")
MIN_PASSWORD = 10
SESSION_HOURS = 8
HALF_SESSION_MINUTES = 5
NONCE_MINUTES = 5
ISSUER = "临江市惠企平台"
#: The audience an e-licence presentation must be bound to.
AUDIENCE = "https://huiqi.linjiang.example/my"


class SecondFactor(Protocol):
    """A second factor: TOTP now; SMS when a gateway exists."""

    def verify(self, secret: str, code: str, last_step: int, at: dt.datetime) -> int | None:
        """The time step the code belongs to when it is right and newer than ``last_step``; else None."""
        ...


class TotpFactor:
    def verify(self, secret: str, code: str, last_step: int, at: dt.datetime) -> int | None:
        totp = pyotp.TOTP(secret)
        code = (code or "").strip()
        if not re.fullmatch(r"\d{6}", code):
            return None
        now_step = int(at.timestamp()) // totp.interval
        for step in (now_step, now_step - 1, now_step + 1):  # one step of clock drift either way
            if step > last_step and secrets.compare_digest(totp.generate_otp(step), code):
                return step
        return None


class SmsFactor:
    """短信验证码: an interface only — this platform has no SMS gateway, and says so."""

    def verify(self, secret: str, code: str, last_step: int, at: dt.datetime) -> int | None:
        raise Unavailable(Message("短信验证码暂未开通，请使用动态口令（TOTP）", "SMS codes are not available here"))


@dataclass(frozen=True)
class Session_:
    actor: Actor
    csrf: str
    stage: str  # password | full
    method: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def _actor(row: Any) -> Actor:
    return Actor("enterprise", row.login, uscc=row.uscc, rights=frozenset(loads(row.rights)), account_id=int(row.id))


class Accounts:
    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock,
        vault: Vault,
        identity: IdentityCheck | None = None,
        factor: SecondFactor | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.vault = vault
        self.identity = identity
        self.factor = factor or TotpFactor()

    # --- registration -------------------------------------------------------------------------
    def _check_login(self, s: Session, login: str, password: str) -> None:
        if not LOGIN.match(login or ""):
            raise InputError(
                Message("登录名须为 3–64 位字母、数字或 _.-", "login: 3–64 letters, digits or _.-"), field="login"
            )
        if len(password or "") < MIN_PASSWORD:
            raise InputError(
                Message(f"密码至少 {MIN_PASSWORD} 位", f"the password needs {MIN_PASSWORD} characters"),
                field="password",
            )
        if s.execute(sa.select(schema.accounts.c.id).where(schema.accounts.c.login == login)).first():
            raise InputError(Message("该登录名已被使用", "the login name is taken"), field="login")

    def _identity(self) -> IdentityCheck:
        if self.identity is None:
            raise Unavailable(Message("未连接部门共享服务，无法核验身份", "no gateway: identities cannot be checked"))
        return self.identity

    def register(self, uscc: str, name: str, id_number: str, login: str, password: str) -> tuple[int, str]:
        """The legal representative opens the enterprise's account; returns (account id, TOTP secret)."""
        uscc = clean_uscc(uscc)
        name = (name or "").strip()
        if not name:
            raise InputError(Message("请填写法定代表人姓名", "name is required"), field="name")
        number = clean_id_number(id_number)
        with read_session(self.engine) as s:
            self._check_login(s, login, password)
        checked = self._identity().legal_rep(uscc, name, number, case_id=f"REG-{uscc}")
        secret = pyotp.random_base32()
        return self._create(
            uscc, checked, number, login, password, "legal_rep", frozenset(RIGHTS), secret, None
        ), secret

    def _create(
        self,
        uscc: str,
        checked: Any,
        number: str,
        login: str,
        password: str | None,
        role: str,
        rights: frozenset[str],
        secret: str | None,
        created_by: Actor | None,
        invite: str | None = None,
    ) -> int:
        index = self.vault.field("portal_accounts", "id_number").blind_index(f"{uscc}|{number}")
        pw = hash_password(password) if password else None
        # Sealed before the write transaction: the vault may create its data key in its own.
        sealed = self._seal(uscc, index, secret) if secret else None
        now = self.clock.now()
        with write_session(self.engine) as s:
            if password:
                self._check_login(s, login, password)
            clash = s.execute(
                sa.select(schema.accounts.c.id).where(
                    schema.accounts.c.uscc == uscc, schema.accounts.c.id_index == index
                )
            ).first()
            if clash:
                raise InputError(
                    Message("此人已有该企业的账户", "this person already has an account for it"), field="id_number"
                )
            if (
                role == "legal_rep"
                and s.execute(
                    sa.select(schema.accounts.c.id).where(
                        schema.accounts.c.uscc == uscc, schema.accounts.c.role == "legal_rep"
                    )
                ).first()
            ):
                raise InputError(
                    Message("该企业的法定代表人账户已存在", "the enterprise already has its account"), field="uscc"
                )
            account_id = insert_row(
                s,
                schema.accounts.insert().values(
                    login=login,
                    uscc=uscc,
                    enterprise_name=checked.enterprise_name,
                    person_name=checked.person_name,
                    id_masked=checked.id_masked,
                    id_index=index,
                    role=role,
                    rights=dumps(sorted(rights)),
                    password_hash=pw,
                    totp_secret=sealed,
                    totp_confirmed=False,
                    totp_last_step=0,
                    active=True,
                    invite_hash=_hash(invite) if invite else None,
                    verified_log=dumps(checked.log),
                    created_by=created_by.account_id if created_by else None,
                    created_at=now,
                ),
            )
            actor = created_by or Actor("enterprise", login, uscc=uscc, account_id=account_id)
            record(
                s,
                actor,
                "account.create",
                f"account:{account_id}",
                at=now,
                after={"uscc": uscc, "role": role, "rights": sorted(rights), "person": checked.id_masked},
                detail={"gateway_log": checked.log},
            )
        return account_id

    def _seal(self, uscc: str, index: str, secret: str) -> str:
        return self.vault.field("portal_accounts", "totp_secret").encrypt(_row_key(uscc, index), secret)

    def provisioning_uri(self, secret: str, login: str) -> str:
        return pyotp.TOTP(secret).provisioning_uri(name=login, issuer_name=ISSUER)

    def invite_agent(self, rep: Actor, name: str, id_number: str, rights: Iterable[str]) -> str:
        """The legal representative appoints an agent; returns the one-time code the agent opens the account with."""
        rep.need("agents")
        wanted = frozenset(rights) | {"view"}
        extra = sorted(wanted - AGENT_RIGHTS)
        if extra:
            raise InputError(
                Message(f"代理人不能获得“{RIGHTS.get(extra[0], extra[0])}”权限", "agents cannot hold that right"),
                field="rights",
            )
        assert rep.uscc is not None
        number = clean_id_number(id_number)
        checked = self._identity().person(rep.uscc, (name or "").strip(), number, case_id=f"AGENT-{rep.uscc}")
        code = secrets.token_urlsafe(18)
        self._create(
            rep.uscc, checked, number, f"invite-{secrets.token_hex(8)}", None, "agent", wanted, None, rep, code
        )
        return code

    def accept_invite(self, code: str, login: str, password: str) -> tuple[int, str]:
        """The agent opens the account with the code; returns (account id, TOTP secret)."""
        now = self.clock.now()
        secret = pyotp.random_base32()
        with read_session(self.engine) as s:
            row = s.execute(
                sa.select(schema.accounts).where(schema.accounts.c.invite_hash == _hash(code or "-"))
            ).first()
            if row is None:
                raise InputError(Message("邀请码无效或已使用", "the invitation code is invalid or used"), field="code")
            self._check_login(s, login, password)
        pw = hash_password(password)
        sealed = self._seal(row.uscc, row.id_index, secret)
        with write_session(self.engine) as s:
            taken = changed_rows(
                s,
                schema.accounts.update()
                .where(schema.accounts.c.id == row.id, schema.accounts.c.invite_hash == _hash(code))
                .values(login=login, password_hash=pw, totp_secret=sealed, invite_hash=None),
            )
            if taken != 1:
                raise InputError(Message("邀请码无效或已使用", "the invitation code is invalid or used"), field="code")
            record(s, Actor("enterprise", login, uscc=row.uscc), "account.accept", f"account:{row.id}", at=now)
        return int(row.id), secret

    def confirm_totp(self, login: str, password: str, code: str, *, address: str | None = None) -> tuple[str, Session_]:
        """First login: the password and a first code confirm the authenticator; returns a full session."""
        token, _half = self.login(login, password, address=address, allow_unconfirmed=True)
        return self.second_factor(token, code, address=address)

    # --- login ----------------------------------------------------------------------------------
    def _keys(self, login: str, address: str | None) -> list[tuple[str, Throttle]]:
        keys = [(f"enterprise:{login[:64]}", ACCOUNT)]
        if address:
            keys.append((f"addr:{address[:64]}", ADDRESS))
        return keys

    def _refuse_if_locked(self, keys: list[tuple[str, Throttle]], now: dt.datetime) -> None:
        refuse_if_locked(self.engine, keys, now)

    def _fail(
        self,
        s: Session,
        keys: list[tuple[str, Throttle]],
        target: str,
        step: str,
        now: dt.datetime,
        address: str | None,
    ) -> None:
        """One failed try, counted under the officers' login throttle (``huiqi.library.officers``)."""
        record(
            s,
            Actor("system", "anonymous"),
            "login.failed",
            target,
            at=now,
            detail={"step": step, "address": address or ""},
        )
        for key, rule in keys:
            until = count_failure(s, key, rule, now)
            if until is not None:
                record(
                    s,
                    Actor.SYSTEM,
                    "login.locked",
                    key if key.startswith("addr:") or target != "account:?" else "account:?",
                    at=now,
                    detail={"until": until.isoformat()},
                )

    def login(
        self, login: str, password: str, *, address: str | None = None, allow_unconfirmed: bool = False
    ) -> tuple[str, Session_]:
        """Step one: the password. Returns a half session that only the second factor can complete."""
        keys = self._keys(login or "", address)
        self._refuse_if_locked(keys, self.clock.now())
        with read_session(self.engine) as s:
            row = s.execute(sa.select(schema.accounts).where(schema.accounts.c.login == (login or "")[:64])).first()
        usable = row is not None and row.active and row.password_hash and (row.totp_confirmed or allow_unconfirmed)
        ok = verify_password(password or "", row.password_hash if usable and row else _dummy_hash())
        now = self.clock.now()
        if not (ok and usable and row):
            with write_session(self.engine) as s:  # committed: the failure counts
                self._fail(s, keys, f"account:{row.id}" if row else "account:?", "password", now, address)
            raise Unauthenticated(Message("登录名或密码不正确", "wrong login name or password"))
        with write_session(self.engine) as s:
            token, view = self._open(s, row, "password", "totp", now)
            record(s, _actor(row), "login.password", f"account:{row.id}", at=now, detail={"address": address or ""})
        return token, view

    def second_factor(self, token: str, code: str, *, address: str | None = None) -> tuple[str, Session_]:
        """Step two: the TOTP code turns the half session into a full one (with a new token)."""
        now = self.clock.now()
        with read_session(self.engine) as s:
            sess = s.execute(
                sa.select(schema.sessions).where(schema.sessions.c.token_hash == _hash(token or "-"))
            ).first()
            row = (
                s.execute(sa.select(schema.accounts).where(schema.accounts.c.id == sess.account_id)).first()
                if sess is not None
                else None
            )
        if sess is None or row is None or sess.stage != "password" or as_utc(sess.expires_at) < now:
            raise Unauthenticated(Message("请先输入登录名和密码", "log in with the password first"))
        keys = self._keys(row.login, address)
        self._refuse_if_locked(keys, now)
        secret = self.vault.field("portal_accounts", "totp_secret").decrypt(
            _row_key(row.uscc, row.id_index), row.totp_secret
        )
        step = self.factor.verify(secret, code, int(row.totp_last_step), now)
        if step is None:
            with write_session(self.engine) as s:  # committed: the failure counts
                self._fail(s, keys, f"account:{row.id}", "totp", now, address)
            raise Unauthenticated(Message("动态口令不正确或已用过", "wrong or already used code"))
        with write_session(self.engine) as s:
            s.execute(schema.sessions.delete().where(schema.sessions.c.token_hash == _hash(token)))
            s.execute(
                schema.accounts.update()
                .where(schema.accounts.c.id == row.id)
                .values(totp_last_step=step, totp_confirmed=True)
            )
            s.execute(sa.delete(LoginThrottle).where(LoginThrottle.key == keys[0][0]))
            full, view = self._open(s, row, "full", "totp", now)
            record(
                s,
                _actor(row),
                "login",
                f"account:{row.id}",
                at=now,
                detail={"method": "totp", "address": address or ""},
            )
        return full, view

    def nonce(self) -> str:
        """A one-time nonce for an e-licence login (valid 5 minutes)."""
        value = secrets.token_urlsafe(24)
        now = self.clock.now()
        with write_session(self.engine, global_lock=False) as s:
            # anyone may ask for one (the login page): expired ones go at once, the table stays small
            s.execute(
                schema.nonces.delete().where(schema.nonces.c.created_at < now - dt.timedelta(minutes=NONCE_MINUTES))
            )
            s.execute(schema.nonces.insert().values(nonce=value, created_at=now))
        return value

    def login_with_licence(
        self, presentation: str, nonce: str, licences: Any, *, address: str | None = None
    ) -> tuple[str, Session_]:
        """An SD-JWT presentation of the enterprise's 营业执照, bound to our audience and ``nonce``."""
        from huiqi.certs.errors import CertError
        from huiqi.certs.sdjwt import verify_presentation

        now = self.clock.now()
        keys = self._keys("licence", address)[1:]  # per address: the account is not known yet
        self._refuse_if_locked(keys, now)
        with write_session(self.engine, global_lock=False) as s:
            used = changed_rows(
                s,
                schema.nonces.update()
                .where(
                    schema.nonces.c.nonce == (nonce or "-"),
                    schema.nonces.c.used_at.is_(None),
                    schema.nonces.c.created_at > now - dt.timedelta(minutes=NONCE_MINUTES),
                )
                .values(used_at=now),
            )
        try:
            if used != 1:
                raise CertError("一次性随机数无效或已使用", "the nonce is unknown, expired or used", field="nonce")
            licence_id = _licence_id(presentation)
            status_url = licences.credential(licence_id)["credentialStatus"]["statusListCredential"]
            shown = verify_presentation(
                presentation,
                keys=licences.key_records(),
                audience=AUDIENCE,
                nonce=nonce,
                clock=self.clock,
                status_list=licences.status_list(status_url),
            )
            current = licences.lookup(shown.licence_id, purpose="identity", requester="portal")
            if current.verdict != "valid":
                raise CertError("证照当前状态无效", "the licence is not valid now", field="presentation")
            uscc = str(shown.fields.get("uscc") or "")
            with read_session(self.engine) as s:
                row = s.execute(
                    sa.select(schema.accounts).where(
                        schema.accounts.c.uscc == uscc,
                        schema.accounts.c.role == "legal_rep",
                        schema.accounts.c.active.is_(True),
                    )
                ).first()
            if row is None:
                raise CertError("该企业尚未注册企业空间账户", "the enterprise has no account yet", field="presentation")
        except (CertError, KeyError, ValueError) as e:
            with write_session(self.engine) as s:
                self._fail(s, keys, "account:?", "licence", now, address)
            raise Unauthenticated(
                Message(f"电子营业执照登录失败：{getattr(e, 'message', e)}", "e-licence login failed")
            ) from None
        with write_session(self.engine) as s:
            token, view = self._open(s, row, "full", "licence", now)
            record(
                s,
                _actor(row),
                "login",
                f"account:{row.id}",
                at=now,
                detail={"method": "licence", "licence": shown.licence_id, "address": address or ""},
            )
        return token, view

    def _open(self, s: Session, row: Any, stage: str, method: str, now: dt.datetime) -> tuple[str, Session_]:
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        life = dt.timedelta(hours=SESSION_HOURS) if stage == "full" else dt.timedelta(minutes=HALF_SESSION_MINUTES)
        s.execute(
            schema.sessions.insert().values(
                token_hash=_hash(token),
                account_id=row.id,
                csrf=csrf,
                stage=stage,
                method=method,
                created_at=now,
                expires_at=now + life,
            )
        )
        return token, Session_(_actor(row), csrf, stage, method)

    def session(self, token: str | None) -> Session_ | None:
        """The session behind a cookie (None when absent, expired or the account is disabled)."""
        if not token or len(token) > 128:
            return None
        with self.engine.connect() as s:  # on every request: one plain read, no ORM session
            hit = s.execute(
                sa.select(schema.sessions, schema.accounts)
                .join(schema.accounts, schema.accounts.c.id == schema.sessions.c.account_id)
                .where(schema.sessions.c.token_hash == _hash(token))
            ).first()
        if hit is None or as_utc(hit.expires_at) < self.clock.now() or not hit.active:
            return None
        return Session_(_actor(hit), hit.csrf, hit.stage, hit.method)

    def logout(self, token: str) -> None:
        with write_session(self.engine) as s:
            hit = s.execute(sa.select(schema.sessions).where(schema.sessions.c.token_hash == _hash(token))).first()
            if hit is not None:
                s.execute(schema.sessions.delete().where(schema.sessions.c.token_hash == _hash(token)))
                record(
                    s,
                    Actor("enterprise", str(hit.account_id)),
                    "logout",
                    f"account:{hit.account_id}",
                    at=self.clock.now(),
                )

    # --- the enterprise's accounts ----------------------------------------------------------------
    def of_enterprise(self, uscc: str) -> list[dict[str, Any]]:
        with read_session(self.engine) as s:
            rows = s.execute(
                sa.select(schema.accounts).where(schema.accounts.c.uscc == uscc).order_by(schema.accounts.c.id)
            ).all()
        return [
            {
                "id": r.id,
                "login": None if r.invite_hash else r.login,
                "person_name": r.person_name,
                "id_masked": r.id_masked,
                "role": r.role,
                "rights": loads(r.rights),
                "active": r.active,
                "pending": r.invite_hash is not None,
                "totp": r.totp_confirmed,
            }
            for r in rows
        ]

    def account(self, account_id: int) -> dict[str, Any]:
        with read_session(self.engine) as s:
            r = s.execute(sa.select(schema.accounts).where(schema.accounts.c.id == account_id)).first()
        if r is None:
            raise NotFound(Message("没有这个账户", "no such account"))
        return {
            "id": r.id,
            "login": r.login,
            "uscc": r.uscc,
            "enterprise_name": r.enterprise_name,
            "person_name": r.person_name,
            "role": r.role,
            "rights": loads(r.rights),
        }

    def disable(self, rep: Actor, account_id: int) -> None:
        """The legal representative ends an agent's authorisation (and its sessions)."""
        rep.need("agents")
        now = self.clock.now()
        with write_session(self.engine) as s:
            row = s.execute(sa.select(schema.accounts).where(schema.accounts.c.id == account_id)).first()
            if row is None or row.uscc != rep.uscc or row.role != "agent":
                raise NotFound(Message("没有这个代理人", "no such agent"))
            s.execute(schema.accounts.update().where(schema.accounts.c.id == account_id).values(active=False))
            s.execute(schema.sessions.delete().where(schema.sessions.c.account_id == account_id))
            record(s, rep, "agent.disable", f"account:{account_id}", at=now)


def _row_key(uscc: str, index: str) -> str:
    """What a sealed secret is bound to: the account's person (known before the row exists)."""
    return f"{uscc}|{index}"


def clean_uscc(value: str | None) -> str:
    try:
        return normalize((value or "").strip().upper())
    except InvalidUSCC as e:
        raise InputError(
            Message(f"统一社会信用代码无效：{e.message.zh}", f"invalid USCC: {e.message.en}"), field="uscc"
        ) from None


def _licence_id(presentation: str) -> str:
    """The licence id in the clear part of a presentation (verified right after)."""
    import base64
    import json

    header_payload = (presentation or "").split("~", 1)[0].split(".")
    if len(header_payload) != 3:
        raise ValueError("not an SD-JWT presentation")
    payload = json.loads(base64.urlsafe_b64decode(header_payload[1] + "=" * (-len(header_payload[1]) % 4)))
    return str(payload["licence"])
