"""``huiqi keys …``: field-encryption keys — keyring files, data keys, rotation, re-encryption, retirement.

The keyring (KEKs) is a JSON file outside the database (``--keyring``, or ``HUIQI_KEYRING`` /
``HUIQI_KEYRING_FILE``); data keys live wrapped in ``trust_data_keys`` of the store's own
database (``--db``). Every change is a ``key.*`` entry on the transparency log of that same
database (the department's log for a department's register). A rotation without downtime:

    huiqi keys rotate --store mps --table people --field id_number      # new writes use the new key
    huiqi keys reencrypt --store mps --table people --field id_number   # old rows move, service keeps running
    huiqi keys retire --store mps --table people --field id_number      # the old key is destroyed
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from huiqi.cli.trust import _trusted, console, fail

if TYPE_CHECKING:
    import sqlalchemy as sa

    from huiqi.trust.fields import Vault

keys_app = typer.Typer(help="字段加密密钥：密钥环、数据密钥、轮换、重新加密、销毁", no_args_is_help=True)

DbOption = Annotated[
    str | None, typer.Option("--db", help="存放数据密钥的数据库 URL（默认 HUIQI_DB）", show_default=False)
]
StoreOption = Annotated[str, typer.Option("--store", help="存储名（部门代码，如 mps；平台为 platform）")]
KeyringOption = Annotated[
    Path | None,
    typer.Option("--keyring", help="密钥环文件（默认 HUIQI_KEYRING 或 HUIQI_KEYRING_FILE）", show_default=False),
]
TableOption = Annotated[str, typer.Option("--table", help="表名")]
FieldOption = Annotated[str, typer.Option("--field", help="加密列名")]
ProfileOption = Annotated[str | None, typer.Option("--profile", help="sm4-gcm 或 aes-256-gcm", show_default=False)]


def _engine(db: str | None) -> sa.Engine:
    from huiqi.store import make_engine
    from huiqi.trust.schema import create_tables

    try:
        engine = make_engine(db)
        create_tables(engine)  # the trust tables only: any store's database may hold data keys
    except Exception as e:  # bad URL, server down: one clear line
        fail(f"无法打开数据库 / cannot open the database: {e}", 2)
    return engine


def _vault(db: str | None, store: str, keyring: Path | None, profile: str | None = None) -> Vault:
    import sqlalchemy as sa

    from huiqi.clock import from_env
    from huiqi.trust.fields import DEPARTMENT_PROFILES, Keyring, Vault
    from huiqi.trust.log import DEFAULT_PREFIX, TransparencyLog
    from huiqi.trust.schema import shards

    engine = _engine(db)
    ring = _trusted(Keyring.load, keyring) if keyring else _trusted(Keyring.from_env)
    with engine.connect() as c:  # audit on the log this database already keeps, under its own origin
        origin = c.execute(sa.select(shards.c.origin).order_by(shards.c.shard.desc()).limit(1)).scalar()
    if origin is not None:
        prefix = origin.rpartition("/")[0]
    else:
        prefix = DEFAULT_PREFIX if store == "platform" else f"{DEFAULT_PREFIX}/{store}"
    clock = from_env()
    chosen = profile or DEPARTMENT_PROFILES.get(store, "aes-256-gcm")
    log = TransparencyLog(engine, clock=clock, prefix=prefix)
    return _trusted(Vault, engine, ring, store=store, clock=clock, profile=chosen, log=log)


def _write_new(path: Path, text: str) -> None:
    """Write a secret file (mode 600); never overwrite."""
    if path.exists():
        fail(f"{path} 已存在，不覆盖 / refusing to overwrite {path}", 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


@keys_app.command("generate")
def keys_generate(
    out: Annotated[Path, typer.Option("--out", help="新密钥环文件（权限 600，不覆盖）")],
    kek_id: Annotated[str, typer.Option("--kek-id", help="KEK 标识，如 kek-2026")] = "kek-1",
    profile: Annotated[str, typer.Option("--profile", help="sm4-gcm 或 aes-256-gcm")] = "sm4-gcm",
) -> None:
    """生成新的密钥环（一个 KEK），写入文件。"""
    from huiqi.trust.fields import Keyring

    document = _trusted(Keyring.generate, kek_id, profile)
    _write_new(out, json.dumps(document, indent=1) + "\n")
    console.print(f"密钥环已写入 {out}（活动 KEK {kek_id}，{profile}） / keyring written")


@keys_app.command("add-kek")
def keys_add_kek(
    keyring: Annotated[Path, typer.Option("--keyring", help="要更新的密钥环文件")],
    kek_id: Annotated[str, typer.Option("--kek-id", help="新 KEK 的标识")],
    profile: Annotated[str, typer.Option("--profile", help="sm4-gcm 或 aes-256-gcm")] = "sm4-gcm",
) -> None:
    """向密钥环加入新的 KEK 并设为活动；旧 KEK 保留，直到 huiqi keys rewrap 把数据密钥都换过去。"""
    from huiqi.trust.fields import Keyring

    current = _trusted(Keyring.load, keyring)
    if kek_id in current.keks:
        fail(f"密钥环已有 KEK {kek_id} / the keyring already has KEK {kek_id}", 2)
    document = json.loads(keyring.read_text(encoding="utf-8"))
    document["keks"][kek_id] = _trusted(Keyring.generate, kek_id, profile)["keks"][kek_id]
    document["active"] = kek_id
    _trusted(Keyring.from_dict, document)  # still a valid keyring
    tmp = keyring.with_name(keyring.name + ".new")
    tmp.unlink(missing_ok=True)
    _write_new(tmp, json.dumps(document, indent=1) + "\n")
    os.replace(tmp, keyring)
    console.print(f"KEK {kek_id} 已加入并设为活动；请运行 huiqi keys rewrap / now run huiqi keys rewrap")


@keys_app.command("list")
def keys_list(store: StoreOption, db: DbOption = None) -> None:
    """列出该存储的数据密钥：范围、版本、方案、KEK、状态（不需要密钥环）。"""
    import sqlalchemy as sa

    from huiqi.trust.schema import data_keys

    engine = _engine(db)
    with engine.connect() as c:
        rows = c.execute(
            sa.select(data_keys)
            .where(data_keys.c.scope.like(f"{store}/%"))
            .order_by(data_keys.c.scope, data_keys.c.version)
        ).all()
    if not rows:
        console.print(f"存储 {store} 没有数据密钥 / no data keys for store {store}")
        return
    for r in rows:
        when = f"{r.created_at:%Y-%m-%d}" + (f" 销毁 retired {r.retired_at:%Y-%m-%d}" if r.retired_at else "")
        console.print(f"{r.id:>4}  {r.scope}  v{r.version}  {r.profile}  {r.kek_id}  {r.state}  {when}")


@keys_app.command("rotate")
def keys_rotate(
    store: StoreOption,
    table: TableOption,
    field: FieldOption,
    profile: ProfileOption = None,
    keyring: KeyringOption = None,
    db: DbOption = None,
) -> None:
    """为该列生成新数据密钥：新写入立即使用；旧密钥转为 retiring，直到 reencrypt 与 retire。"""
    vault = _vault(db, store, keyring)
    key = _trusted(vault.rotate, table, field, profile=profile)
    console.print(f"{key.scope} 的新数据密钥 {key.id}（v{key.version}，{key.profile}） / new data key")


@keys_app.command("reencrypt")
def keys_reencrypt(
    store: StoreOption,
    table: TableOption,
    field: FieldOption,
    id_column: Annotated[str, typer.Option("--id-column", help="行标识列（加密时绑定的行号）")] = "id",
    batch: Annotated[int, typer.Option("--batch", min=1, help="每个短事务的行数")] = 1000,
    keyring: KeyringOption = None,
    db: DbOption = None,
) -> None:
    """把仍用 retiring 密钥的行改用活动密钥（短事务、比较后写入，服务可照常读写）。"""
    import sqlalchemy as sa

    vault = _vault(db, store, keyring)
    try:
        the_table = sa.Table(table, sa.MetaData(), autoload_with=vault.engine)
    except sa.exc.NoSuchTableError:
        fail(f"没有表 {table} / no table {table}", 2)
    for column in (id_column, field):
        if column not in the_table.c:
            fail(f"表 {table} 没有列 {column} / table {table} has no column {column}", 2)
    moved = _trusted(vault.reencrypt, the_table, id_column, field, batch=batch)
    console.print(f"{store}/{table}/{field}：{moved} 行已改用新密钥 / rows re-encrypted")


@keys_app.command("retire")
def keys_retire(
    store: StoreOption,
    table: TableOption,
    field: FieldOption,
    keyring: KeyringOption = None,
    db: DbOption = None,
) -> None:
    """销毁不再被任何行使用的 retiring 密钥；仍有行使用时拒绝。"""
    import sqlalchemy as sa

    vault = _vault(db, store, keyring)
    try:
        the_table = sa.Table(table, sa.MetaData(), autoload_with=vault.engine)
    except sa.exc.NoSuchTableError:
        fail(f"没有表 {table} / no table {table}", 2)
    if field not in the_table.c:
        fail(f"表 {table} 没有列 {field} / table {table} has no column {field}", 2)
    retired = _trusted(vault.retire, the_table, field)
    console.print(f"已销毁数据密钥 / retired: {', '.join(map(str, retired)) or '无 none'}")


@keys_app.command("rewrap")
def keys_rewrap(store: StoreOption, keyring: KeyringOption = None, db: DbOption = None) -> None:
    """KEK 轮换：用密钥环的活动 KEK 重新包装所有仍有效的数据密钥（数据行不变）。"""
    vault = _vault(db, store, keyring)
    count = _trusted(vault.rewrap)
    console.print(f"{count} 个数据密钥已用 KEK {vault.keyring.active_id} 重新包装 / data keys rewrapped")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
