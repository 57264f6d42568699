"""Issue 10: each attack of the security review, performed against the lifecycle and the app
it serves, on SQLite and on PostgreSQL; each must now fail.

The numbers are the findings of the issue. Attacks on the public pages alone live in
tests/web/test_security.py; the webhook SSRF ones in test_webhooks.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select, text, update

from huiqi.library import DbLibrarySource, LifecycleError, PermissionDenied, TamperedVersion, notify, officers
from huiqi.library.enterprises import issue_token, revoke_tokens
from huiqi.library.officers import add_user, session_officer, set_active, set_password
from huiqi.profile.uscc import check_character
from huiqi.store import read_session, write_session
from huiqi.store.audit import record, verify_chain
from huiqi.store.models import AuditEntry, EmailMessage, Enterprise, InboxMessage, Version
from huiqi.web import create_app
from huiqi.web.settings import Settings
from tests.library.conftest import EXAMPLES
from tests.library.officer_client import attempt_login, csrf_of, login

PID = "lj.tax.credit-a-award"
REL = "lj/tax.credit-a-award.yaml"
EFFECTIVE = dt.date(2026, 12, 1)
GAINER_PROFILE = {"region": "339901", "credit_rating": "A", "revenue": "3000000", "taxable_income": "500000"}


def uscc(i: int) -> str:
    body = f"91339901{i:09d}"
    return body + check_character(body)


GAINER, OTHER = uscc(1), uscc(2)
PID_RE = r"cn\.cit\.small-low-profit"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def lower_threshold(text: str) -> str:
    old = "      - {from: 2025-01-01, value: 5000000, source: 临发改〔2025〕17号 第二条}\n"
    assert old in text
    return text.replace(old, old + "      - {from: 2026-09-01, value: 2000000, source: 临发改〔2026〕3号 第一条}\n")


@pytest.fixture
def app(lc):
    source = DbLibrarySource(lc.engine, poll_interval=0, clock=lc.clock, migrate=False)
    return create_app(source, clock=lc.clock, settings=Settings(examples=EXAMPLES))


def publish_lower_threshold(lc, text_of, propose):
    v = propose(lc, lower_threshold(text_of(REL)))
    return lc.publish(v.id, actor="bob", effective=EFFECTIVE)


# --- 1: the enterprise API answers no anonymous caller ------------------------------------
def test_inbox_and_subscriptions_refuse_anonymous_and_foreign_callers(app, lc):
    client = TestClient(app)
    mine = issue_token(lc.engine, GAINER, actor="alice", clock=lc.clock)
    assert (
        client.post(
            "/api/v1/subscriptions", json={"profile": GAINER_PROFILE, "kind": "new_eligible"}, headers=bearer(mine)
        ).status_code
        == 201
    )
    # Anyone who read the USCC off a licence:
    for r in (client.get(f"/api/v1/inbox/{GAINER}"), client.get("/api/v1/inbox")):
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    hijack = {
        "uscc": GAINER,
        "profile": {"credit_rating": "D"},
        "kind": "new_eligible",
        "webhook_url": "https://attacker.example/steal",
        "webhook_secret": "attacker-secret-123",
        "email": "attacker@example.com",
    }
    assert client.post("/api/v1/subscriptions", json=hijack).status_code == 401
    # ... or with a token of another enterprise, or a made-up, revoked or expired one:
    other = issue_token(lc.engine, OTHER, actor="alice", clock=lc.clock)
    assert client.get(f"/api/v1/inbox/{GAINER}", headers=bearer(other)).status_code == 403
    assert client.post("/api/v1/subscriptions", json=hijack, headers=bearer(other)).status_code == 403
    assert client.get("/api/v1/inbox", headers=bearer("hqe_" + "A" * 43)).status_code == 401
    revoke_tokens(lc.engine, OTHER, actor="alice", clock=lc.clock)
    assert client.get("/api/v1/inbox", headers=bearer(other)).status_code == 401
    with read_session(lc.engine) as s:
        stored = s.get(Enterprise, GAINER)
        assert '"credit_rating": "A"' in stored.profile  # not overwritten
        assert s.scalar(select(func.count()).select_from(notify.Subscription)) == 1
    lc.clock.advance(days=366)
    assert client.get("/api/v1/inbox", headers=bearer(mine)).status_code == 401  # expired


def test_an_email_address_gets_nothing_but_its_code_until_verified(lc, text_of, propose):
    sub = notify.subscribe(
        lc.engine, GAINER, GAINER_PROFILE, kind="new_eligible", email="victim@example.com", clock=lc.clock
    )
    assert sub.email_pending
    publish_lower_threshold(lc, text_of, propose)
    with read_session(lc.engine) as s:
        mails = s.scalars(select(EmailMessage).where(EmailMessage.to_addr == "victim@example.com")).all()
        inbox = s.scalars(select(InboxMessage).where(InboxMessage.uscc == GAINER)).all()
    assert len(inbox) == 1  # the enterprise is told, in its inbox
    assert [m.idempotency_key for m in mails] == [f"verify:s{sub.id}"]  # the address only got its code
    with pytest.raises(notify.InputError, match="code"):
        notify.verify_email(lc.engine, GAINER, sub.id, "WRONGCODE1", clock=lc.clock)


def test_subscriptions_are_rate_limited_per_enterprise(app, lc):
    client = TestClient(app)
    token = issue_token(lc.engine, GAINER, actor="alice", clock=lc.clock)
    body = {"profile": GAINER_PROFILE, "kind": "category", "category": "tax"}
    statuses = [client.post("/api/v1/subscriptions", json=body, headers=bearer(token)).status_code for _ in range(11)]
    assert statuses == [201] * notify.MAX_NEW_PER_HOUR + [429]
    limited = client.post("/api/v1/subscriptions", json=body, headers=bearer(token))
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    other = issue_token(lc.engine, OTHER, actor="alice", clock=lc.clock)
    assert client.post("/api/v1/subscriptions", json=body, headers=bearer(other)).status_code == 201


def test_guessing_tokens_is_rate_limited_per_address(app):
    attacker = TestClient(app, client=("203.0.113.7", 4000))
    codes = [attacker.get("/api/v1/inbox", headers=bearer(f"hqe_guess{i}")).status_code for i in range(25)]
    assert codes[:20] == [401] * 20 and codes[-1] == 429
    assert TestClient(app, client=("198.51.100.2", 4000)).get("/api/v1/inbox").status_code == 401  # others unaffected


# --- 3: history cannot be rewritten --------------------------------------------------------
def test_a_version_text_edited_in_the_database_is_refused_and_alerted(lc, caplog):
    source = DbLibrarySource(lc.engine, poll_interval=0, clock=lc.clock, migrate=False)
    good = source.current()
    version_id = next(r.version_id for r in lc.in_force(lc.clock.today()) if r.document_id == "cn.cit.small-low-profit")
    with write_session(lc.engine) as s:  # what someone with database access does
        s.execute(update(Version).where(Version.id == version_id).values(content=Version.content + "\n# 篡改"))
        s.execute(text("UPDATE library_state SET generation = generation + 1 WHERE id = 1"))
    assert source.current() is good  # still serving what was verified when it was loaded
    with caplog.at_level(logging.CRITICAL, logger="huiqi.alert"), pytest.raises(TamperedVersion, match=PID_RE):
        lc.library_for(lc.clock.today())
    assert any("does not match its stored hash" in r.message for r in caplog.records)
    with pytest.raises(TamperedVersion):
        DbLibrarySource(lc.engine, clock=lc.clock, migrate=False).current()  # a fresh worker refuses to start
    fresh = DbLibrarySource(lc.engine, poll_interval=0, clock=lc.clock, migrate=False)
    client = TestClient(create_app(fresh, clock=lc.clock))  # a worker started after the edit
    r = client.post("/api/v1/match", json={"profile": {"employees": 5}})
    assert r.status_code == 503 and r.json()["type"] == "urn:huiqi:problem:integrity"


# --- 4: one client cannot slow everyone -----------------------------------------------------
def test_dates_are_answered_from_memory_without_a_query(lc, text_of, propose):
    v = propose(lc, lower_threshold(text_of(REL)))
    lc.publish(v.id, actor="bob", effective=dt.date(2027, 3, 1))  # two sets of versions now
    source = DbLibrarySource(lc.engine, poll_interval=3600, clock=lc.clock, migrate=False)
    past, future = source.library_for(dt.date(2025, 6, 30)), source.library_for(dt.date(2027, 6, 30))
    assert past is not future
    queries: list[str] = []

    def count(conn, cursor, statement, *rest):
        queries.append(statement)

    event.listen(lc.engine, "before_cursor_execute", count)
    try:
        for day in range(1, 200):
            date = dt.date(2025, 1, 1) + dt.timedelta(days=day)
            assert source.cached_for(date) is past
            assert source.library_for(date + dt.timedelta(days=800)) is future
    finally:
        event.remove(lc.engine, "before_cursor_execute", count)
    assert queries == []


def test_uncached_dates_build_off_the_event_loop_and_are_limited_per_client(lc, monkeypatch):
    source = DbLibrarySource(lc.engine, poll_interval=3600, clock=lc.clock, migrate=False)
    source.current()
    builds: list[bool] = []
    real = source.library_for

    def library_for(as_of, known_at=None):
        try:
            asyncio.get_running_loop()
            builds.append(True)  # on the event loop: every other request would wait
        except RuntimeError:
            builds.append(False)
        return real(as_of, known_at)

    monkeypatch.setattr(source, "cached_for", lambda *args: None)  # every date a new set of versions
    monkeypatch.setattr(source, "library_for", library_for)
    app = create_app(source, clock=lc.clock)
    attacker = TestClient(app, client=("203.0.113.9", 5000))
    body = {"profile": {"employees": 5}}
    codes = [
        attacker.post("/api/v1/match", json={**body, "as_of": f"20{10 + i:02d}-06-30"}).status_code for i in range(8)
    ]
    assert codes[:5] == [200] * 5 and codes[-1] == 429
    assert builds == [False] * 5
    neighbour = TestClient(app, client=("198.51.100.3", 5000))
    assert neighbour.post("/api/v1/match", json={**body, "as_of": "2024-06-30"}).status_code == 200
    assert neighbour.post("/api/v1/match", json=body).status_code == 200  # today: no build at all


# --- 6: guessing passwords --------------------------------------------------------------------
def test_a_hundred_wrong_passwords_lock_the_account_even_for_the_right_one(lc):
    for _ in range(100):
        with contextlib.suppress(officers.LoginLocked):
            assert officers.login(lc.engine, "bob", "guess", clock=lc.clock, address="203.0.113.1") is None
    with pytest.raises(officers.LoginLocked) as locked:
        officers.login(lc.engine, "bob", "bob-password", clock=lc.clock, address="198.51.100.1")
    assert locked.value.retry_after > 60
    with read_session(lc.engine) as s:
        actions = s.scalars(select(AuditEntry.action)).all()
    assert actions.count("login.failed") == officers.ACCOUNT.threshold + 0  # locked tries are not even checked
    assert "login.locked" in actions
    lc.clock.advance(hours=2)
    assert officers.login(lc.engine, "bob", "bob-password", clock=lc.clock, address="198.51.100.1") is not None


def test_one_address_trying_many_accounts_is_locked(lc):
    for i in range(officers.ADDRESS.threshold):
        assert officers.login(lc.engine, f"user{i}", "guess", clock=lc.clock, address="203.0.113.2") is None
    with pytest.raises(officers.LoginLocked):
        officers.login(lc.engine, "carol", "carol-password", clock=lc.clock, address="203.0.113.2")
    assert officers.login(lc.engine, "carol", "carol-password", clock=lc.clock, address="198.51.100.9")


def test_concurrent_logins_share_a_bounded_scrypt_pool(lc, monkeypatch):
    running, peak, lock = [0], [0], threading.Lock()
    real = officers.hashlib.scrypt

    def counted(*args, **kwargs):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            return real(*args, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(officers.hashlib, "scrypt", counted)
    errors: list[BaseException] = []

    def attempt(i):
        try:
            officers.login(lc.engine, "alice", f"wrong-{i}", clock=lc.clock, address=f"203.0.113.{i}")
        except officers.LoginLocked:
            pass
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and peak[0] <= officers.SCRYPT_WORKERS


def test_a_password_change_or_disabling_ends_every_session(app, lc):
    client, _ = login(app, "alice", "alice-password")
    token = client.cookies.get("huiqi_admin")
    assert session_officer(lc.engine, token, clock=lc.clock) is not None
    set_password(lc.engine, "alice", "a-new-password", clock=lc.clock)
    assert session_officer(lc.engine, token, clock=lc.clock) is None
    assert client.get("/admin").status_code == 303  # back to the login page
    client, _ = login(app, "alice", "a-new-password")
    set_active(lc.engine, "alice", False, clock=lc.clock, actor="bob")
    assert client.get("/admin").status_code == 303
    assert attempt_login(TestClient(app, follow_redirects=False), "alice", "a-new-password").status_code == 401
    with read_session(lc.engine) as s:
        assert "user.disable" in s.scalars(select(AuditEntry.action)).all()


def test_the_login_form_needs_its_token(app):
    client = TestClient(app, follow_redirects=False)
    forged = client.post("/admin/login", data={"name": "bob", "password": "bob-password", "next": "/admin"})
    assert forged.status_code == 403 and "huiqi_admin" not in forged.cookies
    client.get("/admin/login")
    wrong = client.post("/admin/login", data={"name": "bob", "password": "bob-password", "csrf": "forged"})
    assert wrong.status_code == 403 and "huiqi_admin" not in wrong.cookies


# --- 7: what PostgreSQL cannot store is refused at the edge ---------------------------------
def test_nul_bytes_and_long_strings_get_4xx_never_5xx(app, lc):
    token = issue_token(lc.engine, GAINER, actor="alice", clock=lc.clock)
    editor, csrf = login(app, "alice", "alice-password")
    client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    sub = {"profile": GAINER_PROFILE, "kind": "new_eligible"}
    attempts = [
        client.get("/api/v1/inbox/9133990100000000%001", headers=bearer(token)),
        client.get("/api/v1/inbox/" + "9" * 300, headers=bearer(token)),
        client.get("/api/v1/inbox", headers={"Authorization": "Bearer hqe_" + "x" * 5000}),
        client.post("/api/v1/subscriptions", json={**sub, "kind": "new\x00eligible"}, headers=bearer(token)),
        client.post("/api/v1/subscriptions", json={**sub, "category": "x" * 5000}, headers=bearer(token)),
        client.post("/api/v1/subscriptions", json={**sub, "email": "a\x00b@example.com"}, headers=bearer(token)),
        client.post(
            "/api/v1/subscriptions",
            json={**sub, "profile": {**GAINER_PROFILE, "name": "企业\x00名"}},
            headers=bearer(token),
        ),
        client.post(
            "/api/v1/subscriptions",
            json={**sub, "webhook_url": "https://a\x00b.example/", "webhook_secret": "s" * 20},
            headers=bearer(token),
        ),
        client.post("/admin/login", data={"name": "bob\x00", "password": "x", "csrf": "x"}),
        client.post("/admin/login", data={"name": "b" * 3000, "password": "x" * 5000, "csrf": "x"}),
        editor.post("/admin/drafts", data={"csrf": csrf, "text": "id: cn.a.b\x00\n", "note": "x"}),
        editor.post("/admin/drafts", data={"csrf": csrf, "text": "id: cn.a.b\n", "note": "x", "doc_id": "\x00"}),
        editor.post("/admin/drafts", data={"csrf": csrf, "text": "x", "note": "n" * 5000}),
        editor.get("/admin/documents/" + "d" * 3000),
    ]
    statuses = [r.status_code for r in attempts]
    assert all(400 <= s < 500 for s in statuses), statuses


# --- 8: the linter does not crash -----------------------------------------------------------
def test_the_lint_api_reports_unlintable_rules_with_file_and_line(app, text_of):
    editor, _ = login(app, "alice", "alice-password")
    csrf = csrf_of(editor.get("/admin/edit?doc=cn.cit.small-low-profit").text)
    base = text_of()
    unterminated = base.replace("taxable_income <= param(", "taxable_income <= 'abc AND param(", 1)
    huge = base.replace("\nregion:", "\nx_huge: " + "9" * 5000 + "\nregion:", 1)
    for broken in (unterminated, huge):
        r = editor.post(
            "/admin/api/lint",
            json={"text": broken, "filename": "cit.small-low-profit.yaml"},  # as the editor page sends it
            headers={"X-CSRF-Token": csrf},
        )
        assert r.status_code == 200, r.text
        data = r.json()
        assert not data["ok"] and any(re.search(r"cit\.small-low-profit\.yaml:\d+:", e) for e in data["errors"])


# --- 9: drafts ---------------------------------------------------------------------------------
def test_only_the_author_or_a_publisher_abandons_a_draft(app, lc, text_of):
    add_user(lc.engine, "erin", "editor", "erin-password", clock=lc.clock)
    draft = lc.create_draft(text_of().replace("小型微利企业所得税优惠", "改名"), author="alice", note="x")
    with pytest.raises(PermissionDenied, match="only its author or a publisher"):
        lc.abandon(draft.id, actor="erin", note="不要了")
    erin, csrf = login(app, "erin", "erin-password")
    assert "放弃此版本" not in erin.get(f"/admin/versions/{draft.id}").text  # not offered …
    r = erin.post(f"/admin/versions/{draft.id}/abandon", data={"csrf": csrf, "note": "不要了"})
    assert r.status_code == 403 and lc.version(draft.id).state == "draft"  # … nor done when posted
    r = erin.post(f"/admin/versions/{draft.id}/withdraw", data={"csrf": csrf, "note": "不要了"})
    assert r.status_code == 403 and lc.version(draft.id).state == "draft"
    assert lc.abandon(draft.id, actor="bob", note="清理").state == "withdrawn"


@pytest.mark.parametrize(
    "bad_id", ["cn.x/../../etc/passwd", "cn." + "a" * 300 + ".b", "cn.<script>alert(1)</script>.x", "CN.Upper.Case"]
)
def test_a_draft_id_must_be_a_policy_id(lc, text_of, bad_id):
    bad = re.sub(r"(?m)^id: .*$", f'id: "{bad_id}"', text_of())
    with pytest.raises(LifecycleError, match="invalid policy id"):
        lc.create_draft(bad, author="alice", note="x")
    assert not [d for d in lc.documents() if d.id == bad_id]


# --- 11: the audit page -----------------------------------------------------------------------
def test_the_audit_page_is_paged_and_failed_logins_do_not_choose_their_actor(app, lc):
    typed = "系统管理员（已授权）<b>"
    assert attempt_login(TestClient(app, follow_redirects=False), typed, "x").status_code == 401
    with write_session(lc.engine) as s:
        for i in range(250):
            record(s, "system", "test.filler", f"row:{i}", at=lc.clock.now())
    bob, _ = login(app, "bob", "bob-password")
    first = bob.get("/admin/audit").text
    assert first.count("<tr><td>") == 100 and "更早的记录" in first
    older = re.search(r'href="/admin/audit\?before=(\d+)"', first).group(1)
    assert bob.get(f"/admin/audit?before={older}").text.count("<tr><td>") == 100
    with read_session(lc.engine) as s:
        failed = s.scalars(select(AuditEntry).where(AuditEntry.action == "login.failed")).one()
    assert failed.actor == "anonymous" and failed.target == "user:?"
    assert typed not in bob.get(f"/admin/audit?before={int(older) - 100}").text
    assert verify_chain(lc.engine).ok


# --- 12: what pages say and how cookies travel ---------------------------------------------------
def test_page_messages_come_from_the_server_not_the_url(app):
    bob, _ = login(app, "bob", "bob-password")
    fake = "系统通知：请将密码发送至 attacker@example.com"
    html = bob.get("/admin", params={"msg": fake, "error": fake, "done": fake}).text
    assert fake not in html
    assert "已发布" in bob.get("/admin/versions/1", params={"done": "publish"}).text


def test_officer_pages_are_not_cached_and_cookies_are_secure_behind_https(lc):
    source = DbLibrarySource(lc.engine, poll_interval=0, clock=lc.clock, migrate=False)
    app = create_app(source, clock=lc.clock, settings=Settings(base_url="https://huiqi.linjiang.example"))
    client = TestClient(app, base_url="https://huiqi.linjiang.example", follow_redirects=False)
    form = client.get("/admin/login")
    assert form.headers["cache-control"] == "no-store"
    assert "secure" in form.headers["set-cookie"].lower()
    r = client.post(
        "/admin/login", data={"name": "bob", "password": "bob-password", "next": "/admin", "csrf": csrf_of(form.text)}
    )
    cookie = r.headers["set-cookie"].lower()
    assert r.status_code == 303 and "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert "strict-transport-security" in r.headers


# --- 13: publishing does not hold the write lock while it checks ---------------------------------
def test_publish_checks_before_it_takes_the_write_lock(lc, text_of, propose, monkeypatch):
    from huiqi.library import versions

    v = propose(lc, lower_threshold(text_of(REL)))
    checking, release = threading.Event(), threading.Event()
    real = versions.check_files

    def slow_check(*args, **kwargs):
        checking.set()
        release.wait(timeout=60)
        return real(*args, **kwargs)

    monkeypatch.setattr(versions, "check_files", slow_check)
    publisher = threading.Thread(target=lambda: lc.publish(v.id, actor="bob", effective=EFFECTIVE))
    publisher.start()
    try:
        assert checking.wait(timeout=60)
        other_write = threading.Thread(
            target=lambda: add_user(lc.engine, "dave", "viewer", "dave-pass", clock=lc.clock)
        )
        other_write.start()
        other_write.join(timeout=10)
        assert not other_write.is_alive(), "a write waited for the publish's checks"
    finally:
        release.set()
        publisher.join(timeout=120)
    assert lc.version(v.id).state == "published"


# --- issue 11 item 7: a library that does not load is not "nothing in force" -----------------------
def test_a_broken_old_library_does_not_tell_everyone_they_newly_qualify(lc, text_of, propose, monkeypatch):
    from huiqi.library import versions
    from huiqi.rules import LibraryError, Problem

    notify.subscribe(lc.engine, GAINER, {**GAINER_PROFILE, "revenue": "9000000"}, kind="new_eligible", clock=lc.clock)
    v = propose(lc, lower_threshold(text_of(REL)))
    real = versions.load_library

    def old_library_broken(root, *, files):
        if files.get(REL) != lower_threshold(text_of(REL)):
            raise LibraryError([Problem(root / REL, 1, "坏了 / broken")])
        return real(root, files=files)

    monkeypatch.setattr(versions, "load_library", old_library_broken)
    with pytest.raises(LifecycleError, match="does not load"):
        lc.publish(v.id, actor="bob", effective=EFFECTIVE)
    assert notify.inbox(lc.engine, GAINER) == []
    assert lc.version(v.id).state == "in_review"


@pytest.mark.parametrize("command", [["policy", "versions"], ["audit", "verify"], ["serve", "--port", "0"]])
def test_the_database_password_is_never_printed(command):
    from typer.testing import CliRunner

    from huiqi.cli.main import app as cli

    secret = "S3cret-Pw%2Fx"
    url = f"postgresql+psycopg://huiqi:{secret}@127.0.0.1:1/huiqi"
    result = CliRunner().invoke(cli, [*command, "--db", url])
    assert result.exit_code != 0
    output = result.output + (str(result.exception) if result.exception else "")
    assert "S3cret" not in output and "***" in output
