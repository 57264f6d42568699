"""Who an enterprise caller is, until enterprise accounts exist: officer-issued tokens.

A USCC is printed on every licence, so knowing one proves nothing. Until the enterprise
portal gives enterprises their own logins, an officer issues a token for one USCC
(``huiqi enterprise token issue USCC``, audited) and hands it over through the channel the
office already trusts; the enterprise's systems send it as ``Authorization: Bearer …``.

Everything that answers an enterprise asks only for an :class:`EnterpriseIdentity`; where
it comes from is one function (:func:`from_token` today). An enterprise session of the
portal will be a second source of the same identity, and the tokens can then be retired
without touching the endpoints.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, select, update

from huiqi.clock import Clock
from huiqi.library.errors import LifecycleError, NotFound
from huiqi.library.officers import officer
from huiqi.profile import uscc as gb32100
from huiqi.store import audit
from huiqi.store.db import as_utc, read_session, write_session
from huiqi.store.models import EnterpriseToken

PREFIX = "hqe_"
DEFAULT_DAYS = 365
MAX_TOKEN = 100


@dataclass(frozen=True)
class EnterpriseIdentity:
    """An enterprise the caller has proved to be, and how (``token`` today; ``session`` later)."""

    uscc: str
    via: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(
    engine: Engine, uscc: str, *, actor: str, clock: Clock, days: int = DEFAULT_DAYS, note: str = ""
) -> str:
    """A new token for ``uscc``, issued by the officer ``actor`` (an editor or above).

    Returned once: only its hash is stored.
    """
    try:
        code = gb32100.normalize(uscc)
    except gb32100.InvalidUSCC as e:
        raise LifecycleError(f"统一社会信用代码无效 / invalid USCC: {e.message}") from None
    if not 1 <= days <= 3 * 365:
        raise LifecycleError("有效期应为 1–1095 天 / validity must be 1–1095 days")
    token = PREFIX + secrets.token_urlsafe(32)
    now = clock.now()
    with write_session(engine) as s:
        who = officer(s, actor, "editor").name
        s.add(
            EnterpriseToken(
                token_hash=_hash(token),
                uscc=code,
                note=note[:255],
                issued_by=who,
                issued_at=now,
                expires_at=now + dt.timedelta(days=days),
                revoked_at=None,
            )
        )
        audit.record(
            s,
            who,
            "enterprise.token",
            f"enterprise:{code}",
            at=now,
            after={"token_sha256": _hash(token), "days": days},
            detail={"note": note[:255]},
        )
    return token


def revoke_tokens(engine: Engine, uscc: str, *, actor: str, clock: Clock) -> int:
    """Revoke every live token of ``uscc``; returns how many."""
    now = clock.now()
    with write_session(engine) as s:
        who = officer(s, actor, "editor").name
        result = s.execute(
            update(EnterpriseToken)
            .where(EnterpriseToken.uscc == uscc, EnterpriseToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        count = int(getattr(result, "rowcount", 0) or 0)
        if not count:
            raise NotFound(f"{uscc} 没有有效的令牌 / no live token")
        audit.record(s, who, "enterprise.revoke", f"enterprise:{uscc}", at=now, detail={"revoked": count})
    return count


def from_token(engine: Engine, token: str | None, *, clock: Clock) -> EnterpriseIdentity | None:
    """The enterprise behind a bearer token; None when missing, unknown, expired or revoked."""
    if not token or len(token) > MAX_TOKEN or not token.startswith(PREFIX):
        return None
    with read_session(engine) as s:
        row = s.scalars(select(EnterpriseToken).where(EnterpriseToken.token_hash == _hash(token))).first()
    if row is None or row.revoked_at is not None or as_utc(row.expires_at) <= clock.now():
        return None
    return EnterpriseIdentity(row.uscc, "token")
