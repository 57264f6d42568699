"""Subscriptions and notifications: inbox, signed webhooks with backoff, e-mail outbox;
a crash mid-drain neither loses nor duplicates a notification."""

import datetime as dt
import json
import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from huiqi.errors import InputError
from huiqi.library import notify
from huiqi.profile import ProfileError
from huiqi.store import read_session, write_session
from huiqi.store.models import Document, EmailMessage, InboxMessage, PublishEvent, WebhookDelivery

PID = "lj.tax.credit-a-award"
REL = "lj/tax.credit-a-award.yaml"
EFFECTIVE = dt.date(2026, 12, 1)
SECRET = "s3cret-s3cret-s3cret"
# A-rated, 3 million revenue: below the current 5 million threshold, above the proposed 2 million.
GAINER = {"uscc": "91339901MA3C9W1E2F", "name": "临江江畔人家", "region": "339901", "credit_rating": "A",
          "revenue": "3000000", "taxable_income": "500000"}  # fmt: skip
WATCHER = {"uscc": "91339903MA2K7Q3B37", "name": "临江星河智能", "region": "339903", "credit_rating": "B"}
OTHER = {"uscc": "91330100MA27XY1235", "name": "无关企业", "region": "339902"}


def _lower_threshold(text):
    old = "      - {from: 2025-01-01, value: 5000000, source: 临发改〔2025〕17号 第二条}\n"
    assert old in text
    return text.replace(old, old + "      - {from: 2026-09-01, value: 2000000, source: 临发改〔2026〕3号 第一条}\n")


