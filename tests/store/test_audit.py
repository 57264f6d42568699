"""The audit log is append-only and hash-chained: tampering is evident."""

import itertools
import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from huiqi.store import make_engine, upgrade, write_session
from huiqi.store.audit import GENESIS, record, verify_chain
from tests.conftest import TEST_NOW


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _fill(engine, n=5):
    for i in range(n):
        with write_session(engine) as s:
            record(
                s, "alice", "publish", f"version:{i}", at=TEST_NOW, before={"i": i}, after={"i": i + 1}, detail={"n": i}
            )


def test_chain_links_every_row(engine):
    _fill(engine)
    report = verify_chain(engine)
    assert report.ok and report.rows == 5
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT seq, prev_hash, row_hash FROM audit_log ORDER BY seq")).all()
    assert rows[0].prev_hash == GENESIS
    for a, b in itertools.pairwise(rows):
        assert b.prev_hash == a.row_hash


def test_database_rejects_update_and_delete(engine):
    _fill(engine, 2)
    for sql in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log WHERE seq = 1"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(sql))
    assert verify_chain(engine).ok


def _disable_guard(conn, dialect):
    """What an attacker with database superuser rights could do."""
    if dialect == "postgresql":
        conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
    else:
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("DROP TRIGGER audit_log_no_delete"))


def test_tampering_with_a_row_is_detected(engine):
    _fill(engine)
    with engine.begin() as conn:
        _disable_guard(conn, engine.dialect.name)
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3"))
    report = verify_chain(engine)
    assert not report.ok and report.first_bad == 3


def test_deleting_a_row_is_detected(engine):
    _fill(engine)
    with engine.begin() as conn:
        _disable_guard(conn, engine.dialect.name)
        conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    report = verify_chain(engine)
    assert not report.ok and report.first_bad == 3


def test_rewriting_a_row_and_its_hash_breaks_the_next_link(engine):
    _fill(engine)
    with engine.begin() as conn:
        _disable_guard(conn, engine.dialect.name)
        conn.execute(text("UPDATE audit_log SET row_hash = :h WHERE seq = 2"), {"h": "f" * 64})
    report = verify_chain(engine)
    assert not report.ok and report.first_bad == 2


def test_concurrent_writers_keep_one_linear_chain(engine):
    errors = []

    def work(name):
        try:
            for i in range(10):
                with write_session(engine) as s:
                    record(s, name, "draft", f"version:{i}", at=TEST_NOW)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in ("alice", "bob", "carol")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = verify_chain(engine)
    assert report.ok and report.rows == 30
