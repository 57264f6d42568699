"""A synthetic policy library for benchmarks: hundreds of policies, ~10 conditions each.

``write_synthetic_library(root, n_policies, seed)`` writes ``_variables.yaml``,
``_parameters.yaml`` and ``n_policies`` policy files under ``root``. The policies are
made of templates drawn with a seeded ``random.Random``: comparisons with thresholds and
named parameters, code patterns, lists, dates, derived variables (a 3VL ``size_class``, a
ratio, a product) and benefit formulas with LEAST/GREATEST/CASE and decimal arithmetic.
Each condition passes for most enterprises of the synthetic registry, so a realistic
share of (enterprise, policy) pairs is eligible or undetermined rather than all ineligible.

The return value also carries each condition and formula as *plain DuckDB SQL* (no
three-valued wrappers, no stacked CTEs, no decimal rounding casts): the hand-written
"floor" query that ``bench/bench_batch.py`` compares the generated SQL with.

The policies are fictional (``lj.synthetic.*``, ``sample: true``); they pass
``load_library`` (lint reports only warnings such as "fewer than 3 test cases").
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import yaml

AS_OF = dt.date(2026, 6, 30)
#: The industry groupings policies are written for (工业, 制造业, 科技服务, 现代服务业, …).
#: Real libraries reuse a handful of such lists; each *distinct* string IN list costs
#: DuckDB ~20 ms per million rows (docs/batch.md), so random subsets would measure
#: something no policy library looks like.
SECTION_GROUPS: list[tuple[str, ...]] = [
    ("C",),
    ("B", "C", "D"),
    ("C", "I", "M"),
    ("I", "M"),
    ("A",),
    ("E",),
    ("F", "H"),
    ("G", "L", "M", "N"),
    ("C", "E", "F", "G", "H", "I"),
    ("A", "B", "C", "D", "E"),
    ("F", "G", "H", "I", "J", "K", "L", "M", "N", "O", "P", "Q", "R"),
    ("H", "O", "R"),
]

#: A simplified three-valued 企业规模 (the shipped one has every row of the 2017 table).
SIZE_CLASS = """CASE
  WHEN industry_section IN ('B', 'C', 'D') THEN
    CASE
      WHEN employees >= 1000 AND revenue >= 400000000 THEN 'large'
      WHEN (employees >= 1000 AND revenue >= 400000000) IS NULL THEN NULL
      WHEN employees >= 300 AND revenue >= 20000000 THEN 'medium'
      WHEN (employees >= 300 AND revenue >= 20000000) IS NULL THEN NULL
      WHEN employees >= 20 AND revenue >= 3000000 THEN 'small'
      WHEN (employees >= 20 AND revenue >= 3000000) IS NULL THEN NULL
      ELSE 'micro' END
  WHEN industry_section = 'E' THEN
    CASE
      WHEN revenue >= 800000000 AND total_assets >= 800000000 THEN 'large'
      WHEN (revenue >= 800000000 AND total_assets >= 800000000) IS NULL THEN NULL
      WHEN revenue >= 60000000 AND total_assets >= 50000000 THEN 'medium'
      WHEN (revenue >= 60000000 AND total_assets >= 50000000) IS NULL THEN NULL
      WHEN revenue >= 3000000 AND total_assets >= 3000000 THEN 'small'
      WHEN (revenue >= 3000000 AND total_assets >= 3000000) IS NULL THEN NULL
      ELSE 'micro' END
  WHEN industry_section IS NOT NULL THEN
    CASE
      WHEN employees >= 300 THEN 'large'
      WHEN employees IS NULL THEN NULL
      WHEN employees >= 100 THEN 'medium'
      WHEN employees >= 10 THEN 'small'
      ELSE 'micro' END
