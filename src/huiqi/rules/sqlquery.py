"""Whole-library SQL: derived variables as stacked CTEs, one verdict and amount per policy.

The query reads a table of profiles (the columns of ``PROFILE_COLUMNS``) and returns
one row per enterprise, in input order, with ``<policy id>:verdict`` and
``<policy id>:amount`` columns (plus ``<policy id>:<condition id>`` when asked).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlglot import exp

from huiqi.profile import FIELDS
from huiqi.rules.library import Library, Policy
from huiqi.rules.sqlgen import DECIMAL_2, SqlGen, cast

_SQL_TYPES = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "money": "DECIMAL(18, 2)",
    "date": "DATE",
    "list": "VARCHAR[]",
}
#: The profile table's columns and DuckDB types, from the single field registry.
PROFILE_COLUMNS: dict[str, str] = {name: _SQL_TYPES[spec.kind] for name, spec in FIELDS.items()}


def conjunction(conditions: list[exp.Expr]) -> exp.Expr:
    return exp.and_(*conditions) if conditions else exp.true()


def policy_columns(gen: SqlGen, policy: Policy, *, with_conditions: bool = False) -> list[exp.Expr]:
    """The verdict and amount (and optionally each condition) of one policy as SQL columns."""
    conds = [gen.sql(c.expr.tree) for c in policy.evaluated if c.expr is not None]
    met = conjunction([exp.Paren(this=c) for c in conds])
    verdict = exp.Case(
        ifs=[
            exp.If(this=met.copy(), true=exp.Literal.string("eligible")),
            exp.If(this=exp.Not(this=exp.Paren(this=met.copy())), true=exp.Literal.string("ineligible")),
        ],
        default=exp.Literal.string("undetermined"),
    )
    cols: list[exp.Expr] = [exp.alias_(verdict, f"{policy.id}:verdict", quoted=True)]
    amount: exp.Expr
    if policy.formula is not None:
        amount = exp.Case(
            ifs=[exp.If(this=exp.Not(this=exp.Paren(this=met.copy())), true=exp.null())],
            default=cast(gen.sql(policy.formula.tree), DECIMAL_2),
        )
    else:
        amount = cast(exp.null(), DECIMAL_2)
    cols.append(exp.alias_(amount, f"{policy.id}:amount", quoted=True))
    if with_conditions:
        for cond, sql in zip([c for c in policy.evaluated], conds, strict=True):
            cols.append(exp.alias_(sql, f"{policy.id}:{cond.id}", quoted=True))
    return cols


def match_query(
    library: Library,
    as_of: dt.date,
    source: str = "profiles",
    *,
    key: str = "uscc",
    policy_ids: Iterable[str] | None = None,
    with_conditions: bool = False,
    dialect: str = "duckdb",
) -> str:
    """SQL evaluating every policy in force on ``as_of`` for every row of ``source``."""
    gen = SqlGen(as_of, library.params_at(as_of))
    policies = library.in_force(as_of)
    if policy_ids is not None:
        wanted = set(policy_ids)
        policies = [p for p in policies if p.id in wanted]
    query = exp.select(exp.column(key, quoted=True)).from_("v0")
    ctes = [("v0", exp.select("*").from_(exp.to_table(source)))]
    for i, var in enumerate(library.variables, start=1):
        layer = exp.select("*", exp.alias_(gen.sql(var.expr.tree), var.name, quoted=True)).from_(f"v{i - 1}")
        ctes.append((f"v{i}", layer))
    last = f"v{len(library.variables)}"
    query = exp.select(exp.column(key, quoted=True)).from_(last)
    for policy in policies:
        query = query.select(*policy_columns(gen, policy, with_conditions=with_conditions), copy=False)
    for name, cte in ctes:
        query = query.with_(name, as_=cte, copy=False)
    return query.sql(dialect=dialect)
