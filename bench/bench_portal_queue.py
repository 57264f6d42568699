"""10,000 applications through the officers' queue, with officers working at once, and a check
that no state change was lost or made twice.

Setup: a platform database (SQLite file by default, ``--db postgresql://…`` for PostgreSQL)
with the shipped policies; ``--applications`` enterprises each submit one application
(draft → signed → submitted → 预审) through ``huiqi.portal.applications``. Then ``--officers``
threads work the queue of one office at the same time, each picking among the oldest waiting
applications (so that they collide) and moving it one step with the version it read: accept →
propose an amount → review by another officer (four-eyes) → announce → pay; one in twenty is
returned, one in fifty rejected. A stale step is refused (409) and counted, never applied.

At the end, checked and printed: every application reached paid / returned / rejected; each
one's events are numbered 1…version without a gap or a repeat; the events, the audit rows of
transitions and the application versions all add up to the same count; one payment per paid
application and none for the others. Throughput (transitions/s) and conflict count are printed.

    .venv/bin/python bench/bench_portal_queue.py                       # 10,000, 4 officers, SQLite
    .venv/bin/python bench/bench_portal_queue.py --applications 2000 --db postgresql://127.0.0.1/test

Bounded: every officer stops when nothing is left or after ``--timeout`` seconds.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
POLICY = "lj.sci.high-tech-award"
PDF = b"%PDF-1.4\n%%EOF\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--applications", type=int, default=10_000)
    parser.add_argument("--officers", type=int, default=4)
    parser.add_argument("--db", default=None, help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()

    from huiqi.clock import SystemClock
    from huiqi.errors import HuiqiError
    from huiqi.library import Lifecycle
    from huiqi.library.officers import add_user
    from huiqi.library.source import DbLibrarySource
    from huiqi.portal import Actor, Conflict, Portal, open_vault
    from huiqi.portal import schema as ps
    from huiqi.portal.base import RIGHTS, insert_row
    from huiqi.store.db import write_session
    from huiqi.store.models import AuditEntry

    tmp = tempfile.TemporaryDirectory(prefix="bench-queue-")
    url = args.db or f"sqlite:///{Path(tmp.name) / 'platform.db'}"
    clock = SystemClock()
    lifecycle = Lifecycle.open(url, clock=clock)
    lifecycle.import_directory(ROOT / "policies")
    source = DbLibrarySource(lifecycle.engine, migrate=False, clock=clock)
    portal = Portal(
        lifecycle.engine,
        clock,
        source.current,
        open_vault(lifecycle.engine, clock=clock, keyring_file=Path(tmp.name) / "keyring.json"),
    )
    office = portal.library().by_id[POLICY].definition.apply.office
    officers = []
    for i in range(args.officers):
        name = f"officer{i}"
        role = "editor" if i % 2 == 0 else "publisher"
        add_user(lifecycle.engine, name, role, f"{name}-password", clock=clock)
        portal.assign(name, office)
        officers.append(portal.officer(name, role))
    assert sum(o.role == "publisher" for o in officers) >= 2, "four-eyes needs two publishers: --officers 4 or more"

    # --- the enterprises apply ----------------------------------------------------------------------
    t0 = time.perf_counter()
    apps = portal.applications
    with write_session(lifecycle.engine) as s:  # the accounts behind the applications (not timed as work)
        ids = [
            insert_row(
                s,
                ps.accounts.insert().values(
                    login=f"ent{i}",
                    uscc=f"{i:018d}",
                    enterprise_name=f"企业{i}",
                    person_name=f"法人{i}",
                    id_masked="x",
                    id_index=f"i{i}",
                    role="legal_rep",
                    rights='["' + '","'.join(RIGHTS) + '"]',
                    totp_confirmed=True,
                    totp_last_step=0,
                    active=True,
                    verified_log="[]",
                    created_at=clock.now(),
                ),
            )
            for i in range(args.applications)
        ]
    enterprises = [
        Actor("enterprise", f"ent{i}", uscc=f"{i:018d}", rights=frozenset(RIGHTS), account_id=aid)
        for i, aid in enumerate(ids)
    ]
    app_ids = []
    for n, me in enumerate(enterprises):
        app_id = apps.create(me, POLICY, {"region": "339901", "credit_rating": "A"})
        with write_session(lifecycle.engine) as s:  # the signed promise (sign() checks the name on the account)
            s.execute(
                ps.applications.update().where(ps.applications.c.id == app_id).values(declaration='{"signer":"x"}')
            )
        apps.act(me, app_id, "submit")
        apps.precheck(app_id)
        app_ids.append(app_id)
        if (n + 1) % 1000 == 0:
            print(f"  {n + 1} submitted ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    setup = time.perf_counter() - t0
    print(f"enterprises: {len(app_ids)} applications created, signed, submitted, pre-checked in {setup:.1f} s")

    # --- the officers work the queue -----------------------------------------------------------------
    stats: Counter[str] = Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + args.timeout

    def work(me: Actor, seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < deadline:
            waiting = apps.queue(me, limit=20)
            if not waiting:
                if not apps.queue(me, limit=1):
                    return
                continue
            a = rng.choice(waiting)
            fate = a["id"] % 50
            try:
                if a["status"] == "prechecked":
                    action = "return" if fate in (1, 2) else ("reject" if fate == 3 else "accept")
                    apps.act(
                        me,
                        a["id"],
                        action,
                        reason="材料不全" if action != "accept" else "",
                        expected_version=a["version"],
                    )
                elif a["status"] == "accepted" and a["proposed_by"] is None:
                    apps.propose(me, a["id"], "100000.00", reason="标准")
                    action = "propose"
                elif a["status"] == "accepted":
                    action = "review"
                    apps.act(me, a["id"], "review", expected_version=a["version"])
                elif a["status"] == "reviewed":
                    action = "announce"
                    apps.act(me, a["id"], "announce", expected_version=a["version"])
                elif a["status"] == "announced":
                    action = "pay"
                    apps.act(me, a["id"], "pay", voucher=f"V{a['id']}", expected_version=a["version"])
                else:
                    continue
                with lock:
                    stats[action] += 1
            except Conflict:
                with lock:
                    stats["conflict"] += 1
            except HuiqiError:  # not this officer's to do (role, four-eyes): someone else will
                with lock:
                    stats["refused"] += 1

    t1 = time.perf_counter()
    threads = [threading.Thread(target=work, args=(o, args.seed + i)) for i, o in enumerate(officers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t1
    steps = sum(v for k, v in stats.items() if k not in ("conflict", "refused", "propose"))
    print(
        f"officers: {len(officers)} at once, {steps} transitions + {stats['propose']} amounts in {elapsed:.1f} s "
        f"= {steps / elapsed:.0f} transitions/s; refused as stale {stats['conflict']}, not theirs {stats['refused']}"
    )
    print("  " + ", ".join(f"{k} {v}" for k, v in sorted(stats.items())))

    # --- nothing lost, nothing twice -------------------------------------------------------------------
    with lifecycle.engine.connect() as c:
        final = Counter(
            dict(
                c.execute(sa.select(ps.applications.c.status, sa.func.count()).group_by(ps.applications.c.status)).all()
            )
        )
        versions = c.execute(sa.select(sa.func.sum(ps.applications.c.version))).scalar_one()
        events = c.execute(sa.select(sa.func.count()).select_from(ps.events)).scalar_one()
        gaps = c.execute(
            sa.text(
                "SELECT count(*) FROM (SELECT application_id, count(*) AS n, max(seq) AS m, min(seq) AS f "
                "FROM portal_events GROUP BY application_id) AS x WHERE n != m OR f != 1"
            )
        ).scalar_one()
        mismatched = c.execute(
            sa.text(
                "SELECT count(*) FROM portal_applications a JOIN (SELECT application_id, max(seq) AS m "
                "FROM portal_events GROUP BY application_id) e ON e.application_id = a.id WHERE e.m != a.version"
            )
        ).scalar_one()
        audited = c.execute(
            sa.select(sa.func.count()).where(
                AuditEntry.action.in_(
                    [
                        f"portal.application.{a}"
                        for a in ("submit", "precheck", "accept", "review", "announce", "pay", "return", "reject")
                    ]
                )
            )
        ).scalar_one()
        payments = c.execute(sa.select(sa.func.count()).select_from(ps.payments)).scalar_one()
    print(f"final statuses: {dict(final)}")
    ok = (
        sum(final.values()) == len(app_ids)
        and set(final) <= {"paid", "returned", "rejected"}
        and gaps == 0
        and mismatched == 0
        and events == versions == audited
        and payments == final["paid"]
    )
    print(
        f"events {events} = versions {versions} = audited transitions {audited}; gaps {gaps}; "
        f"version/event mismatches {mismatched}; payments {payments} for {final['paid']} paid"
    )
    print("NO LOST OR DUPLICATED STATE CHANGE" if ok else "MISMATCH: a state change was lost or duplicated")
    lifecycle.engine.dispose()
    tmp.cleanup()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