END"""

#: Derived variables: (name, label, rule expression, plain DuckDB expression). The plain
#: forms may use the aliases defined above them (DuckDB resolves lateral aliases).
VARIABLES: list[tuple[str, str, str, str]] = [
    (
        "age_years",
        "成立年限",
        "years_between(registered_on, as_of)",
        "(year(DATE '{as_of}') - year(registered_on) - CASE WHEN month(DATE '{as_of}') < month(registered_on)"
        " OR (month(DATE '{as_of}') = month(registered_on) AND day(DATE '{as_of}') < day(registered_on))"
        " THEN 1 ELSE 0 END)",
    ),
    ("industry_section", "行业门类", "substr(industry, 1, 1)", "substr(industry, 1, 1)"),
    ("size_class", "企业规模（简化）", SIZE_CLASS, SIZE_CLASS),
    (
        "is_small_low_profit",
        "小型微利企业",
        "taxable_income <= 3000000 AND employees <= 300 AND total_assets <= 50000000",
        "taxable_income <= 3000000 AND employees <= 300 AND total_assets <= 50000000",
    ),
    ("rd_intensity", "研发投入强度", "rd_expense / revenue", "rd_expense / NULLIF(revenue, 0)"),
    ("annual_sales", "年销售额（按月推算）", "monthly_sales * 12", "monthly_sales * 12"),
]


@dataclass
class SyntheticPolicy:
    id: str
    conditions: list[tuple[str, str]]  # (rule expression, plain DuckDB SQL)
    formula: tuple[str, str] | None


@dataclass
class SyntheticLibrary:
    root: Path
    as_of: dt.date
    policies: list[SyntheticPolicy] = field(default_factory=list)

    def plain_variables_sql(self) -> str:
        """The derived variables as one SELECT list of plain DuckDB expressions."""
        return ", ".join(f"{plain.format(as_of=self.as_of)} AS {name}" for name, _, _, plain in VARIABLES)


def _money(x: float) -> int:
    return int(x)


class _Draw:
    """Draws one policy's conditions, parameters and formula."""

    def __init__(self, rng: random.Random, pid: str):
        self.rng = rng
        self.pid = pid
        self.params: dict[str, dict] = {}

    def param(self, name: str, label: str, value: object, unit: str = "") -> tuple[str, str]:
        full = f"{self.pid}.{name}{len(self.params)}"
        self.params[full] = {
            "label": label,
            "unit": unit,
            "values": [{"from": dt.date(2020, 1, 1), "value": value, "source": "合成测试数据"}],
        }
        plain = f"'{value}'" if isinstance(value, str) else str(value)
        return f"param('{full}')", plain

    def condition(self) -> tuple[str, str, str]:
        """(label, rule expression, plain SQL) of one random condition."""
        r = self.rng
        kind = r.randrange(23)
        if kind == 0:
            n = r.choice([100, 200, 300, 500, 1000, 2000])
            return f"从业人数不超过{n}人", f"employees <= {n}", f"employees <= {n}"
        if kind == 1:
            n = r.choice([1, 2, 3])
            return f"从业人数不少于{n}人", f"employees >= {n}", f"employees >= {n}"
        if kind == 2:
            rule, plain = self.param("max_revenue", "营业收入上限", r.choice([20, 50, 100, 400]) * 1_000_000, "元")
            return "营业收入不超过上限", f"revenue <= {rule}", f"revenue <= {plain}"
        if kind == 3:
            x = r.choice([0, 10_000, 50_000, 100_000])
            return "营业收入达到下限", f"revenue >= {x}", f"revenue >= {x}"
        if kind == 4:
            rule, plain = self.param("max_assets", "资产总额上限", r.choice([50, 100, 500]) * 1_000_000, "元")
            return "资产总额不超过上限", f"total_assets <= {rule}", f"total_assets <= {plain}"
        if kind == 5:
            rule, plain = self.param("max_income", "应纳税所得额上限", r.choice([3, 5, 10, 30]) * 1_000_000, "元")
            return "应纳税所得额不超过上限", f"taxable_income <= {rule}", f"taxable_income <= {plain}"
        if kind == 6:
            return "注册地在临江市", "region LIKE '3399%'", "region LIKE '3399%'"
        if kind == 7:
            lst = ", ".join(f"'{s}'" for s in r.choice(SECTION_GROUPS))
            return "属于支持的行业门类", f"industry_section IN ({lst})", f"industry_section IN ({lst})"
        if kind == 8:
            pat = r.choice(["K70%", "J66%", "F52%", "C25%", "B%"])
            return "不属于限制行业", f"industry NOT LIKE '{pat}'", f"industry NOT LIKE '{pat}'"
        if kind == 9:
            return (
                "中小微企业",
                "size_class IN ('medium', 'small', 'micro')",
                ("size_class IN ('medium', 'small', 'micro')"),
            )
        if kind == 10:
            return "非大型企业", "size_class <> 'large'", "size_class <> 'large'"
        if kind == 11:
            n = r.choice([15, 20, 30])
            return f"成立不超过{n}年", f"age_years <= {n}", f"age_years <= {n}"
        if kind == 12:
            lo, hi = r.choice([(0, 10), (1, 20), (0, 30)])
            return "成立年限在范围内", f"age_years BETWEEN {lo} AND {hi}", f"age_years BETWEEN {lo} AND {hi}"
        if kind == 13:
            return "纳税信用等级A、B或M级", "credit_rating IN ('A', 'B', 'M')", "credit_rating IN ('A', 'B', 'M')"
        if kind == 14:
            return "纳税信用不是D级", "credit_rating <> 'D'", "credit_rating <> 'D'"
        if kind == 15:
            return (
                "已登记增值税纳税人类型",
                "taxpayer_type IN ('small_scale', 'general')",
                ("taxpayer_type IN ('small_scale', 'general')"),
            )
        if kind == 16:
            rule, plain = self.param("max_monthly_sales", "月销售额上限", r.choice([1, 5, 10]) * 1_000_000, "元")
            return "月销售额不超过上限", f"monthly_sales <= {rule}", f"monthly_sales <= {plain}"
        if kind == 17:
            return (
                "不是专精特新小巨人",
                "NOT contains(certifications, 'little_giant')",
                "NOT list_contains(certifications, 'little_giant')",
            )
        if kind == 18:
            return (
                "有科技资质或研发投入",
                "contains(certifications, 'high_tech') OR contains(certifications, 'tech_sme') OR rd_expense >= 0",
                "list_contains(certifications, 'high_tech') OR list_contains(certifications, 'tech_sme') "
                "OR rd_expense >= 0",
            )
        if kind == 19:
            d = dt.date(r.choice([2024, 2025]), r.randint(1, 12), 1)
            return "成立日期不晚于基准日", f"registered_on <= DATE '{d}'", f"registered_on <= DATE '{d}'"
        if kind == 20:
            return (
                "小型微利企业或中小微企业",
                "is_small_low_profit OR size_class IN ('small', 'micro')",
                "is_small_low_profit OR size_class IN ('small', 'micro')",
            )
        if kind == 21:
            x = r.choice(["0.3", "0.5"])
            return "研发投入强度不过高（数据核验）", f"rd_intensity <= {x}", f"rd_intensity <= {x}"
        rule, plain = self.param("margin", "所得率上限", str(r.choice(["0.5", "0.8", "1"])))
        plain = plain.strip("'")
        return (
            "应纳税所得额不超过营业收入的一定比例",
            f"taxable_income <= revenue * {rule}",
            f"taxable_income <= revenue * {plain}",
        )

    def formula(self) -> tuple[str, str] | None:
        r = self.rng
        kind = r.randrange(8)
        if kind == 0:
            return None
        if kind == 1:
            rate_r, rate_p = self.param("rate", "补助比例", str(r.choice(["0.05", "0.1", "0.15"])))
            cap_r, cap_p = self.param("cap", "补助上限", r.choice([200_000, 500_000, 1_000_000]), "元")
            rate_p = rate_p.strip("'")
            return (
                f"LEAST(rd_expense * {rate_r}, {cap_r})",
                f"CASE WHEN rd_expense IS NOT NULL THEN LEAST(rd_expense * {rate_p}, {cap_p}) END",
            )
        if kind == 2:
            per_r, per_p = self.param("per_person", "每人补助", r.choice([500, 1000, 2000]), "元/人")
            return (
                f"LEAST(employees * {per_r}, 300000)",
                f"CASE WHEN employees IS NOT NULL THEN LEAST(employees * {per_p}, 300000) END",
            )
        if kind == 3:
            rule = "CASE WHEN size_class = 'micro' THEN 50000 WHEN size_class = 'small' THEN 100000 ELSE 200000 END"
            return rule, rule
        if kind == 4:
            rule = (
                "taxable_income * 0.25 - (LEAST(taxable_income, 1000000) * 0.05"
                " + GREATEST(taxable_income - 1000000, 0) * 0.05)"
            )
            plain = (
                "taxable_income * 0.25 - (CASE WHEN taxable_income IS NOT NULL THEN"
                " LEAST(taxable_income, 1000000) END * 0.05"
                " + CASE WHEN taxable_income IS NOT NULL THEN GREATEST(taxable_income - 1000000, 0) END * 0.05)"
            )
            return rule, plain
        if kind == 5:
            rule = "LEAST(GREATEST(revenue - 10000000, 0) * 0.01, 500000)"
            plain = "CASE WHEN revenue IS NOT NULL THEN LEAST(GREATEST(revenue - 10000000, 0) * 0.01, 500000) END"
            return rule, plain
        if kind == 6:
            return "annual_sales * 0.01", "annual_sales * 0.01"
        award_r, award_p = self.param("award", "奖励金额", r.choice([50_000, 100_000, 300_000]), "元")
        return award_r, award_p


