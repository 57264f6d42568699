"""卫生健康委员会 健康证: food handlers' health certificates per food business — never leaves raw.

A food business (餐饮, 食品生产与销售) declares how many of its staff handle food; each of
them needs a valid 健康证 (食品安全法 第四十五条). The register holds every certificate
(holder's 身份证号 sealed, validity dates). Nothing here is ever released as a value: the
Service Declaration offers conditions only, so a consumer can learn that
``all_food_handlers_certified`` is met without seeing a single certificate.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import Connection

from huiqi.sharing.registers.base import Dated, Register, RegisterField

metadata = sa.MetaData()
food_businesses = sa.Table(
    "food_businesses",
    metadata,
    sa.Column("uscc", sa.String(18), primary_key=True),
    sa.Column("food_handlers", sa.Integer, nullable=False),
    sa.Column("updated_on", sa.Date, nullable=False),
)
certificates = sa.Table(
    "health_certificates",
    metadata,
    sa.Column("number", sa.String(24), primary_key=True),
    sa.Column("uscc", sa.String(18), nullable=False, index=True),
    sa.Column("holder_index", sa.String(32), nullable=False, index=True),
    sa.Column("holder_id", sa.Text, nullable=False),
    sa.Column("issued_on", sa.Date, nullable=False),
    sa.Column("expires_on", sa.Date, nullable=False),
)


class HealthRegister(Register):
    member: ClassVar[str] = "nhc"
    service: ClassVar[str] = "nhc.health_certificates"
    title: ClassVar[str] = "健康证"
    subject: ClassVar = "uscc"
    metadata: ClassVar[sa.MetaData] = metadata
    fields: ClassVar[dict[str, RegisterField]] = {
        f.name: f
        for f in (
            RegisterField("food_handlers", "需持健康证的从业人员数", "integer", 4),
            RegisterField("certified_food_handlers", "持有效健康证的从业人员数", "integer", 4),
            RegisterField("all_food_handlers_certified", "从业人员均持有效健康证", "boolean", 4),
        )
    }

    def count(self) -> int:
        with self.engine.connect() as c:
            return int(c.execute(sa.select(sa.func.count()).select_from(food_businesses)).scalar_one())

    @staticmethod
    def _facts(business: Any, valid: int, as_of: dt.date) -> dict[str, Dated]:
        handlers = int(business.food_handlers)
        return {
            "food_handlers": (handlers, business.updated_on),
            "certified_food_handlers": (valid, as_of),
            "all_food_handlers_certified": (valid >= handlers, as_of),
        }

    def read(self, conn: Connection, subject: str, as_of: dt.date, wanted: frozenset[str]) -> dict[str, Dated] | None:
        business = conn.execute(sa.select(food_businesses).where(food_businesses.c.uscc == subject)).first()
        if business is None:
            return None
        valid = conn.execute(
            sa.select(sa.func.count(sa.distinct(certificates.c.holder_index))).where(
                certificates.c.uscc == subject,
                certificates.c.issued_on <= as_of,
                certificates.c.expires_on >= as_of,
            )
        ).scalar_one()
        facts = self._facts(business, int(valid), as_of)
        return {k: v for k, v in facts.items() if k in wanted}

    def read_many(
        self, conn: Connection, as_of: dt.date, wanted: frozenset[str], *, after: str | None = None, limit: int = 10_000
    ) -> list[tuple[str, dict[str, Dated]]]:
        q = sa.select(food_businesses).order_by(food_businesses.c.uscc).limit(limit)
        if after is not None:
            q = q.where(food_businesses.c.uscc > after)
        businesses = list(conn.execute(q))
        if not businesses:
            return []
        counts: dict[str, int] = defaultdict(int)
        valid = conn.execute(
            sa.select(certificates.c.uscc, sa.func.count(sa.distinct(certificates.c.holder_index)))
            .where(
                certificates.c.uscc.between(businesses[0].uscc, businesses[-1].uscc),
                certificates.c.issued_on <= as_of,
                certificates.c.expires_on >= as_of,
            )
            .group_by(certificates.c.uscc)
        )
        counts.update({uscc: int(n) for uscc, n in valid})
        out = []
        for b in businesses:
            facts = self._facts(b, counts[b.uscc], as_of)
            out.append((b.uscc, {k: v for k, v in facts.items() if k in wanted}))
        return out
