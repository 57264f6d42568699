"""The gateway's request and answer (ARCHITECTURE.md contract), shared by client and server.

A request names ``consumer`` (``member/system``), ``official``, ``case_id``, ``purpose``,
``service``, ``subject`` (``{"uscc": …}`` or ``{"id_number": …}``), and either ``fields``
or one ``condition`` of the rule language, plus ``consent_ref`` where consent is the basis.
The answer carries each released field as ``{"value", "source", "as_of"}`` (and
``masked`` when only part was released), each refused field with its reason, the
condition's outcome (met / unmet / unknown) when one was asked, and where the decision is
on the provider's transparency log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from typing import Annotated, Any, Literal

import rfc8785
from pydantic import BaseModel, ConfigDict, Field, model_validator

ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"


class Subject(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    uscc: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    id_number: Annotated[str, Field(min_length=1, max_length=32)] | None = None

    @model_validator(mode="after")
    def _one(self) -> Subject:
        if (self.uscc is None) == (self.id_number is None):
            raise ValueError("subject 须且只须给出 uscc 或 id_number 之一 / give exactly one of uscc, id_number")
        return self

    @property
    def kind(self) -> str:
        return "uscc" if self.uscc is not None else "id_number"

    @property
    def value(self) -> str:
        return self.uscc if self.uscc is not None else self.id_number  # type: ignore[return-value]


class GatewayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    request_id: Annotated[str, Field(pattern=ID)]
    consumer: Annotated[str, Field(pattern=r"^[a-z]+/[a-z][a-z0-9_-]{1,31}$")]
    official: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    case_id: Annotated[str, Field(min_length=1, max_length=128)]
    purpose: Annotated[str, Field(min_length=1, max_length=32)]
    service: Annotated[str, Field(min_length=1, max_length=64)]
    subject: Subject
    fields: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=64)] | None = None
    condition: Annotated[str, Field(max_length=2000)] | None = None
    consent_ref: Annotated[str, Field(max_length=64)] | None = None
    as_of: dt.date | None = None

    @model_validator(mode="after")
    def _fields_or_condition(self) -> GatewayRequest:
        if (self.fields is None) == (self.condition is None):
            raise ValueError("须且只须给出 fields 或 condition 之一 / give exactly one of fields, condition")
        if self.fields is not None and not self.fields:
            raise ValueError("fields 不能为空 / fields must not be empty")
        return self


class BulkRequest(BaseModel):
    """免申即享: one page of every subject's fields, under the purpose's legal basis."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    request_id: Annotated[str, Field(pattern=ID)]
    consumer: Annotated[str, Field(pattern=r"^[a-z]+/[a-z][a-z0-9_-]{1,31}$")]
    official: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    case_id: Annotated[str, Field(min_length=1, max_length=128)]
    purpose: Annotated[str, Field(min_length=1, max_length=32)]
    service: Annotated[str, Field(min_length=1, max_length=64)]
    fields: Annotated[list[Annotated[str, Field(max_length=64)]], Field(min_length=1, max_length=64)]
    after: Annotated[str, Field(max_length=64)] | None = None
    limit: Annotated[int, Field(ge=1, le=50_000)] = 10_000
    as_of: dt.date | None = None


class Released(BaseModel):
    value: Any
    source: str  # the department's name, 税务局
    as_of: dt.date | None
    masked: bool = False


class Reason(BaseModel):
    code: str
    message_zh: str
    message_en: str


class LogRef(BaseModel):
    origin: str
    index: int
    leaf_hash: str


class ConditionAnswer(BaseModel):
    text: str
    outcome: Literal["met", "unmet", "unknown"]
    reads: list[str]


class GatewayAnswer(BaseModel):
    request_id: str
    provider: str
    service: str
    purpose: str
    fields: dict[str, Released] = {}
    refused: dict[str, Reason] = {}
    condition: ConditionAnswer | None = None
    log: LogRef | None = None


def json_value(value: Any) -> Any:
    """A register value as JSON: amounts as decimal strings, dates as ISO text."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def digest(value: Any) -> str:
    """``sha256:<hex>`` of a JSON value's RFC 8785 canonical form (what the log records)."""
    return "sha256:" + hashlib.sha256(rfc8785.dumps(value)).hexdigest()
