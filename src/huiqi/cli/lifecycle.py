"""CLI of the policy lifecycle: import/export, submit/publish/withdraw, impact, users, audit.

Registered on the main app by :func:`register`. Heavy modules are imported inside the
commands so that ``huiqi match`` stays fast.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from huiqi.library import Lifecycle

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

user_app = typer.Typer(help="官员账号：添加、列出、改密码、停用", no_args_is_help=True)
audit_app = typer.Typer(help="审计日志：校验哈希链、查看", no_args_is_help=True)
notify_app = typer.Typer(help="通知：订阅、投递 webhook", no_args_is_help=True)
enterprise_app = typer.Typer(help="企业令牌：签发、吊销（企业账号上线前的过渡办法）", no_args_is_help=True)
token_app = typer.Typer(help="企业令牌", no_args_is_help=True)
enterprise_app.add_typer(token_app, name="token")
db_app = typer.Typer(help="数据库：升级结构、给应用角色授权", no_args_is_help=True)

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="数据库 URL（默认 HUIQI_DB 或 sqlite:///var/huiqi.db）", show_default=False),
]
AsOption = Annotated[str | None, typer.Option("--as", help="执行操作的官员（默认 HUIQI_USER）", show_default=False)]


def fail(message: str, problems: list[str] | None = None, code: int = 1) -> NoReturn:
    err.print(f"[bold red]错误 error[/]: {message}", highlight=False)
    for p in problems or []:
        err.print(f"  · {p}", highlight=False)
    raise typer.Exit(code)


def _date(text: str | None, option: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        fail(f"{option}: 日期格式应为 YYYY-MM-DD / expected YYYY-MM-DD, got {text!r}", code=2)


def _actor(value: str | None, required: bool = True) -> str | None:
    actor = value or os.environ.get("HUIQI_USER")
    if required and not actor:
        fail("请用 --as 或 HUIQI_USER 指明执行操作的官员 / name the acting officer with --as", code=2)
    return actor


def _open(db: str | None, *, migrate: bool = True) -> Lifecycle:
    from huiqi.library import Lifecycle
    from huiqi.store.db import display_url, redact

    try:
        return Lifecycle.open(db, migrate=migrate)
    except Exception as e:  # bad URL, server down: one clear line, without the password
        fail(f"无法打开数据库 {display_url(db)} / cannot open the database: {redact(str(e), db)}", code=2)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(f"找不到文件 / file not found: {path}", code=2)
    except (OSError, UnicodeDecodeError) as e:
        fail(f"无法读取 / cannot read {path}: {e}", code=2)


def _open_as(db: str | None, actor: str | None) -> tuple[Lifecycle, str]:
    """The lifecycle and the acting officer (``--as`` or HUIQI_USER), or a clear exit."""
    lc = _open(db)
    who = _actor(actor)
    assert who is not None
    return lc, who


def _refused(e: Any) -> NoReturn:
    fail(str(e.message), e.details())


# --- policy commands ---------------------------------------------------------------------
def import_command(
    directory: Annotated[Path | None, typer.Argument(help="政策库目录（默认 policies/ 或 HUIQI_POLICIES）")] = None,
    db: DbOption = None,
    effective: Annotated[str | None, typer.Option("--effective", help="生效日期（默认 1900-01-01：一直有效）")] = None,
    actor: AsOption = None,
) -> None:
    """把 YAML 政策库导入数据库，作为各文档的第一个已发布版本。"""
    from huiqi.library import BEGINNING, LifecycleError
    from huiqi.rules import default_library_path

    root = directory or default_library_path()
    lc = _open(db)
    try:
        report = lc.import_directory(
            root, actor=_actor(actor, required=False), effective=_date(effective, "--effective") or BEGINNING
        )
    except LifecycleError as e:
        _refused(e)
    console.print(
        f"导入 {len(report.imported)} 个文档，{len(report.unchanged)} 个未变；库版本号 generation {report.generation}"
    )


def export_command(
    out: Annotated[Path, typer.Option("--out", help="输出目录")],
    db: DbOption = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="导出此日期有效的版本（默认今天）")] = None,
) -> None:
    """把某日有效的版本导出为 YAML 政策库（与导入的文件逐字节相同）。"""
    lc = _open(db)
    written = lc.export(out, _date(as_of, "--as-of"))
    console.print(f"写出 {len(written)} 个文件到 {out}")


def _print_check(report: Any) -> None:
    for w in report.warnings:
        console.print(f"[yellow]warning[/] {w}", highlight=False)


def submit_command(
    file: Annotated[Path, typer.Argument(help="修改后的政策 YAML 文件")],
    note: Annotated[str, typer.Option("--note", help="修改说明")],
    db: DbOption = None,
    actor: AsOption = None,
) -> None:
    """提交修改待审核（编辑）：检查和测试须通过。"""
    from huiqi.library import LifecycleError

    text = _read(file)
    lc, who = _open_as(db, actor)
    _, report = lc.check_text(text, filename=file.name, display=str(file))
    _print_check(report)
    if not report.ok:
        fail(f"{file} 未通过检查，不能提交 / it does not pass lint and tests", report.problems)
    try:
        v = lc.create_draft(text, author=who, note=note, filename=file.name)
        v = lc.submit(v.id, actor=who)
    except LifecycleError as e:
        _refused(e)
    console.print(f"已提交审核：{v.document_id} v{v.number}（版本 #{v.id}），作者 {v.author}")


def publish_command(
    file: Annotated[Path, typer.Argument(help="要发布的政策 YAML 文件（须已由他人提交审核）")],
    db: DbOption = None,
    effective: Annotated[str | None, typer.Option("--effective", help="生效日期 YYYY-MM-DD（默认今天）")] = None,
    note: Annotated[str, typer.Option("--note", help="发布说明")] = "",
    actor: AsOption = None,
) -> None:
    """发布（发布人）：先检查和测试，再发布与文件内容相同的待审核版本；作者不能自己发布。"""
    from huiqi.library import LifecycleError

    text = _read(file)
    date = _date(effective, "--effective")
    lc = _open(db)
    ref, report = lc.check_text(text, filename=file.name, as_of=date, display=str(file))
    _print_check(report)
    if not report.ok:
        fail(f"{file} 未通过检查，拒绝发布 / refused: it does not pass lint and tests", report.problems)
    who = _actor(actor)
    assert who is not None and ref is not None
    pending = lc.pending_for_text(text, file.name)
    if pending is None:
        fail(
            f"{ref.id}: 没有内容与此文件相同的待审核版本 / no version in review has this text",
            [f"四眼原则：先由作者提交 huiqi policy submit {file} --as 作者 --note 说明，再由另一位发布人发布"],
        )
    try:
        v = lc.publish(pending.id, actor=who, effective=date, note=note)
    except LifecycleError as e:
        _refused(e)
    console.print(
        f"已发布：{v.document_id} v{v.number}（版本 #{v.id}），{v.effective_from} 起生效；"
        f"作者 {v.author}，发布人 {v.published_by}"
    )


def withdraw_command(
    document: Annotated[str, typer.Argument(help="政策 id")],
    note: Annotated[str, typer.Option("--note", help="撤回原因")],
    db: DbOption = None,
    effective: Annotated[str | None, typer.Option("--effective", help="自此日起不再有效（默认今天）")] = None,
    actor: AsOption = None,
) -> None:
    """撤回一项已发布的政策（发布人）。"""
    from huiqi.library import LifecycleError

    lc, who = _open_as(db, actor)
    latest = lc.latest_published(document)
    if latest is None:
        fail(f"{document}: 没有已发布的版本 / nothing published")
    try:
        v = lc.withdraw(latest.id, actor=who, effective=_date(effective, "--effective"), note=note)
    except LifecycleError as e:
        _refused(e)
    console.print(f"已撤回：{v.document_id} v{v.number}，{v.withdrawn_from} 起不再有效")


def versions_command(
    document: Annotated[str | None, typer.Argument(help="文档 id（省略则列出全部）")] = None,
    db: DbOption = None,
) -> None:
    """列出版本：状态、生效日期、作者、发布人、说明。"""
    from huiqi.library.states import next_actions

    lc = _open(db)
    kinds = {d.id: d.kind for d in lc.documents()}
    table = Table("文档", "版本", "状态", "生效", "作者", "发布人", "说明", "哈希", "可做的操作")
    for v in lc.versions(document):
        table.add_row(
            v.document_id,
            f"v{v.number} #{v.id}",
            v.state,
            str(v.effective_from or ""),
            v.author,
            v.published_by or "",
            v.note[:40],
            v.content_hash[:12],
            " ".join(f"{t.action}({t.role})" for t in next_actions(v.state, kind=kinds.get(v.document_id, "policy"))),
        )
    console.print(table)


def abandon_command(
    version: Annotated[int, typer.Argument(help="版本号 #id（huiqi policy versions 中的 #）")],
    note: Annotated[str, typer.Option("--note", help="放弃原因")],
    db: DbOption = None,
    actor: AsOption = None,
) -> None:
    """放弃一个草稿或待审核的版本（作者本人或发布人）。"""
    from huiqi.library import LifecycleError

    lc, who = _open_as(db, actor)
    try:
        v = lc.abandon(version, actor=who, note=note)
    except LifecycleError as e:
        _refused(e)
    console.print(f"已放弃：{v.document_id} v{v.number}（版本 #{v.id}）")


def impact_command(
    file: Annotated[Path, typer.Argument(help="提议的政策 YAML 文件")],
    enterprises: Annotated[
        Path | None,
        typer.Option(
            "--enterprises",
            envvar="HUIQI_REGISTRY",
            help="企业库 Parquet 文件，或 JSON 画像文件/目录（默认 HUIQI_REGISTRY；没有默认时必须给出）",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="评估日期（默认今天）")] = None,
    limit: Annotated[int, typer.Option("--limit", help="每类列出的企业数")] = 10,
) -> None:
    """发布前影响分析：新增符合、不再符合、金额变化的企业（DuckDB 全量计算）。"""
    from huiqi.library.impact import KINDS, impact

    if enterprises is None:
        fail("--enterprises: 没有企业库：请给出 --enterprises 或设置 HUIQI_REGISTRY / no registry given", code=2)
    if not enterprises.exists():
        fail(f"找不到企业库 / not found: {enterprises}", code=2)
    text = _read(file)
    lc = _open(db)
    date = _date(as_of, "--as-of") or lc.clock.today()
    ref, report = lc.check_text(text, filename=file.name, as_of=date, display=str(file))
    if report.library is None or ref is None:
        fail(f"{file} 无法加载 / does not load", report.problems)
    for problem in report.problems:
        err.print(f"[yellow]注意[/] {problem}", highlight=False)
    current = lc.library_for(date)
    ids = [ref.id] if ref.kind == "policy" else None
    try:
        result = impact(current, report.library, enterprises, date, policy_ids=ids, limit=limit)
    except ValueError as e:
        fail(f"--enterprises: {e}", code=2)
    summary = Table(
        "政策",
        *KINDS.values(),
        "金额合计变化（元）",
        title=f"影响分析 {date}：{enterprises} 中的企业 {result.enterprises} 家",
    )
    for p in result.policies:
        if any(p.counts.values()) or p.amount_delta or ids:
            summary.add_row(f"{p.policy_id}\n{p.title}", *(str(p.counts[k]) for k in KINDS), p.amount_text)
    console.print(summary)
    if result.changes:
        detail = Table("企业", "政策", "变化", "原", "新", "原因")
        for c in result.changes:
            detail.add_row(
                f"{c.name or ''}\n{c.uscc}",
                c.policy_id,
                KINDS[c.kind],
                f"{c.old_verdict or '-'} {c.old_amount if c.old_amount is not None else ''}",
                f"{c.new_verdict or '-'} {c.new_amount if c.new_amount is not None else ''}",
                "\n".join(c.reasons),
            )
        console.print(detail)


# --- users, audit, notifications -------------------------------------------------------------
@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="用户名")],
    role: Annotated[str, typer.Option("--role", help="viewer | editor | publisher")],
    db: DbOption = None,
) -> None:
    """添加官员账号；密码取自 HUIQI_PASSWORD，否则提示输入（不回显）。"""
    from huiqi.library import LifecycleError
    from huiqi.library.officers import add_user

    password = os.environ.get("HUIQI_PASSWORD") or typer.prompt(
        "密码 password", hide_input=True, confirmation_prompt=True
    )
    lc = _open(db)
    try:
        add_user(lc.engine, name, role, password, clock=lc.clock, actor=_actor(None, required=False) or "cli")
    except LifecycleError as e:
        _refused(e)
    console.print(f"已添加用户 {name}（{role}）")


@user_app.command("list")
def user_list(db: DbOption = None) -> None:
    """列出官员账号。"""
    from huiqi.library.officers import list_users

    table = Table("用户", "角色", "启用")
    for name, role, active in list_users(_open(db).engine):
        table.add_row(name, role, "是" if active else "否")
    console.print(table)


@user_app.command("password")
def user_password(name: Annotated[str, typer.Argument(help="用户名")], db: DbOption = None) -> None:
    """修改密码（HUIQI_PASSWORD 或提示输入）。"""
    from huiqi.library import LifecycleError
    from huiqi.library.officers import set_password

    password = os.environ.get("HUIQI_PASSWORD") or typer.prompt(
        "新密码 password", hide_input=True, confirmation_prompt=True
    )
    try:
        lc = _open(db)
        set_password(lc.engine, name, password, clock=lc.clock, actor=_actor(None, required=False) or "cli")
    except LifecycleError as e:
        _refused(e)
    console.print(f"已修改 {name} 的密码，其原有会话均已结束")


@user_app.command("disable")
def user_disable(name: Annotated[str, typer.Argument(help="用户名")], db: DbOption = None) -> None:
    """停用官员账号：立即结束其全部会话，不能再登录（记入审计日志）。"""
    _set_active(name, False, db)
    console.print(f"已停用 {name}，其全部会话已结束")


@user_app.command("enable")
def user_enable(name: Annotated[str, typer.Argument(help="用户名")], db: DbOption = None) -> None:
    """重新启用官员账号。"""
    _set_active(name, True, db)
    console.print(f"已启用 {name}")


def _set_active(name: str, active: bool, db: str | None) -> None:
    from huiqi.library import LifecycleError
    from huiqi.library.officers import set_active

    lc = _open(db)
    try:
        set_active(lc.engine, name, active, clock=lc.clock, actor=_actor(None, required=False) or "cli")
    except LifecycleError as e:
        _refused(e)


@audit_app.command("verify")
def audit_verify(
    db: DbOption = None,
    policy: Annotated[
        Path | None, typer.Option("--policy", help="信任策略 JSON（默认 HUIQI_TRUST_POLICY）", show_default=False)
    ] = None,
) -> None:
    """校验审计：哈希链、每行与透明日志条目一致、日志重算、对照见证人联署的检查点。有问题时退出码为 1。"""
    from huiqi.cli.trust import witnessed_checkpoints
    from huiqi.store.audit import verify_log

    lc = _open(db)
    trust_policy, held = witnessed_checkpoints(policy)
    report = verify_log(lc.engine, trust_policy, witnessed=held)
    if not report.ok:
        fail("审计被篡改 / the audit was tampered with", report.problems)
    console.print(f"审计完整：{report.rows} 行，均在透明日志上 / audit chain OK, every row on the log")
    if trust_policy is None:
        console.print("未给信任策略，未对照见证人 / no trust policy: witnesses not consulted")
    else:
        console.print(f"{report.witnessed} 行已由见证人联署，{report.pending} 行待下一个检查点 / witnessed, pending")


@audit_app.command("show")
def audit_show(db: DbOption = None, last: Annotated[int, typer.Option("--last")] = 20) -> None:
    """显示最近的审计记录。"""
    from huiqi.store.audit import page

    rows = page(_open(db).engine, limit=max(1, last))[::-1]
    table = Table("#", "时间", "官员", "动作", "对象", "前哈希", "后哈希")
    for e in rows:
        table.add_row(
            str(e.seq),
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            e.actor,
            e.action,
            e.target,
            (e.before_hash or "")[:10],
            (e.after_hash or "")[:10],
        )
    console.print(table)


@notify_app.command("drain")
def notify_drain(
    db: DbOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 100,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=64, help="同时投递几个")] = 8,
    allow: Annotated[
        str | None,
        typer.Option(
            "--allow",
            envvar="HUIQI_WEBHOOK_ALLOW",
            help="允许的目标：主机名（*.example.gov.cn）或内网网段（10.20.0.0/16），逗号分隔",
            show_default=False,
        ),
    ] = None,
) -> None:
    """投递到期的 webhook（签名、重试、指数退避；拒绝内网、本机和保留地址）。可由定时任务反复运行。"""
    from huiqi.library.notify import drain_webhooks
    from huiqi.library.webhooks import SafeSender, WebhookPolicy

    lc = _open(db)
    sender = SafeSender(WebhookPolicy.parse(allow or ""))
    report = drain_webhooks(lc.engine, sender, clock=lc.clock, limit=limit, concurrency=concurrency)
    console.print(f"送达 {report.delivered}，稍后重试 {report.retried}，放弃 {report.dead}")


# --- enterprise tokens ----------------------------------------------------------------------
@token_app.command("issue")
def token_issue(
    uscc: Annotated[str, typer.Argument(help="统一社会信用代码")],
    days: Annotated[int, typer.Option("--days", min=1, max=1095, help="有效天数")] = 365,
    note: Annotated[str, typer.Option("--note", help="备注（如交付方式）")] = "",
    db: DbOption = None,
    actor: AsOption = None,
) -> None:
    """为一家企业签发令牌（编辑或发布人；记入审计日志）。令牌只显示这一次。"""
    from huiqi.library import LifecycleError
    from huiqi.library.enterprises import issue_token

    lc, who = _open_as(db, actor)
    try:
        token = issue_token(lc.engine, uscc, actor=who, clock=lc.clock, days=days, note=note)
    except LifecycleError as e:
        _refused(e)
    err.print(f"已为 {uscc} 签发令牌，{days} 天内有效；请通过可信渠道交给企业（只显示这一次）：", highlight=False)
    console.print(token, highlight=False)


@token_app.command("revoke")
def token_revoke(
    uscc: Annotated[str, typer.Argument(help="统一社会信用代码")], db: DbOption = None, actor: AsOption = None
) -> None:
    """吊销一家企业的全部令牌。"""
    from huiqi.library import LifecycleError
    from huiqi.library.enterprises import revoke_tokens

    lc, who = _open_as(db, actor)
    try:
        count = revoke_tokens(lc.engine, uscc, actor=who, clock=lc.clock)
    except LifecycleError as e:
        _refused(e)
    console.print(f"已吊销 {uscc} 的 {count} 个令牌")


# --- database ---------------------------------------------------------------------------------
@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """把数据库结构升级到最新（以表的所有者身份运行）。"""
    from huiqi.store import current_revision, head_revision

    lc = _open(db, migrate=True)
    console.print(f"数据库结构已是最新：{current_revision(lc.engine)}（head {head_revision()}）")


@db_app.command("grant")
def db_grant(
    role: Annotated[str, typer.Argument(help="应用连接数据库所用的 PostgreSQL 角色（不是表的所有者）")],
    db: DbOption = None,
) -> None:
    """给应用角色授权（PostgreSQL）：审计日志只能追加和读取，版本的正文和哈希不能改。每次升级后重新运行。"""
    from huiqi.store.roles import grant_app_role

    lc = _open(db, migrate=True)
    try:
        statements = grant_app_role(lc.engine, role)
    except ValueError as e:
        fail(str(e), code=2)
    except Exception as e:
        from huiqi.store.db import redact

        fail(f"授权失败 / grant failed: {redact(str(e), db)}", code=2)
    console.print(f"已给 {role} 授权：{len(statements)} 条语句")


def register(app: typer.Typer, policy_app: typer.Typer) -> None:
    """Add the lifecycle commands to the ``huiqi`` app and its ``policy`` sub-app."""
    policy_app.command("import")(import_command)
    policy_app.command("export")(export_command)
    policy_app.command("submit")(submit_command)
    policy_app.command("publish")(publish_command)
    policy_app.command("withdraw")(withdraw_command)
    policy_app.command("versions")(versions_command)
    policy_app.command("abandon")(abandon_command)
    policy_app.command("impact")(impact_command)
    app.add_typer(user_app, name="user")
    app.add_typer(audit_app, name="audit")
    app.add_typer(notify_app, name="notify")
    app.add_typer(enterprise_app, name="enterprise")
    app.add_typer(db_app, name="db")
