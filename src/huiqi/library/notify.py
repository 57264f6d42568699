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
exactly-once effect). Several rows are delivered at once (``concurrency``), so one
endpoint that never answers does not hold up the others; every request goes through
:class:`huiqi.library.webhooks.SafeSender`, which refuses internal destinations.

Subscribing is limited per enterprise (:data:`MAX_NEW_PER_HOUR`, :data:`MAX_ACTIVE`) and an
e-mail address receives nothing but its verification code until the code comes back
(:func:`verify_email`): a subscriber cannot make the platform mail strangers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.orm import Session

from huiqi import vocab
from huiqi.clock import Clock
from huiqi.errors import InputError, RateLimited
from huiqi.library import webhooks
from huiqi.library.errors import NotFound
from huiqi.profile import Profile, ProfileError, parse_profile
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
#: At most this many new subscriptions per enterprise per hour, and active at once.
MAX_NEW_PER_HOUR = 10
MAX_ACTIVE = 20
EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(\.[A-Za-z0-9\-]{1,63})*\.[A-Za-z]{2,24}$")
EMAIL_CODE_HOURS = 24
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True)
class Subscribed:
    id: int
    uscc: str
    kind: str
    category: str | None
    email_pending: bool  # a verification code was sent to the address


def _check_subscription(
    kind: str, category: str | None, webhook_url: str | None, webhook_secret: str | None, email: str | None
) -> None:
    if kind not in KINDS:
        raise InputError(f"订阅类型应为 {', '.join(KINDS)} / unknown kind {kind[:32]!r}", field="kind")
    if kind == "category" and category not in vocab.CATEGORIES:
        raise InputError(
            f"类别应为 {', '.join(vocab.CATEGORIES)} / unknown category {str(category)[:32]!r}", field="category"
        )
    if webhook_url is not None:
        try:
            webhooks.check_url(webhook_url, webhooks.WebhookPolicy.from_env())
        except webhooks.WebhookRefused as e:
            raise InputError(e.message, field="webhook_url") from None
        if not webhook_secret or not 16 <= len(webhook_secret) <= 128 or not webhook_secret.isprintable():
            raise InputError(
                "webhook 需要16–128位的签名密钥 / a webhook needs a secret of 16–128 printable characters",
                field="webhook_secret",
            )
    if email is not None and (len(email) > 254 or not EMAIL.match(email)):
        raise InputError("邮箱地址格式不对 / not an e-mail address", field="email")


def _limit(s: Session, uscc: str, now: dt.datetime) -> None:
    recent = s.scalar(
        select(func.count())
        .select_from(Subscription)
        .where(Subscription.uscc == uscc, Subscription.created_at > now - dt.timedelta(hours=1))
    )
    if (recent or 0) >= MAX_NEW_PER_HOUR:
        raise RateLimited(
            f"每家企业每小时最多新增 {MAX_NEW_PER_HOUR} 个订阅 / at most {MAX_NEW_PER_HOUR} new subscriptions an hour",
            retry_after=3600,
        )
    active = s.scalar(
        select(func.count()).select_from(Subscription).where(Subscription.uscc == uscc, Subscription.active.is_(True))
    )
    if (active or 0) >= MAX_ACTIVE:
        raise RateLimited(
            f"每家企业最多 {MAX_ACTIVE} 个有效订阅 / at most {MAX_ACTIVE} active subscriptions", retry_after=3600
        )


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


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
) -> Subscribed:
    """Register (or refresh) an enterprise's profile and add one subscription.

    ``uscc`` is the enterprise the caller has proved to be (an enterprise token today);
    an ``email`` is sent a verification code and receives nothing else until
    :func:`verify_email` is given that code.
    """
    _check_subscription(kind, category, webhook_url, webhook_secret, email)
    data = dict(profile)
    data.setdefault("uscc", uscc)
    parsed = parse_profile(data)  # ProfileError names the fields
    if parsed.uscc != uscc:
        raise InputError("画像中的 uscc 与订阅的 uscc 不同 / the profile's uscc differs", field="profile.uscc")
    t = clock.now()
    code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10)) if email else None
    with write_session(engine, global_lock=False) as s:
        _limit(s, uscc, t)
        ent = s.get(Enterprise, uscc)
        text = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)
        name = str(data.get("name"))[:255] if data.get("name") else None
        if ent is None:
            s.add(Enterprise(uscc=uscc, name=name, profile=text, updated_at=t))
        else:
            ent.profile, ent.name, ent.updated_at = text, name, t
        sub = Subscription(
            uscc=uscc,
            kind=kind,
            category=category if kind == "category" else None,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            email=email,
            active=True,
            created_at=t,
            email_code_hash=_code_hash(code) if code else None,
            email_code_expires_at=t + dt.timedelta(hours=EMAIL_CODE_HOURS) if code else None,
        )
        s.add(sub)
        s.flush()
        if email and code:
            s.add(
                EmailMessage(
                    idempotency_key=f"verify:s{sub.id}",
                    to_addr=email,
                    subject="惠企：请确认您的邮箱 / please confirm your e-mail address",
                    body=(
                        f"统一社会信用代码为 {uscc} 的企业在惠企平台订阅了政策通知，并留下了这个邮箱。\n"
                        f"确认码：{code}（{EMAIL_CODE_HOURS} 小时内有效）。\n"
                        "确认前，此邮箱不会收到任何通知；如果不是您本人操作，请忽略本邮件。"
                    ),
                    state="pending",
                    attempts=0,
                    created_at=t,
                )
            )
        return Subscribed(sub.id, sub.uscc, sub.kind, sub.category, email_pending=bool(email))


