"""``huiqi cert``: keys, issue with a QR code, verify online and offline, cancel; errors as one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from huiqi.cli.main import app
from huiqi.trust.note import generate_signer
from huiqi.trust.policy import TrustPolicy
from tests.certs.conftest import BUSINESS, ORIGINS

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    log_key = generate_signer(ORIGINS[1])
    policy = TrustPolicy({o: (log_key.verifier,) for o in ORIGINS}, (), 0)
    policy.save(tmp_path / "policy.json")
    (tmp_path / "subject.json").write_text(json.dumps(BUSINESS, ensure_ascii=False), encoding="utf-8")
    return {
        "HUIQI_DB": f"sqlite:///{tmp_path / 'huiqi.db'}",
        "HUIQI_TRUST_POLICY": str(tmp_path / "policy.json"),
        "HUIQI_CERT_KEYS": str(tmp_path / "keys"),
        "HUIQI_LOG_KEY": log_key.skey,  # type: ignore[attr-defined]
        "HUIQI_NOW": "2026-12-01T10:00:00+08:00",
        "HUIQI_PUBLIC_URL": "http://127.0.0.1:8000",
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    r = runner.invoke(app, list(args), env=env)
    return r.exit_code, r.output


def test_issue_verify_cancel_from_the_command_line(env: dict[str, str], tmp_path: Path) -> None:
    code, out = run(env, "cert", "keys", "generate", "--out", str(tmp_path / "keys"))
    assert code == 0 and "samr Ed25519 z6Mk" in out
    code, out = run(env, "cert", "keys", "register")
    assert code == 0 and out.count("已登记") == 4
    code, out = run(
        env, "cert", "issue", str(tmp_path / "subject.json"), "--type", "YYZZ",
        "--out", str(tmp_path / "licence.json"), "--qr", str(tmp_path / "qr.png"),
    )  # fmt: skip
    assert code == 0, out
    lid = out.splitlines()[0]
    assert lid.startswith("1.2.156.3005.2.YYZZ.11330100MB0000010P.")
    assert f"http://127.0.0.1:8000/certs/v/{lid}?k=" in out
    assert (tmp_path / "qr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out = run(env, "cert", "verify", str(tmp_path / "licence.json"))
    assert code == 0 and "有效" in out
    code, out = run(
        env, "cert", "verify", str(tmp_path / "licence.json"), "--offline", "--cache", str(tmp_path / "seen.json")
    )
    assert code == 0 and "有效" in out
    assert json.loads((tmp_path / "seen.json").read_text())["checkpoints"]
    code, out = run(env, "cert", "revoke", lid, "--reason", "企业申请注销")
    assert code == 0 and "已注销" in out
    code, out = run(env, "cert", "verify", lid, "--purpose", "supervision", "--requester", "稽查", "--format", "json")
    assert code == 1
    answer = json.loads(out)
    assert answer["label"] == "已注销" and answer["event"]["effective"].startswith("2026-12-01")


def test_refusals_are_one_line_naming_the_field(env: dict[str, str], tmp_path: Path) -> None:
    run(env, "cert", "keys", "generate", "--out", str(tmp_path / "keys"))
    run(env, "cert", "keys", "register")
    (tmp_path / "bad.json").write_text(json.dumps({**BUSINESS, "registered_capital": "五十万"}), encoding="utf-8")
    code, out = run(env, "cert", "issue", str(tmp_path / "bad.json"), "--type", "YYZZ")
    assert code == 1 and "subject.registered_capital" in out and "Traceback" not in out
    code, out = run(
        env,
        "cert",
        "verify",
        "1.2.156.3005.2.YYZZ.11330100MB0000010P.20260000001.001.0",
        "--purpose",
        "supervision",
        "--requester",
        "x",
    )
    assert code == 1 and "校验位错误" in out
    code, out = run(env, "cert", "issue", str(tmp_path / "bad.json"), "--type", "NOPE")
    assert code == 1 and "未知的证照类型" in out
