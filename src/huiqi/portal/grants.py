"""免申即享 end to end: a batch run's list → an officer imports it → another approves it →
grants, one per enterprise, each told on its page → the enterprise confirms its bank account
→ the payment appears in its 兑现 ledger.

Exactly once, by keys rather than by care: a list is unique per (run, policy); a grant's key
is ``<run>:<policy>:<uscc>`` (unique in the table); a payment's key is ``grant:<id>``
(unique). :meth:`Grants.issue` writes grants in short transactions; a crash between two
leaves a prefix written, and running it again skips what exists and writes the rest —
nothing lost, nothing twice (``tests/portal/test_grants.py`` crashes it mid-way).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from huiqi.batch.export import read_lists
from huiqi.clock import Clock
from huiqi.errors import InputError, Message, NotFound, PermissionDenied, Unavailable
from huiqi.portal import schema
from huiqi.portal.base import Actor, Conflict, insert_row, notice, record, text
from huiqi.portal.workdays import PAY_WITHIN, add_workdays
from huiqi.store.db import read_session, write_session
from huiqi.trust.fields import Vault

#: Grants written per transaction by :meth:`Grants.issue`.
CHUNK = 200
_ACCOUNT = re.compile(r"^\d{8,32}$")


class Grants:
    def __init__(self, engine: Engine, *, clock: Clock, vault: Vault | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.vault = vault

    def import_list(self, officer: Actor, run: Path, policy_id: str, *, registry: Path | None = None) -> int:
        """The eligible list of ``policy_id`` in batch run ``run`` (importing it again returns the same list)."""
        self._officer(officer)
        lists = read_lists(Path(run), policy_id, registry)
        run_id = Path(run).resolve().name
        now = self.clock.now()
        with write_session(self.engine) as s:
            found = s.execute(
                sa.select(schema.grant_lists.c.id).where(
                    schema.grant_lists.c.run == run_id, schema.grant_lists.c.policy_id == policy_id
                )
            ).scalar()
            if found is not None:
                return int(found)
            list_id = insert_row(
                s,
                schema.grant_lists.insert().values(
                    run=run_id,
                    policy_id=policy_id,
                    title=lists.title,
                    as_of=dt.date.fromisoformat(lists.as_of),
                    state="imported",
                    imported_by=officer.name,
                    total=lists.total,
                    count=len(lists.eligible),
                    created_at=now,
                ),
            )
            if lists.eligible:
                s.execute(
                    schema.grant_rows.insert(),
                    [{"list_id": list_id, "uscc": r.uscc, "name": r.name, "amount": r.amount} for r in lists.eligible],
                )
            record(
                s,
                officer,
                "grants.import",
                f"grant-list:{list_id}",
                at=now,
                after={"run": run_id, "policy_id": policy_id, "count": len(lists.eligible), "total": str(lists.total)},
            )
        return list_id

    def approve(self, officer: Actor, list_id: int) -> None:
        """The second pair of eyes: another officer than the importer approves the list."""
        self._officer(officer, "publisher")
        now = self.clock.now()
        with write_session(self.engine) as s:
            row = self._list(s, list_id)
            if row.state != "imported":
                raise Conflict(Message("该名单已经批准", "the list is already approved"))
            if row.imported_by == officer.name:
                raise PermissionDenied(
                    Message("名单须由导入人以外的工作人员批准（双人复核）", "four-eyes: another officer approves")
                )
            s.execute(
                schema.grant_lists.update()
                .where(schema.grant_lists.c.id == list_id, schema.grant_lists.c.state == "imported")
                .values(state="approved", approved_by=officer.name)
            )
            record(
                s,
                officer,
                "grants.approve",
                f"grant-list:{list_id}",
                at=now,
                before={"state": "imported"},
                after={"state": "approved", "total": str(row.total)},
            )

    def issue(self, list_id: int, *, chunk: int = CHUNK, after_chunk: Callable[[int], None] | None = None) -> int:
        """Make the grants of an approved list; returns how many were new. Safe to run again."""
        today = self.clock.today()
        pay_by = add_workdays(today, PAY_WITHIN).day
        with read_session(self.engine) as s:
            lst = self._list(s, list_id)
            if lst.state != "approved":
                raise Conflict(Message("名单尚未批准，不能发放", "the list is not approved"))
            rows = s.execute(
                sa.select(schema.grant_rows)
                .where(schema.grant_rows.c.list_id == list_id)
                .order_by(schema.grant_rows.c.uscc)
            ).all()
        made = 0
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            keys = {f"{lst.run}:{lst.policy_id}:{r.uscc}": r for r in part}
            now = self.clock.now()
            with write_session(self.engine) as s:
                have = set(
                    s.execute(sa.select(schema.grants.c.key).where(schema.grants.c.key.in_(list(keys)))).scalars()
                )
                new = [(k, r) for k, r in keys.items() if k not in have]
                for key, r in new:
                    gid = insert_row(
                        s,
                        schema.grants.insert().values(
                            key=key,
                            list_id=list_id,
                            uscc=r.uscc,
                            policy_id=lst.policy_id,
                            title=lst.title,
                            amount=r.amount,
                            state="granted",
                            pay_by=pay_by,
                            created_at=now,
                        ),
                    )
                    amount = f"{r.amount:,.2f} 元" if r.amount is not None else "金额待核定"
                    notice(
                        s,
                        f"grant:{key}",
                        r.uscc,
                        "grant",
                        f"免申即享：{lst.title}",
                        f"根据政府部门共享数据，贵企业符合“{lst.title}”，无需申请即可享受（{amount}）。请确认收款账户。",
                        link="/my/grants",
                        at=now,
                    )
                    record(
                        s,
                        Actor.SYSTEM,
                        "grant.create",
                        f"grant:{gid}",
                        at=now,
                        after={"key": key, "amount": None if r.amount is None else str(r.amount)},
                    )
                made += len(new)
            if after_chunk is not None:
                after_chunk(start + len(part))
        return made

    def of_enterprise(self, uscc: str) -> list[dict[str, Any]]:
        with read_session(self.engine) as s:
            rows = s.execute(
                sa.select(schema.grants).where(schema.grants.c.uscc == uscc).order_by(schema.grants.c.id.desc())
            ).all()
        today = self.clock.today()
        return [
            {
                "id": g.id,
                "policy_id": g.policy_id,
                "title": g.title,
                "amount": g.amount,
                "state": g.state,
                "bank_masked": g.bank_masked,
                "pay_by": g.pay_by,
                "overdue": g.state != "paid" and g.pay_by < today,
                "created_at": g.created_at,
            }
            for g in rows
        ]

    def confirm_account(self, actor: Actor, grant_id: int, account: str, holder: str) -> None:
        """The enterprise confirms where the money goes (its 对公账户), sealed at rest."""
        actor.need("bank")
        number = re.sub(r"[\s-]", "", account or "")
        if not _ACCOUNT.match(number):
            raise InputError(Message("银行账号应为 8–32 位数字", "a bank account is 8–32 digits"), field="account")
        name = text(holder, field="holder", label="账户名称", limit=100)
        if self.vault is None:
            raise Unavailable(Message("平台未配置字段加密密钥，无法保存账户", "no keyring: accounts cannot be stored"))
        now = self.clock.now()
        # Sealed before the write transaction: the vault may create its data key in its own.
        sealed = self.vault.field("portal_grants", "bank_account").encrypt(grant_id, f"{name}|{number}")
        with write_session(self.engine) as s:
            g = s.execute(sa.select(schema.grants).where(schema.grants.c.id == grant_id)).first()
            if g is None or g.uscc != actor.uscc:
                raise NotFound(Message("没有这项免申即享", "no such grant"))
            if g.state == "paid":
                raise Conflict(Message("已兑现，不能再修改账户", "already paid"))
            masked = f"{number[:4]}****{number[-4:]}"
            s.execute(
                schema.grants.update()
                .where(schema.grants.c.id == grant_id)
                .values(bank_account=sealed, bank_masked=masked, state="confirmed", confirmed_at=now)
            )
            record(
                s,
                actor,
                "grant.confirm",
                f"grant:{grant_id}",
                at=now,
                before={"state": g.state},
                after={"state": "confirmed", "account": masked},
            )

    def pay(self, officer: Actor, grant_id: int, *, voucher: str) -> bool:
        """Pay one confirmed grant; False when it was already paid (the payment key is unique)."""
        self._officer(officer, "publisher")
        code = text(voucher, field="voucher", label="支付凭证号", limit=64)
        now = self.clock.now()
        with write_session(self.engine) as s:
            g = s.execute(sa.select(schema.grants).where(schema.grants.c.id == grant_id)).first()
            if g is None:
                raise NotFound(Message("没有这项免申即享", "no such grant"))
            key = f"grant:{grant_id}"
            if s.execute(sa.select(schema.payments.c.id).where(schema.payments.c.key == key)).first() is not None:
                return False
            if g.state != "confirmed":
                raise Conflict(Message("企业尚未确认收款账户", "the enterprise has not confirmed its account"))
            if g.amount is None:
                raise Conflict(Message("金额待核定，不能兑现", "the amount is not known"))
            s.execute(
                schema.payments.insert().values(
                    key=key,
                    uscc=g.uscc,
                    grant_id=grant_id,
                    amount=g.amount,
                    paid_on=now.date(),
                    voucher=code,
                    paid_by=officer.name,
                    created_at=now,
                )
            )
            s.execute(schema.grants.update().where(schema.grants.c.id == grant_id).values(state="paid"))
            notice(
                s,
                f"paid:{key}",
                g.uscc,
                "paid",
                f"已兑现：{g.title}",
                f"{g.amount:,.2f} 元已拨付（凭证 {code}）。",
                link="/my/ledger",
                at=now,
            )
            record(
                s,
                officer,
                "grant.pay",
                f"grant:{grant_id}",
                at=now,
                before={"state": g.state},
                after={"state": "paid", "amount": str(g.amount), "voucher": code},
            )
        return True

    def lists(self) -> list[dict[str, Any]]:
        with read_session(self.engine) as s:
            rows = s.execute(sa.select(schema.grant_lists).order_by(schema.grant_lists.c.id.desc())).all()
            issued: dict[int, int] = dict(
                s.execute(sa.select(schema.grants.c.list_id, sa.func.count()).group_by(schema.grants.c.list_id)).all()
            )
        return [{**dict(r._mapping), "issued": int(issued.get(r.id, 0))} for r in rows]

    def _list(self, s: Any, list_id: int) -> Any:
        row = s.execute(sa.select(schema.grant_lists).where(schema.grant_lists.c.id == list_id)).first()
        if row is None:
            raise NotFound(Message("没有这份名单", "no such list"))
        return row

    @staticmethod
    def _officer(officer: Actor, role: str = "editor") -> None:
        rank = {"viewer": 0, "editor": 1, "publisher": 2}
        if officer.kind != "officer" or rank.get(officer.role, -1) < rank[role]:
            raise PermissionDenied(
                Message(f"此操作需要“{role}”角色的工作人员", f"this needs an officer with role {role}")
            )
