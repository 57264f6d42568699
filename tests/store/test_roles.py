"""Issue 10 finding 3: the application's database role cannot rewrite history (PostgreSQL).

The tables belong to the owner who ran the migrations; ``huiqi db grant`` gives the
application's role what it needs and no more. As that role, the whole officer story still
works, and each way of tampering tried in the security review is refused by the database.
"""

from __future__ import annotations

import datetime as dt
import secrets

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from huiqi.cli.main import app as cli
from huiqi.library import Lifecycle, notify
from huiqi.library.enterprises import issue_token
from huiqi.library.officers import login
from huiqi.store.audit import verify_chain
from tests.library.conftest import POLICIES, make_lifecycle
from tests.postgres import PG_URL, require, temporary_database

PID = "lj.tax.credit-a-award"
TAMPERING = [
    "DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)",
    "UPDATE audit_log SET actor = 'nobody'",
    "TRUNCATE audit_log",
    "ALTER TABLE audit_log DISABLE TRIGGER ALL",
    "DROP TRIGGER audit_log_append_only ON audit_log",
    "UPDATE versions SET content = content || ' '",
    "UPDATE versions SET content_hash = repeat('0', 64)",
    "DELETE FROM versions",
    "ALTER TABLE versions OWNER TO CURRENT_USER",
    "DROP TABLE audit_log",
]


@pytest.fixture
def roles(tmp_path):
    """A seeded database owned by the migrating role, and an application role granted by the CLI."""
    require("postgresql")
    role = f"huiqi_app_{secrets.token_hex(4)}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with temporary_database("postgresql", tmp_path) as owner_url:
        make_lifecycle(owner_url).engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        try:
            result = CliRunner().invoke(cli, ["db", "grant", role, "--db", owner_url])
            assert result.exit_code == 0, result.output
            yield owner_url, make_url(owner_url).set(username=role).render_as_string(hide_password=False)
        finally:
            owner = create_engine(owner_url, isolation_level="AUTOCOMMIT")
            with owner.connect() as conn:
                conn.execute(text(f'DROP OWNED BY "{role}"'))
            owner.dispose()
            with admin.connect() as conn:
                conn.execute(text(f'DROP ROLE "{role}"'))
    admin.dispose()


def test_the_application_role_works_but_cannot_rewrite_history(roles, clock):
    owner_url, app_url = roles
    lc = Lifecycle.open(app_url, clock=clock)  # at head already: nothing to migrate
    # The officer story, as the application's role.
    text_ = (POLICIES / "lj/tax.credit-a-award.yaml").read_text(encoding="utf-8")
    old = "      - {from: 2025-01-01, value: 5000000, source: 临发改〔2025〕17号 第二条}\n"
    v = lc.create_draft(
        text_.replace(old, old + "      - {from: 2026-09-01, value: 2000000, source: 临发改〔2026〕3号}\n"),
        author="alice",
        note="x",
    )
    lc.submit(v.id, actor="alice")
    notify.subscribe(
        lc.engine,
        "91339901MA3C9W1E2F",
        {"credit_rating": "A", "revenue": "3000000"},
        kind="new_eligible",
        clock=lc.clock,
    )
    lc.publish(v.id, actor="bob", effective=dt.date(2026, 12, 1))
    assert login(lc.engine, "bob", "bob-password", clock=clock, address="127.0.0.1") is not None
    assert login(lc.engine, "bob", "wrong", clock=clock, address="127.0.0.1") is None
    issue_token(lc.engine, "91339901MA3C9W1E2F", actor="alice", clock=clock)
    lc.withdraw(lc.latest_published(PID).id, actor="bob", note="停止", effective=dt.date(2027, 1, 1))
    # Every way to rewrite history tried in the review is refused by the database itself.
    for statement in TAMPERING:
        with pytest.raises(DBAPIError, match=r"permission denied|must be owner"), lc.engine.begin() as conn:
            conn.execute(text(statement))
    lc.engine.dispose()
    owner = create_engine(owner_url)
    assert verify_chain(owner).ok
    owner.dispose()
