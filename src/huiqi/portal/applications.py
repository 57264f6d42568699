"""Online applications (申报/申兑): one transition table, four-eyes on amounts, the 兑现 ledger.

Statuses are ARCHITECTURE.md's contract: ``draft`` 草稿 → ``submitted`` 已提交 →
``prechecked`` 已预审 → ``accepted`` 已受理 → ``reviewed`` 已审核 → ``announced`` 已公示 →
``paid`` 已兑现; side exits ``returned`` 退回补正 (the enterprise revises it back to
``draft``), ``rejected`` 不予支持, ``withdrawn`` 已撤回.

Every transition is a row of :data:`TRANSITIONS` — from which statuses, to which, who may
do it, whether a reason is required — and goes through :meth:`Applications.act`, which
changes the row by compare-and-set on its ``version`` (a concurrent second officer gets a
409, never a lost or doubled step), writes one event (unique per application and sequence
number), one entry on the audit log, and a notice to the enterprise, in one transaction.

Four-eyes: the amount is proposed by one officer (``propose``) and the review that fixes it
is done by another. 快申快享: acceptance sets ``pay_by`` 60 working days later; an
application past it and not paid is overdue. 预审 is a seam (:class:`Prechecker`): the
platform's check of materials and declaration now, the pre-check issue's findings later.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from huiqi.clock import Clock
from huiqi.errors import InputError, Message, NotFound, PermissionDenied
from huiqi.portal import schema
from huiqi.portal.base import Actor, Conflict, changed_rows, dumps, insert_row, loads, money, notice, record, text
from huiqi.portal.workdays import PAY_WITHIN, add_workdays
from huiqi.profile import FIELDS
from huiqi.rules.library import Library, Policy
from huiqi.store.db import read_session, write_session

STATUSES: dict[str, str] = {
    "draft": "草稿",
    "submitted": "已提交",
    "prechecked": "已预审",
    "accepted": "已受理",
    "reviewed": "已审核",
    "announced": "已公示",
    "paid": "已兑现",
    "returned": "退回补正",
    "rejected": "不予支持",
    "withdrawn": "已撤回",
}
#: Statuses after which nothing more happens: the enterprise may rate the service.
ENDED = frozenset({"paid", "rejected", "withdrawn"})
APPLICABLE_MODES = ("申报享受", "申请审批")


@dataclass(frozen=True)
class Transition:
    label: str  # the verb as a page shows it
    sources: frozenset[str]
    target: str
    by: str  # enterprise | officer | system
    reason_required: bool = False


def _t(label: str, sources: str, target: str, by: str, reason: bool = False) -> Transition:
    return Transition(label, frozenset(sources.split()), target, by, reason)


#: The one table of who may move an application from where to where.
TRANSITIONS: dict[str, Transition] = {
    "submit": _t("提交申报", "draft", "submitted", "enterprise"),
    "precheck": _t("预审", "submitted", "prechecked", "system"),
    "accept": _t("受理", "prechecked", "accepted", "officer"),
    "review": _t("审核通过", "accepted", "reviewed", "officer"),
    "announce": _t("公示", "reviewed", "announced", "officer"),
    "pay": _t("兑现", "announced", "paid", "officer"),
    "return": _t("退回补正", "submitted prechecked accepted", "returned", "officer", True),
    "revise": _t("修改后重新填写", "returned", "draft", "enterprise"),
    "reject": _t("不予支持", "submitted prechecked accepted reviewed announced", "rejected", "officer", True),
    "withdraw": _t("撤回", "draft submitted prechecked returned", "withdrawn", "enterprise"),
}
#: Officer roles that may act on the queue; the review that fixes an amount needs a publisher.
OFFICER_ROLES = {
    "accept": "editor",
    "return": "editor",
    "reject": "editor",
    "announce": "editor",
    "pay": "publisher",
    "review": "publisher",
}
_RANK = {"viewer": 0, "editor": 1, "publisher": 2}

MAX_ATTACHMENT = 5 * 1024 * 1024
#: Accepted attachment types, by their first bytes (the declared type is not trusted).
MAGIC: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
}
MAX_ATTACHMENTS = 20

DECLARATION = (
    "本企业承诺：所填信息及所附材料真实、准确、完整，符合该政策的申报条件；"
    "如有虚假，自愿承担相应法律责任，并退还已获得的资金。"
)


@dataclass(frozen=True)
class Finding:
    """One observation of the pre-check: ``blocking`` ones make the officer return the application."""

    code: str
    message: str
    blocking: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "blocking": self.blocking}


class Prechecker(Protocol):
    """The 预审 seam: given an application and its policy, the findings (the pre-check issue plugs in here)."""

    def __call__(self, application: Mapping[str, Any], policy: Policy | None) -> list[Finding]: ...


def materials_precheck(application: Mapping[str, Any], policy: Policy | None) -> list[Finding]:
    """The platform's own check: every listed material attached, the declaration signed, the facts filled."""
    found: list[Finding] = []
    attached = {a["material"] for a in application.get("attachments", [])}
    for material in policy.definition.apply.materials if policy else []:
        if material not in attached:
            found.append(Finding("missing_material", f"缺少材料：{material}"))
    if not application.get("declaration"):
        found.append(Finding("unsigned", "未签署告知承诺书"))
    for name in application.get("needs", []):
        if application["form"].get(name) in (None, ""):
            label = FIELDS[name].label if name in FIELDS else name
            found.append(Finding("missing_fact", f"未填写：{label}", blocking=False))
    return found


