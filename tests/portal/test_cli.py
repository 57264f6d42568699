"""``huiqi portal``: desks, 免申即享 lists (import, approve with four-eyes, issue again safely), overdue."""

from __future__ import annotations

import sqlalchemy as sa
from typer.testing import CliRunner

from huiqi.cli.main import app
from huiqi.portal import schema as ps
from tests.portal.conftest import GRANT_POLICY

runner = CliRunner()


def test_a_list_is_imported_approved_by_another_officer_and_issued_once(world, run, tmp_path, monkeypatch):
    monkeypatch.setenv("HUIQI_PORTAL_KEYRING", str(tmp_path / "keyring.json"))
    monkeypatch.setenv("HUIQI_NOW", world.clock.now().isoformat())
    db = ["--db", world.url]
    r = runner.invoke(app, ["portal", "grants", "import", str(run), "--policy", GRANT_POLICY, "--officer", "bob", *db])
    assert r.exit_code == 0, r.output
    list_id = int(r.output.split("#")[1].split("：")[0])
    r = runner.invoke(app, ["portal", "grants", "approve", str(list_id), "--officer", "bob", *db])
    assert r.exit_code == 1 and "双人复核" in r.output  # the importer cannot approve
    r = runner.invoke(app, ["portal", "grants", "approve", str(list_id), "--officer", "carol", *db])
    assert r.exit_code == 0 and "新发放" in r.output, r.output
    r = runner.invoke(app, ["portal", "grants", "approve", str(list_id), "--officer", "carol", *db])
    assert "新发放 0 项" in r.output  # running it again grants nothing twice
    with world.portal.engine.connect() as c:
        count = c.execute(sa.select(sa.func.count()).select_from(ps.grants)).scalar()
    r = runner.invoke(app, ["portal", "grants", "list", *db], env={"COLUMNS": "200"})
    assert str(count) in r.output and "已批准（carol）" in r.output


def test_desk_names_a_real_office_and_an_active_officer(world):
    r = runner.invoke(app, ["portal", "desk", "alice", "不存在的部门", "--db", world.url])
    assert r.exit_code == 1 and "没有受理部门" in r.output
    r = runner.invoke(app, ["portal", "desk", "nobody", "临江市科学技术局资源配置与管理处", "--db", world.url])
    assert r.exit_code == 1 and "nobody" in r.output
    r = runner.invoke(app, ["portal", "overdue", "--db", world.url])
    assert r.exit_code == 0 and "没有逾期" in r.output
