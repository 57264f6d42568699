"""``huiqi cert …``: issue, change, revoke and verify e-licences (电子证照), and the issuer keys.

Configuration comes from the environment (see :mod:`huiqi.certs.config`): ``HUIQI_DB``,
``HUIQI_TRUST_POLICY`` (what verifiers pin), ``HUIQI_CERT_KEYS`` (department keys, only where
licences are issued), ``HUIQI_LOG_KEY`` (where checkpoints are made), ``HUIQI_PUBLIC_URL``.
``huiqi cert verify FILE --offline`` needs only the trust policy and no database.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:
    from huiqi.certs import Licences, Verification

console = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

cert_app = typer.Typer(help="电子证照：颁发、变更、注销、核验", no_args_is_help=True)
keys_app = typer.Typer(help="发证部门的签发密钥", no_args_is_help=True)
cert_app.add_typer(keys_app, name="keys")

DbOption = Annotated[
    str | None, typer.Option("--db", help="数据库 URL（默认 HUIQI_DB 或 sqlite:///var/huiqi.db）", show_default=False)
]


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]错误 error[/]: {message}")
    raise typer.Exit(code)


def _guard(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run ``fn``; a refusal becomes one clear line (exit 1), never a traceback."""
    from huiqi.errors import HuiqiError
    from huiqi.trust.errors import TrustError

    try:
        return fn(*args, **kwargs)
    except HuiqiError as e:
        named = [f.field for f in e.field_errors() if f.field]
        fail(f"{named[0]}: {e}" if named else str(e))
    except TrustError as e:
        fail(str(e))


def _read(path: Path) -> str:
    try:
        return sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(f"找不到文件 / file not found: {path}", 2)
    except (OSError, UnicodeDecodeError) as e:
        fail(f"无法读取 / cannot read {path}: {e}", 2)


def _json(path: Path) -> Any:
    try:
        return json.loads(_read(path))
    except json.JSONDecodeError as e:
        fail(f"{path} 不是有效的 JSON（第{e.lineno}行） / invalid JSON: {e.msg}", 2)


def _licences(db: str | None) -> Licences:
    from huiqi.certs.config import licences_from_env
    from huiqi.clock import from_env
    from huiqi.store import make_engine, upgrade

    try:
        engine = make_engine(db)
        upgrade(engine)
    except Exception as e:  # bad URL, server down: one clear line
        fail(f"无法打开数据库 / cannot open the database: {e}", 2)
    found: Licences = _guard(licences_from_env, engine, from_env())
    return found


def _write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)


def _show(result: Verification, fmt: str) -> None:
    if fmt == "json":
        sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        colour = (
            "green" if result.ok else ("yellow" if result.verdict in ("revoked", "superseded", "expired") else "red")
        )
        console.print(f"[bold {colour}]{result.label}[/]  {result.id or ''}")
        if result.licence:
            lic = result.licence
            console.print(f"  {lic.get('type_name') or ''} · {lic.get('holder') or ''}（{lic.get('uscc') or ''}）")
        for r in result.reasons:
            console.print(f"  [{colour}]✗[/] {r.zh}")
        for c in result.checks:
            console.print(f"  ✓ {c}")
        if result.log_index is not None:
            console.print(f"  本次查验已记入透明日志第 {result.log_index} 条")
    if not result.ok:
        raise typer.Exit(1)


def _emit(lic: Licences, licence_id: str, out: Path | None, qr: Path | None) -> None:
    from huiqi.certs.qr import qr_png, qr_svg, verify_url

    package = lic.package(licence_id)
    url = verify_url(lic.base_url, licence_id, lic.access_token(package["credential"]))
    if out is not None:
        _write(out, json.dumps(package, ensure_ascii=False, indent=2) + "\n")
    if qr is not None:
        _write(qr, qr_svg(url) if qr.suffix.lower() == ".svg" else qr_png(url))
    console.print(licence_id)
    console.print(f"核验地址 / verify at: {url}")
    if "issue" not in package["evidence"]:
        err.print("提示：尚无见证人联署的检查点，证照包暂不含日志证明（huiqi cert publish 后重新导出）")


# --- keys -----------------------------------------------------------------------------------------


