"""CLI of the trust layer: ``huiqi log …`` (append, checkpoint, prove, verify, fsck, keygen) and ``huiqi witness …``.

Keys are files holding one ``PRIVATE+KEY+…`` line (or ``HUIQI_LOG_KEY``); the trust policy
(log and witness public keys, quorum, witness URLs) is a JSON file (``--policy`` or
``HUIQI_TRUST_POLICY``). Heavy modules are imported inside the commands.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:
    from huiqi.trust.log import TransparencyLog
    from huiqi.trust.note import Signer
    from huiqi.trust.policy import TrustPolicy

console = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

log_app = typer.Typer(help="透明日志：追加、检查点、证明、校验、fsck", no_args_is_help=True)
witness_app = typer.Typer(help="见证人：生成密钥、运行见证服务、查看告警", no_args_is_help=True)

DbOption = Annotated[
    str | None, typer.Option("--db", help="数据库 URL（默认 HUIQI_DB 或 sqlite:///var/huiqi.db）", show_default=False)
]
PolicyOption = Annotated[
    Path | None, typer.Option("--policy", help="信任策略 JSON（默认 HUIQI_TRUST_POLICY）", show_default=False)
]
ShardOption = Annotated[str | None, typer.Option("--shard", help="分片（年份，默认今年）", show_default=False)]
KeyOption = Annotated[
    list[Path] | None, typer.Option("--key", help="日志签名私钥文件，可多次（默认 HUIQI_LOG_KEY）", show_default=False)
]


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]错误 error[/]: {message}")
    raise typer.Exit(code)


def _read(path: Path) -> str:
    try:
        return sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(f"找不到文件 / file not found: {path}", 2)
    except (OSError, UnicodeDecodeError) as e:
        fail(f"无法读取 / cannot read {path}: {e}", 2)


def _trusted(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run ``fn``; a TrustError becomes one clear line and exit code 1."""
    from huiqi.trust.errors import TrustError

    try:
        return fn(*args, **kwargs)
    except TrustError as e:
        fail(str(e))


def _log(db: str | None) -> TransparencyLog:
    from huiqi.clock import from_env
    from huiqi.store import make_engine, upgrade
    from huiqi.trust.log import TransparencyLog

    try:
        engine = make_engine(db)
        upgrade(engine)
    except Exception as e:  # bad URL, server down: one clear line
        fail(f"无法打开数据库 / cannot open the database: {e}", 2)
    return TransparencyLog(engine, clock=from_env())


def _signers(keys: list[Path] | None) -> list[Signer]:
    from huiqi.trust.note import parse_signer

    texts = [_read(k) for k in keys or []]
    if not texts and os.environ.get("HUIQI_LOG_KEY"):
        texts = [os.environ["HUIQI_LOG_KEY"]]
    if not texts:
        fail("请用 --key 或 HUIQI_LOG_KEY 给出日志签名私钥 / give the log's signing key with --key", 2)
    return [_trusted(parse_signer, t.strip()) for t in texts]


def _policy(path: Path | None, required: bool = True) -> TrustPolicy | None:
    from huiqi.trust.policy import TrustPolicy

    where = path or (Path(os.environ["HUIQI_TRUST_POLICY"]) if os.environ.get("HUIQI_TRUST_POLICY") else None)
    if where is None:
        if required:
            fail("请用 --policy 或 HUIQI_TRUST_POLICY 给出信任策略 / give the trust policy with --policy", 2)
        return None
    policy: TrustPolicy = _trusted(TrustPolicy.load, where)
    return policy


@log_app.command("keygen")
def log_keygen(
    name: Annotated[str, typer.Option("--name", help="密钥名，如 linjiang.example/huiqi/2026 或见证人名")],
    out: Annotated[Path, typer.Option("--out", help="私钥写入此文件（权限 600）")],
    kind: Annotated[str, typer.Option("--kind", help="ed25519（日志）、cosignature（见证人）或 sm2")] = "ed25519",
) -> None:
    """生成签名密钥：私钥写入文件，公钥（vkey）打印到标准输出。"""
    from huiqi.clock import from_env
    from huiqi.trust.note import generate_signer

    signer = _trusted(generate_signer, name, kind, clock=from_env())
    if out.exists():
        fail(f"{out} 已存在，不覆盖 / refusing to overwrite {out}", 2)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(signer.skey + "\n")
    console.print(signer.verifier.vkey)


