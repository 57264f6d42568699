"""The enterprise space's tables (企业空间), in their own MetaData; names start with ``portal_``.

Created by migration 0007. Secrets are never stored in clear: passwords as scrypt hashes
(``huiqi.library.officers``), session tokens as SHA-256, TOTP secrets and bank accounts
sealed with the platform's field encryption (``huiqi.trust.fields``), 身份证号 only as a
blind index and a masked form. Money is ``NUMERIC(18, 2)``.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
MONEY = sa.Numeric(18, 2)
TIME = sa.DateTime(timezone=True)

#: One person's account for one enterprise: its legal representative or an authorised agent.
accounts = sa.Table(
    "portal_accounts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("login", sa.String(64), nullable=False, unique=True),
    sa.Column("uscc", sa.String(18), nullable=False, index=True),
    sa.Column("enterprise_name", sa.String(255), nullable=False),
    sa.Column("person_name", sa.String(64), nullable=False),
    sa.Column("id_masked", sa.String(32), nullable=False),
    sa.Column("id_index", sa.String(128), nullable=False),  # blind index of the 身份证号
    sa.Column("role", sa.String(16), nullable=False),  # legal_rep | agent
    sa.Column("rights", sa.Text, nullable=False),  # JSON list of rights
    sa.Column("password_hash", sa.String(255)),
    sa.Column("totp_secret", sa.Text),  # sealed
    sa.Column("totp_confirmed", sa.Boolean, nullable=False, default=False),
    sa.Column("totp_last_step", sa.BigInteger, nullable=False, default=0),
    sa.Column("invite_hash", sa.String(64)),  # an agent's one-time invitation code (SHA-256)
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("verified_log", sa.Text, nullable=False),  # JSON: the gateway log entries of the identity check
    sa.Column("created_by", sa.Integer),
    sa.Column("created_at", TIME, nullable=False),
    sa.UniqueConstraint("uscc", "id_index", name="uq_portal_account_person"),
)

#: A login: only the SHA-256 of the cookie token. ``stage`` is ``password`` until the second factor.
sessions = sa.Table(
    "portal_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("portal_accounts.id"), nullable=False, index=True),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("stage", sa.String(16), nullable=False),  # password | full
    sa.Column("method", sa.String(16), nullable=False),  # totp | licence
    sa.Column("created_at", TIME, nullable=False),
    sa.Column("expires_at", TIME, nullable=False),
)

#: One-time nonces of e-licence logins.
nonces = sa.Table(
    "portal_nonces",
    metadata,
    sa.Column("nonce", sa.String(64), primary_key=True),
    sa.Column("created_at", TIME, nullable=False),
    sa.Column("used_at", TIME),
)

#: The enterprise's profile, one row per fact, with where it came from.
facts = sa.Table(
    "portal_facts",
    metadata,
    sa.Column("uscc", sa.String(18), primary_key=True),
    sa.Column("field", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),  # JSON
    sa.Column("origin", sa.String(16), nullable=False),  # register | enterprise
    sa.Column("register_value", sa.Text),  # JSON: what the register said, when the enterprise corrected it
    sa.Column("provenance", sa.Text),  # JSON: member, source, as_of, consent_ref, legal_basis, log
    sa.Column("updated_at", TIME, nullable=False),
)
fact_history = sa.Table(
    "portal_fact_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("uscc", sa.String(18), nullable=False, index=True),
    sa.Column("field", sa.String(64), nullable=False),
    sa.Column("before", sa.Text),
    sa.Column("after", sa.Text),
    sa.Column("origin", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("at", TIME, nullable=False),
)

#: Saved calculator answers: addressed by the hash of a profile without identifying fields.
saved = sa.Table(
    "portal_saved",
    metadata,
    sa.Column("hash", sa.String(64), primary_key=True),
    sa.Column("profile", sa.Text, nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("created_at", TIME, nullable=False),
)
saved_by = sa.Table(
    "portal_saved_by",
    metadata,
    sa.Column("uscc", sa.String(18), primary_key=True),
    sa.Column("hash", sa.String(64), sa.ForeignKey("portal_saved.hash"), primary_key=True),
    sa.Column("created_at", TIME, nullable=False),
)

#: What the platform tells the enterprise on its page (grants, applications, deadlines).
notices = sa.Table(
    "portal_notices",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(160), nullable=False, unique=True),  # idempotency key
    sa.Column("uscc", sa.String(18), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("title", sa.String(255), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("link", sa.String(255)),
    sa.Column("created_at", TIME, nullable=False),
    sa.Column("read_at", TIME),
)

#: Online applications (申报/申兑); ``version`` makes every transition a compare-and-set.
applications = sa.Table(
    "portal_applications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("uscc", sa.String(18), nullable=False, index=True),
    sa.Column("policy_id", sa.String(128), nullable=False),
    sa.Column("title", sa.String(255), nullable=False),
    sa.Column("office", sa.String(128), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("form", sa.Text, nullable=False),  # JSON: the facts the policy needs
    sa.Column("amount_requested", MONEY),
    sa.Column("amount_proposed", MONEY),
    sa.Column("proposed_by", sa.String(64)),
    sa.Column("amount_approved", MONEY),
    sa.Column("declaration", sa.Text),  # JSON: 告知承诺 text, signer, time, hash
    sa.Column("findings", sa.Text),  # JSON: 预审 findings
    sa.Column("accepted_on", sa.Date),
    sa.Column("pay_by", sa.Date),  # 快申快享: 60 working days after acceptance
    sa.Column("created_by", sa.Integer, nullable=False),
    sa.Column("created_at", TIME, nullable=False),
    sa.Column("updated_at", TIME, nullable=False),
)
events = sa.Table(
    "portal_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("application_id", sa.Integer, sa.ForeignKey("portal_applications.id"), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("from_status", sa.String(16), nullable=False),
    sa.Column("to_status", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("at", TIME, nullable=False),
    sa.UniqueConstraint("application_id", "seq", name="uq_portal_event_seq"),
)
attachments = sa.Table(
    "portal_attachments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("application_id", sa.Integer, sa.ForeignKey("portal_applications.id"), nullable=False, index=True),
    sa.Column("material", sa.String(255), nullable=False),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("content_type", sa.String(64), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("uploaded_at", TIME, nullable=False),
)

#: Which office (the policy's 受理部门) an officer works the queue of.
desks = sa.Table(
    "portal_desks",
    metadata,
    sa.Column("officer", sa.String(64), primary_key=True),
    sa.Column("office", sa.String(128), primary_key=True),
)

#: 免申即享: a batch run's list of one policy, imported then approved by another officer.
grant_lists = sa.Table(
    "portal_grant_lists",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run", sa.String(128), nullable=False),
    sa.Column("policy_id", sa.String(128), nullable=False),
    sa.Column("title", sa.String(255), nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # imported | approved
    sa.Column("imported_by", sa.String(64), nullable=False),
    sa.Column("approved_by", sa.String(64)),
    sa.Column("total", MONEY, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("created_at", TIME, nullable=False),
    sa.UniqueConstraint("run", "policy_id", name="uq_portal_grant_list"),
)
grant_rows = sa.Table(
    "portal_grant_rows",
    metadata,
    sa.Column("list_id", sa.Integer, sa.ForeignKey("portal_grant_lists.id"), primary_key=True),
    sa.Column("uscc", sa.String(18), primary_key=True),
    sa.Column("name", sa.String(255)),
    sa.Column("amount", MONEY),
)
grants = sa.Table(
    "portal_grants",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(200), nullable=False, unique=True),  # run:policy:uscc
    sa.Column("list_id", sa.Integer, sa.ForeignKey("portal_grant_lists.id"), nullable=False),
    sa.Column("uscc", sa.String(18), nullable=False, index=True),
    sa.Column("policy_id", sa.String(128), nullable=False),
    sa.Column("title", sa.String(255), nullable=False),
    sa.Column("amount", MONEY),
    sa.Column("state", sa.String(16), nullable=False),  # granted | confirmed | paid
    sa.Column("bank_account", sa.Text),  # sealed
    sa.Column("bank_masked", sa.String(32)),
    sa.Column("confirmed_at", TIME),
    sa.Column("pay_by", sa.Date, nullable=False),
    sa.Column("created_at", TIME, nullable=False),
)

#: The 兑现 ledger: every payment once (its key is unique), to an application or a grant.
payments = sa.Table(
    "portal_payments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(200), nullable=False, unique=True),
    sa.Column("uscc", sa.String(18), nullable=False, index=True),
    sa.Column("application_id", sa.Integer, sa.ForeignKey("portal_applications.id")),
    sa.Column("grant_id", sa.Integer, sa.ForeignKey("portal_grants.id")),
    sa.Column("amount", MONEY, nullable=False),
    sa.Column("paid_on", sa.Date, nullable=False),
    sa.Column("voucher", sa.String(64), nullable=False),
    sa.Column("paid_by", sa.String(64), nullable=False),
    sa.Column("created_at", TIME, nullable=False),
)

#: 好差评: one rating per finished application (GB/T 39734-2020 five grades).
ratings = sa.Table(
    "portal_ratings",
    metadata,
    sa.Column("application_id", sa.Integer, sa.ForeignKey("portal_applications.id"), primary_key=True),
    sa.Column("uscc", sa.String(18), nullable=False),
    sa.Column("office", sa.String(128), nullable=False),
    sa.Column("grade", sa.Integer, nullable=False),  # 5 非常满意 … 1 非常不满意
    sa.Column("aspects", sa.Text, nullable=False),  # JSON list
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("at", TIME, nullable=False),
)

#: 诉求: a question or complaint about a policy, answered by its office against a clock.
appeals = sa.Table(
    "portal_appeals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("uscc", sa.String(18), nullable=False, index=True),
    sa.Column("policy_id", sa.String(128), nullable=False),
    sa.Column("office", sa.String(128), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),  # question | complaint
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", TIME, nullable=False),
    sa.Column("due_on", sa.Date, nullable=False),
    sa.Column("reply", sa.Text),
    sa.Column("replied_by", sa.String(64)),
    sa.Column("replied_at", TIME),
)


def create_tables(engine: sa.Engine) -> None:
    """For tests and benchmarks without migrations (the migrations create the same tables)."""
    metadata.create_all(engine)
