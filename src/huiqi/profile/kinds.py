"""Field kinds: everything a kind of profile field means, in one table.

Modelled on OpenFisca's ``VALUE_TYPES`` (``openfisca_core/variables/config.py``): a
field says only which kind it is (``FieldSpec.kind``); what that kind is in the rule
language, in SQL, in Arrow and Spark, in JSON, and in Chinese is looked up here. The
rules type-checker, the SQL table, the registry's Parquet schema, the Spark reader and
the API's JSON-type check all read :data:`KINDS`, so adding a field never means
editing a type mapping.

Arrow and Spark types are built by functions of their module (``spec.arrow(pa)``) so
this lowest layer imports neither library.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field

FieldKind = Literal["string", "integer", "money", "date", "list"]

#: Money in yuan: never negative, exact to the fen, within DECIMAL(18, 2).
Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2, allow_inf_nan=False)]
#: A count of people.
Count = Annotated[int, Field(ge=0, le=10_000_000, strict=False)]


def _is_string(pa: Any, t: Any) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


@dataclass(frozen=True, slots=True)
class KindSpec:
    """One kind of profile field, in every representation the platform uses."""

    name: FieldKind
    zh: str  # 中文名称, for messages ("列 employees 应为 整数")
    rule_type: str  # the rule language's type (huiqi.rules.lang: number, string, date, list)
    python: Any  # the pydantic annotation of a field of this kind (enumerations narrow it)
    sql: str  # DuckDB column type of the profile table
    arrow: Callable[[Any], Any]  # pyarrow module → the registry's Parquet type
    arrow_accepts: Callable[[Any, Any], bool]  # (pyarrow module, type) → can a registry column of that type be read
    spark: Callable[[Any], Any]  # pyspark.sql.types module → the Spark type
    json_types: tuple[type, ...]  # JSON values the API accepts (after json.loads)
    json_zh: str
    json_en: str


KINDS: dict[str, KindSpec] = {
    k.name: k
    for k in (
        KindSpec(
            "string",
            "字符串 string",
            "string",
            str,
            "VARCHAR",
            lambda pa: pa.string(),
            _is_string,
            lambda T: T.StringType(),
            (str,),
            "应为文字",
            "a string",
        ),
        KindSpec(
            "integer",
            "整数 integer",
            "number",
            Count,
            "BIGINT",
            lambda pa: pa.int64(),
            lambda pa, t: bool(pa.types.is_integer(t)),
            lambda T: T.LongType(),
            (int,),
            "应为整数",
            "an integer",
        ),
        KindSpec(
            "money",
            "金额 decimal(≤2 places)",
            "number",
            Money,
            "DECIMAL(18, 2)",
            lambda pa: pa.decimal128(18, 2),
            lambda pa, t: bool(pa.types.is_integer(t) or (pa.types.is_decimal(t) and t.scale <= 2)),
            lambda T: T.DecimalType(18, 2),
            (int, float, str),
            "应为数字",
            "a number",
        ),
        KindSpec(
            "date",
            "日期 date",
            "date",
            dt.date,
            "DATE",
            lambda pa: pa.date32(),
            lambda pa, t: bool(pa.types.is_date(t)),
            lambda T: T.DateType(),
            (str,),
            "应为日期，格式 YYYY-MM-DD",
            "a date string YYYY-MM-DD",
        ),
        KindSpec(
            "list",
            "字符串列表 list<string>",
            "list",
            list[str],
            "VARCHAR[]",
            lambda pa: pa.list_(pa.string()),
            lambda pa, t: bool((pa.types.is_list(t) or pa.types.is_large_list(t)) and _is_string(pa, t.value_type)),
            lambda T: T.ArrayType(T.StringType()),
            (list,),
            "应为列表",
            "a list",
        ),
    )
}
