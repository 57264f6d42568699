"""免申即享 lists from a batch run: who gets how much, and whom to ask for what.

``export_list(run, policy_id, out)`` reads ``run/pairs/policy_id=<id>/`` and the registry
the run used (its path is in ``run.json``), and writes

* the eligible enterprises with their amounts (统一社会信用代码, 企业名称, 所在地区,
  所属行业, 享受金额) for the paying department, with a total row, and
* the undetermined enterprises with the facts to collect, in Chinese
  (``huiqi.profile.FIELDS`` labels).

CSV: UTF-8 with a byte-order mark so that Excel shows the Chinese correctly; the eligible
list goes to ``out``, the undetermined one beside it (``<stem>-待补充信息.csv``).
Excel (.xlsx, openpyxl): one workbook with the sheets 可享受名单, 待补充信息 and 说明;
amounts are numeric cells with two decimals, headers in Chinese. For a policy that waits on
an action (已招用退役士兵, 已取得首笔贷款) the first list is 满足前提即可享受名单: every row's
备注 names the 前提, and its total is 合计（须满足前提）— not money to pay unchecked.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from huiqi.batch.base import PAIRS, BatchError
from huiqi.batch.run import open_registry, read_manifest
from huiqi.profile import FIELDS
from huiqi.profile import industry as _industry

ELIGIBLE_HEADER = ["统一社会信用代码", "企业名称", "所在地区", "所属行业", "享受金额（元）", "备注"]
UNDETERMINED_HEADER = [
    "统一社会信用代码",
    "企业名称",
    "所在地区",
    "所属行业",
    "预估金额（元）",
    "需补充的信息",
    "缺少的字段",
]
#: Data rows an .xlsx sheet can hold (1,048,576 rows less the header and the total).
XLSX_MAX_ROWS = 1_048_574
AMOUNT_FORMAT = "#,##0.00"


@dataclass
class Row:
    uscc: str
    name: str | None
    region: str | None
    industry: str | None
    amount: Decimal | None
    missing: list[str] = field(default_factory=list)

    @property
    def industry_label(self) -> str:
        if not self.industry:
            return ""
        ind = _industry.lookup(self.industry)
        return f"{self.industry} {ind.name}" if ind else self.industry

    @property
    def missing_labels(self) -> str:
        return "、".join(FIELDS[f].label if f in FIELDS else f for f in self.missing)


@dataclass
class Lists:
    policy_id: str
    title: str
    as_of: str
    eligible: list[Row]
    undetermined: list[Row]
    files: list[Path] = field(default_factory=list)
    summary: str = ""
    #: 前提 of a policy that waits on an action: its eligible list is 满足前提即可享受 — the
    #: enterprises to tell about the policy, not to pay without checking the action.
    preconditions: list[str] = field(default_factory=list)

    @property
    def eligible_sheet(self) -> str:
        return "满足前提即可享受名单" if self.preconditions else "可享受名单"

    @property
    def total_label(self) -> str:
        return "合计（须满足前提）" if self.preconditions else "合计"

    def note(self, row: Row) -> str | None:
        parts = [f"前提：{'；'.join(self.preconditions)}"] if self.preconditions else []
        if row.amount is None:
            parts.append("金额待核定")
        return "；".join(parts) or None

    @property
    def total(self) -> Decimal:
        return sum((r.amount for r in self.eligible if r.amount is not None), Decimal("0.00"))


def read_lists(run: Path, policy_id: str, enterprises: Path | None = None) -> Lists:
    import duckdb

    manifest = read_manifest(run)
    described = {p["id"]: p for p in manifest.get("policies", [])}
    titles = {pid: p["title"] for pid, p in described.items()}
    if policy_id not in titles:
        raise BatchError(
            "--policy",
            f"该运行结果中没有政策 {policy_id}（共 {len(titles)} 项）",
            f"policy {policy_id!r} is not in this run",
        )
    part = Path(run) / PAIRS / f"policy_id={policy_id}"
    if not part.is_dir():
        raise BatchError(
            "--run",
            "该运行只计算了汇总（--summary-only），没有企业名单",
            "this run has no pairs (it was run with --summary-only)",
        )
    registry = Path(enterprises) if enterprises is not None else Path(manifest["enterprises"])
    open_registry(registry, "--enterprises")
    con = duckdb.connect()
    pairs = str(part / "*.parquet").replace("'", "''")
    reg = str(registry).replace("'", "''")
    rows = con.execute(
        f"""SELECT p.uscc, r.name, r.region, r.industry, p.verdict, p.amount, p.missing
            FROM read_parquet('{pairs}') AS p
            LEFT JOIN (SELECT uscc, name, region, industry FROM read_parquet('{reg}')) AS r USING (uscc)
            WHERE p.verdict IN ('eligible', 'undetermined')
            ORDER BY p.uscc"""
    ).fetchall()
    eligible = [Row(u, n, rg, ind, a) for u, n, rg, ind, v, a, _ in rows if v == "eligible"]
    undetermined = [Row(u, n, rg, ind, a, list(m or [])) for u, n, rg, ind, v, a, m in rows if v == "undetermined"]
    about = described[policy_id]
    return Lists(
        policy_id,
        titles[policy_id],
        str(manifest.get("as_of")),
        eligible,
        undetermined,
        summary=about.get("summary", ""),
        preconditions=list(about.get("preconditions", [])),
    )


def export_list(run: Path, policy_id: str, out: Path, *, enterprises: Path | None = None) -> Lists:
    """Write the eligible and undetermined lists of one policy as CSV or Excel."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise BatchError("--out", "文件扩展名应为 .csv 或 .xlsx", f"the file must end in .csv or .xlsx, got {out.name}")
    if out.is_dir():
        raise BatchError("--out", f"{out} 是目录", f"{out} is a directory")
    lists = read_lists(run, policy_id, enterprises)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".csv":
            lists.files = write_csv(lists, out)
        else:
            if max(len(lists.eligible), len(lists.undetermined)) > XLSX_MAX_ROWS:
                raise BatchError(
                    "--out",
                    f"名单超过 Excel 的行数上限（{XLSX_MAX_ROWS:,} 行），请导出为 .csv",
                    "the list is longer than an Excel sheet can hold; export .csv instead",
                )
            write_xlsx(lists, out)
            lists.files = [out]
    except OSError as e:
        raise BatchError("--out", f"无法写入 {out}", f"cannot write {out}: {e}") from None
    return lists


