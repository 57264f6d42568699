"""The ``huiqi`` command as a user runs it: real processes, the shipped library and examples."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))


def huiqi(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "huiqi.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_examples_together_show_every_verdict() -> None:
    verdicts = set()
    for example in EXAMPLES:
        run = huiqi("match", str(example), "--as-of", "2026-06-30", "--format", "json")
        assert run.returncode == 0, run.stderr
        data = json.loads(run.stdout)
        assert set(data["variables"]) >= {"age_years", "industry_section", "size_class", "is_small_low_profit"}
        verdicts |= {r["verdict"] for r in data["results"]}
    assert len(EXAMPLES) >= 6
    assert verdicts == {"eligible", "ineligible", "undetermined"}


def test_table_is_grouped_in_chinese() -> None:
    run = huiqi("match", str(ROOT / "examples" / "manufacturer.json"), "--as-of", "2026-06-30")
    assert run.returncode == 0, run.stderr
    assert "可享受" in run.stdout and "不符合" in run.stdout and "预计每年" in run.stdout
    # Policies that wait on an action are a group of their own, outside the total, with the 前提.
    assert "满足前提即可享受" in run.stdout and "可享受，前提是已招用自主就业退役士兵" in run.stdout
    assert "满足前提即可享受" in run.stdout.split("╭")[-1]  # the total's panel says how many were left out


def test_lint_refuses_a_label_that_quotes_a_number_no_parameter_says(tmp_path: Path) -> None:
    """Issue 9 §6: 1000万 in a label while the rule's threshold is a parameter of 100万元."""
    shipped = ROOT / "policies"
    for path in shipped.rglob("*.yaml"):
        target = tmp_path / path.relative_to(shipped)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    software = tmp_path / "lj" / "sci.software-growth-award.yaml"
    text = software.read_text(encoding="utf-8")
    award = "lj.sci.software-growth-award"
    slot = f"{{param:{award}.min_revenue|万元}}至{{param:{award}.max_revenue|亿元}}之间"
    assert slot in text
    software.write_text(text.replace(slot, "1000万元至1亿元之间", 1), encoding="utf-8")
    run = huiqi("policy", "lint", "--policies", str(tmp_path))
    assert run.returncode == 1
    line = text[: text.index(slot)].count("\n") + 1
    assert f"{software}:{line}: error: conditions.3.label: 数字 “1000万” 是参数" in run.stdout, run.stdout
    assert "write it as a slot" in run.stdout


@pytest.mark.parametrize(
    ("args", "stdin", "expected"),
    [
        (["match", "no-such-file.json"], None, "找不到文件"),
        (["match", "-"], "{not json", "不是有效的 JSON"),
        (["match", "-"], '{"employees": -5}', "从业人数（employees）：不能为负数"),
        (["match", "-"], '{"uscc": "91110000600037341X"}', "校验码错误"),
        (["match", "-", "--as-of", "2024-02-30"], '{"employees": 5}', "--as-of"),
        (["match", "-", "--format", "xml"], '{"employees": 5}', "--format"),
    ],
)
def test_bad_input_is_a_clear_message_not_a_traceback(args: list[str], stdin: str | None, expected: str) -> None:
    run = huiqi(*args, stdin=stdin)
    assert run.returncode == 2
    assert expected in run.stderr
    assert "Traceback" not in run.stderr + run.stdout


def test_policy_test_and_lint_pass_on_the_shipped_library() -> None:
    run = huiqi("policy", "test")
    assert run.returncode == 0, run.stdout
    assert " passed, 0 failed" in run.stdout
    lint = huiqi("policy", "lint")
    assert lint.returncode == 0 and "0 个错误" in lint.stdout


def test_lint_fails_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "id: cn.test.bad\nconditions: [{label: 条件, when: 'employes > 1'}]\n", encoding="utf-8"
    )
    run = huiqi("policy", "lint", "--policies", str(tmp_path))
    assert run.returncode == 1
    assert f"{tmp_path / 'bad.yaml'}:" in run.stdout


def test_match_imports_only_the_calculator() -> None:
    """``huiqi match`` starts fast: it does not load the server, the batch engines, data
    sharing, e-licences, the transparency log or the database layer."""
    code = (
        "import sys\n"
        "sys.argv = ['huiqi', 'match', 'examples/manufacturer.json', '--as-of', '2026-06-30']\n"
        "from huiqi.cli import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "heavy = ('huiqi.web', 'huiqi.batch', 'huiqi.sharing', 'huiqi.certs', 'huiqi.trust', 'huiqi.store',\n"
        "         'huiqi.library', 'huiqi.portal', 'fastapi', 'sqlalchemy', 'duckdb', 'pyarrow')\n"
        "print('LOADED', sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "可享受" in run.stdout
    assert run.stdout.splitlines()[-1] == "LOADED []"
