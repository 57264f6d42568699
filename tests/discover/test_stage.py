"""The derived variable ``stage`` (发展阶段): one definition, the same in both backends."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pytest

from huiqi.match import default_library, match
from huiqi.profile import parse_profile
from huiqi.rules.sqlquery import PROFILE_COLUMNS, variables_query

AS_OF = dt.date(2026, 6, 30)
SOFTWARE = {"industry": "I6513", "employees": 40, "revenue": "8000000"}  # 小型


@pytest.mark.parametrize(
    ("profile", "stage"),
    [
        ({**SOFTWARE, "registered_on": "2024-09-01"}, "初创期"),
        ({"registered_on": "2024-09-01"}, "初创期"),  # age alone decides a young enterprise
        ({**SOFTWARE, "registered_on": "2020-03-01"}, "成长期"),
        ({**SOFTWARE, "registered_on": "2012-03-01"}, "成熟期"),
        ({**SOFTWARE, "registered_on": "2012-03-01", "monthly_sales": "800000"}, "成长期"),  # 960万 vs 800万: +20%
        ({**SOFTWARE, "registered_on": "2012-03-01", "monthly_sales": "790000"}, "成熟期"),
        ({"industry": "I6513", "employees": 400, "revenue": "200000000", "registered_on": "2020-03-01"}, "成熟期"),
        ({"industry": "I6513", "registered_on": "2020-03-01"}, None),  # could be large: unknown
        ({"registered_on": "2012-03-01"}, "成熟期"),
        ({**SOFTWARE}, None),  # no founding date
    ],
)
def test_stage_from_age_size_and_growth(profile: dict[str, Any], stage: str | None) -> None:
    assert match(profile, as_of=AS_OF).variables["stage"] == stage


def test_the_batch_backend_computes_the_same_stage() -> None:
    library = default_library()
    profiles = [
        {**SOFTWARE, "registered_on": "2024-09-01"},
        {**SOFTWARE, "registered_on": "2020-03-01"},
        {**SOFTWARE, "registered_on": "2012-03-01", "monthly_sales": "800000"},
        {"industry": "I6513", "registered_on": "2020-03-01"},
    ]
    expected = [library.derive(parse_profile(p), AS_OF)["stage"] for p in profiles]
    assert expected == ["初创期", "成长期", "成长期", None]
    assert sql_stages(library, profiles) == expected


def sql_stages(library: Any, profiles: list[dict[str, Any]]) -> list[str | None]:
    """The variables as the batch run computes them: stacked SQL layers over a profile table."""
    con = duckdb.connect()
    cols = ", ".join(f'"{name}" {sql_type}' for name, sql_type in PROFILE_COLUMNS.items())
    con.execute(f"CREATE TABLE p (n INTEGER, {cols})")
    rows = [[i, *parse_profile(p).facts().values()] for i, p in enumerate(profiles)]
    con.executemany(f"INSERT INTO p VALUES (?{', ?' * len(PROFILE_COLUMNS)})", rows)
    query = variables_query(library, AS_OF, "p", key="n")
    return [r[0] for r in con.execute(f"SELECT stage FROM ({query}) ORDER BY n").fetchall()]
