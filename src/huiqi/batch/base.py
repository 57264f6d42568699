"""The batch engine contract: what every engine implements and returns, and nothing else.

This is the lowest module of :mod:`huiqi.batch`: engines (DuckDB, Spark) import only this
module and the rules core; :mod:`huiqi.batch.run` (the run directory, the public
``run_batch``) finds them by name in :mod:`huiqi.batch.engines`, so no engine module
imports the runner back, and Spark is imported only when asked for (model: httpx's
``BaseTransport``, sqlglot's dialect registry).

An engine is given the compiled :class:`~huiqi.rules.sqlquery.Plan`, the registry's path
(already checked against :func:`canonical_schema`), a temporary run directory to write
``pairs/`` into, :class:`RunOptions`, and a :class:`Progress` callback; it returns a
:class:`RunResult` with the per-policy counts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from sqlglot import exp

from huiqi.errors import InputError, Message
from huiqi.profile import FIELDS
from huiqi.rules.sqlquery import Plan

VERDICTS = ("eligible", "undetermined", "ineligible")
MANIFEST = "run.json"
PAIRS = "pairs"
#: Columns of each pairs file, in order (docs/batch.md).
PAIR_COLUMNS = ("uscc", "verdict", "amount", "missing")


class BatchError(InputError):
    """Bad input to a batch run: names the option, in Chinese and English."""

    def __init__(self, option: str, message_zh: str, message_en: str):
        self.option = option
        self.message_zh = message_zh
        self.message_en = message_en
        super().__init__(Message(message_zh, message_en), field=option)

    def __str__(self) -> str:
        return f"{self.option}: {self.message}"


class Progress(Protocol):
    """``on_progress(done, total, stage)``: units done so far (the engine's
    :attr:`BatchEngine.progress_unit`); ``stage`` is ``"evaluate"``, then ``"summarize"``."""

    def __call__(self, done: int, total: int, stage: str = "evaluate") -> None: ...


@dataclass(frozen=True)
class RunOptions:
    """What to compute and write. ``all_pairs``: also write the ineligible pairs (by default
    only the eligible and undetermined ones, which is what the paying departments and the
    lists read; the summary counts every pair either way)."""

    summary_only: bool = False
    all_pairs: bool = False
    chunk_rows: int | None = None


@dataclass
class PolicySummary:
    policy_id: str
    title: str
    eligible: int = 0
    undetermined: int = 0
    ineligible: int = 0
    eligible_amount: Decimal | None = None  # None: the policy has no amount formula
    #: 前提 (action conditions) worded as of the run's date: when set, the eligible pairs are
    #: 满足前提即可享受 — the enterprises qualify once they have taken these actions.
    preconditions: tuple[str, ...] = ()


@dataclass
class RunResult:
    out: Path
    as_of: dt.date
    engine: str
    enterprises: int
    summaries: list[PolicySummary]
    pairs_written: int | None  # None when only the summary was computed
    seconds: float = 0.0

    @property
    def pairs(self) -> int:
        return self.enterprises * len(self.summaries)


class BatchEngine(Protocol):
    """One way of evaluating a :class:`Plan` over a whole registry."""

    #: The name users pick it by (``--engine``), and that the manifest records.
    name: str
    #: What ``on_progress`` counts, in Chinese (shown on the progress bar).
    progress_unit: str

    def run(
        self, plan: Plan, enterprises: Path, out: Path, options: RunOptions, on_progress: Progress | None = None
    ) -> RunResult:
        """Evaluate ``plan`` for every row of ``enterprises``; write ``out/pairs`` unless
        ``options.summary_only``."""
        ...

    def close(self) -> None:
        """Release what the engine holds (connections, sessions)."""
        ...


def canonical_schema() -> Any:
    """The Arrow schema every engine reads (the registry's, docs/registry.md)."""
    import pyarrow as pa

    return pa.schema([pa.field(n, s.kind_spec.arrow(pa)) for n, s in FIELDS.items()])


def summaries_from_counts(plan: Plan, n: int, counts: dict[str, dict[str, Any]]) -> list[PolicySummary]:
    """``counts[policy id]`` has ``eligible``, ``undetermined`` (or ``decided``) and ``amount``."""
    out = []
    for p in plan.policies:
        c = counts.get(p.id, {})
        eligible = int(c.get("eligible") or 0)
        if "decided" in c:
            decided = int(c["decided"] or 0)
            undetermined = n - decided
            ineligible = decided - eligible
        else:
            undetermined = int(c.get("undetermined") or 0)
            ineligible = n - eligible - undetermined
        amount = None if p.policy.formula is None else Decimal(c.get("amount") or 0).quantize(Decimal("0.01"))
        preconditions = plan.library.texts_of(p.policy, plan.as_of).preconditions
        out.append(PolicySummary(p.id, p.title, eligible, undetermined, ineligible, amount, preconditions))
    return out


def summarize_pairs_query(pairs: exp.Expr) -> exp.Select:
    """Counts per policy of the written pairs: ``policy_id, eligible, undetermined, amount,
    written`` (one tree, printed in each engine's dialect)."""
    verdict = exp.column("verdict")

    def count_if(v: str) -> exp.Expr:
        return exp.CountIf(this=exp.EQ(this=verdict.copy(), expression=exp.Literal.string(v)))

    eligible_amount = exp.Case(
        ifs=[
            exp.If(
                this=exp.EQ(this=verdict.copy(), expression=exp.Literal.string("eligible")), true=exp.column("amount")
            )
        ]
    )
    policy_id = exp.cast(exp.column("policy_id"), "VARCHAR")
    return (
        exp.select(
            exp.alias_(policy_id, "policy_id"),
            exp.alias_(count_if("eligible"), "eligible"),
            exp.alias_(count_if("undetermined"), "undetermined"),
            exp.alias_(exp.Sum(this=eligible_amount), "amount"),
            exp.alias_(exp.Count(this=exp.Star()), "written"),
        )
        .from_(pairs)
        .group_by(policy_id.copy())
    )


def counts_from_rows(rows: list[Any]) -> tuple[dict[str, dict[str, Any]], int]:
    """The rows of :func:`summarize_pairs_query` as ``(counts per policy, pairs written)``."""
    counts = {r[0]: {"eligible": r[1], "undetermined": r[2], "amount": r[3]} for r in rows}
    return counts, sum(int(r[4]) for r in rows)
