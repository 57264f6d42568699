"""Impact analysis before publishing: who gains, who loses, whose amount changes.

Both libraries (current and proposed) are compiled to SQL with
``huiqi.rules.sqlquery.match_query`` and run by DuckDB over the enterprise registry (a
Parquet file from ``huiqi registry generate``, or a few JSON profiles such as
examples/*.json). The enterprises listed in the report are then explained with the
Python evaluator (``huiqi.match.match``): which conditions changed outcome.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any

import duckdb

from huiqi.match import match
from huiqi.profile import ProfileError, parse_profile
from huiqi.rules.library import Library
from huiqi.rules.sqlquery import PROFILE_COLUMNS, match_query

KINDS = {
    "newly_eligible": "新增符合",
    "no_longer_eligible": "不再符合",
    "amount_up": "金额增加",
    "amount_down": "金额减少",
}


@dataclass
class EnterpriseChange:
    uscc: str
    name: str | None
    policy_id: str
    kind: str
    old_verdict: str | None
    new_verdict: str | None
    old_amount: Decimal | None
    new_amount: Decimal | None
    reasons: list[str] = field(default_factory=list)


@dataclass
class PolicyImpact:
    policy_id: str
    title: str
    counts: dict[str, int]
    amount_delta: Decimal  # change in the total estimated amount over eligible enterprises
    # Eligible enterprises (before or after) whose amount cannot be computed: left out of
    # amount_delta rather than counted as 0, and shown next to it.
    amount_unknown: int = 0

    @property
    def amount_text(self) -> str:
        return f"{self.amount_delta}" + (f"（另有 {self.amount_unknown} 家金额待定）" if self.amount_unknown else "")


@dataclass
class ImpactReport:
    as_of: dt.date
    enterprises: int
    policies: list[PolicyImpact]
    changes: list[EnterpriseChange]  # at most ``limit`` per policy and kind

    @property
    def counts(self) -> dict[str, int]:
        return {k: sum(p.counts[k] for p in self.policies) for k in KINDS}

    @property
    def amount_delta(self) -> Decimal:
        return sum((p.amount_delta for p in self.policies), Decimal("0.00"))


def _connect(enterprises: Path | Iterable[Mapping[str, Any]]) -> tuple[duckdb.DuckDBPyConnection, int]:
    con = duckdb.connect()
    cols = ", ".join(f'"{name}" {sql_type}' for name, sql_type in PROFILE_COLUMNS.items())
    if isinstance(enterprises, Path) and enterprises.suffix == ".parquet":
        present = {r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(enterprises)]).fetchall()}
        select = ", ".join(
            f'CAST("{n}" AS {t}) AS "{n}"' if n in present else f'CAST(NULL AS {t}) AS "{n}"'
            for n, t in PROFILE_COLUMNS.items()
        )
        path = str(enterprises).replace("'", "''")
        con.execute(f"CREATE VIEW profiles AS SELECT {select} FROM read_parquet('{path}')")
    else:
        rows = _json_profiles(enterprises)
        con.execute(f"CREATE TABLE profiles ({cols})")
        if rows:
            names = list(PROFILE_COLUMNS)
            marks = ", ".join("?" for _ in names)
            con.executemany(f"INSERT INTO profiles VALUES ({marks})", [[row.get(n) for n in names] for row in rows])
    total = con.execute("SELECT count(*) FROM profiles").fetchone()
    return con, int(total[0]) if total else 0


def count_enterprises(registry: Path) -> int:
    """How many enterprises a registry (Parquet file, or JSON profiles) holds."""
    _, total = _connect(registry)
    return total


def _json_profiles(source: Path | Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(source, Path):
        files = sorted(source.glob("*.json")) if source.is_dir() else [source]
        raw: list[Mapping[str, Any]] = []
        for f in files:
            data = json.loads(f.read_text(encoding="utf-8"))
            raw.extend(data if isinstance(data, list) else [data])
    else:
        raw = list(source)
    out = []
    for i, item in enumerate(raw):
        # A profile that is wrong or has no USCC is refused, not skipped: an impact count
        # that silently left enterprises out would mislead the officer reading it.
        try:
            facts = parse_profile(dict(item)).facts()
        except ProfileError as e:
            raise ValueError(f"第{i + 1}个企业画像有误 / enterprise #{i + 1} is invalid: {e}") from None
        if not facts.get("uscc"):
            raise ValueError(f"第{i + 1}个企业画像缺少统一社会信用代码 / enterprise #{i + 1} has no uscc")
        out.append({k: v for k, v in facts.items() if k in PROFILE_COLUMNS})
    return out


def _row_profile(row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        if v is None:
            continue
        if isinstance(v, Decimal):
            out[k] = str(v)
        elif isinstance(v, dt.date):
            out[k] = v.isoformat()
        else:
            out[k] = v
    return out


def impact(
    current: Library,
    proposed: Library,
    enterprises: Path | Iterable[Mapping[str, Any]],
    as_of: dt.date,
    *,
    policy_ids: Iterable[str] | None = None,
    limit: int = 20,
    explain: bool = True,
) -> ImpactReport:
    """Compare the two libraries' verdicts and amounts for every enterprise on ``as_of``."""
    old_ids = {p.id for p in current.in_force(as_of)}
    new_ids = {p.id for p in proposed.in_force(as_of)}
    ids = sorted(set(policy_ids) if policy_ids is not None else old_ids | new_ids)
    con, total = _connect(enterprises)
    con.execute(f"CREATE TEMP TABLE old_r AS {match_query(current, as_of, 'profiles', policy_ids=ids)}")
    con.execute(f"CREATE TEMP TABLE new_r AS {match_query(proposed, as_of, 'profiles', policy_ids=ids)}")
    titles = {p.id: p.definition.title for lib in (current, proposed) for p in lib.policies}
    policies: list[PolicyImpact] = []
    changes: list[EnterpriseChange] = []
    for pid in ids:

        def col(side: str, what: str, present: set[str], pid: str = pid) -> str:
            if pid not in present:
                return "CAST(NULL AS DECIMAL(18,2))" if what == "amount" else "CAST(NULL AS VARCHAR)"
            return f'{side}."{pid}:{what}"'

        ov, nv = col("o", "verdict", old_ids), col("n", "verdict", new_ids)
        oa, na = col("o", "amount", old_ids), col("n", "amount", new_ids)
        kind = (
            f"CASE WHEN {nv} = 'eligible' AND {ov} IS DISTINCT FROM 'eligible' THEN 'newly_eligible' "
            f"WHEN {ov} = 'eligible' AND {nv} IS DISTINCT FROM 'eligible' THEN 'no_longer_eligible' "
            f"WHEN {ov} = 'eligible' AND {nv} = 'eligible' AND {na} > {oa} THEN 'amount_up' "
            f"WHEN {ov} = 'eligible' AND {nv} = 'eligible' AND {na} < {oa} THEN 'amount_down' END"
        )
        unknown = f"(({nv} = 'eligible' AND {na} IS NULL) OR ({ov} = 'eligible' AND {oa} IS NULL))"
        delta = (
            f"CASE WHEN {unknown} THEN NULL ELSE "
            f"COALESCE(CASE WHEN {nv} = 'eligible' THEN {na} END, 0) - "
            f"COALESCE(CASE WHEN {ov} = 'eligible' THEN {oa} END, 0) END"
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE diff AS "
            f"SELECT n.uscc AS uscc, {kind} AS kind, {ov} AS ov, {nv} AS nv, {oa} AS oa, {na} AS na, "
            f"{delta} AS delta FROM new_r n JOIN old_r o ON o.uscc = n.uscc"
        )
        counts = dict.fromkeys(KINDS, 0)
        for k, c in con.execute("SELECT kind, count(*) FROM diff WHERE kind IS NOT NULL GROUP BY kind").fetchall():
            counts[k] = int(c)
        row = con.execute(
            "SELECT COALESCE(sum(delta), 0),"
            " count(*) FILTER (WHERE delta IS NULL AND (ov = 'eligible' OR nv = 'eligible')) FROM diff"
        ).fetchone()
        total_delta, unknown_count = (row[0], row[1]) if row else (0, 0)
        policies.append(
            PolicyImpact(pid, titles.get(pid, pid), counts, Decimal(total_delta), amount_unknown=int(unknown_count))
        )
        listed = con.execute(
            "SELECT d.uscc, p.name, d.kind, d.ov, d.nv, d.oa, d.na FROM ("
            "  SELECT *, row_number() OVER (PARTITION BY kind ORDER BY abs(delta) DESC, uscc) AS rn"
            "  FROM diff WHERE kind IS NOT NULL) d JOIN profiles p ON p.uscc = d.uscc"
            " WHERE d.rn <= ? ORDER BY d.kind, d.rn",
            [limit],
        ).fetchall()
        for uscc, name, k, ov_, nv_, oa_, na_ in listed:
            changes.append(EnterpriseChange(uscc, name, pid, k, ov_, nv_, oa_, na_))
    if explain and changes:
        _explain(con, changes, current, proposed, as_of)
    con.close()
    return ImpactReport(as_of, total, policies, changes)


