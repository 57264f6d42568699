"""Terminal rendering of match results: Chinese, grouped, one reason per line."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from huiqi import vocab
from huiqi.match import MatchResult
from huiqi.match.explain import size_label, yuan
from huiqi.profile import FIELDS


def _amount(result_benefit: object) -> str:
    b = result_benefit
    if b is None:
        return "—"
    amount = getattr(b, "amount", None)
    if amount is None:
        return "按实核定" if getattr(b, "note", None) else "金额待定"
    return yuan(Decimal(amount)) + vocab.unit_suffix(getattr(b, "unit", ""))


def render_match(result: MatchResult, console: Console) -> None:
    v = result.variables
    facts = [f"评估日期 {result.as_of.isoformat()}"]
    if v.get("size_class") is not None:
        facts.append(f"企业规模：{size_label(v['size_class'])}")
    if v.get("age_years") is not None:
        facts.append(f"成立 {v['age_years']} 年")
    if v.get("is_small_low_profit") is not None:
        facts.append("小型微利企业：" + ("是" if v["is_small_low_profit"] else "否"))
    console.print(Text("  ".join(facts), style="bold"))

    groups: dict[str, list] = {group: [] for group in vocab.GROUPS}
    for r in result.results:
        groups[vocab.group_of(r.verdict, r.detail)].append(r)

    if groups["eligible"]:
        t = Table(title=f"可享受（{len(groups['eligible'])} 项）", title_style="bold green", expand=True)
        t.add_column("政策", ratio=4)
        t.add_column("预计金额", justify="right", ratio=1)
        t.add_column("申请方式", ratio=1)
        for r in groups["eligible"]:
            note = r.benefit.note if r.benefit and r.benefit.amount is None and r.benefit.note else ""
            t.add_row(
                f"{r.title}\n[dim]{r.policy_id} · {r.document_number}[/]" + (f"\n[dim]金额：{note}[/]" if note else ""),
                _amount(r.benefit),
                r.apply.mode,
            )
        console.print(t)
    if groups["conditional"]:
        title = f"{vocab.CONDITIONAL.label}（{len(groups['conditional'])} 项，金额不计入合计）"
        t = Table(title=title, title_style="bold cyan", expand=True)
        t.add_column("政策", ratio=4, overflow="fold")
        t.add_column("预计金额", justify="right", ratio=1)
        for r in groups["conditional"]:
            said = vocab.precondition_text(r.preconditions)
            t.add_row(f"{r.title}\n[dim]{r.policy_id}[/]\n[cyan]{said}[/]", _amount(r.benefit))
        console.print(t)
    if groups["undetermined"]:
        t = Table(title=f"需补充信息（{len(groups['undetermined'])} 项）", title_style="bold yellow", expand=True)
        t.add_column("政策", ratio=3)
        t.add_column("还需要", ratio=2)
        t.add_column("若符合预计", justify="right", ratio=1)
        for r in groups["undetermined"]:
            need = "、".join(FIELDS[m].label for m in r.missing) or "—"
            t.add_row(f"{r.title}\n[dim]{r.policy_id}[/]", need, _amount(r.benefit))
        console.print(t)
    if groups["ineligible"]:
        t = Table(title=f"不符合（{len(groups['ineligible'])} 项）", title_style="bold red", expand=True)
        t.add_column("政策", ratio=2)
        t.add_column("原因", ratio=3)
        for r in groups["ineligible"]:
            reasons = [c.reason for c in r.conditions if c.outcome == "unmet"]
            t.add_row(f"{r.title}\n[dim]{r.policy_id}[/]", reasons[0] if reasons else "—")
        console.print(t)
    # Yearly, one-off and per-person amounts are not added together: each unit its own sum.
    by_unit = result.totals.eligible_amount_by_unit
    parts = [f"{unit.group} {yuan(Decimal(by_unit[code]))}" for code, unit in vocab.UNITS.items() if code in by_unit]
    console.print(
        Panel(
            Group(
                Text(
                    f"可享受 {result.totals.eligible} 项" + ("，预计" + "，".join(parts) if parts else ""),
                    style="bold",
                ),
                Text(
                    (
                        f"{vocab.CONDITIONAL.label} {result.totals.conditional} 项（未计入）；"
                        if result.totals.conditional
                        else ""
                    )
                    + f"需补充信息 {result.totals.undetermined} 项，不符合 {result.totals.ineligible} 项。"
                    "金额为估算，以主管部门核定为准。",
                    style="dim",
                ),
            ),
            border_style="green",
        )
    )
