"""``huiqi departments``: the departments' registers and security servers on this machine.

::

    huiqi departments init  [--dir var/departments] [--count 2000] [--seed 7] [--db URL]
    huiqi departments up    [--dir var/departments]      # every service, one process each, on loopback
    huiqi departments status
    huiqi departments serve MEMBER --port N               # one service (``up`` runs these)
    huiqi departments bulk  --out registry.parquet        # 免申即享: every enterprise through the gateway
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

departments_app = typer.Typer(help="部门数据共享：各部门登记库与安全网关（本机回环地址）", no_args_is_help=True)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DirOption = Annotated[Path, typer.Option("--dir", help="部署目录 / deployment directory")]
DbOption = Annotated[
    str | None,
    typer.Option("--db", help="平台数据库 URL（默认 HUIQI_DB 或 sqlite:///var/huiqi.db）", show_default=False),
]
DEFAULT_DIR = Path("var/departments")
SERVICES = ("platform", "samr", "mps", "tax", "hrss", "nhc")


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]错误 error[/]: {message}", highlight=False)
    raise typer.Exit(code)


def _init(directory: Path, count: int, seed: int, db: str | None, register_db: list[str]) -> None:
    from huiqi.batch.registry import MAX_COUNT, iter_batches
    from huiqi.clock import from_env
    from huiqi.errors import HuiqiError
    from huiqi.sharing.catalogue import shipped_declarations
    from huiqi.sharing.catalogue_store import CatalogueStore
    from huiqi.sharing.deployment import init
    from huiqi.sharing.members import PROVIDERS
    from huiqi.store import make_engine, upgrade
    from huiqi.store.db import database_url

    if not 1 <= count <= MAX_COUNT:
        fail(f"--count: 应在 1 到 {MAX_COUNT} 之间 / must be in 1..{MAX_COUNT}, got {count}")
    databases = {}
    for item in register_db:
        member, sep, url = item.partition("=")
        if not sep or member not in PROVIDERS:
            fail(f"--register-db 应写成 成员=URL，成员为 {'/'.join(PROVIDERS)} / expected MEMBER=URL: {item!r}")
        databases[member] = url
    clock = from_env()
    platform_db = database_url(db)
    try:
        engine = make_engine(platform_db)
        upgrade(engine)
        deployment, report = init(
            directory, iter_batches(count, seed), clock=clock, platform_db=platform_db, databases=databases, seed=seed
        )
        imported, unchanged = CatalogueStore(engine, clock=clock).import_texts(shipped_declarations())
    except HuiqiError as e:
        fail(str(e))
    console.print(
        f"已建立 {deployment.root}：{report.enterprises} 家企业，{report.persons} 人，{report.taxpayers} 户纳税人，"
        f"{report.insured} 家参保单位，{report.food_businesses} 家食品经营者（{report.certificates} 张健康证）。"
    )
    console.print(f"缺口 gaps: {report.gaps}")
    console.print(f"目录声明 declarations: 导入 {len(imported)}，未变 {len(unchanged)}（平台数据库 {platform_db}）")


@departments_app.command("init")
def init_command(
    directory: DirOption = DEFAULT_DIR,
    count: Annotated[int, typer.Option("--count", help="合成企业数量")] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="随机种子")] = 7,
    db: DbOption = None,
    register_db: Annotated[
        list[str], typer.Option("--register-db", help="某部门登记库用 PostgreSQL：成员=URL（可重复）")
    ] = [],  # noqa: B006 - typer reads the default
) -> None:
    """建立部署：平台 CA 与各系统证书、各部门密钥、由合成企业名录填充的五个登记库、目录声明。"""
    _init(directory, count, seed, db, register_db)


@departments_app.command("serve")
def serve_command(
    member: Annotated[str, typer.Argument(help="platform 或 samr / mps / tax / hrss / nhc")],
    port: Annotated[int, typer.Option("--port")],
    directory: DirOption = DEFAULT_DIR,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
) -> None:
    """运行一个服务（departments up 为每个部门各起一个）。"""
    from huiqi.clock import from_env
    from huiqi.errors import HuiqiError
    from huiqi.sharing.deployment import Deployment
    from huiqi.sharing.runtime import serve

    if member not in SERVICES:
        fail(f"未知的服务 {member}（可选：{'、'.join(SERVICES)}） / unknown service")
    try:
        deployment = Deployment.load(directory)
        ttl = float(os.environ.get("HUIQI_CATALOGUE_TTL", "2"))
        serve(deployment, member, port=port, host=host, clock=from_env(), catalogue_ttl=ttl)
    except HuiqiError as e:
        fail(str(e))


def _health(directory: Path) -> dict[str, str]:
    """Each service's state, asked over mTLS with the monitor's certificate."""
    import httpx

    from huiqi.sharing.deployment import Deployment
    from huiqi.trust.tls import mtls_client

    deployment = Deployment.load(directory)
    tls = deployment.tls("platform/monitor")
    out = {}
    with mtls_client(tls.cert, tls.key, tls.ca, timeout=2.0) as client:
        for member, url in deployment.urls().items():
            try:
                r = client.get(url.rstrip("/") + "/v1/health")
                out[member] = "运行中" if r.status_code == 200 else f"HTTP {r.status_code}"
            except httpx.HTTPError as e:
                out[member] = f"不可达（{type(e).__name__}）"
    return out


@departments_app.command("up")
def up_command(
    directory: DirOption = DEFAULT_DIR,
    count: Annotated[int, typer.Option("--count", help="首次运行时建立的合成企业数量")] = 2000,
    seed: Annotated[int, typer.Option("--seed")] = 7,
    db: DbOption = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
) -> None:
    """在本机回环地址启动全部服务（平台目录与同意服务 + 五个部门），每个一个进程；Ctrl-C 停止。"""
    from huiqi.sharing.deployment import Deployment, issue_certificates
    from huiqi.sharing.runtime import free_port

    if not (directory / "deployment.json").exists():
        console.print(f"{directory} 尚未初始化，先建立部署 / initialising {directory}")
        _init(directory, count, seed, db, [])
    deployment = Deployment.load(directory)
    from huiqi.clock import from_env

    issue_certificates(deployment.root, clock=from_env())  # fresh short-lived certificates on every start
    ports = {member: free_port(host) for member in SERVICES}
    deployment.write_directory({m: f"https://{host}:{p}" for m, p in ports.items()})
    env = dict(os.environ, PYTHONUNBUFFERED="1", HUIQI_DB=deployment.platform_db)
    logs = deployment.root / "logs"
    logs.mkdir(exist_ok=True)
    children: list[subprocess.Popen[bytes]] = []

    def stop(*_: object) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()

    def terminated(*_: object) -> None:
        stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, terminated)
    try:
        for member in SERVICES:
            with (logs / f"{member}.log").open("ab") as log:
                children.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "huiqi.cli",
                            "departments",
                            "serve",
                            member,
                            "--dir",
                            str(deployment.root),
                            "--port",
                            str(ports[member]),
                            "--host",
                            host,
                        ],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=env,
                    )
                )
        deadline = time.monotonic() + 60
        while True:
            state = _health(deployment.root)
            if all(v == "运行中" for v in state.values()):
                break
            dead = [m for m, c in zip(SERVICES, children, strict=True) if c.poll() is not None]
            if dead or time.monotonic() > deadline:
                stop()
                fail(f"服务未能启动：{', '.join(dead) or '超时'}；见 {logs} / services did not start")
            time.sleep(0.3)
        table = Table(title="部门服务（mTLS）")
        for col in ("成员", "地址", "状态"):
            table.add_column(col)
        for member in SERVICES:
            table.add_row(member, f"https://{host}:{ports[member]}", state[member])
        console.print(table)
        console.print(f"部门服务已启动：{deployment.root / 'directory.json'}（Ctrl-C 停止）")
        while all(c.poll() is None for c in children):
            time.sleep(0.5)
        dead = [m for m, c in zip(SERVICES, children, strict=True) if c.poll() is not None]
        err.print(f"服务退出 / service exited: {', '.join(dead)}；见 {logs}")
        stop()
        raise typer.Exit(1)
    except KeyboardInterrupt:
        stop()
        console.print("已停止 / stopped")


@departments_app.command("status")
def status_command(directory: DirOption = DEFAULT_DIR) -> None:
    """各服务是否在运行（经 mTLS 询问）。"""
    from huiqi.errors import HuiqiError

    try:
        state = _health(directory)
    except HuiqiError as e:
        fail(str(e))
    for member, s in state.items():
        console.print(f"{member}\t{s}")
    if any(v != "运行中" for v in state.values()):
        raise typer.Exit(1)


@departments_app.command("bulk")
def bulk_command(
    out: Annotated[Path, typer.Option("--out", help="输出 Parquet（企业画像格式，可交给 huiqi batch run）")],
    directory: DirOption = DEFAULT_DIR,
    as_of: Annotated[str | None, typer.Option("--as-of", help="数据日期 YYYY-MM-DD（默认今天）")] = None,
    official: Annotated[str, typer.Option("--official", help="发起批量读取的工作人员")] = "auto-grant",
    case_id: Annotated[str | None, typer.Option("--case-id", help="批次编号（默认按时间生成）")] = None,
) -> None:
    """免申即享：经各部门网关的批量接口（依法定依据）读取全部企业，写成企业画像 Parquet。"""
    import datetime as dt

    from huiqi.clock import from_env
    from huiqi.errors import HuiqiError
    from huiqi.sharing.bulk import write_profiles
    from huiqi.sharing.client import GatewayClient
    from huiqi.sharing.deployment import Deployment

    clock = from_env()
    try:
        day = dt.date.fromisoformat(as_of) if as_of else clock.today()
    except ValueError:
        fail(f"--as-of: 日期格式应为 YYYY-MM-DD / expected YYYY-MM-DD, got {as_of!r}")
    try:
        deployment = Deployment.load(directory)
        client = GatewayClient.for_system(deployment, "platform/batch", clock=clock, timeout=60)
        started = time.perf_counter()
        report = write_profiles(
            client, out, as_of=day, official=official, case_id=case_id or f"AUTO-GRANT-{clock.now():%Y%m%d%H%M%S}"
        )
    except HuiqiError as e:
        fail(str(e))
    console.print(
        f"已写出 {report.enterprises} 家企业到 {out}（{time.perf_counter() - started:.1f} 秒，"
        f"{report.pages} 次网关批量调用，全部记入各部门日志）"
    )
