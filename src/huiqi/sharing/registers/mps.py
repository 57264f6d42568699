"""公安局 人口库: residents, keyed by 身份证号 (GB 11643, check digit verified) — the most sensitive.

Nothing of a person is stored in clear: the 身份证号 is kept as a blind index (to find the
row) and a ciphertext (to release it, masked); name, birth date and household address are
sealed too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import Connection

from huiqi.sharing.registers.base import Dated, Register, RegisterField

metadata = sa.MetaData()
persons = sa.Table(
    "persons",
    metadata,
    sa.Column("id_index", sa.String(32), primary_key=True),  # blind index of the 身份证号
    sa.Column("id_number", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("birth_date", sa.Text, nullable=False),
    sa.Column("household_address", sa.Text),
    sa.Column("updated_on", sa.Date, nullable=False),
)


def age_on(birth: dt.date | None, as_of: dt.date) -> int | None:
    if birth is None:
        return None
    return as_of.year - birth.year - (1 if (as_of.month, as_of.day) < (birth.month, birth.day) else 0)


class PopulationRegister(Register):
    member: ClassVar[str] = "mps"
    service: ClassVar[str] = "mps.person"
    title: ClassVar[str] = "人口库"
    subject: ClassVar = "id_number"
    metadata: ClassVar[sa.MetaData] = metadata
    fields: ClassVar[dict[str, RegisterField]] = {
        f.name: f
        for f in (
            RegisterField("id_number", "身份证号", "string", 3, mask="id_number"),
            RegisterField("name", "姓名", "string", 3, mask="name"),
            RegisterField("birth_date", "出生日期", "date", 3),
            RegisterField("household_address", "户籍地址", "string", 3, mask="address"),
            RegisterField("age", "年龄（周岁）", "integer", 2),
        )
    }

    def count(self) -> int:
        with self.engine.connect() as c:
            return int(c.execute(sa.select(sa.func.count()).select_from(persons)).scalar_one())

    def _record(self, row: Any, wanted: frozenset[str], as_of: dt.date) -> dict[str, Dated]:
        key = row.id_index
        at = row.updated_on
        out: dict[str, Dated] = {}
        birth = None
        if "birth_date" in wanted or "age" in wanted:
            birth = self.unseal("persons", "birth_date", key, row.birth_date, "date")
        for name in wanted:
            if name == "age":
                out[name] = (age_on(birth, as_of), as_of)
            elif name == "birth_date":
                out[name] = (birth, at)
            else:
                out[name] = (self.unseal("persons", name, key, getattr(row, name), "string"), at)
        return out

    def read(self, conn: Connection, subject: str, as_of: dt.date, wanted: frozenset[str]) -> dict[str, Dated] | None:
        row = conn.execute(
            sa.select(persons).where(persons.c.id_index == self.index("persons", "id_number", subject))
        ).first()
        return None if row is None else self._record(row, wanted, as_of)

    def read_many(
        self, conn: Connection, as_of: dt.date, wanted: frozenset[str], *, after: str | None = None, limit: int = 10_000
    ) -> list[tuple[str, dict[str, Dated]]]:
        # Paged by blind index: the page cursor never reveals a 身份证号.
        q = sa.select(persons).order_by(persons.c.id_index).limit(limit)
        if after is not None:
            q = q.where(persons.c.id_index > after)
        return [(row.id_index, self._record(row, wanted, as_of)) for row in conn.execute(q)]
