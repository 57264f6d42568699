"""The CLI for automation: import, user add, submit, publish (refusing broken policies),
export, impact, audit verify."""

import shutil

import duckdb
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from huiqi.cli.main import app

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
REL = "cn/cit.small-low-profit.yaml"


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("HUIQI_DB", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.delenv("HUIQI_USER", raising=False)
    runner = CliRunner()

    def run(*args, env=None, ok=True):
        result = runner.invoke(app, [str(a) for a in args], env=env)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    run("policy", "import", POLICIES)
    run("user", "add", "alice", "--role", "editor", env={"HUIQI_PASSWORD": "alice-password"})
    run("user", "add", "bob", "--role", "publisher", env={"HUIQI_PASSWORD": "bob-password"})
    return run


def _edited(tmp_path, old, new, name="cit.small-low-profit.yaml"):
    path = tmp_path / name
    source = (POLICIES / REL).read_text(encoding="utf-8")
    assert old in source
    path.write_text(source.replace(old, new), encoding="utf-8")
    return path


def test_publish_flow_and_export_round_trip(cli, tmp_path):
    changed = _edited(tmp_path, "title: 小型微利企业所得税优惠", "title: 小型微利企业所得税优惠（CLI）")
    refused = cli("policy", "publish", changed, "--as", "bob", ok=False)
    assert refused.exit_code == 1 and "policy submit" in refused.output  # nothing in review yet
    cli("policy", "submit", changed, "--as", "alice", "--note", "改标题")
    self_publish = cli("policy", "publish", changed, "--as", "alice", ok=False)
    assert self_publish.exit_code == 1
    out = cli("policy", "publish", changed, "--as", "bob", "--effective", "2030-01-01", "--note", "同意")
    assert "2030-01-01 起生效" in out.output
    cli("policy", "export", "--out", tmp_path / "now")
    cli("policy", "export", "--out", tmp_path / "later", "--as-of", "2030-01-01")
    assert (tmp_path / "now" / REL).read_bytes() == (POLICIES / REL).read_bytes()
    assert (tmp_path / "later" / REL).read_bytes() == changed.read_bytes()
    versions = cli("policy", "versions", "cn.cit.small-low-profit").output
    assert "alice" in versions and "bob" in versions
    assert "audit chain OK" in cli("audit", "verify").output


def test_a_broken_policy_is_refused_with_its_problems(cli, tmp_path):
    broken = _edited(
        tmp_path,
        "taxable_income <= param('cit.small_low_profit.max_taxable_income')",
        "taxable_incme <= param('cit.small_low_profit.max_taxable_income')",
    )
    result = cli("policy", "publish", broken, "--as", "bob", ok=False)
    assert result.exit_code == 1
    assert "拒绝发布" in result.output and "taxable_incme" in result.output
    result = cli("policy", "submit", broken, "--as", "alice", "--note", "x", ok=False)
    assert result.exit_code == 1 and "taxable_incme" in result.output
    failing = _edited(
        tmp_path,
        "employees <= param('cit.small_low_profit.max_employees')",
        "employees <= 200",
        name="failing.yaml",
    )
    result = cli("policy", "publish", failing, "--as", "bob", ok=False)
    assert result.exit_code == 1 and "测试失败" in result.output


def test_impact_on_a_parquet_registry(cli, tmp_path):
    parquet = tmp_path / "registry.parquet"
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT * FROM (VALUES ('91339901MA3C9W1E2F', '甲公司', 250, 1000000.00, 10000000.00),"
        " ('91339903MA2K7Q3B37', '乙公司', 100, 1000000.00, 10000000.00))"
        " AS t(uscc, name, employees, taxable_income, total_assets)) TO ? (FORMAT parquet)".replace("?", f"'{parquet}'")
    )
    con.close()
    changed = _edited(tmp_path, "employees <= param('cit.small_low_profit.max_employees')", "employees <= 200")
    result = cli("policy", "impact", changed, "--enterprises", parquet, "--as-of", "2026-06-30")
    assert "企业 2 家" in result.output
    assert "甲公司" in result.output and "乙公司" not in result.output
    assert "不再符合" in result.output and "200" in result.output


def test_audit_verify_fails_on_tampering(cli, tmp_path):
    from huiqi.store import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2"))
    engine.dispose()
    result = cli("audit", "verify", ok=False)
    assert result.exit_code == 1 and "第 2 行" in result.output


def test_user_add_refuses_a_weak_password(cli):
    result = cli("user", "add", "eve", "--role", "viewer", env={"HUIQI_PASSWORD": "short"}, ok=False)
    assert result.exit_code == 1 and "密码" in result.output


def test_import_needs_a_valid_library(cli, tmp_path):
    lib = tmp_path / "lib"
    shutil.copytree(POLICIES, lib)
    (lib / "cn" / "broken.yaml").write_text("id: cn.x.y\ntitle: 1\n", encoding="utf-8")
    result = cli("policy", "import", lib, ok=False)
    assert result.exit_code == 1 and "broken.yaml" in result.output


def test_officer_and_enterprise_commands(cli, tmp_path):
    from huiqi.library import Lifecycle
    from huiqi.library.enterprises import from_token
    from huiqi.library.officers import login

    lc = Lifecycle.open()
    assert login(lc.engine, "alice", "alice-password", clock=lc.clock) is not None
    cli("user", "disable", "alice")
    assert login(lc.engine, "alice", "alice-password", clock=lc.clock) is None
    cli("user", "enable", "alice")
    issued = cli("enterprise", "token", "issue", "91339901MA3C9W1E2F", "--as", "alice", "--days", "30")
    token = issued.stdout.strip().splitlines()[-1]
    assert token.startswith("hqe_") and from_token(lc.engine, token, clock=lc.clock).uscc == "91339901MA3C9W1E2F"
    assert cli("enterprise", "token", "issue", "not-a-uscc", "--as", "alice", ok=False).exit_code == 1
    cli("enterprise", "token", "revoke", "91339901MA3C9W1E2F", "--as", "alice")
    assert from_token(lc.engine, token, clock=lc.clock) is None
    changed = _edited(tmp_path, "title: 小型微利企业所得税优惠", "title: 另一个标题")
    cli("policy", "submit", changed, "--as", "alice", "--note", "试一下")
    listed = cli("policy", "versions", "cn.cit.small-low-profit", env={"COLUMNS": "300"})
    assert "abandon(editor)" in listed.stdout and "publish(publisher)" in listed.stdout
    version = lc.pending_for_text(changed.read_text(encoding="utf-8"), changed.name)
    cli("policy", "abandon", version.id, "--as", "alice", "--note", "不改了")
    assert lc.version(version.id).state == "withdrawn"
    lc.engine.dispose()
