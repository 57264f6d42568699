"""size_class (统计上大中小微型企业划分办法(2017)) and is_small_low_profit, through ``lib.derive``.

The table below is transcribed separately from ``policies/_variables.yaml`` (see
docs/size-class.md for the source and the choices), so a typo in either shows up here.

For every row of the table and every sample industry code of that row:

- all indicators exactly on a band's lower bounds → that band;
- any one indicator one unit below (1 人, 0.01 元) → the next band down
  ("大型、中型和小型企业须同时满足所列指标的下限，否则下划一档");
- one indicator in a lower band, the others on the large bounds → the lower band, and
  one indicator below the small bounds → micro ("微型企业只须满足所列指标中的一项即可").

Then three-valued cases (a missing indicator gives NULL unless the known ones decide),
industry prefixes that cover several rows, industries outside the standard's scope, and
is_small_low_profit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import duckdb
import pytest

from huiqi.profile import parse_profile
from huiqi.rules.sqlquery import PROFILE_COLUMNS, variables_query

AS_OF = dt.date(2024, 6, 30)
WAN = Decimal(10000)  # 万元 → 元
BANDS = ("large", "medium", "small", "micro")

X, Y, Z = "employees", "revenue", "total_assets"  # 从业人员(人)、营业收入(万元)、资产总额(万元)

# row: (sample industry codes, {indicator: (large, medium, small) lower bounds in 人 / 万元})
TABLE: dict[str, tuple[list[str], dict[str, tuple[int, int, int]]]] = {
    "农、林、牧、渔业": (["A", "A01", "A0111", "A05", "A0511"], {Y: (20000, 500, 50)}),
    "工业": (
        ["B", "B06", "C", "C13", "C3911", "D", "D44", "D4411"],
        {X: (1000, 300, 20), Y: (40000, 2000, 300)},
    ),
    "建筑业": (["E", "E47", "E4710"], {Y: (80000, 6000, 300), Z: (80000, 5000, 300)}),
    "批发业": (["F51", "F511", "F5111"], {X: (200, 20, 5), Y: (40000, 5000, 1000)}),
    "零售业": (["F52", "F521", "F5211"], {X: (300, 50, 10), Y: (20000, 500, 100)}),
    "交通运输业": (
        [
            "G54",
            "G541",
            "G5411",
            "G55",
            "G56",
            "G57",
            "G58",
            "G581",
            "G5810",
            "G582",
            "G5821",
            "G591",
            "G5910",
        ],
        {X: (1000, 300, 20), Y: (30000, 3000, 200)},
    ),
    "仓储业": (
        ["G592", "G5920", "G593", "G594", "G5941", "G595", "G5951", "G596", "G599", "G5990"],
        {X: (200, 100, 20), Y: (30000, 1000, 100)},
    ),
    "邮政业": (["G60", "G601", "G6010", "G602"], {X: (1000, 300, 20), Y: (30000, 2000, 100)}),
    "住宿业": (["H61", "H611", "H6110"], {X: (300, 100, 10), Y: (10000, 2000, 100)}),
    "餐饮业": (["H62", "H621", "H6210"], {X: (300, 100, 10), Y: (10000, 2000, 100)}),
    # 住宿业 and 餐饮业 have the same bounds, so the section letter alone decides too
    "住宿和餐饮业（门类 H）": (["H"], {X: (300, 100, 10), Y: (10000, 2000, 100)}),
    "信息传输业": (["I63", "I631", "I64", "I642"], {X: (2000, 100, 10), Y: (100000, 1000, 100)}),
    "软件和信息技术服务业": (["I65", "I651", "I6513"], {X: (300, 100, 10), Y: (10000, 1000, 50)}),
    "房地产开发经营": (["K701", "K7010"], {Y: (200000, 1000, 100), Z: (10000, 5000, 2000)}),
    "物业管理": (["K702", "K7020"], {X: (1000, 300, 100), Y: (5000, 1000, 500)}),
    "租赁和商务服务业": (["L", "L71", "L72", "L7211"], {X: (300, 100, 10), Z: (120000, 8000, 100)}),
    "其他未列明行业": (
        ["M", "M73", "N", "N77", "O", "O80", "R", "R86", "Q85", "Q851", "K703", "K7030", "K709", "K7090"],
        {X: (300, 100, 10)},
    ),
}


def _value(field: str, bound_wan_or_people: int) -> Decimal | int:
    return bound_wan_or_people if field == X else Decimal(bound_wan_or_people) * WAN


def _one_below(field: str, value: Decimal | int) -> Decimal | int:
    return value - 1 if field == X else value - Decimal("0.01")


def _row_cases(bounds: dict[str, tuple[int, int, int]]) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(description, indicator values, expected class) for one row of the table."""
    for i, band in enumerate(BANDS[:3]):
        at = {f: _value(f, b[i]) for f, b in bounds.items()}
        yield f"all on {band} bounds", at, band
        for f in bounds:
            below = {**at, f: _one_below(f, at[f])}
            yield f"{f} one below {band} bound", below, BANDS[i + 1]
    if len(bounds) > 1:
        large = {f: _value(f, b[0]) for f, b in bounds.items()}
        for f, b in bounds.items():
            for i, band in enumerate(BANDS[1:3], start=1):
                yield f"{f} on {band} bound, others large", {**large, f: _value(f, b[i])}, band
            below_small = _one_below(f, _value(f, b[2]))
            yield f"{f} one below small bound, others large", {**large, f: below_small}, "micro"
    yield "all zero", dict.fromkeys(bounds, 0), "micro"