@log_app.command("append")
def log_append(
    entries: Annotated[Path, typer.Argument(help="JSON 条目文件：一个对象或每行一个对象（- 为标准输入）")],
    natural_key: Annotated[str | None, typer.Option("--natural-key", help="自然键（只对单个条目）")] = None,
    db: DbOption = None,
) -> None:
    """追加条目（含 type 与 time）；打印每条的分片、序号和叶哈希。"""
    import base64

    text = _read(entries).strip()
    try:
        items = (
            [json.loads(text)]
            if text.startswith("{") and "\n" not in text
            else [json.loads(line) for line in text.splitlines() if line.strip()]
        )
    except json.JSONDecodeError as e:
        fail(f"{entries} 不是有效的 JSON（第{e.lineno}行） / invalid JSON: {e.msg}", 2)
    if natural_key is not None and len(items) != 1:
        fail("--natural-key 只能用于单个条目 / --natural-key needs exactly one entry", 2)
    log = _log(db)
    placed = _trusted(log.append_many, items, natural_keys=[natural_key] if natural_key else None)
    for logged in placed:
        console.print(f"{logged.origin} {logged.index} {base64.b64encode(logged.leaf_hash).decode()}")


@log_app.command("checkpoint")
def log_checkpoint(
    keys: KeyOption = None,
    shard: ShardOption = None,
    policy: PolicyOption = None,
    db: DbOption = None,
) -> None:
    """签发当前检查点，并请信任策略中的见证人联署（达到法定数才算有效）。"""
    log = _log(db)
    signers = _signers(keys)
    the_policy = _policy(policy, required=False)
    shard = shard or log.current_shard()
    cp = _trusted(log.checkpoint, shard, signers)
    if the_policy is not None and the_policy.witnesses:
        from huiqi.trust.cosign import Cosigner
        from huiqi.trust.tls import client_from_env

        cosigner = Cosigner(log, the_policy, client_from_env())
        result = _trusted(cosigner.cosign, cp, require_quorum=False)
        cp = result.checkpoint
        for member, reason in result.refused.items():
            err.print(f"见证人 {member} 未联署 / did not cosign: {reason}")
        if len(result.cosigned_by) < the_policy.quorum:
            sys.stdout.write(str(cp.note))
            fail(f"只有 {len(result.cosigned_by)} 个见证人联署，需要 {the_policy.quorum} 个 / quorum not reached")
    sys.stdout.write(str(cp.note))


@log_app.command("prove")
def log_prove(
    index: Annotated[int, typer.Option("--index", help="条目序号")],
    shard: ShardOption = None,
    policy: PolicyOption = None,
    db: DbOption = None,
) -> None:
    """输出条目的离线证明（C2SP tlog-proof：序号、包含证明、已联署的检查点）。"""
    from huiqi.trust.proofs import ProofBundle

    log = _log(db)
    shard = shard or log.current_shard()
    the_policy = _policy(policy, required=False)
    for cp in log.checkpoints(shard):
        if cp.size <= index:
            break
        if the_policy is not None:
            try:
                the_policy.verify_checkpoint(cp.note)
            except Exception:
                continue
        proof = _trusted(log.inclusion_proof, shard, index, cp.size)
        sys.stdout.write(str(ProofBundle(index, tuple(proof), cp.note)))
        return
    fail(f"还没有包含第 {index} 条的（已联署）检查点 / no (cosigned) checkpoint covers entry {index} yet")


@log_app.command("verify")
def log_verify(
    proof: Annotated[Path, typer.Argument(help="tlog-proof 文件")],
    entry: Annotated[Path, typer.Option("--entry", help="条目文件（规范 JSON 原文）")],
    policy: PolicyOption = None,
) -> None:
    """离线校验证明：日志签名、见证人法定数、包含证明。不需要数据库。"""
    from huiqi.trust.proofs import ProofBundle

    the_policy = _policy(policy)
    assert the_policy is not None
    bundle = _trusted(ProofBundle.parse, _read(proof))
    data = entry.read_bytes() if str(entry) != "-" else sys.stdin.buffer.read()
    verified = _trusted(bundle.verify, data.rstrip(b"\n"), the_policy)
    cp = verified.checkpoint
    console.print(
        f"证明有效：{cp.origin} 第 {bundle.index} 条，树大小 {cp.size}，见证人 {', '.join(verified.witnesses) or '无'}"
        f" / proof OK"
    )


@log_app.command("fsck")
def log_fsck(shard: ShardOption = None, policy: PolicyOption = None, db: DbOption = None) -> None:
    """重算每个哈希，核对所有检查点，并对照见证人联署的最新检查点。"""
    log = _log(db)
    the_policy = _policy(policy, required=False)
    shards = [shard] if shard else log.shards()
    bad = False
    for s in shards:
        report = log.fsck(s)
        if not report.ok:
            bad = True
            for p in report.problems:
                err.print(f"{log.origin(s)}: {p}")
            continue
        line = f"{log.origin(s)}: {report.size} 条，哈希全部重算一致，{report.checkpoints} 个检查点"
        if the_policy is not None:
            witnessed = _latest_witnessed(log, s, the_policy)
            if witnessed is None:
                line += "；尚无见证人联署的检查点 / no witnessed checkpoint yet"
            else:
                line += f"；见证人联署的最新检查点大小 {witnessed}"
        console.print(line)
    if bad:
        fail("日志已损坏 / the log is damaged")


