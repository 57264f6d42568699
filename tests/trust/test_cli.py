"""``huiqi log``: keygen, append, checkpoint, prove, verify offline, fsck — and fsck catching a rewrite."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from huiqi.cli.main import app
from huiqi.trust.note import parse_verifier
from huiqi.trust.policy import TrustPolicy

runner = CliRunner()


def run(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args), env=env)
    return r.exit_code, r.stdout, r.stderr


def test_log_commands_end_to_end(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'huiqi.db'}"
    env = {"HUIQI_DB": db, "HUIQI_NOW": "2026-12-01T09:00:00+00:00"}
    code, vkey, _ = run(
        "log", "keygen", "--name", "linjiang.example/huiqi/2026", "--out", str(tmp_path / "log.key"), env=env
    )
    assert code == 0
    TrustPolicy({"linjiang.example/huiqi/2026": (parse_verifier(vkey),)}).save(tmp_path / "policy.json")
    lines = "\n".join(json.dumps({"type": "cert.issue", "n": i}) for i in range(5))
    (tmp_path / "entries.jsonl").write_text(lines + "\n")
    code, out, err = run("log", "append", str(tmp_path / "entries.jsonl"), env=env)
    assert code == 0, err
    assert out.splitlines()[4].startswith("linjiang.example/huiqi/2026 4 ")
    code, out, err = run("log", "checkpoint", "--key", str(tmp_path / "log.key"), env=env)
    assert code == 0, err
    assert out.startswith("linjiang.example/huiqi/2026\n5\n")
    code, proof, err = run("log", "prove", "--index", "3", "--policy", str(tmp_path / "policy.json"), env=env)
    assert code == 0, err
    (tmp_path / "entry3.proof").write_text(proof)
    entry = b'{"n":3,"time":"2026-12-01T09:00:00.000000Z","type":"cert.issue"}'
    (tmp_path / "entry3.json").write_bytes(entry)
    policy = str(tmp_path / "policy.json")
    code, out, err = run("log", "verify", str(tmp_path / "entry3.proof"), "--entry", str(tmp_path / "entry3.json"),
                         "--policy", policy, env={})  # fmt: skip
    assert code == 0, err
    (tmp_path / "entry3.json").write_bytes(entry.replace(b'"n":3', b'"n":4'))
    code, out, err = run("log", "verify", str(tmp_path / "entry3.proof"), "--entry", str(tmp_path / "entry3.json"),
                         "--policy", policy, env={})  # fmt: skip
    assert code == 1 and "包含证明" in err

    code, out, err = run("log", "fsck", env=env)
    assert code == 0 and "5 条" in out, err
    engine = sa.create_engine(db)
    with engine.begin() as c:  # an administrator edits one entry in place
        c.execute(sa.text("UPDATE tlog_leaves SET entry = :e WHERE idx = 2"), {"e": entry.replace(b'"n":3', b'"n":9')})
    engine.dispose()
    code, out, err = run("log", "fsck", env=env)
    assert code == 1 and "瓦片 0/0" in err


def test_bad_input_is_one_clear_line(tmp_path: Path) -> None:
    env = {"HUIQI_DB": f"sqlite:///{tmp_path / 'huiqi.db'}", "HUIQI_NOW": "2026-12-01"}
    (tmp_path / "bad.json").write_text('{"type": "Bad Type"}')
    code, _, err = run("log", "append", str(tmp_path / "bad.json"), env=env)
    assert code == 1 and "type" in err and "Traceback" not in err
    code, _, err = run("log", "checkpoint", env=env)
    assert code == 2 and "--key" in err
