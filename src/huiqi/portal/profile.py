"""My profile (我的企业画像): facts from the registers with their provenance, the enterprise's own
corrections marked, and the history of every change; saved calculator answers; deadlines.

A fact is one row per (enterprise, field). A register fact carries where it came from — the
department, the date of its data, the consent or legal basis, the log entry of the request
(``huiqi.sharing.prefill``). A correction by the enterprise (企业更正) keeps the register's
value beside it and is never written back to any register. A later prefill refreshes the
register's value under a correction without overwriting the correction.

A saved answer is addressed by the SHA-256 of the profile *without* its identifying fields
(统一社会信用代码, 企业名称) and the date; the link carries only that hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from huiqi.clock import Clock
from huiqi.errors import FieldMessage, InputError, Message, NotFound
from huiqi.library import notify
from huiqi.portal import schema
from huiqi.portal.base import Actor, dumps, loads, record
from huiqi.portal.workdays import next_deadline, workdays_between
from huiqi.profile import FIELDS, ProfileError, parse_profile
from huiqi.rules.library import Library
from huiqi.store.db import read_session, write_session
from huiqi.store.models import Enterprise, InboxMessage

#: Fields that name the enterprise: never in a shared link.
IDENTIFYING = ("uscc", "name")
#: Remind of a deadline this many working days ahead.
REMIND_WITHIN = 15


def _jsonable(profile: Any) -> dict[str, Any]:
    return {k: v for k, v in profile.model_dump(mode="json", exclude_none=True).items()}


def check_fact(field: str, value: Any) -> Any:
    """A value for one profile field, checked by the profile schema (bad input names the field)."""
    if field not in FIELDS or field in ("uscc",):
        raise InputError(
            Message(f"企业画像没有可更正的字段 {field[:64]}", f"no correctable field {field[:64]!r}"), field=field
        )
    try:
        parsed = parse_profile({field: value})
    except ProfileError as e:
        raise InputError(
            Message(f"{FIELDS[field].label}：{e.problems[0].message_zh}", f"{field}: {e.problems[0].message_en}"),
            fields=[FieldMessage(p.field or field, Message(p.message_zh, p.message_en)) for p in e.problems],
        ) from None
    return _jsonable(parsed).get(field)


class Profiles:
    def __init__(self, engine: Engine, *, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def facts(self, uscc: str) -> list[dict[str, Any]]:
        with read_session(self.engine) as s:
            rows = s.execute(sa.select(schema.facts).where(schema.facts.c.uscc == uscc)).all()
        order = {name: i for i, name in enumerate(FIELDS)}
        out = [
            {
                "field": r.field,
                "label": FIELDS[r.field].label if r.field in FIELDS else r.field,
                "value": loads(r.value),
                "origin": r.origin,
                "register_value": loads(r.register_value),
                "provenance": loads(r.provenance),
                "updated_at": r.updated_at,
            }
            for r in rows
        ]
        return sorted(out, key=lambda f: order.get(f["field"], 999))

    def profile(self, uscc: str) -> dict[str, Any]:
        """The calculator profile: every fact's current value, corrections included."""
        facts = {f["field"]: f["value"] for f in self.facts(uscc) if f["value"] is not None}
        return {"uscc": uscc, **facts}

    def history(self, uscc: str, limit: int = 200) -> list[dict[str, Any]]:
        with read_session(self.engine) as s:
            rows = s.execute(
                sa.select(schema.fact_history)
                .where(schema.fact_history.c.uscc == uscc)
                .order_by(schema.fact_history.c.id.desc())
                .limit(limit)
            ).all()
        return [
            {
                "field": r.field,
                "label": FIELDS[r.field].label if r.field in FIELDS else r.field,
                "before": loads(r.before),
                "after": loads(r.after),
                "origin": r.origin,
                "actor": r.actor,
                "at": r.at,
            }
            for r in rows
        ]

    def _history(
        self,
        s: Session,
        uscc: str | None,
        field: str,
        before: Any,
        after: Any,
        origin: str,
        actor: Actor,
        at: dt.datetime,
    ) -> None:
        s.execute(
            schema.fact_history.insert().values(
                uscc=uscc,
                field=field,
                before=dumps(before) if before is not None else None,
                after=dumps(after) if after is not None else None,
                origin=origin,
                actor=actor.audit_name,
                at=at,
            )
        )

    def store_prefill(self, actor: Actor, prefill: Mapping[str, Any]) -> int:
        """Keep what the registers said (``Prefill.to_json()``); returns how many facts changed."""
        actor.need("profile")
        uscc = actor.uscc
        now = self.clock.now()
        changed = 0
        with write_session(self.engine) as s:
            current = {r.field: r for r in s.execute(sa.select(schema.facts).where(schema.facts.c.uscc == uscc)).all()}
            for field, value in prefill.get("profile", {}).items():
                if field not in FIELDS or field == "uscc":
                    continue
                prov = prefill.get("provenance", {}).get(field)
                row = current.get(field)
                if row is None:
                    s.execute(
                        schema.facts.insert().values(
                            uscc=uscc,
                            field=field,
                            value=dumps(value),
                            origin="register",
                            provenance=dumps(prov),
                            updated_at=now,
                        )
                    )
                    self._history(s, uscc, field, None, value, "register", actor, now)
                    changed += 1
                elif row.origin == "enterprise":
                    if loads(row.register_value) != value:
                        s.execute(
                            schema.facts.update()
                            .where(schema.facts.c.uscc == uscc, schema.facts.c.field == field)
                            .values(register_value=dumps(value), provenance=dumps(prov))
                        )
                elif loads(row.value) != value or loads(row.provenance) != prov:
                    s.execute(
                        schema.facts.update()
                        .where(schema.facts.c.uscc == uscc, schema.facts.c.field == field)
                        .values(value=dumps(value), provenance=dumps(prov), updated_at=now)
                    )
                    if loads(row.value) != value:
                        self._history(s, uscc, field, loads(row.value), value, "register", actor, now)
                        changed += 1
            if changed:
                record(
                    s,
                    actor,
                    "profile.prefill",
                    f"profile:{uscc}",
                    at=now,
                    detail={"fields": sorted(prefill.get("profile", {})), "purpose": prefill.get("purpose")},
                )
                self._sync_subscriptions(s, uscc, now)
        return changed

    def correct(self, actor: Actor, field: str, value: Any) -> None:
        """The enterprise's own value for one fact (企业更正); ``None`` or "" removes its correction."""
        actor.need("profile")
        uscc = actor.uscc
        now = self.clock.now()
        clear = value in (None, "")
        checked = None if clear else check_fact(field, value)
        with write_session(self.engine) as s:
            row = s.execute(
                sa.select(schema.facts).where(schema.facts.c.uscc == uscc, schema.facts.c.field == field)
            ).first()
            where = (schema.facts.c.uscc == uscc, schema.facts.c.field == field)
            before = loads(row.value) if row else None
            if clear:
                if row is None or row.origin != "enterprise":
                    return
                if row.register_value is not None:
                    s.execute(
                        schema.facts.update()
                        .where(*where)
                        .values(value=row.register_value, origin="register", register_value=None, updated_at=now)
                    )
                else:
                    s.execute(schema.facts.delete().where(*where))
                after = loads(row.register_value)
            elif row is None:
                s.execute(
                    schema.facts.insert().values(
                        uscc=uscc, field=field, value=dumps(checked), origin="enterprise", updated_at=now
                    )
                )
                after = checked
            else:
                register_value = row.value if row.origin == "register" else row.register_value
                s.execute(
                    schema.facts.update()
                    .where(*where)
                    .values(value=dumps(checked), origin="enterprise", register_value=register_value, updated_at=now)
                )
                after = checked
            if before == after:
                return
            self._history(s, uscc, field, before, after, "enterprise", actor, now)
            record(s, actor, "profile.correct", f"profile:{uscc}", at=now, before={field: before}, after={field: after})
            self._sync_subscriptions(s, uscc, now)

    def _sync_subscriptions(self, s: Session, uscc: str | None, at: dt.datetime) -> None:
        """The lifecycle computes "newly eligible" from the profile it holds: keep it current."""
        ent = s.get(Enterprise, uscc)
        if ent is not None:
            rows = s.execute(sa.select(schema.facts).where(schema.facts.c.uscc == uscc)).all()
            ent.profile = dumps({"uscc": uscc, **{r.field: loads(r.value) for r in rows}})
            ent.updated_at = at

    def subscribe(self, actor: Actor, kind: str, category: str | None, email: str | None = None) -> int:
        """Subscribe with the stored profile (the lifecycle's fan-out reads it)."""
        actor.need("profile")
        assert actor.uscc is not None
        profile = self.profile(actor.uscc)
        sub = notify.subscribe(
            self.engine, actor.uscc, profile, kind=kind, category=category, email=email or None, clock=self.clock
        )
        with write_session(self.engine) as s:
            record(
                s,
                actor,
                "subscription.add",
                f"subscription:{sub.id}",
                at=self.clock.now(),
                after={"kind": kind, "category": category},
            )
        return int(sub.id)

    def subscriptions(self, uscc: str) -> list[dict[str, Any]]:
        from huiqi.store.models import Subscription

        with read_session(self.engine) as s:
            rows = s.scalars(
                sa.select(Subscription).where(Subscription.uscc == uscc, Subscription.active.is_(True))
            ).all()
            return [
                {
                    "id": r.id,
                    "kind": r.kind,
                    "kind_label": notify.KINDS.get(r.kind, r.kind),
                    "category": r.category,
                    "created_at": r.created_at,
                }
                for r in rows
            ]

    def unsubscribe(self, actor: Actor, sub_id: int) -> None:
        from huiqi.store.models import Subscription

        actor.need("profile")
        with write_session(self.engine) as s:
            sub = s.get(Subscription, sub_id)
            if sub is None or sub.uscc != actor.uscc:
                raise NotFound(Message("没有这项订阅", "no such subscription"))
            sub.active = False
            record(s, actor, "subscription.remove", f"subscription:{sub_id}", at=self.clock.now())

    # --- notices ------------------------------------------------------------------------------------
    def notices(self, uscc: str, limit: int = 100) -> list[dict[str, Any]]:
        """The platform's notices (grants, applications) and the lifecycle's inbox, newest first."""
        inbox = InboxMessage.__table__
        with self.engine.connect() as c:  # on every page: two plain reads
            mine = c.execute(
                sa.select(schema.notices)
                .where(schema.notices.c.uscc == uscc)
                .order_by(schema.notices.c.id.desc())
                .limit(limit)
            ).all()
            theirs = c.execute(
                sa.select(inbox).where(inbox.c.uscc == uscc).order_by(inbox.c.id.desc()).limit(limit)
            ).all()
        out = [
            {
                "source": "portal",
                "id": n.id,
                "kind": n.kind,
                "title": n.title,
                "body": n.body,
                "link": n.link,
                "created_at": n.created_at,
                "read": n.read_at is not None,
            }
            for n in mine
        ]
        out += [
            {
                "source": "inbox",
                "id": m.id,
                "kind": "policy",
                "title": m.title,
                "body": m.body,
                "link": f"/policies/{m.policy_id}",
                "created_at": m.created_at,
                "read": m.read_at is not None,
            }
            for m in theirs
        ]
        return sorted(out, key=lambda n: n["created_at"], reverse=True)[:limit]

    def mark_read(self, actor: Actor, source: str, notice_id: int) -> None:
        assert actor.uscc is not None
        if source == "inbox":
            notify.mark_read(self.engine, actor.uscc, notice_id, clock=self.clock)
            return
        with write_session(self.engine, global_lock=False) as s:
            s.execute(
                schema.notices.update()
                .where(
                    schema.notices.c.id == notice_id,
                    schema.notices.c.uscc == actor.uscc,
                    schema.notices.c.read_at.is_(None),
                )
                .values(read_at=self.clock.now())
            )

    # --- saved answers --------------------------------------------------------------------------------
    def save(self, actor: Actor, profile: Mapping[str, Any], as_of: dt.date) -> str:
        """Save the calculator's answer for a profile; returns the hash its link carries."""
        actor.need("view")
        anonymous = {k: v for k, v in profile.items() if k not in IDENTIFYING and v not in (None, "", [])}
        try:
            checked = _jsonable(parse_profile(anonymous)) if anonymous else {}
        except ProfileError as e:
            raise InputError(
                Message("企业画像有误", "invalid profile"),
                fields=[FieldMessage(p.field, Message(p.message_zh, p.message_en)) for p in e.problems],
            ) from None
        if not checked:
            raise InputError(Message("画像为空，无可保存的内容", "the profile is empty"), field="profile")
        body = dumps({"profile": checked, "as_of": as_of.isoformat()})
        digest = hashlib.sha256(body.encode()).hexdigest()
        now = self.clock.now()
        with write_session(self.engine, global_lock=False) as s:
            if s.execute(sa.select(schema.saved.c.hash).where(schema.saved.c.hash == digest)).first() is None:
                s.execute(
                    schema.saved.insert().values(hash=digest, profile=dumps(checked), as_of=as_of, created_at=now)
                )
            if (
                s.execute(
                    sa.select(schema.saved_by.c.hash).where(
                        schema.saved_by.c.hash == digest, schema.saved_by.c.uscc == actor.uscc
                    )
                ).first()
                is None
            ):
                s.execute(schema.saved_by.insert().values(uscc=actor.uscc, hash=digest, created_at=now))
        return digest

    def saved(self, digest: str) -> tuple[dict[str, Any], dt.date]:
        with read_session(self.engine) as s:
            row = s.execute(sa.select(schema.saved).where(schema.saved.c.hash == digest)).first()
        if row is None:
            raise NotFound(Message("没有这份保存的测算结果", "no saved answer with this hash"))
        return loads(row.profile), row.as_of

    def saved_of(self, uscc: str) -> list[dict[str, Any]]:
        with read_session(self.engine) as s:
            rows = s.execute(
                sa.select(schema.saved.c.hash, schema.saved.c.as_of, schema.saved_by.c.created_at)
                .join(schema.saved_by, schema.saved_by.c.hash == schema.saved.c.hash)
                .where(schema.saved_by.c.uscc == uscc)
                .order_by(schema.saved_by.c.created_at.desc())
            ).all()
        return [dict(r._mapping) for r in rows]


def deadlines(library: Library, results: list[dict[str, Any]], today: dt.date) -> list[dict[str, Any]]:
    """申报截止 reminders for the policies an enterprise qualifies for (or may), in working days."""
    out = []
    for r in results:
        if r.get("verdict") not in ("eligible", "undetermined"):
            continue
        policy = library.by_id.get(r["policy_id"])
        if policy is None or policy.definition.apply.mode == "免申即享":
            continue
        due = next_deadline(policy.definition.apply.deadline, today)
        if due is None or (due - today).days > REMIND_WITHIN * 3:  # far off: no need to count
            continue
        left, estimated = workdays_between(today, due)
        if left <= REMIND_WITHIN:
            out.append(
                {
                    "policy_id": policy.id,
                    "title": policy.definition.title,
                    "deadline": due,
                    "text": policy.definition.apply.deadline,
                    "workdays": left,
                    "estimated": estimated,
                    "verdict": r["verdict"],
                }
            )
    return sorted(out, key=lambda d: d["deadline"])
