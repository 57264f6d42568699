"""``huiqi portal …``: the enterprise space's officer work from a terminal.

* ``desk OFFICER OFFICE`` — an officer works the queue of an office (受理部门);
* ``grants import RUN --policy ID --officer NAME`` — a 免申即享 batch run's list, to be
  approved by another officer: ``grants approve LIST --officer NAME`` then makes the grants
  (safe to run again after a crash: nothing lost, nothing twice); ``grants list``;
* ``overdue`` — applications and grants past the 60-working-day promise.

The database is ``--db`` or HUIQI_DB; the portal's keyring HUIQI_KEYRING(_FILE) or
HUIQI_PORTAL_KEYRING (default var/portal-keyring.json). Officers are checked against the
officers' table (``huiqi user add``): role and active.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from huiqi.portal import Actor, Portal

console = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)
portal_app = typer.Typer(help="企业空间：受理部门、免申即享名单、逾期兑现", no_args_is_help=True)
grants_app = typer.Typer(help="免申即享名单：导入、批准、发放", no_args_is_help=True)
portal_app.add_typer(grants_app, name="grants")

DbOption = Annotated[str | None, typer.Option("--db", help="数据库 URL（默认 HUIQI_DB）", show_default=False)]
OfficerOption = Annotated[str, typer.Option("--officer", help="工作人员用户名（huiqi user add）")]


def fail(message: str) -> NoReturn:
    err.print(f"[bold red]错误 error[/]: {message}")
    raise typer.Exit(1)


def _open(db: str | None) -> Portal:
    import os

    from huiqi import clock as clocks
    from huiqi.library import Lifecycle
    from huiqi.library.source import DbLibrarySource
    from huiqi.portal import Portal, open_vault

    clock = clocks.from_env()
    lifecycle = Lifecycle.open(db, clock=clock)
    source = DbLibrarySource(lifecycle.engine, migrate=False, clock=clock)
    keyring = Path(os.environ.get("HUIQI_PORTAL_KEYRING", "var/portal-keyring.json"))
    return Portal(
        lifecycle.engine, clock, source.current, open_vault(lifecycle.engine, clock=clock, keyring_file=keyring)
    )


def _officer(p: Portal, name: str) -> Actor:
    from sqlalchemy.orm import Session

    from huiqi.library.officers import officer

    with Session(p.engine) as s:
        who = officer(s, name, "viewer")
    return p.officer(who.name, who.role)


def _run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    from huiqi.errors import HuiqiError

    try:
        return fn(*args, **kwargs)
    except HuiqiError as e:
        named = [f.field for f in e.field_errors() if f.field]
        fail(f"{named[0]}: {e}" if named else str(e))


@portal_app.command("desk")
def desk(officer: str, office: str, db: DbOption = None) -> None:
    """让工作人员办理某一受理部门的申报（部门名称须与政策的受理部门一致）。"""
    p = _open(db)
    if office not in p.offices():
        fail(f"没有受理部门“{office}” / no such office; 可选: {'、'.join(p.offices())}")
    who = _run(_officer, p, officer)
    _run(p.assign, who.name, office)
    console.print(f"{who.name} → {office}")


@grants_app.command("import")
def grants_import(
    run: Annotated[Path, typer.Argument(help="huiqi batch run 的输出目录")],
    policy: Annotated[str, typer.Option("--policy", help="政策编号（免申即享）")],
    officer: OfficerOption,
    registry: Annotated[Path | None, typer.Option("--enterprises", help="企业名录（默认取运行时的）")] = None,
    db: DbOption = None,
) -> None:
    """导入一次批量运行中某项政策的名单（待另一位工作人员批准）。"""
    p = _open(db)
    list_id = _run(p.grants.import_list, _run(_officer, p, officer), run, policy, registry=registry)
    row = next(x for x in p.grants.lists() if x["id"] == list_id)
    console.print(f"名单 #{list_id}：{row['title']}，{row['count']} 家企业，合计 {row['total']:,.2f} 元（待批准）")


@grants_app.command("approve")
def grants_approve(list_id: int, officer: OfficerOption, db: DbOption = None) -> None:
    """批准名单（须为导入人以外的工作人员）并发放到各企业的企业空间。再次运行只补发缺少的。"""
    p = _open(db)
    who = _run(_officer, p, officer)
    if next((x for x in p.grants.lists() if x["id"] == list_id and x["state"] == "imported"), None):
        _run(p.grants.approve, who, list_id)
    made = _run(p.grants.issue, list_id, after_chunk=lambda n: err.print(f"已发放 {n}", end="\r"))
    console.print(f"名单 #{list_id}：新发放 {made} 项")


@grants_app.command("list")
def grants_list(db: DbOption = None) -> None:
    """免申即享名单及发放进度。"""
    table = Table("名单", "运行", "政策", "企业", "合计（元）", "状态", "已发放")
    for x in _open(db).grants.lists():
        state = f"已批准（{x['approved_by']}）" if x["state"] == "approved" else f"待批准（{x['imported_by']} 导入）"
        table.add_row(
            str(x["id"]), x["run"], x["title"], str(x["count"]), f"{x['total']:,.2f}", state, str(x["issued"])
        )
    console.print(table)


@portal_app.command("overdue")
def overdue(db: DbOption = None) -> None:
    """超过 60 个工作日承诺仍未兑现的申报。"""
    rows = _open(db).applications.overdue()
    table = Table("申报", "企业", "政策", "受理部门", "状态", "承诺兑现日期")
    for a in rows:
        table.add_row(str(a["id"]), a["uscc"], a["title"], a["office"], a["status_label"], str(a["pay_by"]))
    console.print(table if rows else "没有逾期的申报")