def _latest_witnessed(log: TransparencyLog, shard: str, policy: TrustPolicy) -> int | None:
    from huiqi.trust.errors import TrustError

    for cp in log.checkpoints(shard):
        try:
            policy.verify_checkpoint(cp.note)
        except TrustError:
            continue
        return cp.size
    return None


@witness_app.command("serve")
def witness_serve(
    key: Annotated[Path, typer.Option("--key", help="见证人联署私钥文件（cosignature 类型）")],
    name: Annotated[str, typer.Option("--name", help="见证人名称，如 市场监管局")] = "",
    state: Annotated[Path, typer.Option("--state", help="见证人自己的状态数据库（SQLite 文件）")] = Path(
        "var/witness.db"
    ),
    policy: PolicyOption = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 9100,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="本服务证书（PEM）")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="本服务私钥（PEM）")] = None,
    tls_ca: Annotated[Path | None, typer.Option("--tls-ca", help="平台 CA 证书：只接受其签发的客户端证书")] = None,
    tls_crl: Annotated[Path | None, typer.Option("--tls-crl", help="吊销列表（PEM）")] = None,
) -> None:
    """运行见证服务（C2SP tlog-witness）：只联署与其上次联署一致的检查点。"""
    import uvicorn

    from huiqi.clock import from_env
    from huiqi.trust.note import parse_signer
    from huiqi.trust.witness import Witness, witness_app, witness_engine

    the_policy = _policy(policy)
    assert the_policy is not None
    clock = from_env()
    signer = _trusted(parse_signer, _read(key).strip(), clock=clock)
    state.parent.mkdir(parents=True, exist_ok=True)
    engine = witness_engine(state)
    witness = Witness(engine, signer, {o: list(v) for o, v in the_policy.logs.items()}, clock=clock, title=name)
    config = uvicorn.Config(witness_app(witness), host=host, port=port, log_level="warning", access_log=False)
    if tls_cert or tls_key or tls_ca:
        from huiqi.trust.tls import server_context

        if not (tls_cert and tls_key and tls_ca):
            fail("--tls-cert、--tls-key 与 --tls-ca 须同时给出 / give all of --tls-cert, --tls-key, --tls-ca", 2)
        config.load()
        config.ssl = _trusted(server_context, tls_cert, tls_key, tls_ca, crl=tls_crl)
    err.print(f"见证人 {name or signer.name} 在 {host}:{port} 服务 / witness serving; vkey {signer.verifier.vkey}")
    uvicorn.Server(config).run()


@witness_app.command("alerts")
def witness_alerts(
    state: Annotated[Path, typer.Option("--state", help="见证人的状态数据库")] = Path("var/witness.db"),
) -> None:
    """列出见证人发现的分裂视图告警（有告警时退出码为 1）。"""

    from huiqi.trust.witness import alerts, metadata, witness_engine

    engine = witness_engine(state)
    metadata.create_all(engine)
    with engine.connect() as c:
        rows = c.execute(alerts.select().order_by(alerts.c.id)).all()
    for r in rows:
        console.print(f"#{r.id} {r.at:%Y-%m-%d %H:%M:%S} {r.origin} {r.kind}: {r.detail}")
    if rows:
        raise typer.Exit(1)
    console.print("没有告警 / no alerts")


def register(app: typer.Typer) -> None:
    app.add_typer(log_app, name="log")
    app.add_typer(witness_app, name="witness")


def witnessed_checkpoints(policy: Path | None) -> tuple[TrustPolicy | None, list[str]]:
    """The trust policy (if any) and the checkpoints its witnesses hold now (asked over HTTP)."""
    from huiqi.trust.cosign import fetch_latest
    from huiqi.trust.errors import TrustError
    from huiqi.trust.tls import client_from_env

    the_policy = _policy(policy, required=False)
    if the_policy is None:
        return None, []
    held: list[str] = []
    with client_from_env() as client:
        for w in the_policy.witnesses:
            for origin in the_policy.logs:
                try:
                    note = fetch_latest(client, w, origin)
                except TrustError as e:
                    err.print(f"见证人 {w.member} 无法查询 / unreachable: {e}")
                    continue
                if note:
                    held.append(note)
    return the_policy, held
