"""The application's own PostgreSQL role: it may not rewrite history.

Migrations run as the owner of the tables; the server and the officers' tools connect as
a separate role that owns nothing. Owning a table is what lets a role disable its
triggers, truncate or drop it; this role can do none of that, so the append-only trigger
of ``audit_log`` stands, and a version's text and hash — written once, by INSERT — cannot
be changed by the application at all (only the lifecycle columns may be updated).

``grant_app_role(owner_engine, "huiqi_app")`` (``huiqi db grant huiqi_app``) gives the
role exactly the privileges below and nothing else; run it again after each upgrade.
SQLite has no roles: there the file's permissions are the boundary.
"""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

#: Table → what the application may do there. ``UPDATE(a, b)`` limits updates to those columns.
APP_PRIVILEGES: dict[str, tuple[str, ...]] = {
    "alembic_version": ("SELECT",),
    "library_state": ("SELECT", "UPDATE(generation, changed_at)"),
    "users": ("SELECT", "INSERT", "UPDATE(password_hash, active)"),
    "admin_sessions": ("SELECT", "INSERT", "DELETE"),
    "documents": ("SELECT", "INSERT", "UPDATE(category, title)"),
    "versions": (
        "SELECT",
        "INSERT",
        "UPDATE(state, submitted_by, submitted_at, published_by, published_at, effective_from, publish_note, "
        "superseded_by, withdrawn_by, withdrawn_at, withdrawn_from, withdraw_note)",
    ),
    "audit_log": ("SELECT", "INSERT"),
    "publish_events": ("SELECT", "INSERT"),
    "enterprises": ("SELECT", "INSERT", "UPDATE"),
    "subscriptions": ("SELECT", "INSERT", "UPDATE"),
    "inbox": ("SELECT", "INSERT", "UPDATE(read_at)"),
    "webhook_outbox": ("SELECT", "INSERT", "UPDATE"),
    "email_outbox": ("SELECT", "INSERT", "UPDATE"),
    "login_throttle": ("SELECT", "INSERT", "UPDATE", "DELETE"),
    "enterprise_tokens": ("SELECT", "INSERT", "UPDATE(revoked_at)"),
    # The transparency log (huiqi.trust): leaves are append-only; tiles and sizes are derived
    # from them (recomputed by verification); checkpoints gain cosignatures.
    "tlog_leaves": ("SELECT", "INSERT"),
    "tlog_tiles": ("SELECT", "INSERT", "UPDATE(hashes)"),
    "tlog_shards": ("SELECT", "INSERT", "UPDATE(size)"),
    "tlog_checkpoints": ("SELECT", "INSERT", "UPDATE(note)"),
    "trust_data_keys": ("SELECT", "INSERT", "UPDATE(wrapped, state, retired_at)"),
    # E-licences (huiqi.certs): events append-only; a licence's state and a key's retirement change.
    "cert_licences": ("SELECT", "INSERT", "UPDATE(state)"),
    "cert_events": ("SELECT", "INSERT"),
    "cert_keys": ("SELECT", "INSERT", "UPDATE(retired_at)"),
    "cert_counters": ("SELECT", "INSERT", "UPDATE(value)"),
    # Data sharing (huiqi.sharing): the catalogue's lifecycle and consents change state;
    # suspensions are lifted; the monitor moves its cursors and marks alerts.
    "sharing_declarations": ("SELECT", "INSERT"),
    "sharing_declaration_versions": ("SELECT", "INSERT", "UPDATE"),
    "sharing_catalogue_state": ("SELECT", "INSERT", "UPDATE"),
    "sharing_consents": ("SELECT", "INSERT", "UPDATE"),
    "sharing_suspensions": ("SELECT", "INSERT", "DELETE"),
    "sharing_alerts": ("SELECT", "INSERT", "UPDATE"),
    "sharing_monitor_cursors": ("SELECT", "INSERT", "UPDATE"),
    # The enterprise space (huiqi.portal): events, payments, ratings and fact history are
    # append-only; an application changes only through its lifecycle columns.
    "portal_accounts": (
        "SELECT",
        "INSERT",
        "UPDATE(login, password_hash, totp_secret, totp_confirmed, totp_last_step, invite_hash, active)",
    ),
    "portal_sessions": ("SELECT", "INSERT", "DELETE"),
    "portal_nonces": ("SELECT", "INSERT", "UPDATE(used_at)"),
    "portal_facts": ("SELECT", "INSERT", "UPDATE", "DELETE"),
    "portal_fact_history": ("SELECT", "INSERT"),
    "portal_saved": ("SELECT", "INSERT"),
    "portal_saved_by": ("SELECT", "INSERT"),
    "portal_notices": ("SELECT", "INSERT", "UPDATE(read_at)"),
    "portal_applications": (
        "SELECT",
        "INSERT",
        "UPDATE(status, version, form, amount_requested, amount_proposed, "
        "proposed_by, amount_approved, declaration, findings, accepted_on, pay_by, updated_at)",
    ),
    "portal_events": ("SELECT", "INSERT"),
    "portal_attachments": ("SELECT", "INSERT"),
    "portal_desks": ("SELECT", "INSERT"),
    "portal_grant_lists": ("SELECT", "INSERT", "UPDATE(state, approved_by)"),
    "portal_grant_rows": ("SELECT", "INSERT"),
    "portal_grants": ("SELECT", "INSERT", "UPDATE(state, bank_account, bank_masked, confirmed_at)"),
    "portal_payments": ("SELECT", "INSERT"),
    "portal_ratings": ("SELECT", "INSERT"),
    "portal_appeals": ("SELECT", "INSERT", "UPDATE(reply, replied_by, replied_at)"),
}
#: Tables not named above (e.g. those of later revisions) get only this: append and read.
DEFAULT_PRIVILEGES = ("SELECT", "INSERT")


def _quote(engine: Engine, name: str) -> str:
    return engine.dialect.identifier_preparer.quote(name)


def grant_app_role(owner: Engine, role: str) -> list[str]:
    """Give ``role`` the application's privileges on every table; returns the statements run."""
    if owner.dialect.name != "postgresql":
        raise ValueError("应用角色只适用于 PostgreSQL / application roles need PostgreSQL")
    who = _quote(owner, role)
    tables = sorted(inspect(owner).get_table_names())
    statements = [f"GRANT USAGE ON SCHEMA public TO {who}"]
    for table in tables:
        name = _quote(owner, table)
        statements.append(f"REVOKE ALL ON {name} FROM {who}")
        statements.extend(f"GRANT {p} ON {name} TO {who}" for p in APP_PRIVILEGES.get(table, DEFAULT_PRIVILEGES))
    statements.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {who}")
    with owner.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    return statements