def write_synthetic_library(root: Path, n_policies: int, seed: int) -> SyntheticLibrary:
    """Write a synthetic library of ``n_policies`` policies under ``root``; return its plain SQL."""
    root = Path(root)
    (root / "lj").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    variables = {name: {"label": label, "expr": expr} for name, label, expr, _ in VARIABLES}
    variables["size_class"]["values"] = ["large", "medium", "small", "micro"]
    _dump(root / "_variables.yaml", {"variables": variables})
    _dump(root / "_parameters.yaml", {"parameters": {}})
    out = SyntheticLibrary(root, AS_OF)
    for i in range(n_policies):
        pid = f"lj.synthetic.p{i:04d}"
        draw = _Draw(rng, pid)
        n_conditions = rng.randint(8, 12)
        conditions = [draw.condition() for _ in range(n_conditions)]
        formula = draw.formula()
        doc: dict = {
            "id": pid,
            "title": f"合成测试政策第{i}号（示例）",
            "issuer": "临江市合成数据局",
            "document_number": f"临合〔2025〕{i}号",
            "source_url": "https://example.invalid/synthetic",
            "region": "339900",
            "valid_from": dt.date(2020, 1, 1),
            "category": rng.choice(["tax", "subsidy", "reward", "finance", "talent", "employment"]),
            "sample": True,
            "last_verified": AS_OF,
            "summary": "基准测试用的合成政策，不是真实政策。",
            "parameters": draw.params,
            "conditions": [
                {"id": f"c{j}", "label": label, "when": rule} for j, (label, rule, _) in enumerate(conditions)
            ],
            "apply": {
                "mode": "免申即享",
                "channel": "无",
                "office": "临江市合成数据局",
                "deadline": "无",
                "contact": "无",
            },
        }
        if formula is not None:
            doc["benefit"] = {"formula": formula[0], "unit": "yuan", "explain": "合成测试金额"}
        _dump(root / "lj" / f"synthetic.p{i:04d}.yaml", doc)
        out.policies.append(SyntheticPolicy(pid, [(rule, plain) for _, rule, plain in conditions], formula))
    return out


def _dump(path: Path, doc: object) -> None:
    def represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.Node:
        return dumper.represent_str(str(value))

    yaml.SafeDumper.add_representer(Decimal, represent_decimal)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
