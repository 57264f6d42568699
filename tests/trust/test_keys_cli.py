"""``huiqi keys``: keyring files, rotation, re-encryption and retirement from the command line, audited on the log."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from huiqi.cli.main import app
from huiqi.clock import FixedClock
from huiqi.trust.fields import Keyring, Vault
from huiqi.trust.log import TransparencyLog
from huiqi.trust.schema import create_tables

runner = CliRunner()


def run(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args), env=env)
    return r.exit_code, r.stdout, r.stderr


def test_rotation_from_the_command_line_moves_every_row_and_is_on_the_log(tmp_path: Path, clock: FixedClock) -> None:
    db = f"sqlite:///{tmp_path / 'mps.db'}"
    ring = tmp_path / "keyring.json"
    env = {"HUIQI_DB": db, "HUIQI_KEYRING_FILE": str(ring), "HUIQI_NOW": "2026-12-01T09:00:00+00:00"}
    code, out, err = run("keys", "generate", "--out", str(ring), "--kek-id", "kek-2026", env=env)
    assert code == 0, err
    assert ring.stat().st_mode & 0o777 == 0o600
    assert run("keys", "generate", "--out", str(ring), env=env)[0] == 2  # never overwritten

    engine = sa.create_engine(db)
    create_tables(engine)
    people = sa.Table("people", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                      sa.Column("id_number", sa.Text))  # fmt: skip
    people.create(engine)
    log = TransparencyLog(engine, clock=clock, prefix="linjiang.example/huiqi/mps")
    vault = Vault(engine, Keyring.load(ring), store="mps", clock=clock, log=log)
    ids = vault.field("people", "id_number")
    tokens = ids.encrypt_many([(i, f"11010119900307{i:04d}") for i in range(1, 251)])
    with engine.begin() as c:
        c.execute(people.insert(), [{"id": i, "id_number": t} for i, t in enumerate(tokens, start=1)])
    engine.dispose()

    code, out, err = run("keys", "rotate", "--store", "mps", "--table", "people", "--field", "id_number", env=env)
    assert code == 0 and "v2" in out, err
    code, out, _ = run("keys", "list", "--store", "mps", env=env)
    assert "mps/people/id_number  v1  sm4-gcm  kek-2026  retiring" in out
    assert "mps/people/id_number  v2  sm4-gcm  kek-2026  active" in out
    code, _, err = run("keys", "retire", "--store", "mps", "--table", "people", "--field", "id_number", env=env)
    assert code == 1 and "250" in err  # still used by every row: refused
    code, out, err = run("keys", "reencrypt", "--store", "mps", "--table", "people", "--field", "id_number",
                         "--batch", "100", env=env)  # fmt: skip
    assert code == 0 and "250" in out, err
    code, out, err = run("keys", "retire", "--store", "mps", "--table", "people", "--field", "id_number", env=env)
    assert code == 0, err
    code, out, _ = run("keys", "list", "--store", "mps", env=env)
    assert "v1  sm4-gcm  kek-2026  retired" in out

    code, out, err = run("keys", "add-kek", "--keyring", str(ring), "--kek-id", "kek-2027", env=env)
    assert code == 0, err
    assert json.loads(ring.read_text())["active"] == "kek-2027" and ring.stat().st_mode & 0o777 == 0o600
    code, out, err = run("keys", "rewrap", "--store", "mps", env=env)
    assert code == 0 and "kek-2027" in out, err
    code, out, _ = run("keys", "list", "--store", "mps", env=env)
    assert "v2  sm4-gcm  kek-2027  active" in out

    fresh = Vault(sa.create_engine(db), Keyring.load(ring), store="mps", clock=clock)
    with fresh.engine.connect() as c:
        rows = c.execute(sa.select(people.c.id, people.c.id_number).order_by(people.c.id)).all()
    assert all(t.startswith("hq1.") and not t.startswith("hq1.1.") for _, t in rows)
    assert fresh.field("people", "id_number").decrypt_many([(i, t) for i, t in rows]) == [
        f"11010119900307{i:04d}" for i in range(1, 251)
    ]
    kinds = [json.loads(log.entry("2026", i))["type"] for i in range(log.size("2026"))]
    assert kinds[-5:] == ["key.create", "key.rotate", "key.reencrypt", "key.retire", "key.rewrap"]
    with engine.connect() as c:  # the department's own log, under its origin
        origins = c.execute(sa.text("SELECT origin FROM tlog_shards")).scalars().all()
    assert origins == ["linjiang.example/huiqi/mps/2026"]


def test_keys_commands_name_what_is_wrong(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    env = {"HUIQI_DB": db, "HUIQI_NOW": "2026-12-01T09:00:00+00:00"}
    code, _, err = run("keys", "rotate", "--store", "mps", "--table", "people", "--field", "id_number", env=env)
    assert code == 1 and "HUIQI_KEYRING" in err  # no keyring given
    ring = tmp_path / "ring.json"
    assert run("keys", "generate", "--out", str(ring), env=env)[0] == 0
    env["HUIQI_KEYRING_FILE"] = str(ring)
    code, _, err = run("keys", "reencrypt", "--store", "mps", "--table", "nobody", "--field", "x", env=env)
    assert code == 2 and "nobody" in err
    code, _, err = run("keys", "generate", "--out", str(tmp_path / "r2.json"), "--profile", "des", env=env)
    assert code == 1 and "profile" in err
    code, out, _ = run("keys", "list", "--store", "tax", env=env)
    assert code == 0 and "no data keys" in out
