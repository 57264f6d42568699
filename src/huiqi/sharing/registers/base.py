"""What every department register has: fields with a sensitivity, a subject, its own database.

A register is a department's own system (法人库, 人口库, …). Each keeps its tables in its
own SQLAlchemy ``MetaData`` and its own database (a SQLite file by default, PostgreSQL by
URL): no register ever reads another's tables. Columns marked ``encrypted`` hold field
ciphertexts (see :class:`Sealer`); the gateway only ever sees decrypted values of the fields
it is about to release or evaluate.

Sensitivity levels (the ``resource.sensitivity`` of the Cedar decisions):

====  ========  =====================================================================
1     公开      may be published (enterprise name, industry, registration date)
2     内部      shared between departments for a declared purpose
3     敏感      personal or tax data: consent or a recorded legal basis, masked where possible
4     不出域    never leaves the department raw; only conditions over it (可用不可见)
====  ========  =====================================================================
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Literal, Protocol

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

Kind = Literal["string", "integer", "money", "date", "list", "boolean"]
SubjectKind = Literal["uscc", "id_number"]
SENSITIVITY_LABELS = {1: "公开", 2: "内部", 3: "敏感", 4: "不出域"}
#: A value and the date it describes (the end of the tax year, the last insured month …).
Dated = tuple[Any, dt.date | None]


@dataclass(frozen=True)
class RegisterField:
    """One field a register can release or evaluate a condition over."""

    name: str
    label: str  # 中文名称
    kind: Kind
    sensitivity: int
    profile: str | None = None  # the enterprise-profile field it fills (prefill), if any
    mask: str | None = None  # masking rule when a purpose asks for the masked form (see masking.py)

    def __post_init__(self) -> None:
        if self.sensitivity not in SENSITIVITY_LABELS:
            raise ValueError(f"{self.name}: sensitivity must be 1..4")


class FieldCipher(Protocol):
    """One sealed column (``huiqi.trust.fields.FieldCipher``): row-bound AEAD tokens, blind index."""

    def encrypt(self, row_id: object, value: str | bytes) -> str: ...

    def decrypt(self, row_id: object, token: str) -> str: ...

    def blind_index(self, value: str) -> str: ...


class Sealer(Protocol):
    """The department's keys (``huiqi.trust.fields.Vault``): a cipher per table and column."""

    def field(self, table: str, field: str) -> FieldCipher: ...


def encode_value(value: Any) -> str:
    """The text a sealed column holds: JSON, amounts and dates as strings."""
    if isinstance(value, Decimal):
        value = str(value)
    elif isinstance(value, dt.date):
        value = value.isoformat()
    return json.dumps(value, ensure_ascii=False)


def decode_value(text: str, kind: Kind) -> Any:
    value = json.loads(text)
    if value is None:
        return None
    if kind == "money":
        return Decimal(value)
    if kind == "date":
        return dt.date.fromisoformat(value)
    return value


@dataclass
class Register:
    """Base of the five registers. Subclasses set the class attributes and the tables."""

    engine: Engine
    sealer: Sealer

    member: ClassVar[str]
    service: ClassVar[str]  # e.g. "tax.taxpayer": what the Service Declaration names
    title: ClassVar[str]  # 中文名称 of the register
    subject: ClassVar[SubjectKind]
    #: Everything the register can release or evaluate a condition over; sensitivity 4
    #: fields are conditions only (可用不可见).
    fields: ClassVar[dict[str, RegisterField]]
    metadata: ClassVar[sa.MetaData]

    _ciphers: dict[tuple[str, str], FieldCipher] = field(init=False, default_factory=dict)

    # --- schema ------------------------------------------------------------------------------
    def create(self) -> None:
        """Create the register's tables where missing (its own database, not the platform's)."""
        self.metadata.create_all(self.engine)

    def count(self) -> int:
        raise NotImplementedError

    # --- sealing (huiqi.trust field encryption, keys of this department) ----------------------
    def cipher(self, table: str, column: str) -> FieldCipher:
        found = self._ciphers.get((table, column))
        if found is None:
            found = self._ciphers[(table, column)] = self.sealer.field(table, column)
        return found

    def seal(self, table: str, column: str, row_id: str, value: Any) -> str | None:
        if value is None:
            return None
        return self.cipher(table, column).encrypt(row_id, encode_value(value))

    def unseal(self, table: str, column: str, row_id: str, token: str | None, kind: Kind) -> Any:
        if token is None:
            return None
        return decode_value(self.cipher(table, column).decrypt(row_id, token), kind)

    def index(self, table: str, column: str, value: str) -> str:
        return self.cipher(table, column).blind_index(value)

    # --- reading -----------------------------------------------------------------------------
    def read(self, conn: Connection, subject: str, as_of: dt.date, wanted: frozenset[str]) -> dict[str, Dated] | None:
        """The ``wanted`` fields and facts of one subject on ``as_of``: name → (value, date).

        None when the register holds no record of the subject. Only wanted sealed
        columns are decrypted.
        """
        raise NotImplementedError

    def read_many(
        self, conn: Connection, as_of: dt.date, wanted: frozenset[str], *, after: str | None = None, limit: int = 10_000
    ) -> list[tuple[str, dict[str, Dated]]]:
        """Subjects in key order after ``after``: the bulk interface (免申即享), one page at a time."""
        raise NotImplementedError

    # --- writing (filling from the synthetic registry) ------------------------------------
    def insert(self, conn: Connection, rows: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        """Insert rows per table name (already sealed)."""
        for table, items in rows.items():
            if items:
                conn.execute(self.metadata.tables[table].insert(), list(items))
