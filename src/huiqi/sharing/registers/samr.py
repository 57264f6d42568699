"""市场监督管理局 法人库: every enterprise registered in 临江市, keyed by USCC."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import Connection

from huiqi.sharing.registers.base import Dated, Register, RegisterField

metadata = sa.MetaData()
enterprises = sa.Table(
    "enterprises",
    metadata,
    sa.Column("uscc", sa.String(18), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    # The legal representative: a blind index to find their enterprises, the number sealed.
    sa.Column("legal_rep_index", sa.String(32), nullable=False, index=True),
    sa.Column("legal_rep_id", sa.Text, nullable=False),
    sa.Column("legal_rep_name", sa.Text, nullable=False),
    sa.Column("registered_capital", sa.Numeric(18, 2)),
    sa.Column("address", sa.String(255)),
    sa.Column("industry", sa.String(5)),
    sa.Column("region", sa.String(6)),
    sa.Column("registered_on", sa.Date),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("licences", sa.Text, nullable=False),  # JSON list of 许可证 names
    sa.Column("updated_on", sa.Date, nullable=False),
)

STATUSES = ("存续", "在业", "吊销", "注销")


class EnterpriseRegister(Register):
    member: ClassVar[str] = "samr"
    service: ClassVar[str] = "samr.enterprise"
    title: ClassVar[str] = "法人库"
    subject: ClassVar = "uscc"
    metadata: ClassVar[sa.MetaData] = metadata
    fields: ClassVar[dict[str, RegisterField]] = {
        f.name: f
        for f in (
            RegisterField("name", "企业名称", "string", 1, profile="name"),
            RegisterField("legal_rep_id_number", "法定代表人身份证号", "string", 3, mask="id_number"),
            RegisterField("legal_rep_name", "法定代表人姓名", "string", 2, mask="name"),
            RegisterField("registered_capital", "注册资本", "money", 1),
            RegisterField("address", "住所", "string", 1),
            RegisterField("industry", "所属行业", "string", 1, profile="industry"),
            RegisterField("region", "所在地区", "string", 1, profile="region"),
            RegisterField("registered_on", "成立日期", "date", 1, profile="registered_on"),
            RegisterField("status", "登记状态", "string", 1),
            RegisterField("licences", "许可证", "list", 1),
        )
    }

    def count(self) -> int:
        with self.engine.connect() as c:
            return int(c.execute(sa.select(sa.func.count()).select_from(enterprises)).scalar_one())

    def _record(self, row: Any, wanted: frozenset[str]) -> dict[str, Dated]:
        at = row.updated_on
        out: dict[str, Dated] = {}
        for name in wanted:
            if name == "legal_rep_id_number":
                value = self.unseal("enterprises", "legal_rep_id", row.uscc, row.legal_rep_id, "string")
            elif name == "legal_rep_name":
                value = self.unseal("enterprises", "legal_rep_name", row.uscc, row.legal_rep_name, "string")
            elif name == "licences":
                value = json.loads(row.licences)
            else:
                value = getattr(row, name)
            out[name] = (value, at)
        return out

    def read(self, conn: Connection, subject: str, as_of: dt.date, wanted: frozenset[str]) -> dict[str, Dated] | None:
        row = conn.execute(sa.select(enterprises).where(enterprises.c.uscc == subject)).first()
        return None if row is None else self._record(row, wanted)

    def read_many(
        self, conn: Connection, as_of: dt.date, wanted: frozenset[str], *, after: str | None = None, limit: int = 10_000
    ) -> list[tuple[str, dict[str, Dated]]]:
        q = sa.select(enterprises).order_by(enterprises.c.uscc).limit(limit)
        if after is not None:
            q = q.where(enterprises.c.uscc > after)
        return [(row.uscc, self._record(row, wanted)) for row in conn.execute(q)]

    def enterprises_of(self, conn: Connection, id_number: str) -> list[str]:
        """USCCs of the enterprises a person represents (by blind index: no clear 身份证号 stored)."""
        key = self.index("enterprises", "legal_rep_id", id_number)
        return list(conn.execute(sa.select(enterprises.c.uscc).where(enterprises.c.legal_rep_index == key)).scalars())
