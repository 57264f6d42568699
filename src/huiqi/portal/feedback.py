"""好差评 and 诉求.

好差评 follows GB/T 39734-2020 (政务服务评价工作指南) and GB/T 39735-2020 (政务服务评价数据汇聚
规范): after a service ends the applicant rates it on five grades — 非常满意, 满意, 基本满意,
不满意, 非常不满意 — names what the rating is about, and may comment; one rating per finished
application ("一事一评"), kept with the office that served. 差评 (grades 1–2) need a comment
so the office can follow up ("差评必回").

诉求: a question or complaint about a policy goes to the policy's office (its 受理部门),
which must answer within :data:`~huiqi.portal.workdays.REPLY_WITHIN` working days; the clock
shows how long an appeal has waited and flags the late ones.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from huiqi.clock import Clock
from huiqi.errors import InputError, Message, NotFound, PermissionDenied
from huiqi.portal import schema
from huiqi.portal.applications import ENDED
from huiqi.portal.base import Actor, Conflict, dumps, insert_row, loads, notice, record, text
from huiqi.portal.workdays import REPLY_WITHIN, add_workdays, workdays_between
from huiqi.store.db import read_session, write_session

GRADES: dict[int, str] = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
#: What a rating can be about (GB/T 39734 评价内容, shortened).
ASPECTS: dict[str, str] = {
    "speed": "办理时限",
    "attitude": "服务态度",
    "clarity": "政策解读与告知",
    "convenience": "办事便捷（少跑腿、少材料）",
    "result": "办理结果",
}
APPEAL_KINDS = {"question": "咨询", "complaint": "投诉"}


class Feedback:
    def __init__(self, engine: Engine, *, clock: Clock, library: Any) -> None:
        self.engine = engine
        self.clock = clock
        self._library = library

    def rate(self, actor: Actor, app_id: int, grade: int, aspects: list[str], comment: str) -> None:
        actor.need("feedback")
        if grade not in GRADES:
            raise InputError(Message("评价等级应为 1–5", "grade is 1 to 5"), field="grade")
        unknown = [a for a in aspects if a not in ASPECTS]
        if unknown:
            raise InputError(Message(f"未知的评价内容 {unknown[0][:32]}", "unknown aspect"), field="aspects")
        note = text(comment, field="comment", label="评价意见", limit=1000, required=grade <= 2)
        now = self.clock.now()
        with write_session(self.engine) as s:
            app = s.execute(sa.select(schema.applications).where(schema.applications.c.id == app_id)).first()
            if app is None or app.uscc != actor.uscc:
                raise NotFound(Message("没有这份申报", "no such application"))
            if app.status not in ENDED:
                raise Conflict(Message("办结后才能评价", "rate the service once it has ended"))
            if s.execute(sa.select(schema.ratings.c.grade).where(schema.ratings.c.application_id == app_id)).first():
                raise Conflict(Message("这份申报已经评价过", "already rated"))
            s.execute(
                schema.ratings.insert().values(
                    application_id=app_id,
                    uscc=actor.uscc,
                    office=app.office,
                    grade=grade,
                    aspects=dumps(sorted(set(aspects))),
                    comment=note,
                    at=now,
                )
            )
            record(
                s,
                actor,
                "rating.add",
                f"application:{app_id}",
                at=now,
                after={"grade": grade, "aspects": sorted(set(aspects))},
            )

    def rating(self, app_id: int) -> dict[str, Any] | None:
        with read_session(self.engine) as s:
            r = s.execute(sa.select(schema.ratings).where(schema.ratings.c.application_id == app_id)).first()
        if r is None:
            return None
        return {
            "grade": r.grade,
            "label": GRADES[r.grade],
            "aspects": loads(r.aspects),
            "comment": r.comment,
            "at": r.at,
        }

    def office_summary(self, office: str) -> dict[str, Any]:
        """How an office is rated: counts per grade, share of 好评 (4–5) and of 差评 (1–2)."""
        with read_session(self.engine) as s:
            counts: dict[int, int] = dict(
                s.execute(
                    sa.select(schema.ratings.c.grade, sa.func.count())
                    .where(schema.ratings.c.office == office)
                    .group_by(schema.ratings.c.grade)
                ).all()
            )
        n = sum(counts.values())
        good = sum(v for g, v in counts.items() if g >= 4)
        bad = sum(v for g, v in counts.items() if g <= 2)
        return {
            "office": office,
            "count": n,
            "by_grade": {GRADES[g]: counts.get(g, 0) for g in GRADES},
            "good_share": good / n if n else None,
            "bad_share": bad / n if n else None,
        }

    # --- 诉求 -------------------------------------------------------------------------------------
    def appeal(self, actor: Actor, policy_id: str, kind: str, body: str) -> int:
        actor.need("feedback")
        if kind not in APPEAL_KINDS:
            raise InputError(Message("诉求类型应为咨询或投诉", "kind is question or complaint"), field="kind")
        policy = self._library().by_id.get(policy_id)
        if policy is None:
            raise InputError(Message(f"没有政策 {policy_id[:128]}", "no such policy"), field="policy_id")
        words = text(body, field="text", label="诉求内容", limit=2000)
        now = self.clock.now()
        due = add_workdays(now.date(), REPLY_WITHIN).day
        with write_session(self.engine) as s:
            appeal_id = insert_row(
                s,
                schema.appeals.insert().values(
                    uscc=actor.uscc,
                    policy_id=policy_id,
                    office=policy.definition.apply.office,
                    kind=kind,
                    text=words,
                    created_at=now,
                    due_on=due,
                ),
            )
            record(s, actor, "appeal.add", f"appeal:{appeal_id}", at=now, after={"policy_id": policy_id, "kind": kind})
        return appeal_id

    def reply(self, officer: Actor, appeal_id: int, body: str) -> None:
        if officer.kind != "officer":
            raise PermissionDenied(Message("只有受理部门的工作人员可以答复", "only the office replies"))
        words = text(body, field="reply", label="答复内容", limit=4000)
        now = self.clock.now()
        with write_session(self.engine) as s:
            row = s.execute(sa.select(schema.appeals).where(schema.appeals.c.id == appeal_id)).first()
            if row is None or row.office not in officer.offices:
                raise NotFound(Message("没有这条诉求（不属于您的部门）", "no such appeal in your office"))
            if row.replied_at is not None:
                raise Conflict(Message("这条诉求已经答复", "already answered"))
            s.execute(
                schema.appeals.update()
                .where(schema.appeals.c.id == appeal_id, schema.appeals.c.replied_at.is_(None))
                .values(reply=words, replied_by=officer.name, replied_at=now)
            )
            notice(
                s,
                f"appeal:{appeal_id}:reply",
                row.uscc,
                "appeal",
                f"{row.office}答复了您的{APPEAL_KINDS[row.kind]}",
                words[:200],
                link="/my/appeals",
                at=now,
            )
            record(s, officer, "appeal.reply", f"appeal:{appeal_id}", at=now)

    def appeals(self, *, uscc: str | None = None, offices: frozenset[str] | None = None) -> list[dict[str, Any]]:
        query = sa.select(schema.appeals).order_by(schema.appeals.c.id.desc())
        if uscc is not None:
            query = query.where(schema.appeals.c.uscc == uscc)
        if offices is not None:
            query = query.where(schema.appeals.c.office.in_(sorted(offices)))
        with read_session(self.engine) as s:
            rows = s.execute(query).all()
        today = self.clock.today()
        out = []
        for r in rows:
            end = r.replied_at.date() if r.replied_at else today
            waited, estimated = workdays_between(r.created_at.date(), end)
            out.append(
                {
                    "id": r.id,
                    "uscc": r.uscc,
                    "policy_id": r.policy_id,
                    "office": r.office,
                    "kind": r.kind,
                    "kind_label": APPEAL_KINDS[r.kind],
                    "text": r.text,
                    "created_at": r.created_at,
                    "due_on": r.due_on,
                    "reply": r.reply,
                    "replied_by": r.replied_by,
                    "replied_at": r.replied_at,
                    "waited_workdays": waited,
                    "estimated": estimated,
                    "late": (r.replied_at.date() if r.replied_at else today) > r.due_on,
                }
            )
        return out
