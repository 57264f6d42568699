"""人力资源和社会保障局: social insurance contributions per enterprise and month, keyed by USCC.

``employees`` (从业人数, the profile's annual average) is the mean of the insured headcount
over the latest twelve months on record up to the date asked; months the enterprise did
not declare are simply absent (a gap), never counted as zero.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import Connection

from huiqi.sharing.registers.base import Dated, Register, RegisterField

metadata = sa.MetaData()
contributions = sa.Table(
    "contributions",
    metadata,
    sa.Column("id", sa.String(26), primary_key=True),  # "<uscc>/<YYYY-MM>": the row the wage seal is bound to
    sa.Column("uscc", sa.String(18), nullable=False),
    sa.Column("month", sa.String(7), nullable=False),  # YYYY-MM
    sa.Column("insured_employees", sa.Integer, nullable=False),
    sa.Column("wage_total", sa.Text, nullable=False),
    sa.UniqueConstraint("uscc", "month", name="uq_contributions_uscc_month"),
)
WINDOW = 12


def month_end(month: str) -> dt.date:
    year, mon = int(month[:4]), int(month[5:7])
    return dt.date(year, mon, calendar.monthrange(year, mon)[1])


class InsuranceRegister(Register):
    member: ClassVar[str] = "hrss"
    service: ClassVar[str] = "hrss.insurance"
    title: ClassVar[str] = "社会保险参保信息"
    subject: ClassVar = "uscc"
    metadata: ClassVar[sa.MetaData] = metadata
    fields: ClassVar[dict[str, RegisterField]] = {
        f.name: f
        for f in (
            RegisterField("employees", "从业人数（近十二个月平均参保人数）", "integer", 2, profile="employees"),
            RegisterField("insured_employees", "最近一月参保人数", "integer", 2),
            RegisterField("wage_total", "近十二个月工资总额", "money", 3),
        )
    }

    def count(self) -> int:
        with self.engine.connect() as c:
            q = sa.select(sa.func.count(sa.distinct(contributions.c.uscc)))
            return int(c.execute(q).scalar_one())

    def _summary(self, uscc: str, months: list[Any], wanted: frozenset[str]) -> dict[str, Dated]:
        """``months``: the enterprise's rows, newest first, at most WINDOW of them."""
        at = month_end(months[0].month)
        out: dict[str, Dated] = {}
        if "employees" in wanted:
            mean = Decimal(sum(m.insured_employees for m in months)) / len(months)
            out["employees"] = (int(mean.quantize(Decimal(1), ROUND_HALF_UP)), at)
        if "insured_employees" in wanted:
            out["insured_employees"] = (months[0].insured_employees, at)
        if "wage_total" in wanted:
            total = sum(
                (self.unseal("contributions", "wage_total", m.id, m.wage_total, "money") for m in months), Decimal(0)
            )
            out["wage_total"] = (total, at)
        return out

    def read(self, conn: Connection, subject: str, as_of: dt.date, wanted: frozenset[str]) -> dict[str, Dated] | None:
        rows = list(
            conn.execute(
                sa.select(contributions)
                .where(contributions.c.uscc == subject, contributions.c.month <= as_of.strftime("%Y-%m"))
                .order_by(contributions.c.month.desc())
                .limit(WINDOW)
            )
        )
        return self._summary(subject, rows, wanted) if rows else None

    def read_many(
        self, conn: Connection, as_of: dt.date, wanted: frozenset[str], *, after: str | None = None, limit: int = 10_000
    ) -> list[tuple[str, dict[str, Dated]]]:
        keys = sa.select(contributions.c.uscc).distinct().order_by(contributions.c.uscc).limit(limit)
        if after is not None:
            keys = keys.where(contributions.c.uscc > after)
        found = list(conn.execute(keys).scalars())
        if not found:
            return []
        in_range = sa.and_(
            contributions.c.uscc.between(found[0], found[-1]), contributions.c.month <= as_of.strftime("%Y-%m")
        )
        if "wage_total" not in wanted:
            return self._counts(conn, in_range, wanted)
        rows = conn.execute(
            sa.select(contributions).where(in_range).order_by(contributions.c.uscc, contributions.c.month.desc())
        )
        grouped: dict[str, list[Any]] = defaultdict(list)
        for row in rows:
            months = grouped[row.uscc]
            if len(months) < WINDOW:
                months.append(row)
        return [(uscc, self._summary(uscc, grouped[uscc], wanted)) for uscc in found if grouped.get(uscc)]

    def _counts(self, conn: Connection, where: Any, wanted: frozenset[str]) -> list[tuple[str, dict[str, Dated]]]:
        """Headcounts only (no sealed wages): the twelve-month window is computed by the database."""
        c = contributions.c
        rank = sa.func.row_number().over(partition_by=c.uscc, order_by=c.month.desc()).label("rn")
        ranked = sa.select(c.uscc, c.month, c.insured_employees, rank).where(where).subquery()
        r = ranked.c
        q = (
            sa.select(
                r.uscc,
                sa.func.max(sa.case((r.rn == 1, r.month))).label("last"),
                sa.func.max(sa.case((r.rn == 1, r.insured_employees))).label("latest"),
                sa.func.sum(r.insured_employees).label("total"),
                sa.func.count().label("n"),
            )
            .where(r.rn <= WINDOW)
            .group_by(r.uscc)
            .order_by(r.uscc)
        )
        out = []
        for row in conn.execute(q):
            at = month_end(row.last)
            values: dict[str, Dated] = {}
            if "employees" in wanted:
                mean = Decimal(int(row.total)) / int(row.n)
                values["employees"] = (int(mean.quantize(Decimal(1), ROUND_HALF_UP)), at)
            if "insured_employees" in wanted:
                values["insured_employees"] = (int(row.latest), at)
            out.append((row.uscc, values))
        return out
