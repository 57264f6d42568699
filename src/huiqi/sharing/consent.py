"""Consent of enterprises to the use of their data (Estonia's consent service as the model).

A consumer system asks (``request``) for a scope — per service, the fields it may read and
those a condition may read (可用不可见, met/unmet only) — for one purpose; the enterprise
approves or refuses it in its own space; an approved consent is a reference
(``CR-…``) with an expiry. Providers check the reference on **every** call
(:meth:`ConsentService.check`): it must be granted, unexpired, and bound to the same
consumer, subject, service and purpose, and only the fields in its scope are covered.
Withdrawal takes effect at the next call, because nothing caches a check.

Only purposes declared with ``basis: consent`` take consent; statutory purposes go by the
legal basis recorded in their declaration instead.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import Engine

from huiqi.clock import Clock
from huiqi.errors import Message, NotFound, PermissionDenied
from huiqi.profile.uscc import is_valid as uscc_valid
from huiqi.sharing.catalogue import Catalogue
from huiqi.sharing.errors import BadRequest
from huiqi.sharing.members import PURPOSES, purpose_code
from huiqi.sharing.schema import consents

State = Literal["requested", "granted", "refused", "withdrawn"]
STATE_LABELS = {
    "requested": "待确认",
    "granted": "已同意",
    "refused": "已拒绝",
    "withdrawn": "已撤回",
    "expired": "已过期",
}
#: scope: service → {"read": [fields], "ask": [fields]}
Scope = dict[str, dict[str, list[str]]]


@dataclass(frozen=True)
class Consent:
    ref: str
    uscc: str
    consumer: str
    purpose: str
    scope: Scope
    state: State
    requested_by: str
    requested_at: dt.datetime
    days: int
    decided_at: dt.datetime | None
    expires_at: dt.datetime | None
    withdrawn_at: dt.datetime | None

    def status(self, now: dt.datetime) -> str:
        """requested / granted / refused / withdrawn, or expired for a granted one past its date."""
        if self.state == "granted" and self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return self.state

    @property
    def purpose_label(self) -> str:
        return PURPOSES.get(self.purpose, self.purpose)


@dataclass(frozen=True)
class ConsentCheck:
    """The answer to one provider's check: which fields the consent covers, or why none."""

    ok: bool
    covered: frozenset[str]
    code: str = ""  # consent_unknown | consent_withdrawn | consent_expired | consent_not_granted | consent_mismatch
    message: Message | None = None


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _row(row: Any) -> Consent:
    return Consent(
        ref=row.ref,
        uscc=row.uscc,
        consumer=row.consumer,
        purpose=row.purpose,
        scope=json.loads(row.scope),
        state=row.state,
        requested_by=row.requested_by,
        requested_at=_utc(row.requested_at),  # type: ignore[arg-type]
        days=int(row.days),
        decided_at=_utc(row.decided_at),
        expires_at=_utc(row.expires_at),
        withdrawn_at=_utc(row.withdrawn_at),
    )