def verify_email(engine: Engine, uscc: str, subscription_id: int, code: str, *, clock: Clock) -> None:
    """The code mailed by :func:`subscribe` came back: the address may now receive notifications."""
    t = clock.now()
    with write_session(engine, global_lock=False) as s:
        sub = s.get(Subscription, subscription_id)
        if sub is None or sub.uscc != uscc or not sub.email:
            raise NotFound(f"没有订阅 #{subscription_id} / no such subscription")
        if sub.email_verified_at is not None:
            return
        expired = sub.email_code_expires_at is None or as_utc(sub.email_code_expires_at) < t
        if expired or not sub.email_code_hash or not hmac.compare_digest(sub.email_code_hash, _code_hash(code)):
            raise InputError("确认码不对或已过期 / wrong or expired code", field="code")
        sub.email_verified_at, sub.email_code_hash, sub.email_code_expires_at = t, None, None


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


def fanout(
    session: Session,
    event: PublishEvent,
    doc: Document,
    old_library: Library,
    new_library: Library,
    *,
    at: dt.datetime,
) -> int:
    """Write the notifications of one publish/withdraw event (made at ``at``); returns how
    many enterprises were notified. Webhooks are due at once, e-mails are queued.

    Both libraries must have loaded (the caller fails loudly otherwise): a library taken
    as empty would tell every eligible subscriber they newly qualify.
    """
    subs = session.scalars(select(Subscription).where(Subscription.active.is_(True))).all()
    if not subs:
        return 0
    version = session.get(Version, event.version_id)
    assert version is not None
    ids = _affected_policies(doc, old_library, new_library)
    count = 0
    for uscc, ent_subs in _by_enterprise(subs):
        profile = _stored_profile(session, uscc)
        if profile is None:
            continue
        changes = _changes(profile, ent_subs, doc, ids, old_library, new_library, event.effective_on)
        if not changes:
            continue
        subject, body = _message(event, version, changes)
        key = f"e{event.id}:u{uscc}"
        _queue_inbox(session, key, uscc, event, subject, body, changes, at)
        _queue_webhooks(session, key, uscc, event, doc, version, ent_subs, changes, at)
        _queue_emails(session, key, ent_subs, subject, body, at)
        count += 1
    session.flush()
    return count


def _affected_policies(doc: Document, old: Library, new: Library) -> list[str]:
    """The policy itself; for a shared parameter/variable file, every policy of either library."""
    if doc.kind == "policy":
        return [doc.id]
    return sorted({p.id for lib in (old, new) for p in lib.policies})


def _by_enterprise(subs: Iterable[Subscription]) -> list[tuple[str, list[Subscription]]]:
    by_ent: dict[str, list[Subscription]] = {}
    for sub in subs:
        by_ent.setdefault(sub.uscc, []).append(sub)
    return sorted(by_ent.items())


def _stored_profile(session: Session, uscc: str) -> Profile | None:
    ent = session.get(Enterprise, uscc)
    if ent is None:
        return None
    try:
        return parse_profile(json.loads(ent.profile))
    except (ProfileError, ValueError):
        return None


def _verdicts(library: Library, profile: Profile, as_of: dt.date, ids: list[str]) -> dict[str, Evaluation]:
    _, evaluations = library.evaluate(profile, as_of, ids)
    return {e.policy.id: e for e in evaluations}


def _changes(
    profile: Profile,
    subs: list[Subscription],
    doc: Document,
    ids: list[str],
    old: Library,
    new: Library,
    on: dt.date,
) -> list[Change]:
    """What this enterprise is told: policies it newly qualifies for (``new_eligible``) and
    any change to a policy of a category it follows."""
    before, after = _verdicts(old, profile, on, ids), _verdicts(new, profile, on, ids)
    wants_new = any(s.kind == "new_eligible" for s in subs)
    categories = {s.category for s in subs if s.kind == "category"}
    changes: list[Change] = []
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
    return changes


