"""What every part of the enterprise space shares: who acts, errors, JSON and audit helpers."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from huiqi.errors import HuiqiError, InputError, Message, PermissionDenied
from huiqi.portal import schema
from huiqi.store import audit

#: What an account may do. The legal representative holds every right; an agent (代理人)
#: holds the ones it was given, never ``agents`` (appointing agents) nor ``bank``.
RIGHTS: dict[str, str] = {
    "view": "查看",
    "profile": "维护企业画像",
    "apply": "在线申报",
    "sign": "签署告知承诺",
    "bank": "确认收款账户",
    "agents": "授权代理人",
    "feedback": "评价与诉求",
}
AGENT_RIGHTS = frozenset(RIGHTS) - {"agents", "bank"}
CENT = Decimal("0.01")


class Conflict(HuiqiError):
    """The thing changed under the caller (another officer acted first), or the state forbids it."""

    status = 409
    kind = "conflict"
    title = Message("操作与当前状态冲突", "Conflict")


@dataclass(frozen=True)
class Actor:
    """Who acts: an enterprise account, an officer, or the platform itself."""

    kind: str  # enterprise | officer | system
    name: str
    uscc: str | None = None
    rights: frozenset[str] = frozenset()
    offices: frozenset[str] = frozenset()
    role: str = ""
    account_id: int | None = None

    SYSTEM: ClassVar[Actor]

    @property
    def audit_name(self) -> str:
        """The audit log's actor (64 characters at most): ``enterprise:<login>`` for enterprises."""
        return (f"enterprise:{self.name}" if self.kind == "enterprise" else self.name)[:64]

    def need(self, right: str) -> None:
        if self.kind != "enterprise" or right not in self.rights:
            raise PermissionDenied(
                Message(f"本账户没有“{RIGHTS.get(right, right)}”的权限", f"this account lacks the right {right!r}")
            )


Actor.SYSTEM = Actor("system", "system")


@dataclass
class Page:
    items: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def loads(text: str | None) -> Any:
    return json.loads(text) if text else None


def money(value: Any, *, field: str) -> Decimal:
    """An amount in yuan: a decimal with at most two places, not negative."""
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, ValueError):
        raise InputError(Message(f"金额“{value}”不是数字", f"amount {value!r} is not a number"), field=field) from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(CENT) or amount >= Decimal("1e16"):
        raise InputError(
            Message(
                "金额须为不小于 0 的数，最多两位小数", "an amount is a non-negative number with at most 2 decimals"
            ),
            field=field,
        )
    return amount.quantize(CENT)


def text(value: str | None, *, field: str, label: str, limit: int = 2000, required: bool = True) -> str:
    cleaned = (value or "").strip()
    if required and not cleaned:
        raise InputError(Message(f"请填写{label}", f"{field} is required"), field=field)
    if len(cleaned) > limit:
        raise InputError(Message(f"{label}不能超过 {limit} 字", f"{field} is longer than {limit}"), field=field)
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in cleaned):
        raise InputError(Message(f"{label}含有控制字符", f"{field} contains control characters"), field=field)
    return cleaned


def record(
    s: Session,
    actor: Actor,
    action: str,
    target: str,
    *,
    at: dt.datetime,
    before: Any = None,
    after: Any = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Every state change of the enterprise space, on the audit chain and the transparency log."""
    audit.record(s, actor.audit_name, f"portal.{action}", target, at=at, before=before, after=after, detail=detail)


def notice(
    s: Session, key: str, uscc: str, kind: str, title: str, body: str, *, link: str | None, at: dt.datetime
) -> None:
    """One notice on the enterprise's page, once per ``key`` (a repeat is dropped)."""
    if s.execute(sa.select(schema.notices.c.id).where(schema.notices.c.key == key)).first() is None:
        s.execute(
            schema.notices.insert().values(
                key=key, uscc=uscc, kind=kind, title=title, body=body, link=link, created_at=at
            )
        )


def insert_row(s: Session, statement: Any) -> int:
    """Run an INSERT; the new row's integer primary key."""
    result = cast("CursorResult[Any]", s.execute(statement))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def changed_rows(s: Session, statement: Any) -> int:
    """Run an UPDATE or DELETE; how many rows it changed (compare-and-set checks this)."""
    return int(cast("CursorResult[Any]", s.execute(statement)).rowcount)
