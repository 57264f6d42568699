"""Subscriptions and notifications: inbox, signed webhooks with retries, e-mail outbox.

An enterprise (by USCC, with the profile its notifications are computed from)
subscribes to a policy category or to ``new_eligible`` ("anything I newly qualify
for"). Publishing or withdrawing writes, in the same transaction, one inbox message
per (event, enterprise) and one outbox row per (event, enterprise, endpoint), each with
a unique idempotency key: a notification can be neither lost (it commits with the
publish) nor duplicated (the key is unique in the table, and the webhook carries it).

Webhooks are delivered by :func:`drain_webhooks`: claim a due row with a lease, POST it
signed with HMAC-SHA256, then mark it delivered; on failure retry with exponential
backoff, and give up ("dead") after ``max_attempts``. A worker that crashes between the
POST and the mark leaves a lease that expires; the row is sent again with the same
``Idempotency-Key``, so the receiver can drop the repeat (at-least-once delivery,
exactly-once effect).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.orm import Session

from huiqi import vocab
from huiqi.clock import Clock
from huiqi.library.errors import LifecycleError
from huiqi.profile import ProfileError, parse_profile
from huiqi.rules.library import Evaluation, Library
from huiqi.store.db import as_utc, read_session, write_session
from huiqi.store.models import (
    Document,
    EmailMessage,
    Enterprise,
    InboxMessage,
    PublishEvent,
    Subscription,
    Version,
    WebhookDelivery,
)

KINDS = {"category": "订阅政策类别", "new_eligible": "新符合条件的政策"}
SIGNATURE_HEADER = "X-Huiqi-Signature"
TIMESTAMP_HEADER = "X-Huiqi-Timestamp"
KEY_HEADER = "Idempotency-Key"


# --- subscribing -----------------------------------------------------------------------
def subscribe(
    engine: Engine,
    uscc: str,
    profile: Mapping[str, Any],
    *,
    kind: str,
    category: str | None = None,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    email: str | None = None,
    clock: Clock,
) -> Subscription:
    """Register (or refresh) an enterprise's profile and add one subscription."""
    if kind not in KINDS:
        raise LifecycleError(f"订阅类型应为 {', '.join(KINDS)} / unknown kind {kind!r}")
    if kind == "category" and category not in vocab.CATEGORIES:
        raise LifecycleError(f"类别应为 {', '.join(vocab.CATEGORIES)} / unknown category {category!r}")
    if webhook_url is not None:
        if not webhook_url.startswith(("https://", "http://")):
            raise LifecycleError("webhook 地址须为 http(s) URL / the webhook must be an http(s) URL")
        if not webhook_secret or len(webhook_secret) < 16:
            raise LifecycleError("webhook 需要至少16位的签名密钥 / a webhook needs a secret of ≥16 characters")
    data = dict(profile)
    data.setdefault("uscc", uscc)
    try:
        parsed = parse_profile(data)
    except ProfileError as e:
        raise LifecycleError("企业画像有误 / invalid profile", [str(p) for p in e.problems]) from e
    if parsed.uscc != uscc:
        raise LifecycleError("画像中的 uscc 与订阅的 uscc 不同 / the profile's uscc differs")
    t = clock.now()
    with write_session(engine, global_lock=False) as s:
        ent = s.get(Enterprise, uscc)
        text = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)
        if ent is None:
            s.add(Enterprise(uscc=uscc, name=data.get("name"), profile=text, updated_at=t))
        else:
            ent.profile, ent.name, ent.updated_at = text, data.get("name"), t
        sub = Subscription(
            uscc=uscc,
            kind=kind,
            category=category if kind == "category" else None,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            email=email,
            active=True,
            created_at=t,
        )
        s.add(sub)
        s.flush()
        return sub


def inbox(engine: Engine, uscc: str, *, limit: int = 100) -> list[InboxMessage]:
    with read_session(engine) as s:
        return list(
            s.scalars(
                select(InboxMessage).where(InboxMessage.uscc == uscc).order_by(InboxMessage.id.desc()).limit(limit)
            )
        )


def mark_read(engine: Engine, uscc: str, message_id: int, *, clock: Clock) -> bool:
    with write_session(engine, global_lock=False) as s:
        result = s.execute(
            update(InboxMessage)
            .where(InboxMessage.id == message_id, InboxMessage.uscc == uscc, InboxMessage.read_at.is_(None))
            .values(read_at=clock.now())
        )
        return bool(getattr(result, "rowcount", 0))


# --- fan-out on publish -----------------------------------------------------------------
@dataclass(frozen=True)
class Change:
    policy_id: str
    title: str
    old: str | None  # verdict before (None: not in force)
    new: str | None
    amount: str | None
    reason: str  # newly_eligible | category