def _queue_inbox(
    session: Session,
    key: str,
    uscc: str,
    event: PublishEvent,
    subject: str,
    body: str,
    changes: list[Change],
    at: dt.datetime,
) -> None:
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


def _queue_webhooks(
    session: Session,
    key: str,
    uscc: str,
    event: PublishEvent,
    doc: Document,
    version: Version,
    subs: list[Subscription],
    changes: list[Change],
    at: dt.datetime,
) -> None:
    payload = {
        "event_id": event.id,
        "event": event.kind,
        "document_id": doc.id,
        "version": version.number,
        "effective_on": event.effective_on.isoformat(),
        "uscc": uscc,
        "changes": [c.__dict__ for c in changes],
    }
    urls = {s.webhook_url: s for s in subs if s.webhook_url}
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


def _queue_emails(
    session: Session, key: str, subs: list[Subscription], subject: str, body: str, at: dt.datetime
) -> None:
    """Only verified addresses are mailed."""
    for addr in sorted({s.email for s in subs if s.email and s.email_verified_at is not None}):
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


@dataclass
class DrainReport:
    delivered: int = 0
    retried: int = 0
    dead: int = 0

    def add(self, other: DrainReport) -> None:
        self.delivered += other.delivered
        self.retried += other.retried
        self.dead += other.dead


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
                .where(  # all of the candidate's conditions again: another worker may have sent it meanwhile
                    WebhookDelivery.id == row_id,
                    WebhookDelivery.state == "pending",
                    WebhookDelivery.next_attempt_at <= t,
                    or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < t),
                )
                .values(lease_until=t + lease)
            )
            if getattr(taken, "rowcount", 0) == 1:
                return s.get(WebhookDelivery, row_id)
    return None


@dataclass(frozen=True)
class _Retry:
    max_attempts: int
    base_delay: dt.timedelta
    max_delay: dt.timedelta


def _send_one(engine: Engine, row: WebhookDelivery, send: Sender, clock: Clock) -> tuple[str | None, bool]:
    """POST one claimed row; returns (error or None, whether the error is final)."""
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
    try:
        status = send(row.url, body, headers)
    except webhooks.WebhookRefused as e:
        return f"refused: {e.message}", True
    except Exception as e:  # network errors of any kind are a failed attempt
        return f"{type(e).__name__}: {e}"[:500], False
    if 200 <= status < 300:
        return None, False
    if 300 <= status < 400:
        return f"HTTP {status} (redirects are not followed)", False
    return f"HTTP {status}", False


def _record(engine: Engine, row_id: int, error: str | None, final: bool, clock: Clock, retry: _Retry) -> DrainReport:
    t = clock.now()
    report = DrainReport()
    with write_session(engine, global_lock=False) as s:
        current = s.get(WebhookDelivery, row_id)
        assert current is not None
        current.attempts += 1
        current.lease_until = None
        if error is None:
            current.state, current.delivered_at, current.last_error = "delivered", t, None
            report.delivered += 1
        elif final or current.attempts >= retry.max_attempts:
            current.state, current.last_error = "dead", error
            report.dead += 1
        else:
            current.last_error = error
            current.next_attempt_at = t + backoff(current.attempts, retry.base_delay, retry.max_delay)
            report.retried += 1
    return report


def drain_webhooks(
    engine: Engine,
    send: Sender | None = None,
    *,
    clock: Clock,
    limit: int = 100,
    concurrency: int = 8,
    max_attempts: int = 8,
    base_delay: dt.timedelta = dt.timedelta(seconds=30),
    max_delay: dt.timedelta = dt.timedelta(hours=6),
    lease: dt.timedelta = dt.timedelta(minutes=2),
) -> DrainReport:
    """Deliver up to ``limit`` due webhooks, ``concurrency`` at a time. Safe to run in
    several workers at once. ``send`` defaults to :class:`~huiqi.library.webhooks.SafeSender`
    under the operator's allow-list (``HUIQI_WEBHOOK_ALLOW``)."""
    sender: Sender = send if send is not None else webhooks.SafeSender()
    retry = _Retry(max_attempts, base_delay, max_delay)
    report = DrainReport()
    lock = threading.Lock()
    budget = [limit]

    def take() -> WebhookDelivery | None:
        with lock:
            if budget[0] <= 0:
                return None
            budget[0] -= 1
        return _claim(engine, clock, lease)

    def worker() -> None:
        while (row := take()) is not None:
            error, final = _send_one(engine, row, sender, clock)
            outcome = _record(engine, row.id, error, final, clock, retry)
            with lock:
                report.add(outcome)

    workers = max(1, min(concurrency, limit))
    if workers == 1:
        worker()
        return report
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="huiqi-webhook") as pool:
        for future in [pool.submit(worker) for _ in range(workers)]:
            future.result()  # re-raise what a worker died of
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
