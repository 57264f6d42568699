"""税务局: taxpayer type, credit rating and the figures of the last returns, keyed by USCC.

One row per taxpayer: the VAT type and 纳税信用等级 (with the year rated), the latest monthly
VAT sales, and the annual corporate income tax return of the last year (revenue, taxable
income, R&D expense, total assets). Every amount is sealed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import Connection

from huiqi.sharing.registers.base import Dated, Register, RegisterField

metadata = sa.MetaData()
taxpayers = sa.Table(
    "taxpayers",
    metadata,
    sa.Column("uscc", sa.String(18), primary_key=True),
    sa.Column("taxpayer_type", sa.String(16)),
    sa.Column("credit_rating", sa.String(1)),
    sa.Column("rated_on", sa.Date),  # 评价日期 of the credit rating
    sa.Column("monthly_sales", sa.Text),
    sa.Column("sales_month_end", sa.Date),  # the month the VAT return covers
    sa.Column("tax_year_end", sa.Date),  # the annual CIT return's year
    sa.Column("revenue", sa.Text),
    sa.Column("taxable_income", sa.Text),
    sa.Column("rd_expense", sa.Text),
    sa.Column("total_assets", sa.Text),
)

ANNUAL = ("revenue", "taxable_income", "rd_expense", "total_assets")


class TaxRegister(Register):
    member: ClassVar[str] = "tax"
    service: ClassVar[str] = "tax.taxpayer"
    title: ClassVar[str] = "纳税人信息"
    subject: ClassVar = "uscc"
    metadata: ClassVar[sa.MetaData] = metadata
    fields: ClassVar[dict[str, RegisterField]] = {
        f.name: f
        for f in (
            RegisterField("taxpayer_type", "增值税纳税人类型", "string", 2, profile="taxpayer_type"),
            RegisterField("credit_rating", "纳税信用等级", "string", 2, profile="credit_rating"),
            RegisterField("monthly_sales", "月销售额", "money", 3, profile="monthly_sales"),
            RegisterField("revenue", "上年营业收入", "money", 3, profile="revenue"),
            RegisterField("taxable_income", "上年应纳税所得额", "money", 3, profile="taxable_income"),
            RegisterField("rd_expense", "上年研发费用", "money", 3, profile="rd_expense"),
            RegisterField("total_assets", "资产总额", "money", 3, profile="total_assets"),
        )
    }

    def count(self) -> int:
        with self.engine.connect() as c:
            return int(c.execute(sa.select(sa.func.count()).select_from(taxpayers)).scalar_one())

    def _record(self, row: Any, wanted: frozenset[str]) -> dict[str, Dated]:
        out: dict[str, Dated] = {}
        for name in wanted:
            if name in ANNUAL:
                out[name] = (self.unseal("taxpayers", name, row.uscc, getattr(row, name), "money"), row.tax_year_end)
            elif name == "monthly_sales":
                out[name] = (self.unseal("taxpayers", name, row.uscc, row.monthly_sales, "money"), row.sales_month_end)
            elif name == "credit_rating":
                out[name] = (row.credit_rating, row.rated_on)
            else:
                out[name] = (getattr(row, name), row.rated_on)
        return out

    def read(self, conn: Connection, subject: str, as_of: dt.date, wanted: frozenset[str]) -> dict[str, Dated] | None:
        row = conn.execute(sa.select(taxpayers).where(taxpayers.c.uscc == subject)).first()
        return None if row is None else self._record(row, wanted)

    def read_many(
        self, conn: Connection, as_of: dt.date, wanted: frozenset[str], *, after: str | None = None, limit: int = 10_000
    ) -> list[tuple[str, dict[str, Dated]]]:
        q = sa.select(taxpayers).order_by(taxpayers.c.uscc).limit(limit)
        if after is not None:
            q = q.where(taxpayers.c.uscc > after)
        return [(row.uscc, self._record(row, wanted)) for row in conn.execute(q)]