BOUNDARY_CASES = [
    pytest.param(code, values, expected, id=f"{row}-{code}-{desc}")
    for row, (codes, bounds) in TABLE.items()
    for code in codes
    for desc, values, expected in _row_cases(bounds)
]


@pytest.fixture(scope="module")
def lib() -> Any:
    from huiqi.rules import load_library

    return load_library()


def derive(lib: Any, profile: dict[str, Any], as_of: dt.date = AS_OF) -> dict[str, Any]:
    return lib.derive(parse_profile(profile), as_of)


def size_class(lib: Any, profile: dict[str, Any]) -> str | None:
    return derive(lib, profile)["size_class"]


@pytest.mark.parametrize(("industry", "values", "expected"), BOUNDARY_CASES)
def test_table_boundaries(lib: Any, industry: str, values: dict[str, Any], expected: str) -> None:
    assert size_class(lib, {"industry": industry, **values}) == expected


def test_every_band_is_reachable_in_every_row() -> None:
    # guard on the case generator itself: each row produces all four classes
    for row, (_codes, bounds) in TABLE.items():
        assert {e for _d, _v, e in _row_cases(bounds)} == set(BANDS), row


# ---- indicators a row does not use are ignored ------------------------------------------

IGNORED = [
    pytest.param({"industry": "A01", Y: _value(Y, 20000), X: 0, Z: 0}, "large", id="农业 ignores employees/assets"),
    pytest.param(
        {"industry": "M73", X: 5, Y: _value(Y, 10**6), Z: _value(Z, 10**6)},
        "micro",
        id="其他未列明 ignores revenue/assets",
    ),
    pytest.param({"industry": "M73", X: 300}, "large", id="其他未列明 needs employees only"),
    pytest.param({"industry": "C13", X: 1000, Y: _value(Y, 40000), Z: 0}, "large", id="工业 ignores assets"),
    pytest.param(
        {"industry": "E47", X: 0, Y: _value(Y, 80000), Z: _value(Z, 80000)},
        "large",
        id="建筑业 ignores employees",
    ),
    pytest.param({"industry": "L72", X: 300, Y: 0, Z: _value(Z, 120000)}, "large", id="租赁 ignores revenue"),
    pytest.param(
        {"industry": "K7010", X: 0, Y: _value(Y, 200000), Z: _value(Z, 10000)},
        "large",
        id="房地产开发 ignores employees",
    ),
]


@pytest.mark.parametrize(("profile", "expected"), IGNORED)
def test_unused_indicators_are_ignored(lib: Any, profile: dict[str, Any], expected: str) -> None:
    assert size_class(lib, profile) == expected


# ---- three-valued logic: missing facts ---------------------------------------------------