class Receiver:
    """A webhook endpoint that checks signatures and de-duplicates by Idempotency-Key."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.calls = []
        self.effects = {}

    def __call__(self, url, body, headers):
        assert notify.verify_signature(SECRET, headers[notify.TIMESTAMP_HEADER], body, headers[notify.SIGNATURE_HEADER])
        self.calls.append((url, headers[notify.KEY_HEADER], body))
        status = self.statuses.pop(0) if self.statuses else 200
        if status == 200:
            self.effects.setdefault(headers[notify.KEY_HEADER], json.loads(body))
        return status


def mailed_code(engine, to):
    """The confirmation code in the verification mail sent to ``to`` (what its owner reads)."""
    with read_session(engine) as s:
        mail = s.scalars(select(EmailMessage).where(EmailMessage.to_addr == to).order_by(EmailMessage.id)).first()
    return re.search(r"确认码：([A-Z0-9]+)", mail.body).group(1)


@pytest.fixture
def subscribed(lc):
    sub = notify.subscribe(
        lc.engine, GAINER["uscc"], GAINER, kind="new_eligible",
        webhook_url="https://example.test/hook", webhook_secret=SECRET, email="cfo@example.test", clock=lc.clock,
    )  # fmt: skip
    notify.verify_email(lc.engine, GAINER["uscc"], sub.id, mailed_code(lc.engine, "cfo@example.test"), clock=lc.clock)
    notify.subscribe(lc.engine, WATCHER["uscc"], WATCHER, kind="category", category="reward", clock=lc.clock)
    notify.subscribe(lc.engine, OTHER["uscc"], OTHER, kind="category", category="talent", clock=lc.clock)
    return lc


def _publish(lc, text_of, propose):
    v = propose(lc, _lower_threshold(text_of(REL)))
    return lc.publish(v.id, actor="bob", effective=EFFECTIVE)


def _count(engine, model):
    with read_session(engine) as s:
        return s.scalar(select(func.count()).select_from(model))


def test_publish_notifies_affected_subscribers_only(subscribed, text_of, propose):
    lc = subscribed
    _publish(lc, text_of, propose)
    gained = notify.inbox(lc.engine, GAINER["uscc"])
    assert len(gained) == 1
    assert gained[0].policy_id == PID and gained[0].verdict == "eligible"
    assert "不符合 → 可享受" in gained[0].body and "新符合条件" in gained[0].body
    watched = notify.inbox(lc.engine, WATCHER["uscc"])
    assert len(watched) == 1 and watched[0].verdict == "ineligible"  # category news, still not eligible
    assert notify.inbox(lc.engine, OTHER["uscc"]) == []
    assert _count(lc.engine, WebhookDelivery) == 1
    assert _count(lc.engine, EmailMessage) == 2  # the verification code, then the notification
    with read_session(lc.engine) as s:
        mail = s.scalars(select(EmailMessage).order_by(EmailMessage.id.desc())).first()
    assert mail.to_addr == "cfo@example.test" and "临江市纳税信用A级" in mail.subject


def test_webhook_is_signed_retried_with_backoff_then_delivered(subscribed, text_of, propose):
    lc = subscribed
    _publish(lc, text_of, propose)
    clock, receiver = lc.clock, Receiver(statuses=[500, 503])
    report = notify.drain_webhooks(lc.engine, receiver, clock=clock)
    assert (report.delivered, report.retried) == (0, 1)
    with read_session(lc.engine) as s:
        row = s.scalars(select(WebhookDelivery)).one()
    assert row.attempts == 1 and row.last_error == "HTTP 500"
    assert notify.drain_webhooks(lc.engine, receiver, clock=clock).retried == 0  # not due yet
    clock.advance(seconds=31)
    assert notify.drain_webhooks(lc.engine, receiver, clock=clock).retried == 1  # 503, next in 60 s
    clock.advance(seconds=59)
    assert notify.drain_webhooks(lc.engine, receiver, clock=clock).delivered == 0
    clock.advance(seconds=2)
    assert notify.drain_webhooks(lc.engine, receiver, clock=clock).delivered == 1
    assert len(receiver.calls) == 3 and len(receiver.effects) == 1
    payload = next(iter(receiver.effects.values()))
    assert payload["uscc"] == GAINER["uscc"] and payload["changes"][0]["reason"] == "newly_eligible"
    with read_session(lc.engine) as s:
        row = s.scalars(select(WebhookDelivery)).one()
    assert (row.state, row.attempts) == ("delivered", 3)


def test_backoff_doubles_and_is_capped():
    base, cap = dt.timedelta(seconds=30), dt.timedelta(minutes=10)
    assert [notify.backoff(n, base, cap).total_seconds() for n in range(1, 7)] == [30, 60, 120, 240, 480, 600]


def test_gives_up_after_max_attempts(subscribed, text_of, propose):
    lc = subscribed
    _publish(lc, text_of, propose)
    clock = lc.clock

    def down(url, body, headers):
        raise OSError("connection refused")

    for _ in range(3):
        notify.drain_webhooks(lc.engine, down, clock=clock, max_attempts=3)
        clock.advance(hours=1)
    with read_session(lc.engine) as s:
        row = s.scalars(select(WebhookDelivery)).one()
    assert (row.state, row.attempts) == ("dead", 3) and "connection refused" in row.last_error


class Crash(BaseException):
    """The worker process dies (not an ordinary error the drain would catch)."""


def test_a_crash_mid_drain_neither_loses_nor_duplicates(subscribed, text_of, propose):
    lc = subscribed
    _publish(lc, text_of, propose)
    clock, receiver = lc.clock, Receiver()

    def crash_after_sending(url, body, headers):
        receiver(url, body, headers)
        raise Crash  # died after the POST, before recording it

    with pytest.raises(Crash):
        notify.drain_webhooks(lc.engine, crash_after_sending, clock=clock)
    with read_session(lc.engine) as s:
        row = s.scalars(select(WebhookDelivery)).one()
    assert (row.state, row.attempts) == ("pending", 0)  # not lost
    # another worker right away does not send it twice while the lease holds
    assert notify.drain_webhooks(lc.engine, receiver, clock=clock).delivered == 0
    assert len(receiver.calls) == 1
    # after the lease expires it is sent again, with the same key: the receiver's effect is once
    clock.advance(minutes=3)
    assert notify.drain_webhooks(lc.engine, receiver, clock=clock).delivered == 1
    keys = [k for _, k, _ in receiver.calls]
    assert len(keys) == 2 and len(set(keys)) == 1 and len(receiver.effects) == 1
    assert receiver.calls[0][2] == receiver.calls[1][2]  # same payload
    assert notify.drain_webhooks(lc.engine, receiver, clock=clock).delivered == 0
    assert len(receiver.calls) == 2


def test_fanning_out_the_same_event_twice_cannot_duplicate(subscribed, text_of, propose):
    lc = subscribed
    _publish(lc, text_of, propose)
    before = (_count(lc.engine, InboxMessage), _count(lc.engine, WebhookDelivery), _count(lc.engine, EmailMessage))
    library = lc.library_for(EFFECTIVE)
    with pytest.raises(IntegrityError), write_session(lc.engine) as s:
        event = s.scalars(select(PublishEvent)).one()
        doc = s.get(Document, PID)
        notify.fanout(s, event, doc, library, library, at=lc.clock.now())
    after = (_count(lc.engine, InboxMessage), _count(lc.engine, WebhookDelivery), _count(lc.engine, EmailMessage))
    assert before == after == (2, 1, 2)


def test_email_outbox_is_drained_once(subscribed, text_of, propose):
    lc = subscribed
    _publish(lc, text_of, propose)
    sent = []
    assert notify.drain_email(lc.engine, lambda to, subject, body: sent.append(to), clock=lc.clock).delivered == 2
    assert notify.drain_email(lc.engine, lambda to, subject, body: sent.append(to), clock=lc.clock).delivered == 0
    assert sent == ["cfo@example.test", "cfo@example.test"]  # the code, then the notification


def test_subscription_input_is_checked(lc):
    with pytest.raises(InputError, match="category") as e:
        notify.subscribe(lc.engine, GAINER["uscc"], GAINER, kind="category", category="lottery", clock=lc.clock)
    assert e.value.field_errors()[0].field == "category"
    with pytest.raises(InputError, match="secret"):
        notify.subscribe(
            lc.engine, GAINER["uscc"], GAINER, kind="new_eligible", webhook_url="https://x.test/h", clock=lc.clock
        )
    with pytest.raises(ProfileError):
        notify.subscribe(lc.engine, "91339901MA3C9W1E2X", {}, kind="new_eligible", clock=lc.clock)
    with pytest.raises(InputError, match="e-mail"):
        notify.subscribe(lc.engine, GAINER["uscc"], GAINER, kind="new_eligible", email="x@y", clock=lc.clock)