def _verdicts(library: Library | None, profile: Any, as_of: dt.date, ids: list[str]) -> dict[str, Evaluation]:
    if library is None:
        return {}
    _, evaluations = library.evaluate(profile, as_of, ids)
    return {e.policy.id: e for e in evaluations}


def fanout(
    session: Session,
    event: PublishEvent,
    doc: Document,
    old_library: Callable[[], Library | None],
    new_library: Callable[[], Library | None],
    *,
    at: dt.datetime,
) -> int:
    """Write the notifications of one publish/withdraw event (made at ``at``); returns how
    many inbox messages. Webhooks are due at once, e-mails are queued."""
    subs = session.scalars(select(Subscription).where(Subscription.active.is_(True))).all()
    if not subs:
        return 0
    old, new = old_library(), new_library()
    version = session.get(Version, event.version_id)
    assert version is not None
    if doc.kind == "policy":
        ids = [doc.id]
    else:  # a shared parameter/variable file changed: every policy may be affected
        ids = sorted({p.id for lib in (old, new) if lib is not None for p in lib.policies})
    by_ent: dict[str, list[Subscription]] = {}
    for sub in subs:
        by_ent.setdefault(sub.uscc, []).append(sub)
    count = 0
    for uscc, ent_subs in sorted(by_ent.items()):
        ent = session.get(Enterprise, uscc)
        if ent is None:
            continue
        try:
            profile = parse_profile(json.loads(ent.profile))
        except (ProfileError, ValueError):
            continue
        before = _verdicts(old, profile, event.effective_on, ids)
        after = _verdicts(new, profile, event.effective_on, ids)
        changes: list[Change] = []
        wants_new = any(s.kind == "new_eligible" for s in ent_subs)
        categories = {s.category for s in ent_subs if s.kind == "category"}
        for pid in ids:
            b, a = before.get(pid), after.get(pid)
            either = a or b
            policy = either.policy if either is not None else None
            title = policy.definition.title if policy else (doc.title or pid)
            category = policy.definition.category if policy else doc.category
            amount = str(a.amount) if a and a.amount is not None else None
            old_v, new_v = (b.verdict if b else None), (a.verdict if a else None)
            if wants_new and new_v == "eligible" and old_v != "eligible":
                changes.append(Change(pid, title, old_v, new_v, amount, "newly_eligible"))
            elif doc.kind == "policy" and category in categories:
                changes.append(Change(pid, title, old_v, new_v, amount, "category"))
        if not changes:
            continue
        count += 1
        subject, body = _message(event, version, changes)
        key = f"e{event.id}:u{uscc}"
        session.add(
            InboxMessage(
                idempotency_key=f"{key}:inbox",
                uscc=uscc,
                event_id=event.id,
                policy_id=changes[0].policy_id,
                title=subject,
                body=body,
                verdict=changes[0].new,
                created_at=at,
            )
        )
        payload = {
            "event_id": event.id,
            "event": event.kind,
            "document_id": doc.id,
            "version": version.number,
            "effective_on": event.effective_on.isoformat(),
            "uscc": uscc,
            "changes": [c.__dict__ for c in changes],
        }
        urls = {s.webhook_url: s for s in ent_subs if s.webhook_url}
        for url, sub in sorted(urls.items()):
            wkey = f"{key}:webhook:{hashlib.sha256(url.encode()).hexdigest()[:16]}"
            session.add(
                WebhookDelivery(
                    idempotency_key=wkey,
                    subscription_id=sub.id,
                    event_id=event.id,
                    url=url,
                    payload=json.dumps({**payload, "idempotency_key": wkey}, ensure_ascii=False, sort_keys=True),
                    state="pending",
                    attempts=0,
                    next_attempt_at=at,
                    created_at=at,
                )
            )
        for addr in sorted({s.email for s in ent_subs if s.email}):
            session.add(
                EmailMessage(
                    idempotency_key=f"{key}:email:{addr}",
                    to_addr=addr,
                    subject=subject,
                    body=body,
                    state="pending",
                    attempts=0,
                    created_at=at,
                )
            )
    session.flush()
    return count


def _message(event: PublishEvent, version: Version, changes: list[Change]) -> tuple[str, str]:
    action = "发布" if event.kind == "publish" else "撤回"
    first = changes[0]
    more = f"等 {len(changes)} 项政策" if len(changes) > 1 else ""
    subject = f"政策{action}：{first.title}{more}"[:255]
    lines = [f"{event.effective_on} 起生效的政策{action}（版本 v{version.number}）与贵企业有关：", ""]
    for c in changes:
        why = "贵企业新符合条件" if c.reason == "newly_eligible" else "您订阅的政策类别有更新"
        amount = f"，预计金额 {c.amount} 元" if c.amount else ""
        lines.append(
            f"· {c.title}（{c.policy_id}）：{vocab.verdict_label(c.old)} → {vocab.verdict_label(c.new)}"
            f"{amount}。{why}。"
        )
    return subject, "\n".join(lines)