THREE_VALUED = [
    # 工业: X and Y
    pytest.param({"industry": "C13", X: 5}, "micro", id="工业 X=5, Y missing: micro already"),
    pytest.param({"industry": "C13", X: 19}, "micro", id="工业 X=19, Y missing: micro already"),
    pytest.param({"industry": "C13", X: 20}, None, id="工业 X=20, Y missing: small or micro"),
    pytest.param({"industry": "C13", X: 500}, None, id="工业 X=500, Y missing"),
    pytest.param({"industry": "C13", X: 2000}, None, id="工业 X=2000, Y missing"),
    pytest.param({"industry": "C13", Y: _value(Y, 100)}, "micro", id="工业 Y=100万, X missing: micro"),
    pytest.param({"industry": "C13", Y: _value(Y, 300)}, None, id="工业 Y=300万, X missing"),
    pytest.param({"industry": "C13", Y: _value(Y, 50000)}, None, id="工业 Y=5亿, X missing"),
    pytest.param({"industry": "C13"}, None, id="工业 no indicators"),
    # 农林牧渔: Y only
    pytest.param({"industry": "A01", X: 5}, None, id="农业 Y missing"),
    # 建筑业: Y and Z
    pytest.param({"industry": "E47", Y: _value(Y, 100)}, "micro", id="建筑业 Y<300万, Z missing: micro"),
    pytest.param({"industry": "E47", Z: _value(Z, 299)}, "micro", id="建筑业 Z<300万, Y missing: micro"),
    pytest.param({"industry": "E47", Y: _value(Y, 100000)}, None, id="建筑业 Y large, Z missing"),
    # 租赁和商务服务业: X and Z
    pytest.param({"industry": "L72", Z: _value(Z, 50)}, "micro", id="租赁 Z<100万, X missing: micro"),
    pytest.param({"industry": "L72", X: 9}, "micro", id="租赁 X<10, Z missing: micro"),
    pytest.param({"industry": "L72", X: 10}, None, id="租赁 X=10, Z missing"),
    # 房地产开发经营: Y and Z
    pytest.param({"industry": "K7010", Z: _value(Z, 1000)}, "micro", id="房地产开发 Z<2000万, Y missing: micro"),
    pytest.param({"industry": "K7010", Z: _value(Z, 20000)}, None, id="房地产开发 Z large, Y missing"),
    # 其他未列明: X only
    pytest.param({"industry": "M73", Y: _value(Y, 1)}, None, id="其他未列明 X missing"),
    # industry missing
    pytest.param({X: 5, Y: 0, Z: 0}, None, id="industry missing, all indicators tiny"),
    pytest.param({X: 5000, Y: _value(Y, 10**7), Z: _value(Z, 10**7)}, None, id="industry missing, all huge"),
]


@pytest.mark.parametrize(("profile", "expected"), THREE_VALUED)
def test_missing_facts(lib: Any, profile: dict[str, Any], expected: str | None) -> None:
    assert size_class(lib, profile) == expected


# ---- codes that cover several rows: decided only when every candidate row agrees ----------

PREFIXES = [
    # F = 批发业 (F51) or 零售业 (F52)
    pytest.param({"industry": "F", X: 4, Y: _value(Y, 50)}, "micro", id="F both micro"),
    pytest.param({"industry": "F", X: 100, Y: _value(Y, 5000)}, "medium", id="F both medium"),
    pytest.param({"industry": "F", X: 300, Y: _value(Y, 40000)}, "large", id="F both large"),
    pytest.param({"industry": "F", X: 30, Y: _value(Y, 6000)}, None, id="F wholesale medium, retail small"),
    pytest.param({"industry": "F", X: 4}, "micro", id="F X=4, Y missing: micro in both"),
    pytest.param({"industry": "F", X: 5}, None, id="F X=5, Y missing: wholesale undecided"),
    # G59 = 装卸搬运 (G591, 交通运输业) or 仓储业 (G592–G599)
    pytest.param({"industry": "G59", X: 10, Y: _value(Y, 50)}, "micro", id="G59 both micro"),
    pytest.param({"industry": "G59", X: 50, Y: _value(Y, 500)}, "small", id="G59 both small"),
    pytest.param({"industry": "G59", X: 150, Y: _value(Y, 2000)}, None, id="G59 transport small, storage medium"),
    pytest.param({"industry": "G59", X: 1000, Y: _value(Y, 30000)}, "large", id="G59 both large"),
    # I = 信息传输业 (I63, I64) or 软件和信息技术服务业 (I65)
    pytest.param({"industry": "I", X: 5}, "micro", id="I X=5: micro in both"),
    pytest.param({"industry": "I", X: 200, Y: _value(Y, 5000)}, "medium", id="I both medium"),
    pytest.param({"industry": "I", X: 500, Y: _value(Y, 20000)}, None, id="I info medium, software large"),
    pytest.param({"industry": "I", X: 50, Y: _value(Y, 60)}, None, id="I info micro, software small"),
    # 住宿业 and 餐饮业 share bounds: H alone decides
    pytest.param({"industry": "H", X: 9}, "micro", id="H X=9"),
]