def _explain(
    con: duckdb.DuckDBPyConnection,
    changes: list[EnterpriseChange],
    current: Library,
    proposed: Library,
    as_of: dt.date,
) -> None:
    """Reasons from the Python evaluator: the conditions whose outcome changed."""
    usccs = sorted({c.uscc for c in changes})
    cur = con.execute("SELECT * FROM profiles WHERE uscc IN (SELECT unnest(?))", [usccs])
    names = [d[0] for d in cur.description]
    profiles = {row[0]: _row_profile(dict(zip(names, row, strict=True))) for row in cur.fetchall()}
    for change in changes:
        data = profiles.get(change.uscc)
        if data is None:
            continue
        before = {r.policy_id: r for r in match(data, as_of, current, [change.policy_id]).results}
        after = {r.policy_id: r for r in match(data, as_of, proposed, [change.policy_id]).results}
        b, a = before.get(change.policy_id), after.get(change.policy_id)
        old_c = {c.id: c for c in b.conditions} if b else {}
        new_c = {c.id: c for c in a.conditions} if a else {}
        for cid, c in new_c.items():
            o = old_c.get(cid)
            if o is None or o.outcome != c.outcome or o.text != c.text:
                was = f"（原：{o.reason}）" if o is not None else "（新增条件）"
                change.reasons.append(f"{c.reason}{was}")
        for cid, o in old_c.items():
            if cid not in new_c:
                change.reasons.append(f"删除条件：{o.text}")
        if a is None and b is not None:
            change.reasons.append("提议版本中该政策在此日期不适用 / not in force in the proposed version")
        if b is None and a is not None and not change.reasons:
            change.reasons.append("现行版本中该政策在此日期不适用（新政策） / new policy")
        if not change.reasons and a is not None and a.benefit is not None:
            change.reasons.append(f"金额：{change.old_amount} → {change.new_amount}（{a.benefit.explain}）")


def impact_svg(report: ImpactReport, width: int = 520) -> str:
    """A small bar chart of the four counts (inline SVG, no JavaScript)."""
    counts = report.counts
    colors = {
        "newly_eligible": "#2e7d32",
        "no_longer_eligible": "#c62828",
        "amount_up": "#1565c0",
        "amount_down": "#ef6c00",
    }
    top = max([1, *counts.values()])
    bar_h, gap, label_w = 26, 10, 90
    height = len(KINDS) * (bar_h + gap) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="影响分析" font-family="sans-serif" font-size="13">'
    ]
    for i, (k, label) in enumerate(KINDS.items()):
        y = i * (bar_h + gap) + 10
        w = int((width - label_w - 70) * counts[k] / top)
        parts.append(f'<text x="0" y="{y + 18}">{escape(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" fill="{colors[k]}"/>')
        parts.append(f'<text x="{label_w + w + 6}" y="{y + 18}">{counts[k]}</text>')
    parts.append(
        f'<text x="0" y="{height - 6}">企业 {report.enterprises} 家；预计金额合计变化 '
        f"{escape(str(report.amount_delta))} 元</text>"
    )
    parts.append("</svg>")
    return "".join(parts)
