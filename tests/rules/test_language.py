"""The rule language: what loads, what is refused (with file, line, expression, field)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from huiqi.rules import LibraryError, lint_library, load_library
from tests.builders import files_for, policy_yaml


def load_errors(conditions: list, formula: str | None = None) -> list[str]:
    with pytest.raises(LibraryError) as exc:
        load_library(files=files_for(policy_yaml(conditions, formula)))
    return [str(p) for p in exc.value.problems]


def test_unknown_field_names_file_line_expression_and_field() -> None:
    (msg,) = load_errors(["employees <= 300", "employes <= 300"])
    assert "cn/p0.yaml:" in msg
    assert "employes" in msg and "unknown field" in msg
    assert "employes <= 300" in msg  # the expression itself


def test_error_line_points_at_the_condition() -> None:
    with pytest.raises(LibraryError) as exc:
        load_library(files=files_for(policy_yaml(["employees <= 300", "revenue > 'x'"])))
    (problem,) = exc.value.problems
    text = files_for(policy_yaml(["employees <= 300", "revenue > 'x'"]))["cn/p0.yaml"]
    line = text.splitlines()[problem.line - 1]
    assert "revenue > 'x'" in line
    assert problem.name == "revenue"


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("param('no.such.param') > 1", "unknown parameter"),
        ("taxpayer_type = 'smallscale'", "is not one of"),
        ("contains(certifications, 'hightech')", "is not one of"),
        ("industry + 1 > 2", "needs a number"),
        ("employees IN (SELECT 1)", "IN"),
        ("employees", "must be a boolean"),
        ("registered_on > '2020-01-01'", "compares a date with a string"),
        ("revenue > 0.1234567", "decimal places"),
        ("frobnicate(employees) > 1", "unknown function"),
        ("employees <= ", "cannot parse"),
    ],
)
def test_type_errors_are_load_errors(expression: str, fragment: str) -> None:
    (msg,) = load_errors([expression])
    assert fragment in msg


def test_formula_must_be_a_number() -> None:
    (msg,) = load_errors(["employees > 0"], formula="industry")
    assert "金额公式" in msg and "number" in msg


def test_lint_reports_every_problem_at_once(tmp_path: Path) -> None:
    files = files_for(policy_yaml(["employes > 1"]), policy_yaml(["revenue > 'x'"], id="cn.test.other"))
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "cn" / "broken.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    library, problems = lint_library(tmp_path)
    errors = [p for p in problems if p.severity == "error"]
    assert library is None
    assert {p.path.name for p in errors} == {"p0.yaml", "p1.yaml", "broken.yaml"}
    assert all(p.line for p in errors)


def test_schema_errors_name_the_key() -> None:
    with pytest.raises(LibraryError) as exc:
        load_library(files=files_for(policy_yaml(["employees > 0"], summary="太" * 121, region="33")))
    text = "\n".join(str(p) for p in exc.value.problems)
    assert "summary" in text and "region" in text


def test_lint_warns_on_expired_and_stale_policies() -> None:
    files = files_for(policy_yaml(["employees > 0"], valid_to="2020-12-31", last_verified="2020-01-01"))
    library, problems = lint_library(files=files, today=dt.date(2026, 12, 1))
    warnings = [p.message for p in problems if p.severity == "warning"]
    assert library is not None
    assert any("到期" in w for w in warnings)
    assert any("未核实" in w for w in warnings)
    # the date-dependent warnings need a date: loading for a match computes none of them
    _, undated = lint_library(files=files)
    assert not any("到期" in p.message or "天未核实" in p.message for p in undated)


def test_condition_needs_when_or_declaration() -> None:
    with pytest.raises(LibraryError, match="declaration"):
        load_library(files=files_for(policy_yaml([{"label": "既无表达式也非承诺"}])))