@pytest.mark.parametrize(("profile", "expected"), PREFIXES)
def test_prefix_covering_several_rows(lib: Any, profile: dict[str, Any], expected: str | None) -> None:
    assert size_class(lib, profile) == expected


# ---- codes the standard does not classify (or that may fall outside it) -------------------

UNCLASSIFIED = [
    # 铁路运输业: excluded from 交通运输业 by 附注2; G may be 铁路运输业
    *("G53", "G531", "G"),
    # 自有房地产经营活动 (GB/T 4754-2017: 7040 房地产租赁经营), excluded by 附注2; K, K70 may be K7040
    *("K7040", "K704", "K", "K70"),
    # outside the standard's scope (第三条): 金融业, 教育, 卫生 (only 社会工作 Q85 is in), 公共管理, 国际组织
    *("J", "J66", "P", "P83", "Q", "Q84", "Q841", "S", "S91", "T", "T97"),
]


@pytest.mark.parametrize("industry", UNCLASSIFIED)
@pytest.mark.parametrize(
    "values",
    [
        pytest.param({X: 1, Y: Decimal(1), Z: Decimal(1)}, id="tiny"),
        pytest.param({X: 100000, Y: _value(Y, 10**7), Z: _value(Z, 10**7)}, id="huge"),
    ],
)
def test_outside_the_table_is_unknown(lib: Any, industry: str, values: dict[str, Any]) -> None:
    assert size_class(lib, {"industry": industry, **values}) is None


# ---- is_small_low_profit (小型微利企业) ---------------------------------------------------

SLP_OK = {"taxable_income": Decimal(3_000_000), X: 300, Z: Decimal(50_000_000)}

SMALL_LOW_PROFIT = [
    pytest.param(SLP_OK, True, id="all exactly on the bounds"),
    pytest.param({"taxable_income": Decimal(0), X: 0, Z: Decimal(0)}, True, id="all zero"),
    pytest.param({**SLP_OK, "taxable_income": Decimal("3000000.01")}, False, id="taxable income over"),
    pytest.param({**SLP_OK, X: 301}, False, id="employees over"),
    pytest.param({**SLP_OK, Z: Decimal("50000000.01")}, False, id="assets over"),
    pytest.param({X: 300, Z: Decimal(50_000_000)}, None, id="taxable income missing"),
    pytest.param({"taxable_income": Decimal(1), Z: Decimal(1)}, None, id="employees missing"),
    pytest.param({"taxable_income": Decimal(1), X: 1}, None, id="assets missing"),
    pytest.param({"taxable_income": Decimal(1), X: 301}, False, id="assets missing, employees over"),
    pytest.param({"industry": "C13"}, None, id="nothing known"),
]


@pytest.mark.parametrize(("profile", "expected"), SMALL_LOW_PROFIT)
def test_is_small_low_profit(lib: Any, profile: dict[str, Any], expected: bool | None) -> None:
    assert derive(lib, profile)["is_small_low_profit"] is expected


def test_is_small_low_profit_unknown_before_the_parameters_exist(lib: Any) -> None:
    # the 300万/300人/5000万 definition starts 2019-01-01 (财税〔2019〕13号); earlier rules differed
    assert derive(lib, SLP_OK, dt.date(2018, 12, 31))["is_small_low_profit"] is None
    assert derive(lib, SLP_OK, dt.date(2019, 1, 1))["is_small_low_profit"] is True


# ---- the SQL backend (DuckDB) gives the same values ---------------------------------------


def _all_cases() -> list[tuple[dict[str, Any], str, Any]]:
    out: list[tuple[dict[str, Any], str, Any]] = []
    for p in BOUNDARY_CASES:
        code, values, expected = p.values
        out.append(({"industry": code, **values}, "size_class", expected))
    for lst in (IGNORED, THREE_VALUED, PREFIXES):
        out += [(p.values[0], "size_class", p.values[1]) for p in lst]
    for code in UNCLASSIFIED:
        out.append(({"industry": code, X: 1, Y: Decimal(1), Z: Decimal(1)}, "size_class", None))
    out += [(p.values[0], "is_small_low_profit", p.values[1]) for p in SMALL_LOW_PROFIT]
    return out