# --- webhook delivery -------------------------------------------------------------------
Sender = Callable[[str, bytes, dict[str, str]], int]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, "<timestamp>." + body)."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def http_sender(url: str, body: bytes, headers: dict[str, str], timeout: float = 10.0) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


@dataclass
class DrainReport:
    delivered: int = 0
    retried: int = 0
    dead: int = 0


def backoff(attempts: int, base: dt.timedelta, cap: dt.timedelta) -> dt.timedelta:
    """Delay before the next try after ``attempts`` failures: base · 2^(attempts−1), capped."""
    return min(cap, base * (2 ** max(0, attempts - 1)))


def _claim(engine: Engine, clock: Clock, lease: dt.timedelta) -> WebhookDelivery | None:
    """Take one due row with a lease, committed before anything is sent."""
    t = clock.now()
    with write_session(engine, global_lock=False) as s:
        candidates = s.scalars(
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.state == "pending",
                WebhookDelivery.next_attempt_at <= t,
                or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < t),
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(5)
        ).all()
        for row_id in candidates:
            taken = s.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == row_id,
                    WebhookDelivery.state == "pending",
                    or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < t),
                )
                .values(lease_until=t + lease)
            )
            if getattr(taken, "rowcount", 0) == 1:
                return s.get(WebhookDelivery, row_id)
    return None


def drain_webhooks(
    engine: Engine,
    send: Sender = http_sender,
    *,
    clock: Clock,
    limit: int = 100,
    max_attempts: int = 8,
    base_delay: dt.timedelta = dt.timedelta(seconds=30),
    max_delay: dt.timedelta = dt.timedelta(hours=6),
    lease: dt.timedelta = dt.timedelta(minutes=2),
) -> DrainReport:
    """Deliver up to ``limit`` due webhooks. Safe to run in several workers at once."""
    report = DrainReport()
    for _ in range(limit):
        row = _claim(engine, clock, lease)
        if row is None:
            break
        with read_session(engine) as s:
            sub = s.get(Subscription, row.subscription_id)
        secret = sub.webhook_secret if sub and sub.webhook_secret else ""
        body = row.payload.encode("utf-8")
        timestamp = str(int(clock.now().timestamp()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            KEY_HEADER: row.idempotency_key,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret, timestamp, body),
        }
        error: str | None
        try:
            status = send(row.url, body, headers)
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except Exception as e:  # network errors of any kind are a failed attempt
            error = f"{type(e).__name__}: {e}"
        t = clock.now()
        with write_session(engine, global_lock=False) as s:
            current = s.get(WebhookDelivery, row.id)
            assert current is not None
            current.attempts += 1
            current.lease_until = None
            if error is None:
                current.state, current.delivered_at, current.last_error = "delivered", t, None
                report.delivered += 1
            elif current.attempts >= max_attempts:
                current.state, current.last_error = "dead", error
                report.dead += 1
            else:
                current.last_error = error
                current.next_attempt_at = t + backoff(current.attempts, base_delay, max_delay)
                report.retried += 1
    return report


def drain_email(
    engine: Engine,
    send_mail: Callable[[str, str, str], None],
    *,
    clock: Clock,
    limit: int = 100,
    max_attempts: int = 5,
) -> DrainReport:
    """Hand pending e-mails to ``send_mail(to, subject, body)`` (e.g. an SMTP client)."""
    report = DrainReport()
    with read_session(engine) as s:
        ids = s.scalars(
            select(EmailMessage.id).where(EmailMessage.state == "pending").order_by(EmailMessage.id).limit(limit)
        ).all()
    for mid in ids:
        with read_session(engine) as s:
            msg = s.get(EmailMessage, mid)
        assert msg is not None
        try:
            send_mail(msg.to_addr, msg.subject, msg.body)
            ok = True
        except Exception:
            ok = False
        with write_session(engine, global_lock=False) as s:
            cur = s.get(EmailMessage, mid)
            assert cur is not None
            cur.attempts += 1
            if ok:
                cur.state, cur.sent_at = "sent", clock.now()
                report.delivered += 1
            elif cur.attempts >= max_attempts:
                cur.state = "dead"
                report.dead += 1
            else:
                report.retried += 1
    return report


def outbox_summary(engine: Engine) -> dict[str, int]:
    with read_session(engine) as s:
        rows = s.execute(select(WebhookDelivery.state, WebhookDelivery.next_attempt_at)).all()
    out: dict[str, int] = {}
    for state, _ in rows:
        out[state] = out.get(state, 0) + 1
    return out


def due(row: WebhookDelivery, t: dt.datetime) -> bool:
    return row.state == "pending" and as_utc(row.next_attempt_at) <= t