@keys_app.command("generate")
def keys_generate(
    out: Annotated[Path, typer.Option("--out", help="密钥目录（每个部门一个 .ed25519 文件，权限 600）")],
    department: Annotated[list[str] | None, typer.Option("--department", help="部门代码，可多次（默认全部）")] = None,
    sm2: Annotated[bool, typer.Option("--sm2", help="同时生成国密 SM2 密钥（第二签名）")] = False,
) -> None:
    """为发证部门生成签发密钥；之后用 huiqi cert keys register 登记到透明日志。"""
    from huiqi.certs import DEPARTMENTS, IssuerKeys

    unknown = [d for d in department or [] if d not in DEPARTMENTS]
    if unknown:
        fail(f"未知部门 {unknown[0]}，可用：{', '.join(DEPARTMENTS)}", 2)
    if out.exists() and any(out.iterdir()):
        fail(f"{out} 不是空目录，不覆盖 / refusing to overwrite {out}", 2)
    keys = IssuerKeys.generate(department or None, sm2=sm2)
    keys.save(out)
    for dept, key in keys.all():
        console.print(f"{dept} {key.algorithm} {key.public.multibase}")


@keys_app.command("register")
def keys_register(db: DbOption = None) -> None:
    """把 HUIQI_CERT_KEYS 中尚未登记的签发公钥登记到透明日志（key.register）。"""
    lic = _licences(db)
    for kid in _guard(lic.register_keys):
        console.print(f"已登记 / registered {kid}")


@keys_app.command("retire")
def keys_retire(
    kid: Annotated[str, typer.Argument(help="公钥（publicKeyMultibase）")],
    reason: Annotated[str, typer.Option("--reason", help="停用事由")],
    db: DbOption = None,
) -> None:
    """停用签发密钥（key.retire）：此后用它的签名一律不认。"""
    _guard(_licences(db).retire_key, kid, reason)
    console.print(f"已停用 / retired {kid}")


# --- licences ------------------------------------------------------------------------------------


@cert_app.command("issue")
def issue(
    subject: Annotated[Path, typer.Argument(help="持证主体信息 JSON（- 为标准输入）")],
    kind: Annotated[str, typer.Option("--type", help="证照类型代码：YYZZ 营业执照、SPJY、GXJS、KJXZX、ZJTX、XJR")],
    valid_until: Annotated[str | None, typer.Option("--valid-until", help="有效期截止日 YYYY-MM-DD")] = None,
    sm2: Annotated[bool, typer.Option("--sm2", help="加国密 SM2 第二签名")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="证照包写入此文件（JSON）")] = None,
    qr: Annotated[Path | None, typer.Option("--qr", help="核验二维码写入此文件（.png 或 .svg）")] = None,
    publish: Annotated[bool, typer.Option("--publish/--no-publish", help="随即生成检查点并请见证人联署")] = True,
    db: DbOption = None,
) -> None:
    """颁发电子证照：签名、记入透明日志（cert.issue），打印证照标识和核验地址。"""
    until = None
    if valid_until is not None:
        try:
            until = dt.date.fromisoformat(valid_until)
        except ValueError:
            fail(f"--valid-until 应为 YYYY-MM-DD / expected a date, got {valid_until!r}", 2)
    data = _json(subject)
    lic = _licences(db)
    issued = _guard(lic.issue, kind, data, valid_until=until, sm2=sm2)
    if publish and lic.notary is not None:
        _guard(lic.publish)
    _emit(lic, str(issued.id), out, qr)


@cert_app.command("change")
def change(
    licence_id: Annotated[str, typer.Argument(help="证照标识（现行版本）")],
    changes: Annotated[Path, typer.Argument(help="变更的字段 JSON")],
    reason: Annotated[str, typer.Option("--reason", help="变更事由")],
    out: Annotated[Path | None, typer.Option("--out", help="新版本证照包写入此文件")] = None,
    qr: Annotated[Path | None, typer.Option("--qr", help="新版本核验二维码（.png 或 .svg）")] = None,
    db: DbOption = None,
) -> None:
    """变更：签发新版本（版本号加一），旧版本随之失效（cert.change）。"""
    data = _json(changes)
    lic = _licences(db)
    issued = _guard(lic.change, licence_id, data, reason=reason)
    if lic.notary is not None:
        _guard(lic.publish)
    _emit(lic, str(issued.id), out, qr)


@cert_app.command("revoke")
def revoke(
    licence_id: Annotated[str, typer.Argument(help="证照标识")],
    reason: Annotated[str, typer.Option("--reason", help="注销或吊销事由")],
    sanction: Annotated[bool, typer.Option("--sanction", help="吊销（处罚），不加则为注销")] = False,
    db: DbOption = None,
) -> None:
    """注销（或 --sanction 吊销）电子证照：记入透明日志（cert.revoke），核验即显示已注销及日期。"""
    lic = _licences(db)
    _guard(lic.revoke, licence_id, reason=reason, kind="revoke" if sanction else "cancel")
    if lic.notary is not None:
        _guard(lic.publish)
    console.print(f"已{'吊销' if sanction else '注销'} / {'revoked' if sanction else 'cancelled'} {licence_id}")