def test_duckdb_backend_agrees(lib: Any) -> None:
    cases = _all_cases()
    con = duckdb.connect()
    cols = ", ".join(f'"{name}" {sql_type}' for name, sql_type in PROFILE_COLUMNS.items())
    con.execute(f"CREATE TABLE p (case_no INTEGER, {cols})")
    con.executemany(
        f"INSERT INTO p VALUES (?{', ?' * len(PROFILE_COLUMNS)})",
        [[i, *parse_profile(prof).facts().values()] for i, (prof, _k, _e) in enumerate(cases)],
    )
    query = variables_query(lib, AS_OF, "p", key="case_no")
    rows = con.execute(f"SELECT case_no, size_class, is_small_low_profit FROM ({query}) ORDER BY case_no")
    got = {r[0]: {"size_class": r[1], "is_small_low_profit": r[2]} for r in rows.fetchall()}
    wrong = [
        (prof, key, expected, got[i][key])
        for i, (prof, key, expected) in enumerate(cases)
        if got[i][key] != expected or (got[i][key] is None) != (expected is None)
    ]
    assert not wrong, f"{len(wrong)} of {len(cases)} differ, first: {wrong[:5]}"


# ---- a set of possible classes: decided as far as the known facts decide -----------------

POSSIBLE = [
    pytest.param({"industry": "H6210", X: 12}, ("small", "micro"), id="餐饮 12人, no revenue: small or micro"),
    pytest.param({"industry": "C13", X: 20}, ("small", "micro"), id="工业 X=20, no revenue"),
    pytest.param({"industry": "C13", X: 500}, ("medium", "small", "micro"), id="工业 X=500, no revenue"),
    pytest.param({"industry": "F", X: 5}, ("small", "micro"), id="F X=5: wholesale small or micro, retail micro"),
    pytest.param(
        {"industry": "F", X: 30, Y: _value(Y, 6000)}, ("medium", "small"), id="F wholesale medium, retail small"
    ),
    pytest.param({"industry": "E47", Y: _value(Y, 100000)}, BANDS, id="建筑业 Y large, no Z: any class"),
]


@pytest.mark.parametrize(("profile", "possible"), POSSIBLE)
def test_undecided_classes_keep_the_values_still_possible(lib: Any, profile: dict[str, Any], possible: tuple) -> None:
    variables = derive(lib, profile)
    assert variables["size_class"] is None
    assert variables.possible["size_class"] == possible


SMALL_OR_MICRO = "cn.stamp.small-micro-loan-contract"  # condition: size_class IN ('small', 'micro'), by 300号


@pytest.mark.parametrize(
    ("profile", "verdict"),
    [
        ({"industry": "H6210", X: 12}, "eligible"),  # the restaurant: no revenue needed
        ({"industry": "C13", X: 299}, "eligible"),  # under 300: never medium, whatever the revenue
        ({"industry": "C13", X: 300}, "undetermined"),  # medium if revenue ≥ 2000万
        ({"industry": "F", X: 30, Y: _value(Y, 6000)}, "undetermined"),  # wholesale medium, retail small
        ({"industry": "I", X: 5}, "eligible"),  # micro in both rows
        ({"industry": "K", X: 5}, "undetermined"),  # 房地产业: 开发经营 by revenue and assets, unknown
        ({"industry": "J66", X: 5}, "ineligible"),  # 金融业: outside the table and outside 300号 (the policy says so)
        ({X: 5}, "undetermined"),  # no industry
    ],
)
def test_small_or_micro_decided_in_python_and_sql(lib: Any, profile: dict[str, Any], verdict: str) -> None:
    from huiqi.rules.sqlquery import match_query

    _, (ev,) = lib.evaluate(parse_profile(profile), AS_OF, [SMALL_OR_MICRO])
    assert ev.verdict == verdict
    con = duckdb.connect()
    cols = ", ".join(f'"{name}" {sql_type}' for name, sql_type in PROFILE_COLUMNS.items())
    con.execute(f"CREATE TABLE profiles ({cols})")
    facts = parse_profile(profile).facts()
    con.execute(f"INSERT INTO profiles VALUES ({', '.join('?' * len(facts))})", list(facts.values()))
    sql = match_query(lib, AS_OF, policy_ids=[SMALL_OR_MICRO])
    (row,) = con.execute(sql).fetchall()
    assert row[1] == verdict
