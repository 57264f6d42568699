"""The lifecycle's tables (SQLAlchemy 2 declarative models).

The schema is created and changed only by the Alembic migrations in
``huiqi.store.migrations``; a test checks that these models and the migrations agree.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Version states, in lifecycle order (their words: ``huiqi.vocab.STATES``; who may move a
#: version between them: ``huiqi.library.states``).
DRAFT, IN_REVIEW, PUBLISHED, SUPERSEDED, WITHDRAWN = (
    "draft",
    "in_review",
    "published",
    "superseded",
    "withdrawn",
)
STATES = (DRAFT, IN_REVIEW, PUBLISHED, SUPERSEDED, WITHDRAWN)
ROLES = ("viewer", "editor", "publisher")


class Base(DeclarativeBase):
    pass


class LibraryState(Base):
    """One row (id 1): ``generation`` is bumped in every transaction that changes what is in force."""

    __tablename__ = "library_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class User(Base):
    __tablename__ = "users"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class AdminSession(Base):
    """A logged-in officer. Only the SHA-256 of the cookie token is stored."""

    __tablename__ = "admin_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(ForeignKey("users.name"), nullable=False)
    csrf: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class Document(Base):
    """A versioned file of the library: a policy (id = policy id) or ``_parameters`` / ``_variables``."""

    __tablename__ = "documents"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    path: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # policy | parameters | variables
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # Added by revision 0002 (backfilled from the latest version's YAML):
    category: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str | None] = mapped_column(String(255))


class Version(Base):
    """An immutable text of a document; only its lifecycle columns change."""

    __tablename__ = "versions"
    __table_args__ = (UniqueConstraint("document_id", "number", name="uq_versions_document_number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), nullable=False, index=True)
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("versions.id"))
    diff: Mapped[str] = mapped_column(Text, nullable=False, default="")
    author: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    submitted_by: Mapped[str | None] = mapped_column(String(64))
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    published_by: Mapped[str | None] = mapped_column(String(64))
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    effective_from: Mapped[dt.date | None] = mapped_column(Date)
    publish_note: Mapped[str | None] = mapped_column(Text)
    superseded_by: Mapped[int | None] = mapped_column(ForeignKey("versions.id"))
    withdrawn_by: Mapped[str | None] = mapped_column(String(64))
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_from: Mapped[dt.date | None] = mapped_column(Date)
    withdraw_note: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """Append-only, hash-chained record of every officer action (no update or delete path)."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    actor: Mapped[str] = mapped_column(String(64), nullable=False)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    target: Mapped[str] = mapped_column(String(255), nullable=False)
    before_hash: Mapped[str | None] = mapped_column(String(64))
    after_hash: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    row_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)


# --- revision 0002: publish events, subscriptions and notifications -----------------------
class PublishEvent(Base):
    __tablename__ = "publish_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # publish | withdraw
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), nullable=False)
    document_id: Mapped[str] = mapped_column(String(128), nullable=False)
    effective_on: Mapped[dt.date] = mapped_column(Date, nullable=False)
    actor: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    generation: Mapped[int] = mapped_column(Integer, nullable=False)


class Enterprise(Base):
    """A subscribing enterprise and the profile its notifications are computed from."""

    __tablename__ = "enterprises"
    uscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    profile: Mapped[str] = mapped_column(Text, nullable=False)  # JSON
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class Subscription(Base):
    __tablename__ = "subscriptions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uscc: Mapped[str] = mapped_column(ForeignKey("enterprises.uscc"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # category | new_eligible
    category: Mapped[str | None] = mapped_column(String(32))
    webhook_url: Mapped[str | None] = mapped_column(String(1000))
    webhook_secret: Mapped[str | None] = mapped_column(String(128))
    email: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # Added by revision 0007: an address receives notifications only once verified.
    email_verified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    email_code_hash: Mapped[str | None] = mapped_column(String(64))
    email_code_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class InboxMessage(Base):
    __tablename__ = "inbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    uscc: Mapped[str] = mapped_column(String(18), nullable=False, index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("publish_events.id"), nullable=False)
    policy_id: Mapped[str] = mapped_column(String(128), nullable=False)
    title: Mapped[str] = mapped_column(String(255), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    verdict: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookDelivery(Base):
    __tablename__ = "webhook_outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), nullable=False)
    event_id: Mapped[int] = mapped_column(ForeignKey("publish_events.id"), nullable=False)
    url: Mapped[str] = mapped_column(String(1000), nullable=False)
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class EmailMessage(Base):
    __tablename__ = "email_outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    to_addr: Mapped[str] = mapped_column(String(255), nullable=False)
    subject: Mapped[str] = mapped_column(String(255), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)  # pending | sent | dead
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


# --- revision 0007: login throttling and enterprise tokens ---------------------------------
class LoginThrottle(Base):
    """Failed logins under one key (``user:<name>`` or ``addr:<client address>``)."""

    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    first_failure_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class EnterpriseToken(Base):
    """A bearer token that lets one enterprise read its inbox and manage its subscriptions.

    Issued by an officer (audited); only the SHA-256 of the token is stored. A stop-gap until
    enterprise accounts exist (the portal): then a session resolves to the same identity.
    """

    __tablename__ = "enterprise_tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18), nullable=False, index=True)
    note: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    issued_by: Mapped[str] = mapped_column(String(64), nullable=False)
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