@cert_app.command("publish")
def publish(db: DbOption = None) -> None:
    """生成今年分片的检查点并请部门见证人联署（批量颁发后运行）。"""
    cp = _guard(_licences(db).publish)
    sys.stdout.write(str(cp.note))


@cert_app.command("package")
def package(
    licence_id: Annotated[str, typer.Argument(help="证照标识")],
    out: Annotated[Path | None, typer.Option("--out", help="写入此文件（默认标准输出）")] = None,
    qr: Annotated[Path | None, typer.Option("--qr", help="核验二维码（.png 或 .svg）")] = None,
    db: DbOption = None,
) -> None:
    """导出证照包：证照、透明日志证明、最新状态列表（可离线核验）。"""
    lic = _licences(db)
    if out is None and qr is None:
        sys.stdout.write(json.dumps(_guard(lic.package, licence_id), ensure_ascii=False, indent=2) + "\n")
        return
    _guard(_emit, lic, licence_id, out, qr)


@cert_app.command("verify")
def verify(
    target: Annotated[str, typer.Argument(help="证照文件（JSON）或证照标识")],
    offline: Annotated[bool, typer.Option("--offline", help="只用信任策略中的公钥离线核验，不连数据库")] = False,
    policy: Annotated[Path | None, typer.Option("--policy", help="信任策略 JSON（默认 HUIQI_TRUST_POLICY）")] = None,
    cache: Annotated[Path | None, typer.Option("--cache", help="已见检查点缓存文件（离线核验时发现分裂视图）")] = None,
    purpose: Annotated[str | None, typer.Option("--purpose", help="按标识查验时的用证事由")] = None,
    requester: Annotated[str | None, typer.Option("--requester", help="按标识查验时的查验单位")] = None,
    fmt: Annotated[str, typer.Option("--format", help="text 或 json")] = "text",
    db: DbOption = None,
) -> None:
    """核验电子证照：有效 / 已注销 / 已变更 / 已过期 / 伪造 / 无法核验，并写明原因。退出码 0 仅当有效。"""
    import os

    from huiqi.certs.verify import load_package

    if fmt not in ("text", "json"):
        fail("--format 应为 text 或 json", 2)
    path = Path(target)
    if offline:
        from huiqi.certs.verify import Anchors, CheckpointCache, Verifier
        from huiqi.clock import from_env
        from huiqi.trust.policy import TrustPolicy

        where = policy or (Path(os.environ["HUIQI_TRUST_POLICY"]) if os.environ.get("HUIQI_TRUST_POLICY") else None)
        if where is None:
            fail("离线核验需要信任策略：--policy 或 HUIQI_TRUST_POLICY / an offline check needs the trust policy", 2)
        if not path.is_file():
            fail(f"离线核验需要证照文件 / an offline check needs the licence file: {target}", 2)
        trust = _guard(TrustPolicy.load, where)
        seen = CheckpointCache()
        if cache is not None and cache.is_file():
            for note in _json(cache).get("checkpoints", []):
                _guard(seen.add, note, trust)
        result = Verifier(Anchors(trust), clock=from_env(), cache=seen).verify(_guard(load_package, _read(path)))
        if cache is not None:
            _write(cache, json.dumps({"checkpoints": seen.notes()}, ensure_ascii=False, indent=1) + "\n")
        _show(result, fmt)
        return
    lic = _licences(db)
    if path.is_file():
        result = _guard(lic.verify, _guard(load_package, _read(path)))
    else:
        result = _guard(lic.lookup, target, purpose=purpose or "", requester=requester or "")
    _show(result, fmt)


@cert_app.command("history")
def history(licence_id: Annotated[str, typer.Argument(help="证照标识")], db: DbOption = None) -> None:
    """一张证照所有版本的颁发、变更、注销记录（含日志位置）。"""
    for h in _guard(_licences(db).history, licence_id):
        where = f"{h['log']['shard']}/{h['log']['index']}"
        console.print(f"{h['time'][:19]}  {h['kind']:<9} {h['id']}  日志 {where}  {h['reason'] or ''}")


def register(app: typer.Typer) -> None:
    app.add_typer(cert_app, name="cert")