def needed_facts(policy: Policy) -> list[str]:
    """The profile facts the policy's conditions read, in the profile schema's order."""
    wanted: set[str] = set()
    for condition in policy.conditions:
        wanted |= condition.fields
    return [name for name in FIELDS if name in wanted]


class Applications:
    def __init__(
        self, engine: Engine, *, clock: Clock, library: Any, prechecker: Prechecker = materials_precheck
    ) -> None:
        self.engine = engine
        self.clock = clock
        self._library = library  # a callable returning the current Library
        self.prechecker = prechecker

    @property
    def library(self) -> Library:
        lib: Library = self._library()
        return lib

    def policy(self, policy_id: str) -> Policy:
        policy = self.library.by_id.get(policy_id)
        if policy is None:
            raise NotFound(Message(f"没有政策 {policy_id[:128]}", f"no policy {policy_id[:128]!r}"))
        return policy

    # --- the enterprise's side --------------------------------------------------------------
    def create(self, actor: Actor, policy_id: str, facts: Mapping[str, Any]) -> int:
        """A draft for ``policy_id``, its form prefilled from ``facts`` (the enterprise's profile)."""
        actor.need("apply")
        policy = self.policy(policy_id)
        d = policy.definition
        if d.apply.mode not in APPLICABLE_MODES:
            raise InputError(
                Message(f"该政策为“{d.apply.mode}”，无需在线申报", f"policy mode {d.apply.mode} takes no application"),
                field="policy_id",
            )
        if not d.in_force(self.clock.today()):
            raise InputError(Message("该政策不在有效期内", "the policy is not in force"), field="policy_id")
        form = {name: facts.get(name) for name in needed_facts(policy)}
        now = self.clock.now()
        with write_session(self.engine) as s:
            app_id = insert_row(
                s,
                schema.applications.insert().values(
                    uscc=actor.uscc,
                    policy_id=d.id,
                    title=d.title,
                    office=d.apply.office,
                    status="draft",
                    version=0,
                    form=dumps(form),
                    created_by=actor.account_id or 0,
                    created_at=now,
                    updated_at=now,
                ),
            )
            record(s, actor, "application.create", f"application:{app_id}", at=now, after={"policy_id": d.id})
        return app_id

    def update_form(self, actor: Actor, app_id: int, form: Mapping[str, Any], amount: Any = None) -> None:
        actor.need("apply")
        now = self.clock.now()
        with write_session(self.engine) as s:
            row = self._row(s, app_id, actor)
            if row.status != "draft":
                raise Conflict(Message("只有草稿可以修改", "only a draft can be changed"))
            allowed = set(loads(row.form))
            unknown = sorted(set(form) - allowed)
            if unknown:
                raise InputError(
                    Message(f"该申报不需要 {unknown[0]}", f"unknown form field {unknown[0]!r}"), field=unknown[0]
                )
            values = {**loads(row.form), **{k: (None if v in ("", None) else v) for k, v in form.items()}}
            requested = None if amount in (None, "") else money(amount, field="amount_requested")
            s.execute(
                schema.applications.update()
                .where(schema.applications.c.id == app_id)
                .values(form=dumps(values), amount_requested=requested, updated_at=now)
            )
            record(s, actor, "application.edit", f"application:{app_id}", at=now, before=row.form, after=values)

    def attach(self, actor: Actor, app_id: int, material: str, filename: str, content: bytes) -> int:
        """Store one attachment: at most 5 MB, PDF/PNG/JPEG by content, named for a listed material."""
        actor.need("apply")
        if not content:
            raise InputError(Message("附件是空文件", "the attachment is empty"), field="file")
        if len(content) > MAX_ATTACHMENT:
            raise InputError(Message("附件不能超过 5 MB", "an attachment must not exceed 5 MB"), field="file")
        kind = next((t for t, heads in MAGIC.items() if content.startswith(heads)), None)
        if kind is None:
            raise InputError(
                Message("附件只接受 PDF、PNG 或 JPEG 文件", "attachments must be PDF, PNG or JPEG"), field="file"
            )
        name = text(filename, field="file", label="文件名", limit=200).replace("/", "_").replace("\\", "_")
        now = self.clock.now()
        with write_session(self.engine) as s:
            row = self._row(s, app_id, actor)
            if row.status != "draft":
                raise Conflict(Message("只有草稿可以添加附件", "attachments go to a draft"))
            policy = self.library.by_id.get(row.policy_id)
            listed = policy.definition.apply.materials if policy else []
            if material not in listed and material != "其他材料":
                raise InputError(
                    Message(f"“{material[:50]}”不是该政策要求的材料", "not a listed material"), field="material"
                )
            count = s.execute(
                sa.select(sa.func.count()).where(schema.attachments.c.application_id == app_id)
            ).scalar_one()
            if count >= MAX_ATTACHMENTS:
                raise InputError(Message(f"附件最多 {MAX_ATTACHMENTS} 个", "too many attachments"), field="file")
            digest = hashlib.sha256(content).hexdigest()
            att_id = insert_row(
                s,
                schema.attachments.insert().values(
                    application_id=app_id,
                    material=material,
                    filename=name,
                    content_type=kind,
                    size=len(content),
                    sha256=digest,
                    content=content,
                    uploaded_at=now,
                ),
            )
            record(
                s,
                actor,
                "application.attach",
                f"application:{app_id}",
                at=now,
                detail={"material": material, "sha256": digest, "size": len(content)},
            )
        return att_id

    def attachment(self, actor: Actor, app_id: int, att_id: int) -> tuple[str, str, bytes]:
        with read_session(self.engine) as s:
            self._row(s, app_id, actor)
            row = s.execute(
                sa.select(schema.attachments).where(
                    schema.attachments.c.id == att_id, schema.attachments.c.application_id == app_id
                )
            ).first()
        if row is None:
            raise NotFound(Message("没有这个附件", "no such attachment"))
        return row.filename, row.content_type, bytes(row.content)

    def sign(self, actor: Actor, app_id: int, *, signer_name: str) -> None:
        """The 告知承诺 declaration, signed by the account holder (their name typed as on the account)."""
        actor.need("sign")
        now = self.clock.now()
        with write_session(self.engine) as s:
            row = self._row(s, app_id, actor)
            if row.status != "draft":
                raise Conflict(Message("只有草稿可以签署承诺", "only a draft is signed"))
            person = s.execute(
                sa.select(schema.accounts.c.person_name).where(schema.accounts.c.id == actor.account_id)
            ).scalar_one()
            if signer_name.strip() != person:
                raise InputError(
                    Message("签名须与账户实名一致", "the signature must be the account's name"), field="signer"
                )
            body = {
                "text": DECLARATION,
                "policy_id": row.policy_id,
                "form": loads(row.form),
                "signer": person,
                "account": actor.name,
                "signed_at": now.isoformat(),
            }
            body["hash"] = hashlib.sha256(dumps(body).encode()).hexdigest()
            s.execute(
                schema.applications.update().where(schema.applications.c.id == app_id).values(declaration=dumps(body))
            )
            record(s, actor, "application.sign", f"application:{app_id}", at=now, after=body)

    # --- transitions ---------------------------------------------------------------------------
    def propose(self, officer: Actor, app_id: int, amount: Any, *, reason: str) -> None:
        """The first pair of eyes: an amount for an accepted application (the review needs another officer)."""
        value = money(amount, field="amount")
        why = text(reason, field="reason", label="核定理由")
        now = self.clock.now()
        with write_session(self.engine) as s:
            row = self._row(s, app_id, officer)
            self._officer_may(officer, row, "accept")
            if row.status != "accepted":
                raise Conflict(Message("只有已受理的申报可以核定金额", "only an accepted application gets an amount"))
            if row.amount_proposed is not None:  # the reviewer must review what was proposed, once
                raise Conflict(
                    Message(f"{row.proposed_by} 已核定金额；如需改动请退回", "an amount was already proposed")
                )
            s.execute(
                schema.applications.update()
                .where(schema.applications.c.id == app_id)
                .values(amount_proposed=value, proposed_by=officer.name, updated_at=now)
            )
            record(
                s,
                officer,
                "application.propose",
                f"application:{app_id}",
                at=now,
                after={"amount": str(value)},
                detail={"reason": why},
            )

    def act(
        self,
        actor: Actor,
        app_id: int,
        action: str,
        *,
        reason: str = "",
        expected_version: int | None = None,
        voucher: str | None = None,
        findings: Sequence[Finding] = (),
    ) -> int:
        """Move the application by ``action`` (a key of :data:`TRANSITIONS`); returns its new version."""
        step = TRANSITIONS.get(action)
        if step is None:
            raise InputError(Message(f"未知的操作 {action[:32]}", f"unknown action {action[:32]!r}"), field="action")
        why = text(reason, field="reason", label="理由", required=step.reason_required)
        now = self.clock.now()
        today = now.date()
        with write_session(self.engine) as s:
            row = self._row(s, app_id, actor)
            if expected_version is not None and row.version != expected_version:
                raise Conflict(Message("该申报已被他人处理，请刷新", "the application changed; reload it"))
            if row.status not in step.sources:
                raise Conflict(
                    Message(
                        f"“{STATUSES[row.status]}”的申报不能{step.label}",
                        f"cannot {action} an application that is {row.status}",
                    )
                )
            values: dict[str, Any] = {"status": step.target, "version": row.version + 1, "updated_at": now}
            if step.by == "enterprise":
                actor.need("apply")
                if action == "submit" and not row.declaration:
                    raise InputError(Message("请先签署告知承诺书", "sign the declaration first"), field="declaration")
            elif step.by == "officer":
                self._officer_may(actor, row, action)
            elif actor.kind not in ("system", "officer"):
                raise PermissionDenied(Message("只有平台或工作人员可以预审", "only the platform pre-checks"))
            if action == "precheck":
                values["findings"] = dumps([f.to_json() for f in findings])
            if action == "accept":
                values["accepted_on"] = today
                values["pay_by"] = add_workdays(today, PAY_WITHIN).day
            if action == "review":
                if row.amount_proposed is None:
                    raise Conflict(Message("请先由经办人核定金额", "an amount must be proposed first"))
                if row.proposed_by == actor.name:
                    raise PermissionDenied(
                        Message(
                            "审核须由核定金额以外的另一位工作人员完成（双人复核）", "four-eyes: another officer reviews"
                        )
                    )
                values["amount_approved"] = row.amount_proposed
            if action == "revise":
                values.update(declaration=None, findings=None)
            changed = changed_rows(
                s,
                schema.applications.update()
                .where(schema.applications.c.id == app_id, schema.applications.c.version == row.version)
                .values(**values),
            )
            if changed != 1:
                raise Conflict(Message("该申报已被他人处理，请刷新", "the application changed; reload it"))
            s.execute(
                schema.events.insert().values(
                    application_id=app_id,
                    seq=row.version + 1,
                    action=action,
                    from_status=row.status,
                    to_status=step.target,
                    actor=actor.audit_name,
                    reason=why,
                    at=now,
                )
            )
            if action == "pay":
                self._pay(s, actor, row, voucher, today, now)
            record(
                s,
                actor,
                f"application.{action}",
                f"application:{app_id}",
                at=now,
                before={"status": row.status, "version": row.version},
                after={"status": step.target, "version": row.version + 1},
                detail={"reason": why} if why else None,
            )
            if actor.kind != "enterprise":
                body = f"您申报的“{row.title}”{STATUSES[step.target]}" + (f"：{why}" if why else "。")
                notice(
                    s,
                    f"application:{app_id}:{row.version + 1}",
                    row.uscc,
                    "application",
                    f"申报进度：{STATUSES[step.target]}",
                    body,
                    link=f"/my/applications/{app_id}",
                    at=now,
                )
            return row.version + 1

    def _pay(self, s: Session, actor: Actor, row: Any, voucher: str | None, today: dt.date, now: dt.datetime) -> None:
        code = text(voucher, field="voucher", label="支付凭证号", limit=64)
        s.execute(
            schema.payments.insert().values(
                key=f"application:{row.id}",
                uscc=row.uscc,
                application_id=row.id,
                amount=row.amount_approved,
                paid_on=today,
                voucher=code,
                paid_by=actor.name,
                created_at=now,
            )
        )

    def precheck(self, app_id: int) -> list[Finding]:
        """Run the 预审 seam on a submitted application and move it to 已预审 with the findings."""
        view = self.get(Actor.SYSTEM, app_id)
        policy = self.library.by_id.get(view["policy_id"])
        findings = self.prechecker(view, policy)
        self.act(Actor.SYSTEM, app_id, "precheck", expected_version=view["version"], findings=findings)
        return findings

    # --- reading ---------------------------------------------------------------------------------
    def _row(self, s: Session, app_id: int, actor: Actor) -> Any:
        row = s.execute(sa.select(schema.applications).where(schema.applications.c.id == app_id)).first()
        if row is None or (actor.kind == "enterprise" and row.uscc != actor.uscc):
            raise NotFound(Message("没有这份申报", "no such application"))
        if actor.kind == "officer" and row.office not in actor.offices:
            raise NotFound(Message("没有这份申报（不属于您的部门）", "no such application in your office"))
        return row

    def _officer_may(self, officer: Actor, row: Any, action: str) -> None:
        if officer.kind != "officer":
            raise PermissionDenied(Message("只有受理部门的工作人员可以办理", "only the office's officers act"))
        need = OFFICER_ROLES.get(action, "editor")
        if _RANK.get(officer.role, -1) < _RANK[need]:
            raise PermissionDenied(Message(f"此操作需要“{need}”角色", f"this needs the {need} role"))

    def get(self, actor: Actor, app_id: int) -> dict[str, Any]:
        with read_session(self.engine) as s:
            row = self._row(s, app_id, actor)
            evs = s.execute(
                sa.select(schema.events).where(schema.events.c.application_id == app_id).order_by(schema.events.c.seq)
            ).all()
            atts = s.execute(
                sa.select(
                    schema.attachments.c.id,
                    schema.attachments.c.material,
                    schema.attachments.c.filename,
                    schema.attachments.c.content_type,
                    schema.attachments.c.size,
                    schema.attachments.c.sha256,
                ).where(schema.attachments.c.application_id == app_id)
            ).all()
            paid = s.execute(sa.select(schema.payments).where(schema.payments.c.application_id == app_id)).first()
        policy = self.library.by_id.get(row.policy_id)
        return {
            "id": row.id,
            "uscc": row.uscc,
            "policy_id": row.policy_id,
            "title": row.title,
            "office": row.office,
            "status": row.status,
            "status_label": STATUSES[row.status],
            "version": row.version,
            "form": loads(row.form),
            "needs": needed_facts(policy) if policy else [],
            "materials": list(policy.definition.apply.materials) if policy else [],
            "amount_requested": row.amount_requested,
            "amount_proposed": row.amount_proposed,
            "proposed_by": row.proposed_by,
            "amount_approved": row.amount_approved,
            "declaration": loads(row.declaration),
            "findings": loads(row.findings) or [],
            "accepted_on": row.accepted_on,
            "pay_by": row.pay_by,
            "overdue": bool(row.pay_by and row.status not in ENDED and row.pay_by < self.clock.today()),
            "events": [dict(e._mapping) for e in evs],
            "attachments": [dict(a._mapping) for a in atts],
            "payment": dict(paid._mapping) if paid else None,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
        }

    def of_enterprise(self, uscc: str) -> list[dict[str, Any]]:
        with read_session(self.engine) as s:
            rows = s.execute(
                sa.select(schema.applications)
                .where(schema.applications.c.uscc == uscc)
                .order_by(schema.applications.c.id.desc())
            ).all()
        return [self._summary(r) for r in rows]

    def queue(self, officer: Actor, *, statuses: Sequence[str] = (), limit: int = 200) -> list[dict[str, Any]]:
        """The officer's offices' applications that wait for someone (oldest first)."""
        waiting = statuses or ("submitted", "prechecked", "accepted", "reviewed", "announced")
        with read_session(self.engine) as s:
            rows = s.execute(
                sa.select(schema.applications)
                .where(
                    schema.applications.c.office.in_(sorted(officer.offices)),
                    schema.applications.c.status.in_(waiting),
                )
                .order_by(schema.applications.c.updated_at, schema.applications.c.id)
                .limit(limit)
            ).all()
        return [self._summary(r) for r in rows]

    def _summary(self, r: Any) -> dict[str, Any]:
        return {
            "id": r.id,
            "uscc": r.uscc,
            "policy_id": r.policy_id,
            "title": r.title,
            "office": r.office,
            "status": r.status,
            "status_label": STATUSES[r.status],
            "version": r.version,
            "amount_requested": r.amount_requested,
            "amount_proposed": r.amount_proposed,
            "proposed_by": r.proposed_by,
            "amount_approved": r.amount_approved,
            "pay_by": r.pay_by,
            "overdue": bool(r.pay_by and r.status not in ENDED and r.pay_by < self.clock.today()),
            "updated_at": r.updated_at,
        }

    def ledger(self, uscc: str) -> list[dict[str, Any]]:
        """The enterprise's 兑现 ledger: payments made, and what is promised with its 60-working-day date."""
        today = self.clock.today()
        with read_session(self.engine) as s:
            paid = s.execute(
                sa.select(
                    schema.payments,
                    schema.applications.c.title.label("app_title"),
                    schema.grants.c.title.label("grant_title"),
                )
                .outerjoin(schema.applications, schema.applications.c.id == schema.payments.c.application_id)
                .outerjoin(schema.grants, schema.grants.c.id == schema.payments.c.grant_id)
                .where(schema.payments.c.uscc == uscc)
                .order_by(schema.payments.c.paid_on.desc(), schema.payments.c.id.desc())
            ).all()
            pending_apps = s.execute(
                sa.select(schema.applications).where(
                    schema.applications.c.uscc == uscc,
                    schema.applications.c.status.in_(("accepted", "reviewed", "announced")),
                )
            ).all()
            pending_grants = s.execute(
                sa.select(schema.grants).where(schema.grants.c.uscc == uscc, schema.grants.c.state != "paid")
            ).all()
        rows: list[dict[str, Any]] = [
            {
                "title": p.app_title or p.grant_title,
                "amount": p.amount,
                "paid_on": p.paid_on,
                "voucher": p.voucher,
                "state": "paid",
                "pay_by": None,
                "overdue": False,
                "link": f"/my/applications/{p.application_id}" if p.application_id else "/my/grants",
            }
            for p in paid
        ]
        for a in pending_apps:
            rows.append(
                {
                    "title": a.title,
                    "amount": a.amount_approved,
                    "paid_on": None,
                    "voucher": None,
                    "state": a.status,
                    "pay_by": a.pay_by,
                    "overdue": bool(a.pay_by and a.pay_by < today),
                    "link": f"/my/applications/{a.id}",
                }
            )
        for g in pending_grants:
            rows.append(
                {
                    "title": g.title,
                    "amount": g.amount,
                    "paid_on": None,
                    "voucher": None,
                    "state": g.state,
                    "pay_by": g.pay_by,
                    "overdue": g.pay_by < today,
                    "link": "/my/grants",
                }
            )
        return rows

    def overdue(self, offices: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Accepted applications past their 60-working-day date and not paid (the officers' red list)."""
        today = self.clock.today()
        query = sa.select(schema.applications).where(
            schema.applications.c.status.in_(("accepted", "reviewed", "announced")),
            schema.applications.c.pay_by < today,
        )
        if offices is not None:
            query = query.where(schema.applications.c.office.in_(sorted(offices)))
        with read_session(self.engine) as s:
            return [self._summary(r) for r in s.execute(query.order_by(schema.applications.c.pay_by)).all()]


def total(rows: Sequence[Mapping[str, Any]]) -> Decimal:
    return sum(
        (Decimal(r["amount"]) for r in rows if r.get("state") == "paid" and r.get("amount") is not None),
        Decimal("0.00"),
    )
