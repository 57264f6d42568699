"""The audit log is append-only and hash-chained: tampering is evident."""

import datetime as dt
import itertools
import json
import threading

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from huiqi.clock import FixedClock
from huiqi.store import make_engine, upgrade, write_session
from huiqi.store.audit import GENESIS, log_entry, record, row_hash, verify_chain, verify_log
from huiqi.store.models import AuditEntry
from huiqi.trust.cosign import request_body
from huiqi.trust.log import TransparencyLog
from huiqi.trust.note import generate_signer, parse_note
from huiqi.trust.policy import TrustPolicy, WitnessInfo
from huiqi.trust.witness import Refusal, Witness
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


# --- the audit on the transparency log ---------------------------------------------------------

ORIGIN = "linjiang.example/huiqi/2026"


def _rewrite_whole_chain(engine):
    """The attack the chain misses: change history and recompute every hash, consistently."""
    with engine.begin() as conn:
        _disable_guard(conn, engine.dialect.name)
        rows = conn.execute(text("SELECT * FROM audit_log ORDER BY seq")).mappings().all()
        prev = GENESIS
        for r in rows:
            at = r["at"] if not isinstance(r["at"], str) else dt.datetime.fromisoformat(r["at"])
            h = row_hash(r["seq"], at, "mallory", r["action"], r["target"], r["before_hash"], r["after_hash"],
                         r["detail"], prev)  # fmt: skip
            conn.execute(
                text("UPDATE audit_log SET actor = 'mallory', prev_hash = :p, row_hash = :h WHERE seq = :s"),
                {"p": prev, "h": h, "s": r["seq"]},
            )
            prev = h


def test_every_action_is_a_log_entry_written_in_the_same_transaction(engine):
    _fill(engine, 3)
    log = TransparencyLog(engine, clock=FixedClock(TEST_NOW))
    entry = json.loads(log.find("audit/2").entry)
    assert entry["type"] == "officer.publish" and entry["actor"] == "alice" and entry["seq"] == 2
    with pytest.raises(RuntimeError), write_session(engine) as s:
        record(s, "bob", "publish", "version:9", at=TEST_NOW)
        raise RuntimeError("the officer's action fails after auditing")
    assert log.find("audit/4") is None and log.size("2026") == 3
    assert verify_log(engine).ok


def test_rewriting_the_whole_chain_consistently_is_caught_by_the_log(engine):
    _fill(engine)
    _rewrite_whole_chain(engine)
    assert verify_chain(engine).ok  # the hash chain alone sees nothing
    report = verify_log(engine)
    assert not report.ok
    assert report.problems[0].startswith("第 1 行与其日志条目不符")


def test_huiqi_audit_verify_catches_the_rewrite(db_url):
    from typer.testing import CliRunner

    from huiqi.cli.main import app

    engine = make_engine(db_url)
    upgrade(engine)
    _fill(engine)
    env = {"HUIQI_DB": db_url, "HUIQI_NOW": TEST_NOW.isoformat()}
    ok = CliRunner().invoke(app, ["audit", "verify"], env=env)
    assert ok.exit_code == 0, ok.stderr
    _rewrite_whole_chain(engine)
    engine.dispose()
    caught = CliRunner().invoke(app, ["audit", "verify"], env=env)
    assert caught.exit_code == 1
    assert "与其日志条目不符" in caught.stderr


def test_rewriting_chain_and_log_with_the_stolen_log_key_is_caught_by_the_witnesses(engine, tmp_path):
    """The strongest insider: database access and the log's signing key, but no witness key."""
    clock = FixedClock(TEST_NOW)
    log_key = generate_signer(ORIGIN)
    witnesses = {
        m: Witness(
            create_engine(f"sqlite:///{tmp_path / f'{m}.db'}"),
            generate_signer(f"witness.linjiang.example/{m}", "cosignature", clock=clock),
            {ORIGIN: [log_key.verifier]},
            clock=clock,
        )
        for m in ("samr", "tax", "fin")
    }
    policy = TrustPolicy(
        {ORIGIN: (log_key.verifier,)}, tuple(WitnessInfo(m, w.signer.verifier) for m, w in witnesses.items()), 2
    )
    log = TransparencyLog(engine, clock=clock)
    _fill(engine, 4)
    cp = log.checkpoint("2026", [log_key])
    lines = [w.add_checkpoint(request_body(0, [], str(cp.note))) for w in witnesses.values()]
    log.add_cosignatures("2026", cp.size, parse_note(str(cp.note) + "".join(lines)).signatures)
    _fill(engine, 2)  # two more actions, not yet witnessed
    report = verify_log(engine, policy)
    assert report.ok and (report.witnessed, report.pending) == (4, 2)

    _rewrite_whole_chain(engine)
    with Session(engine) as s:
        rows = s.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    with engine.begin() as conn:  # rebuild the log from the rewritten rows and re-sign it
        for table in ("tlog_checkpoints", "tlog_tiles", "tlog_leaves", "tlog_shards"):
            conn.execute(text(f"DELETE FROM {table}"))
        log.append_many([log_entry(r) for r in rows], natural_keys=[f"audit/{r.seq}" for r in rows], conn=conn)
    log.checkpoint("2026", [log_key])
    assert verify_chain(engine).ok
    assert verify_log(engine).ok  # without witnesses the forgery is complete…
    held = [w.latest(ORIGIN) for w in witnesses.values()]
    report = verify_log(engine, policy, witnessed=held)  # …but the witnesses remember the old root
    assert not report.ok
    assert "被改写" in report.problems[0]
    forged = log.checkpoints("2026")[0]
    with pytest.raises(Refusal):  # and they will not cosign the rewritten history
        witnesses["samr"].add_checkpoint(request_body(4, log.consistency_proof("2026", 4, 6), str(forged.note)))


def test_rows_written_before_the_log_existed_are_backfilled_onto_it(db_url):
    engine = make_engine(db_url)
    upgrade(engine, "0003")
    prev = GENESIS
    with engine.begin() as conn:  # what revisions 0001–0003 wrote: chained rows, no log
        for seq in (1, 2):
            h = row_hash(seq, TEST_NOW, "alice", "publish", f"version:{seq}", None, None, "{}", prev)
            conn.execute(
                text(
                    "INSERT INTO audit_log (seq, at, actor, action, target, detail, prev_hash, row_hash) "
                    "VALUES (:s, :at, 'alice', 'publish', :t, '{}', :p, :h)"
                ),
                {"s": seq, "at": TEST_NOW, "t": f"version:{seq}", "p": prev, "h": h},
            )
            prev = h
    assert not verify_log(engine).ok  # rows not on the log
    upgrade(engine)
    report = verify_log(engine)
    assert report.ok and report.rows == 2
    engine.dispose()