def _money(amount: Decimal | None) -> str:
    return "" if amount is None else f"{amount:.2f}"


def undetermined_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}-待补充信息{out.suffix}")


def write_csv(lists: Lists, out: Path) -> list[Path]:
    second = undetermined_path(out)
    for path, writer in ((out, _eligible_csv), (second, _undetermined_csv)):
        tmp = path.with_name(f".{path.name}.tmp")
        with tmp.open("w", encoding="utf-8-sig", newline="") as f:
            writer(csv.writer(f), lists)
        tmp.replace(path)
    return [out, second]


def _eligible_csv(w: Any, lists: Lists) -> None:
    w.writerow(ELIGIBLE_HEADER)
    for r in lists.eligible:
        note = lists.note(r) or ""
        w.writerow([r.uscc, r.name or "", r.region or "", r.industry_label, _money(r.amount), note])
    w.writerow([lists.total_label, f"{len(lists.eligible)} 家", "", "", _money(lists.total), ""])


def _undetermined_csv(w: Any, lists: Lists) -> None:
    w.writerow(UNDETERMINED_HEADER)
    for r in lists.undetermined:
        w.writerow(
            [
                r.uscc,
                r.name or "",
                r.region or "",
                r.industry_label,
                _money(r.amount),
                r.missing_labels,
                ",".join(r.missing),
            ]
        )


def write_xlsx(lists: Lists, out: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill

    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")

    def header(ws: Any, names: list[str], widths: list[int]) -> None:
        for i, width in enumerate(widths):
            ws.column_dimensions[chr(ord("A") + i)].width = width
        ws.freeze_panes = "A2"
        cells = []
        for name in names:
            c = WriteOnlyCell(ws, value=name)
            c.font = bold
            c.fill = fill
            c.alignment = Alignment(horizontal="center")
            cells.append(c)
        ws.append(cells)

    def amount(ws: Any, value: Decimal | None, *, strong: bool = False) -> Any:
        c = WriteOnlyCell(ws, value=value)  # type: ignore[arg-type]  # openpyxl writes Decimal as a number
        c.number_format = AMOUNT_FORMAT
        if strong:
            c.font = bold
        return c

    ws = wb.create_sheet(lists.eligible_sheet)
    header(ws, ELIGIBLE_HEADER, [22, 40, 10, 36, 18, 40 if lists.preconditions else 12])
    for r in lists.eligible:
        ws.append([r.uscc, r.name, r.region, r.industry_label, amount(ws, r.amount), lists.note(r)])
    total_label = WriteOnlyCell(ws, value=lists.total_label)
    total_label.font = bold
    ws.append([total_label, f"{len(lists.eligible)} 家", None, None, amount(ws, lists.total, strong=True), None])

    ws = wb.create_sheet("待补充信息")
    header(ws, UNDETERMINED_HEADER, [22, 40, 10, 36, 18, 40, 30])
    for r in lists.undetermined:
        ws.append(
            [r.uscc, r.name, r.region, r.industry_label, amount(ws, r.amount), r.missing_labels, ",".join(r.missing)]
        )

    ws = wb.create_sheet("说明")
    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = 70
    for k, v in (
        ("政策", lists.title),
        ("政策 id", lists.policy_id),
        ("评估日期", lists.as_of),
        ("政策摘要", lists.summary),
        *((("前提", "满足前提即可享受：" + "；".join(lists.preconditions)),) if lists.preconditions else ()),
        (lists.eligible_sheet.removesuffix("名单") + "企业", len(lists.eligible)),
        ("金额合计（元）", lists.total),
        ("待补充信息企业", len(lists.undetermined)),
        ("说明", "由 huiqi 批量匹配（免申即享）生成；金额为按政策公式测算的估计值，以兑付部门核定为准。"),
    ):
        ws.append([k, amount(ws, v) if isinstance(v, Decimal) else v])

    tmp = out.with_name(f".{out.name}.tmp")
    wb.save(tmp)
    tmp.replace(out)
