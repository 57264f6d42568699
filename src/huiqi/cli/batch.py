"""``huiqi registry …`` and ``huiqi batch …``: the synthetic registry and batch matching (免申即享).

Heavy modules (pyarrow, DuckDB, Spark, openpyxl) are imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

from huiqi import vocab

if TYPE_CHECKING:
    from rich.progress import Progress

registry_app = typer.Typer(help="企业名录：生成合成样本库（临江市，非真实数据）", no_args_is_help=True)
batch_app = typer.Typer(help="批量匹配（免申即享）：全部企业 × 全部政策", no_args_is_help=True)

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]错误 error[/]: {message}", highlight=False)
    raise typer.Exit(code)


def _progress() -> Progress:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


def _yuan(amount: Any) -> str:
    return "—" if amount is None else f"{amount:,.2f}"


# --- huiqi registry generate ------------------------------------------------------------------
@registry_app.command("generate")
def generate_command(
    count: Annotated[int, typer.Option("--count", help="企业数量 / number of enterprises")],
    out: Annotated[Path, typer.Option("--out", help="输出 Parquet 文件 / output .parquet file")],
    seed: Annotated[int, typer.Option("--seed", help="随机种子（相同种子得到相同数据）")] = 20260630,
    chunk_size: Annotated[int, typer.Option("--chunk-size", help="每个 Parquet 行组的行数")] = 250_000,
) -> None:
    """生成临江市合成企业名录（Parquet，每个企业画像字段一列）。数据是合成的，不描述真实企业。"""
    from huiqi.batch.registry import MAX_COUNT, generate_registry

    if not 0 <= count <= MAX_COUNT:
        fail(f"--count: 应在 0 到 {MAX_COUNT} 之间 / must be in 0..{MAX_COUNT}, got {count}")
    if not 0 <= seed < 2**63:
        fail(f"--seed: 应为非负整数 / must be a non-negative integer below 2**63, got {seed}")
    if chunk_size < 1:
        fail(f"--chunk-size: 应为正整数 / must be a positive integer, got {chunk_size}")
    if out.exists() and out.is_dir():
        fail(f"--out: {out} 是目录，应为文件 / is a directory, expected a file path")
    with _progress() as progress:
        task = progress.add_task("生成企业名录 generating", total=count)
        try:
            written = generate_registry(
                count, seed, out, chunk_size=chunk_size, on_progress=lambda n: progress.update(task, completed=n)
            )
        except OSError as e:
            fail(f"--out: 无法写入 / cannot write {out}: {e}")
    size = out.stat().st_size / 1e6
    console.print(f"已写入 {written:,} 家企业 → {out}（{size:.1f} MB，seed={seed}，合成数据）", highlight=False)


# --- huiqi batch run -------------------------------------------------------------------------------
@batch_app.command("run")
def run_command(
    enterprises: Annotated[
        Path, typer.Option("--enterprises", help="企业名录 Parquet 文件（registry generate 的格式）")
    ],
    as_of: Annotated[str, typer.Option("--as-of", help="评估日期 YYYY-MM-DD")],
    out: Annotated[Path, typer.Option("--out", help="输出目录（整体写入；已有的运行结果会被替换）")],
    engine: Annotated[str, typer.Option("--engine", help="duckdb（默认，嵌入式）或 spark")] = "duckdb",
    policy: Annotated[
        list[str] | None, typer.Option("--policy", help="只计算这些政策（可重复）；默认全部有效政策")
    ] = None,
    all_pairs: Annotated[
        bool,
        typer.Option("--all-pairs", help="也写出不符合的企业-政策对（默认只写可享受和待补充信息的，汇总始终计全部）"),
    ] = False,
    only_actionable: Annotated[
        bool, typer.Option("--only-actionable", help="只写可享受和待补充信息的企业-政策对（现为默认）", hidden=True)
    ] = False,
    summary_only: Annotated[bool, typer.Option("--summary-only", help="只计算汇总，不写企业-政策对")] = False,
    chunk_rows: Annotated[
        int | None, typer.Option("--chunk-rows", help="每批处理的企业数（限制内存）", show_default=False)
    ] = None,
    policies: Annotated[
        Path | None, typer.Option("--policies", help="政策库目录 / policy library directory", show_default=False)
    ] = None,
) -> None:
    """批量匹配：每家企业 × 每项政策的结论、金额和缺少的信息，按政策分区写成 Parquet，并输出汇总。"""
    from huiqi.batch.base import BatchError
    from huiqi.batch.engines import engine_class
    from huiqi.batch.run import open_registry, parse_as_of, plan_batch, run_batch
    from huiqi.rules import LibraryError, load_library

    if only_actionable and all_pairs:
        fail("--only-actionable 与 --all-pairs 不能同时使用 / cannot be used together")
    if chunk_rows is not None and chunk_rows < 1:
        fail(f"--chunk-rows: 应为正整数 / must be a positive integer, got {chunk_rows}")
    try:
        engine_cls = engine_class(engine)
        date = parse_as_of(as_of)
    except BatchError as e:
        fail(str(e))
    try:
        library = load_library(policies)
    except LibraryError as e:
        for p in e.problems:
            err.print(str(p), highlight=False)
        fail(f"--policies: 政策库有 {len(e.problems)} 处错误 / the policy library has errors", 1)
    try:  # check the inputs before the progress bar starts (run_batch checks them again)
        open_registry(enterprises)
        plan_batch(library, date, policy or None)
    except BatchError as e:
        fail(str(e))

    with _progress() as progress:
        task = progress.add_task(f"匹配 matching ({engine_cls.progress_unit})", total=None)

        def on_progress(done: int, total: int, stage: str = "evaluate") -> None:
            progress.update(task, completed=done, total=total)
            if stage == "summarize":
                progress.update(task, description="汇总 summarizing")

        try:
            result = run_batch(
                library,
                enterprises,
                date,
                out,
                engine=engine,
                policy_ids=policy or None,
                all_pairs=all_pairs,
                summary_only=summary_only,
                chunk_rows=chunk_rows,
                on_progress=on_progress,
            )
        except BatchError as e:
            fail(str(e))
    _render_summary(result)


def _render_summary(result: Any) -> None:
    from rich.table import Table

    table = Table(title=f"批量匹配结果 {result.as_of}（{result.enterprises:,} 家企业，引擎 {result.engine}）")
    table.add_column("政策", overflow="fold")
    table.add_column("可享受", justify="right", style="green")
    table.add_column("待补充信息", justify="right", style="yellow")
    table.add_column("不符合", justify="right", style="dim")
    table.add_column("可享受金额合计（元）", justify="right")
    for s in result.summaries:
        # A policy that waits on an action: its eligible enterprises are 满足前提即可享受.
        said = f"\n[cyan]{vocab.precondition_text(s.preconditions)}[/]" if s.preconditions else ""
        table.add_row(
            f"{s.title}\n[dim]{s.policy_id}[/]{said}",
            f"{s.eligible:,}",
            f"{s.undetermined:,}",
            f"{s.ineligible:,}",
            _yuan(s.eligible_amount),
        )
    console.print(table)
    rate = result.pairs / result.seconds if result.seconds else 0
    written = (
        "未写出企业-政策对（--summary-only）" if result.pairs_written is None else f"写出 {result.pairs_written:,} 对"
    )
    console.print(
        f"{result.pairs:,} 个企业-政策对，用时 {result.seconds:.1f} 秒（{rate:,.0f} 对/秒）；{written} → {result.out}",
        highlight=False,
    )


# --- huiqi batch list --------------------------------------------------------------------------------
@batch_app.command("list")
def list_command(
    run: Annotated[Path, typer.Option("--run", help="batch run 的输出目录")],
    policy: Annotated[str, typer.Option("--policy", help="政策 id")],
    out: Annotated[Path, typer.Option("--out", help="输出文件 .csv 或 .xlsx")],
    enterprises: Annotated[
        Path | None,
        typer.Option("--enterprises", help="企业名录（默认用运行时记录的文件）", show_default=False),
    ] = None,
) -> None:
    """免申即享名单：可享受的企业及金额（给兑付部门），以及需补充信息的企业和要收集的信息。"""
    from huiqi.batch.base import BatchError
    from huiqi.batch.export import export_list

    try:
        lists = export_list(run, policy, out, enterprises=enterprises)
    except BatchError as e:
        fail(str(e))
    console.print(
        f"{lists.title}（{lists.policy_id}）：可享受 {len(lists.eligible):,} 家，金额合计 {_yuan(lists.total)} 元；"
        f"待补充信息 {len(lists.undetermined):,} 家 → {', '.join(str(p) for p in lists.files)}",
        highlight=False,
    )
