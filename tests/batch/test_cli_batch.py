"""``huiqi registry generate``, ``huiqi batch run`` and ``huiqi batch list`` end to end."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from huiqi.cli.main import app
from huiqi.profile import FIELDS

runner = CliRunner()
POLICY = "lj.sci.rd-subsidy"
AS_OF = "2026-06-30"


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    r = runner.invoke(
        app, ["registry", "generate", "--count", "6000", "--seed", "7", "--out", str(root / "reg.parquet")]
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app, ["batch", "run", "--enterprises", str(root / "reg.parquet"), "--as-of", AS_OF, "--out", str(root / "run")]
    )
    assert r.exit_code == 0, r.output
    assert "可享受" in r.output
    return root


def pairs(run: Path, policy: str) -> list[dict]:
    return pq.read_table(run / "pairs" / f"policy_id={policy}").to_pylist()


def test_run_writes_pairs_summary_and_manifest(work: Path) -> None:
    run = work / "run"
    manifest = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert manifest["as_of"] == AS_OF and manifest["enterprise_count"] == 6000
    written = pairs(run, POLICY)  # by default the eligible and undetermined pairs only
    assert {p["verdict"] for p in written} == {"eligible", "undetermined"}
    with (run / "summary.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert {r["policy_id"] for r in rows} == {p["id"] for p in manifest["policies"]}
    row = next(r for r in rows if r["policy_id"] == POLICY)
    assert int(row["eligible"]) + int(row["undetermined"]) == len(written)
    assert int(row["eligible"]) + int(row["undetermined"]) + int(row["ineligible"]) == 6000


def test_all_pairs_writes_the_ineligible_ones_too(work: Path) -> None:
    out = work / "all"
    r = runner.invoke(
        app,
        ["batch", "run", "--enterprises", str(work / "reg.parquet"), "--as-of", AS_OF, "--out", str(out),
         "--policy", POLICY, "--all-pairs"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert len(pairs(out, POLICY)) == 6000
    actionable = [p for p in pairs(out, POLICY) if p["verdict"] != "ineligible"]
    assert sorted(actionable, key=lambda p: p["uscc"]) == sorted(pairs(work / "run", POLICY), key=lambda p: p["uscc"])


def test_list_xlsx_opens_and_amounts_are_right(work: Path) -> None:
    out = work / "rd.xlsx"
    r = runner.invoke(app, ["batch", "list", "--run", str(work / "run"), "--policy", POLICY, "--out", str(out)])
    assert r.exit_code == 0, r.output
    expected = {p["uscc"]: p["amount"] for p in pairs(work / "run", POLICY) if p["verdict"] == "eligible"}
    assert expected, "the sample registry should have eligible enterprises for this policy"

    wb = load_workbook(out)
    assert wb.sheetnames == ["可享受名单", "待补充信息", "说明"]
    ws = wb["可享受名单"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("统一社会信用代码", "企业名称", "所在地区", "所属行业", "享受金额（元）", "备注")
    body, total = rows[1:-1], rows[-1]
    assert {row[0]: Decimal(str(row[4])).quantize(Decimal("0.01")) for row in body} == expected
    assert all(isinstance(row[4], int | float) for row in body)  # numeric cells, not text
    assert ws.cell(row=2, column=5).number_format == "#,##0.00"
    assert total[0] == "合计"
    assert Decimal(str(total[4])).quantize(Decimal("0.01")) == sum(expected.values())
    assert all(row[1] and row[1].startswith("临江市") for row in body)  # names joined from the registry

    und = list(wb["待补充信息"].iter_rows(values_only=True))
    assert und[0][5] == "需补充的信息"
    n_und = sum(p["verdict"] == "undetermined" for p in pairs(work / "run", POLICY))
    assert len(und) - 1 == n_und
    labels = {FIELDS[f].label for f in FIELDS}
    for row in und[1:]:
        assert row[5] and set(row[5].split("、")) <= labels


def test_list_csv_has_bom_and_a_total_row(work: Path) -> None:
    out = work / "rd.csv"
    r = runner.invoke(app, ["batch", "list", "--run", str(work / "run"), "--policy", POLICY, "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    with out.open(encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert rows[0][0] == "统一社会信用代码" and rows[-1][0] == "合计"
    amounts = [Decimal(r[4]) for r in rows[1:-1] if r[4]]
    assert Decimal(rows[-1][4]) == sum(amounts)
    second = work / "rd-待补充信息.csv"
    assert second.exists() and second.read_bytes().startswith(b"\xef\xbb\xbf")


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--enterprises", "{w}/missing.parquet", "--as-of", AS_OF], "--enterprises"),
        (["--enterprises", "{w}/reg.parquet", "--as-of", "2026-02-30"], "--as-of"),
        (["--enterprises", "{w}/reg.parquet", "--as-of", AS_OF, "--policy", "cn.no.such"], "--policy"),
        (["--enterprises", "{w}/wrong.parquet", "--as-of", AS_OF], "--enterprises"),
        (["--enterprises", "{w}/run/summary.csv", "--as-of", AS_OF], "--enterprises"),
        (["--enterprises", "{w}/reg.parquet", "--as-of", AS_OF, "--engine", "flink"], "--engine"),
    ],
)
def test_bad_input_names_the_option(work: Path, args: list[str], option: str) -> None:
    pq.write_table(pa.table({"uscc": ["x"], "employees": ["many"]}), work / "wrong.parquet")
    out = work / "bad-run"
    r = runner.invoke(app, ["batch", "run", *[a.format(w=work) for a in args], "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert option in r.output and "Traceback" not in r.output
    assert not out.exists()


def test_out_refuses_a_directory_that_is_not_a_run(work: Path, tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    r = runner.invoke(
        app, ["batch", "run", "--enterprises", str(work / "reg.parquet"), "--as-of", AS_OF, "--out", str(tmp_path)]
    )
    assert r.exit_code == 2 and "--out" in r.output
    assert (tmp_path / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--run", "{w}", "--policy", POLICY, "--out", "{w}/x.csv"], "--run"),
        (["--run", "{w}/run", "--policy", "cn.no.such", "--out", "{w}/x.csv"], "--policy"),
        (["--run", "{w}/run", "--policy", POLICY, "--out", "{w}/x.pdf"], "--out"),
    ],
)
def test_list_bad_input(work: Path, args: list[str], option: str) -> None:
    r = runner.invoke(app, ["batch", "list", *[a.format(w=work) for a in args]])
    assert r.exit_code == 2, r.output
    assert option in r.output and "Traceback" not in r.output


def test_registry_generate_bad_count(tmp_path: Path) -> None:
    r = runner.invoke(app, ["registry", "generate", "--count", "-1", "--out", str(tmp_path / "r.parquet")])
    assert r.exit_code == 2 and "--count" in r.output


CONDITIONAL = "lj.hr.graduate-employment"  # waits on an action: 已招用高校毕业生


def test_a_policy_waiting_on_an_action_is_listed_as_conditional(work: Path) -> None:
    """Issue 9 §7: the paying department's list says 满足前提即可享受 and names the 前提."""
    run = work / "run"
    manifest = json.loads((run / "run.json").read_text(encoding="utf-8"))
    described = {p["id"]: p for p in manifest["policies"]}
    assert described[CONDITIONAL]["preconditions"][0].startswith("已招用毕业年度")
    assert described[POLICY]["preconditions"] == []
    assert all("{param:" not in p["summary"] for p in manifest["policies"])  # worded as of the run
    with (run / "summary.csv").open(encoding="utf-8-sig") as f:
        rows = {r["policy_id"]: r for r in csv.DictReader(f)}
    assert rows[CONDITIONAL]["preconditions"].startswith("已招用毕业年度") and rows[POLICY]["preconditions"] == ""

    out = work / "graduates.xlsx"
    r = runner.invoke(app, ["batch", "list", "--run", str(run), "--policy", CONDITIONAL, "--out", str(out)])
    assert r.exit_code == 0, r.output
    wb = load_workbook(out)
    assert wb.sheetnames == ["满足前提即可享受名单", "待补充信息", "说明"]
    rows_ = list(wb["满足前提即可享受名单"].iter_rows(values_only=True))
    body, total = rows_[1:-1], rows_[-1]
    assert body and all(row[5].startswith("前提：已招用毕业年度") for row in body)
    assert total[0] == "合计（须满足前提）"
    about = dict(wb["说明"].iter_rows(values_only=True))
    assert about["前提"].startswith("满足前提即可享受：已招用") and "{param:" not in about["政策摘要"]