class ConsentService:
    """Consents in the platform database (``sharing_consents``)."""

    def __init__(self, engine: Engine, *, clock: Clock):
        self.engine = engine
        self.clock = clock

    # --- the consumer asks --------------------------------------------------------------------
    def request(
        self,
        catalogue: Catalogue,
        *,
        uscc: str,
        consumer: str,
        purpose: str,
        scope: Mapping[str, Mapping[str, Sequence[str]]],
        official: str,
        days: int | None = None,
    ) -> Consent:
        """Ask an enterprise for consent. The scope must lie within the consent-based
        purpose declarations of ``consumer`` for ``purpose``; anything else is refused, named."""
        purpose = purpose_code(purpose)
        if not uscc_valid(uscc):
            raise BadRequest(
                "unknown_subject",
                Message(f"统一社会信用代码 {uscc} 无效", f"invalid USCC {uscc}"),
                field="uscc",
            )
        clean: Scope = {}
        longest = 0
        for service, parts in scope.items():
            decl = catalogue.purpose_for(consumer, purpose, service)
            if decl is None or decl.basis != "consent":
                raise BadRequest(
                    "undeclared",
                    Message(
                        f"{consumer} 没有以同意为依据、用途为{PURPOSES[purpose]}的 {service} 声明",
                        f"{consumer} has no consent-based declaration for {purpose} on {service}",
                    ),
                    field=f"scope.{service}",
                )
            service_decl = catalogue.services.get(service)
            allowed = {
                "read": set(decl.fields),
                "ask": set(service_decl.conditions) if decl.conditions and service_decl is not None else set(),
            }
            entry: dict[str, list[str]] = {}
            for action in ("read", "ask"):
                names = list(dict.fromkeys(parts.get(action, ())))
                for name in names:
                    if name not in allowed[action]:
                        raise BadRequest(
                            "undeclared_field",
                            Message(
                                f"{service} 的声明不允许{'读取' if action == 'read' else '条件查询'}字段 {name}",
                                f"the declaration does not allow {action} of {service}.{name}",
                            ),
                            field=f"scope.{service}.{action}",
                        )
                entry[action] = names
            unknown = set(parts) - {"read", "ask"}
            if unknown:
                raise BadRequest(
                    "bad_scope",
                    Message(
                        f"范围只能有 read 和 ask：{sorted(unknown)}",
                        f"scope takes read and ask only: {sorted(unknown)}",
                    ),
                    field=f"scope.{service}",
                )
            if entry["read"] or entry["ask"]:
                clean[service] = entry
                longest = max(longest, decl.consent_days)
        if not clean:
            raise BadRequest("bad_scope", Message("同意范围为空", "the consent scope is empty"), field="scope")
        days = longest if days is None else min(int(days), longest)
        if days < 1:
            raise BadRequest("bad_scope", Message("有效天数至少为 1", "days must be at least 1"), field="days")
        ref = "CR-" + secrets.token_hex(12)
        now = self.clock.now()
        with self.engine.begin() as c:
            c.execute(
                consents.insert().values(
                    ref=ref,
                    uscc=uscc,
                    consumer=consumer,
                    purpose=purpose,
                    scope=json.dumps(clean, ensure_ascii=False, sort_keys=True),
                    state="requested",
                    requested_by=f"{consumer}/{official}",
                    requested_at=now,
                    days=days,
                )
            )
        return self.get(ref)

    # --- the enterprise decides -------------------------------------------------------------
    def get(self, ref: str) -> Consent:
        with self.engine.connect() as c:
            row = c.execute(sa.select(consents).where(consents.c.ref == ref)).first()
        if row is None:
            raise NotFound(Message(f"没有同意记录 {ref}", f"no consent {ref}"))
        return _row(row)

    def of_enterprise(self, uscc: str) -> list[Consent]:
        with self.engine.connect() as c:
            rows = c.execute(
                sa.select(consents).where(consents.c.uscc == uscc).order_by(consents.c.requested_at.desc())
            )
            return [_row(r) for r in rows]

    def _owned(self, ref: str, uscc: str) -> Consent:
        consent = self.get(ref)
        if consent.uscc != uscc:
            # The same answer as an unknown reference: an enterprise learns nothing of others' consents.
            raise NotFound(Message(f"没有同意记录 {ref}", f"no consent {ref}"))
        return consent

    def _decide(self, ref: str, uscc: str, *, want: tuple[str, ...], values: dict[str, Any]) -> Consent:
        consent = self._owned(ref, uscc)
        if consent.state not in want:
            raise PermissionDenied(
                Message(
                    f"同意 {ref} 当前为“{STATE_LABELS[consent.state]}”，不能这样操作",
                    f"consent {ref} is {consent.state}",
                )
            )
        with self.engine.begin() as c:
            done = c.execute(
                consents.update()
                .where(consents.c.ref == ref, consents.c.state == consent.state)  # compare-and-set
                .values(**values)
            ).rowcount
        if not done:
            raise PermissionDenied(Message(f"同意 {ref} 刚被修改，请刷新", f"consent {ref} changed meanwhile"))
        return self.get(ref)

    def approve(self, ref: str, *, uscc: str) -> Consent:
        now = self.clock.now()
        consent = self._owned(ref, uscc)
        return self._decide(
            ref,
            uscc,
            want=("requested",),
            values={"state": "granted", "decided_at": now, "expires_at": now + dt.timedelta(days=consent.days)},
        )

    def refuse(self, ref: str, *, uscc: str) -> Consent:
        return self._decide(ref, uscc, want=("requested",), values={"state": "refused", "decided_at": self.clock.now()})

    def withdraw(self, ref: str, *, uscc: str) -> Consent:
        """Withdraw a granted consent: the next call that presents it is refused."""
        return self._decide(
            ref, uscc, want=("granted",), values={"state": "withdrawn", "withdrawn_at": self.clock.now()}
        )

    # --- the provider checks ----------------------------------------------------------------
    def check(self, ref: str, *, consumer: str, subject: str, service: str, purpose: str, action: str) -> ConsentCheck:
        """Is ``ref`` a consent, now, of ``subject`` to ``consumer`` for ``purpose`` on ``service``?"""
        with self.engine.connect() as c:
            row = c.execute(sa.select(consents).where(consents.c.ref == ref)).first()
        if row is None:
            return ConsentCheck(
                False, frozenset(), "consent_unknown", Message(f"同意编号 {ref} 不存在", f"no consent {ref}")
            )
        consent = _row(row)
        now = self.clock.now()
        status = consent.status(now)
        if (consent.consumer, consent.uscc, consent.purpose) != (
            consumer,
            subject,
            purpose,
        ) or service not in consent.scope:
            return ConsentCheck(
                False,
                frozenset(),
                "consent_mismatch",
                Message(
                    f"同意 {ref} 不是给此系统、此企业、此用途和此服务的",
                    f"consent {ref} is not bound to this consumer, subject, purpose and service",
                ),
            )
        if status == "withdrawn":
            at = consent.withdrawn_at.isoformat() if consent.withdrawn_at else ""
            return ConsentCheck(
                False,
                frozenset(),
                "consent_withdrawn",
                Message(f"企业已于 {at} 撤回同意 {ref}", f"consent {ref} was withdrawn at {at}"),
            )
        if status == "expired":
            at = consent.expires_at.isoformat() if consent.expires_at else ""
            return ConsentCheck(
                False,
                frozenset(),
                "consent_expired",
                Message(f"同意 {ref} 已于 {at} 过期", f"consent {ref} expired at {at}"),
            )
        if status != "granted":
            return ConsentCheck(
                False,
                frozenset(),
                "consent_not_granted",
                Message(f"同意 {ref} 尚未获企业同意（{STATE_LABELS[status]}）", f"consent {ref} is {status}"),
            )
        return ConsentCheck(True, frozenset(consent.scope[service].get(action, ())))
