"""Terminal rendering of match results: Chinese, grouped, one reason per line.

Reads the answer as JSON-ready data (``huiqi.match.answer``, the lean answer of
``huiqi.match.lean``): ``huiqi match`` draws it without building the pydantic models.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from huiqi import vocab
from huiqi.match.explain import size_label, yuan
from huiqi.profile.fields import FIELDS


def _amount(benefit: dict[str, Any] | None) -> str:
    if benefit is None:
        return "—"
    amount = benefit.get("amount")
    if amount is None:
        return "按实核定" if benefit.get("note") else "金额待定"
    return yuan(Decimal(amount)) + vocab.unit_suffix(benefit.get("unit", ""))


def render_match(result: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console(soft_wrap=True)
    v = result["variables"]
    facts = [f"评估日期 {result['as_of']}"]
    if v.get("size_class") is not None:
        facts.append(f"企业规模：{size_label(v['size_class'])}")
    if v.get("age_years") is not None:
        facts.append(f"成立 {v['age_years']} 年")
    if v.get("is_small_low_profit") is not None:
        facts.append("小型微利企业：" + ("是" if v["is_small_low_profit"] else "否"))
    console.print(Text("  ".join(facts), style="bold"))

    groups: dict[str, list[dict[str, Any]]] = {group: [] for group in vocab.GROUPS}
    for r in result["results"]:
        groups[vocab.group_of(r["verdict"], r["detail"])].append(r)

    if groups["eligible"]:
        t = Table(title=f"可享受（{len(groups['eligible'])} 项）", title_style="bold green", expand=True)
        t.add_column("政策", ratio=4)
        t.add_column("预计金额", justify="right", ratio=1)
        t.add_column("申请方式", ratio=1)
        for r in groups["eligible"]:
            b = r["benefit"]
            note = b["note"] if b and b["amount"] is None and b["note"] else ""
            t.add_row(
                f"{r['title']}\n[dim]{r['policy_id']} · {r['document_number']}[/]"
                + (f"\n[dim]金额：{note}[/]" if note else ""),
                _amount(b),
                r["apply"]["mode"],
            )
        console.print(t)
    if groups["conditional"]:
        title = f"{vocab.CONDITIONAL.label}（{len(groups['conditional'])} 项，金额不计入合计）"
        t = Table(title=title, title_style="bold cyan", expand=True)
        t.add_column("政策", ratio=4, overflow="fold")
        t.add_column("预计金额", justify="right", ratio=1)
        for r in groups["conditional"]:
            said = vocab.precondition_text(r["preconditions"])
            t.add_row(f"{r['title']}\n[dim]{r['policy_id']}[/]\n[cyan]{said}[/]", _amount(r["benefit"]))
        console.print(t)
    if groups["undetermined"]:
        t = Table(title=f"需补充信息（{len(groups['undetermined'])} 项）", title_style="bold yellow", expand=True)
        t.add_column("政策", ratio=3)
        t.add_column("还需要", ratio=2)
        t.add_column("若符合预计", justify="right", ratio=1)
        for r in groups["undetermined"]:
            need = "、".join(FIELDS[m].label for m in r["missing"]) or "—"
            t.add_row(f"{r['title']}\n[dim]{r['policy_id']}[/]", need, _amount(r["benefit"]))
        console.print(t)
    if groups["ineligible"]:
        t = Table(title=f"不符合（{len(groups['ineligible'])} 项）", title_style="bold red", expand=True)
        t.add_column("政策", ratio=2)
        t.add_column("原因", ratio=3)
        for r in groups["ineligible"]:
            reasons = [c["reason"] for c in r["conditions"] if c["outcome"] == "unmet"]
            t.add_row(f"{r['title']}\n[dim]{r['policy_id']}[/]", reasons[0] if reasons else "—")
        console.print(t)
    # Yearly, one-off and per-person amounts are not added together: each unit its own sum.
    totals = result["totals"]
    by_unit = totals["eligible_amount_by_unit"]
    left_out = f"{vocab.CONDITIONAL.label} {totals['conditional']} 项（未计入）；" if totals["conditional"] else ""
    parts = [f"{unit.group} {yuan(Decimal(by_unit[code]))}" for code, unit in vocab.UNITS.items() if code in by_unit]
    console.print(
        Panel(
            Group(
                Text(
                    f"可享受 {totals['eligible']} 项" + ("，预计" + "，".join(parts) if parts else ""),
                    style="bold",
                ),
                Text(
                    left_out + f"需补充信息 {totals['undetermined']} 项，不符合 {totals['ineligible']} 项。"
                    "金额为估算，以主管部门核定为准。",
                    style="dim",
                ),
            ),
            border_style="green",
        )
    )
