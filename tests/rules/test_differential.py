"""Both backends, one meaning: generated rules and profiles give identical results.

Hypothesis draws expressions from the rule grammar (with unknown facts everywhere) and
profiles with missing fields; the generated Python and DuckDB must agree on every
condition's outcome, every verdict and every amount to the cent.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huiqi.profile import FIELDS, parse_profile
from huiqi.rules import load_library
from huiqi.rules.functions import RULE_FUNCTIONS
from huiqi.rules.library import choose
from huiqi.rules.sqlquery import PROFILE_COLUMNS, match_query
from huiqi.rules.types import BOOLEAN, DATE, NUMBER, SAME, STRING
from tests.builders import VARIABLES, files_for, policy_yaml

NUMBER_FIELDS = ["employees", "revenue", "total_assets", "taxable_income", "rd_expense", "monthly_sales"]
AS_OF = dt.date(2025, 6, 30)

decimals = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False)
small_decimals = st.decimals(
    min_value=Decimal("-1000"), max_value=Decimal("1000"), places=3, allow_nan=False, allow_infinity=False
)


def lit(d: Decimal) -> str:
    return f"({d})" if d < 0 else str(d)


DATES = st.sampled_from(["registered_on", "as_of", "DATE '2026-01-15'", "DATE '2019-02-28'"])


def calls(result: str, depth: int, derived: bool = True) -> st.SearchStrategy[str]:
    """Calls of every rule function (huiqi.rules.functions) whose result has the given type."""
    by_type: dict[str, st.SearchStrategy[str]] = {
        DATE: DATES,
        NUMBER: numbers(depth, derived),
        STRING: strings().map(lambda s: s[0]),
        SAME: numbers(depth, derived),  # one type for every SAME argument: numbers here
    }
    literal = strings().flatmap(lambda s: st.sampled_from(s[1])).map(lambda v: f"'{v}'")
    options = []
    for fn in RULE_FUNCTIONS.values():
        if fn.result != result and not (fn.result == SAME and result == NUMBER):
            continue
        args = [literal if i in fn.literal_args else by_type[t] for i, t in enumerate(fn.args)]
        options.append(st.tuples(*args).map(lambda a, name=fn.name: f"{name}({', '.join(a)})"))
    return st.one_of(*options)


def numbers(depth: int = 2, derived: bool = True) -> st.SearchStrategy[str]:
    """Number expressions; ``derived``: they may read the generated variables ``num``, ``band``."""
    leaves = st.one_of(
        st.sampled_from(NUMBER_FIELDS),
        small_decimals.map(lit),
        st.integers(0, 5_000_000).map(str),
        st.just("age_years"),
        st.just("param('t.rate')"),
        *([st.just("num")] if derived else []),
    )
    if depth == 0:
        return leaves
    sub = numbers(depth - 1, derived)
    return st.one_of(
        leaves,
        st.deferred(lambda: calls(NUMBER, depth - 1, derived)),
        st.tuples(sub, st.sampled_from(["+", "-", "*", "/"]), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(sub, sub).map(lambda t: f"LEAST({t[0]}, {t[1]})"),
        st.tuples(sub, sub).map(lambda t: f"GREATEST({t[0]}, {t[1]})"),
        st.tuples(sub, sub).map(lambda t: f"COALESCE({t[0]}, {t[1]})"),
        sub.map(lambda s: f"FLOOR({s})"),
        sub.map(lambda s: f"ROUND({s}, 2)"),
        sub.map(lambda s: f"ABS({s})"),
        st.tuples(booleans(0, derived), sub, sub).map(lambda t: f"CASE WHEN {t[0]} THEN {t[1]} ELSE {t[2]} END"),
        st.tuples(booleans(0, derived), sub, booleans(0, derived), sub).map(
            lambda t: f"CASE WHEN {t[0]} THEN {t[1]} WHEN {t[2]} THEN {t[3]} END"
        ),
    )


BAND_VALUES = ["a", "b", "c"]


def bands(depth: int = 2) -> st.SearchStrategy[str]:
    """Set-valued expressions: CASE over string literals, NULL and either() (lang.enum_values)."""
    leaf = st.sampled_from([*(f"'{v}'" for v in BAND_VALUES), "NULL"])
    if depth == 0:
        return leaf
    sub = bands(depth - 1)
    branch = st.tuples(booleans(0, derived=False), sub).map(lambda t: f"WHEN {t[0]} THEN {t[1]}")
    case = st.tuples(st.lists(branch, min_size=1, max_size=2), st.one_of(st.none(), sub)).map(
        lambda t: f"CASE {' '.join(t[0])}{'' if t[1] is None else ' ELSE ' + t[1]} END"
    )
    return st.one_of(leaf, case, st.tuples(sub, sub).map(lambda t: f"either({t[0]}, {t[1]})"))


def band_conditions() -> st.SearchStrategy[str]:
    """Conditions over a set of possible values: decided when every possible value agrees."""
    values = st.lists(st.sampled_from(BAND_VALUES), min_size=1, max_size=3, unique=True)
    quoted = values.map(lambda vs: ", ".join(f"'{v}'" for v in vs))
    return st.one_of(
        st.sampled_from(BAND_VALUES).map(lambda v: f"band = '{v}'"),
        st.sampled_from(BAND_VALUES).map(lambda v: f"'{v}' <> band"),
        quoted.map(lambda q: f"band IN ({q})"),
        quoted.map(lambda q: f"band NOT IN ({q})"),
        st.sampled_from(["band IS NULL", "band IS NOT NULL", "band = band", "band <> band"]),
        st.sampled_from(BAND_VALUES).map(lambda v: f"either(band, '{v}') = '{v}'"),
        st.just("band LIKE 'a%'"),  # any other use reads the one value, or unknown
        st.just("COALESCE(band, 'z') = 'z'"),
        st.tuples(booleans(0, derived=False), booleans(0, derived=False)).map(
            lambda t: f"CASE WHEN {t[0]} THEN 'a' WHEN {t[1]} THEN 'b' ELSE 'c' END IN ('a', 'b')"
        ),
    )


def strings() -> st.SearchStrategy[tuple[str, list[str]]]:
    """A string expression and literals worth comparing it with."""
    return st.sampled_from(
        [
            ("industry", ["C3911", "F5211", "I6513", "C", "A0111"]),
            ("industry_section", ["C", "F", "I", "A"]),
            ("region", ["339901", "339902", "339906"]),
            ("taxpayer_type", ["small_scale", "general"]),
            ("credit_rating", ["A", "B", "M"]),
            ("substr(industry, 1, 3)", ["C39", "F52", "I65"]),
        ]
    )


def booleans(depth: int = 2, derived: bool = True) -> st.SearchStrategy[str]:
    cmp = st.sampled_from(["<", "<=", ">", ">=", "=", "<>"])
    str_cmp = strings().flatmap(lambda s: st.sampled_from(s[1]).map(lambda v: f"{s[0]} = '{v}'"))
    nums = numbers(1 if depth > 0 else 0, derived)
    leaves = st.one_of(
        st.tuples(nums, cmp, nums).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        str_cmp,
        st.sampled_from(["'C%'", "'F52%'", "'I6_1%'", "'%1'"]).map(lambda p: f"industry LIKE {p}"),
        st.sampled_from(["'C%'", "'F52%'"]).map(lambda p: f"industry NOT LIKE {p}"),
        st.sampled_from(["high_tech", "tech_sme", "little_giant"]).map(lambda c: f"contains(certifications, '{c}')"),
        st.sampled_from([*NUMBER_FIELDS, "industry", "certifications"]).map(lambda f: f"{f} IS NULL"),
        st.sampled_from(NUMBER_FIELDS).map(lambda f: f"{f} IS NOT NULL"),
        st.tuples(numbers(0, derived), decimals, decimals).map(
            lambda t: f"{t[0]} BETWEEN {min(t[1], t[2])} AND {max(t[1], t[2])}"
        ),
        st.just("industry_section IN ('C', 'F', NULL)"),
        st.just("credit_rating NOT IN ('A', 'B')"),
        st.just("registered_on < DATE '2020-01-01'"),
        st.sampled_from(["TRUE", "FALSE", "NULL IS NULL"]),
        calls(BOOLEAN, 0, derived),
        *([st.deferred(band_conditions)] if derived else []),
    )
    if depth == 0:
        return leaves
    sub = booleans(depth - 1, derived)
    return st.one_of(
        leaves,
        st.tuples(sub, st.sampled_from(["AND", "OR"]), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        sub.map(lambda s: f"NOT ({s})"),
    )


def profiles() -> st.SearchStrategy[dict]:
    field_values = {
        "employees": st.integers(0, 5000),
        "revenue": decimals,
        "total_assets": decimals,
        "taxable_income": decimals,
        "rd_expense": decimals,
        "monthly_sales": decimals,
        "industry": st.sampled_from(["C3911", "F5211", "I6513", "C", "A0111", "I6511", "E4710"]),
        "region": st.sampled_from(["339901", "339902", "339906"]),
        "taxpayer_type": st.sampled_from(["small_scale", "general"]),
        "credit_rating": st.sampled_from(["A", "B", "M", "C", "D"]),
        "registered_on": st.dates(dt.date(1990, 1, 1), dt.date(2025, 6, 30)),
        "certifications": st.lists(st.sampled_from(FIELDS["certifications"].values), max_size=3),
    }
    return st.fixed_dictionaries({}, optional=field_values).filter(bool)


GROUP = "t.group"


def write_library(root: Path, policies: list[tuple[list[str], str, bool]], band: str, num: str) -> None:
    """The generated policies (conditions, formula, whether it waits on an action), all in one
    exclusive group when several."""
    variables = {
        "variables": {
            **VARIABLES["variables"],
            "band": {"label": "档次", "expr": band, "values": BAND_VALUES},
            "num": {"label": "数值", "expr": num},
        }
    }
    parameters = {
        "t.rate": {
            "label": "税率",
            "values": [
                {"from": dt.date(2000, 1, 1), "value": "0.25", "source": "测试"},
                {"from": dt.date(2025, 1, 1), "value": "0.05", "source": "测试"},
            ],
        }
    }
    docs = [
        policy_yaml(
            [*conditions, *([{"id": "act", "label": "已招用退役士兵", "action": True}] if conditional else [])],
            formula,
            id=f"cn.test.generated{i}",
            valid_from=dt.date(2000, 1, 1),
            **({"alternative": {"group": GROUP, "name": f"第{i}项"}} if len(policies) > 1 else {}),
        )
        for i, (conditions, formula, conditional) in enumerate(policies)
    ]
    for name, text in files_for(*docs, variables=variables, parameters=parameters).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")


def duckdb_rows(library, rows: list[dict]) -> list[dict]:
    con = duckdb.connect()
    cols = ", ".join(f'"{n}" {t}' for n, t in PROFILE_COLUMNS.items())
    con.execute(f"CREATE TABLE profiles (row_id INTEGER, {cols})")
    names = list(PROFILE_COLUMNS)
    con.executemany(
        f"INSERT INTO profiles VALUES ({', '.join('?' * (len(names) + 1))})",
        [[i, *(r.get(n) for n in names)] for i, r in enumerate(rows)],
    )
    sql = match_query(library, AS_OF, key="row_id", with_conditions=True)
    cur = con.execute(sql + " ORDER BY row_id")
    header = [d[0] for d in cur.description]
    return [dict(zip(header, r, strict=True)) for r in cur.fetchall()]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    policies=st.lists(
        st.tuples(st.lists(booleans(), min_size=1, max_size=3), numbers(), st.booleans()), min_size=1, max_size=3
    ),
    band=bands(),
    num=numbers(1, derived=False),
    rows=st.lists(profiles(), min_size=1, max_size=8),
)
def test_python_and_duckdb_agree(tmp_path_factory: pytest.TempPathFactory, policies, band, num, rows) -> None:
    """Every condition, verdict, detail (满足前提即可享受) and amount, and which member of an
    exclusive group the totals take (never one that waits on an action)."""
    root = tmp_path_factory.mktemp("lib")
    write_library(root, policies, band, num)
    library = load_library(root)
    sql_rows = duckdb_rows(library, [parse_profile(r).facts() for r in rows])
    for raw, sql in zip(rows, sql_rows, strict=True):
        _, evaluations = library.evaluate(parse_profile(raw), AS_OF)
        for policy, ev in zip(library.policies, evaluations, strict=True):
            for cond, outcome in zip(policy.evaluated, ev.outcomes, strict=True):
                assert sql[f"{policy.id}:{cond.id}"] == outcome, (cond.expr.text if cond.expr else "", raw)
            assert sql[f"{policy.id}:verdict"] == ev.verdict, raw
            assert sql[f"{policy.id}:detail"] == ev.detail, raw
            assert sql[f"{policy.id}:amount"] == ev.amount, (policy.formula.text if policy.formula else "", raw)
        if len(policies) > 1:
            choice = choose(evaluations)[GROUP]
            assert sql[f"{GROUP}:chosen"] == (choice.chosen.policy.id if choice.chosen else None), raw
            assert sql[f"{GROUP}:amount"] == (choice.chosen.amount if choice.chosen else None), raw


@pytest.mark.parametrize(
    "revenue",
    ["0.04", "0.12", "1234.36", "999999999999.99", "7999999999999.96", "8000000000000.04", "9999999999999999.99"],
)
def test_amounts_round_the_same_on_both_sides_of_the_64_bit_fast_path(tmp_path: Path, revenue: str) -> None:
    """Amounts below 10¹² yuan are rounded to the cent in 64 bits, larger ones in 128 bits
    (huiqi.rules.sqlgen.round_to_cents): the same cents as Python on either side, half cents
    away from zero, and products of more than 6 places rounded to 6 first."""
    formulas = ["revenue * 0.125", "revenue * 0.0005 + 1", "(revenue * 1.5) * 0.00001", "LEAST(revenue * 0.375, 10)"]
    docs = [
        policy_yaml(["revenue >= 0"], f, id=f"cn.test.round{i}", valid_from=dt.date(2000, 1, 1))
        for i, f in enumerate(formulas)
    ]
    for name, text in files_for(*docs).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    library = load_library(tmp_path)
    profile = parse_profile({"revenue": revenue})
    (sql,) = duckdb_rows(library, [profile.facts()])
    _, evaluations = library.evaluate(profile, AS_OF)
    for policy, ev in zip(library.policies, evaluations, strict=True):
        assert ev.amount is not None
        assert sql[f"{policy.id}:amount"] == ev.amount, (policy.formula.text if policy.formula else "", revenue)


def test_large_products_are_exact_in_sql_not_an_overflow_error(tmp_path: Path) -> None:
    """Money times an integer or times money is multiplied in 128 bits: in 64 bits DuckDB
    raised "Overflow in multiplication of DECIMAL(18)" and stopped the whole batch run."""
    formulas = [
        "monthly_sales * 12 * 0.01",
        "(revenue * total_assets) * 0.000001",
        "employees * monthly_sales * 0.0001",
    ]
    docs = [
        policy_yaml(["revenue >= 0"], f, id=f"cn.test.large{i}", valid_from=dt.date(2000, 1, 1))
        for i, f in enumerate(formulas)
    ]
    for name, text in files_for(*docs).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    library = load_library(tmp_path)
    profile = parse_profile(
        {"revenue": "90000000000.05", "total_assets": "90000000000.03", "monthly_sales": "9000000000000000.07",
         "employees": 9}
    )  # fmt: skip
    (sql,) = duckdb_rows(library, [profile.facts()])
    _, evaluations = library.evaluate(profile, AS_OF)
    for policy, ev in zip(library.policies, evaluations, strict=True):
        assert ev.amount is not None and ev.amount > 10**12
        assert sql[f"{policy.id}:amount"] == ev.amount, policy.formula.text if policy.formula else ""
