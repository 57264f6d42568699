"""免申即享 through the gateway: every enterprise's profile, read in bulk under the legal basis
of the batch system's purpose declarations, written as the registry Parquet that
``huiqi batch run`` reads.

Each department is read page by page through its security server's bulk interface (each
page one decision on its log, so the batch run leaves the same trail as any other use);
the pages of 法人库, 税务局 and 人社局 are spooled to Parquet and joined on USCC by DuckDB,
so memory stays bounded whatever the number of enterprises. Fields no register holds
(``certifications``) stay NULL: unknown, never zero.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from huiqi.profile import FIELDS
from huiqi.sharing.client import GatewayClient
from huiqi.sharing.registers import REGISTERS

#: The departments the profile comes from, in join order (法人库 has every enterprise).
SOURCES = ("samr", "tax", "hrss")


def profile_fields(member: str) -> list[str]:
    return [f.profile for f in REGISTERS[member].fields.values() if f.profile is not None]


def _arrow_type(name: str) -> pa.DataType:
    return FIELDS[name].kind_spec.arrow(pa)


def _convert(name: str, value: Any) -> Any:
    if value is None:
        return None
    kind = FIELDS[name].kind
    if kind == "money":
        return Decimal(value)
    if kind == "date":
        return dt.date.fromisoformat(value)
    return value


@dataclass
class BulkReport:
    enterprises: int = 0
    pages: int = 0
    rows: dict[str, int] = field(default_factory=dict)


def write_profiles(
    client: GatewayClient, out: Path, *, as_of: dt.date, official: str, case_id: str, page: int = 20_000
) -> BulkReport:
    """Read every enterprise from the registers through the gateway into the profile Parquet ``out``."""
    report = BulkReport()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="huiqi-bulk-", dir=out.parent) as tmp:
        spools = {member: Path(tmp) / f"{member}.parquet" for member in SOURCES}

        def spool(member: str) -> tuple[int, int]:
            names = profile_fields(member)
            schema = pa.schema([pa.field("uscc", pa.string()), *(pa.field(n, _arrow_type(n)) for n in names)])
            count = pages = 0
            with pq.ParquetWriter(spools[member], schema) as writer:
                for rows, _log in client.bulk(
                    member,
                    purpose="auto_grant",
                    fields=names,
                    official=official,
                    case_id=case_id,
                    as_of=as_of,
                    page=page,
                ):
                    pages += 1
                    count += len(rows)
                    columns = {"uscc": [r["subject"] for r in rows]}
                    for n in names:
                        columns[n] = [_convert(n, (r.get(n) or {}).get("value")) for r in rows]
                    writer.write_table(pa.table(columns, schema=schema))
            return count, pages

        # The departments are separate processes: read them at once.
        with ThreadPoolExecutor(max_workers=len(SOURCES)) as pool:
            results = dict(zip(SOURCES, pool.map(spool, SOURCES), strict=True))
        for member, (count, pages) in results.items():
            report.rows[member] = count
            report.pages += pages
        selects = []
        for name, spec in FIELDS.items():
            source = "s" if name == "uscc" else next((m[0] for m in SOURCES if name in profile_fields(m)), None)
            column = f'{source}."{name}"' if source else f"CAST(NULL AS {spec.kind_spec.sql})"
            selects.append(f'{column} AS "{name}"')
        tmp_out = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        con = duckdb.connect()
        try:
            con.execute(
                f"COPY (SELECT {', '.join(selects)} FROM read_parquet('{spools['samr']}') s "
                f"LEFT JOIN read_parquet('{spools['tax']}') t USING (uscc) "
                f"LEFT JOIN read_parquet('{spools['hrss']}') h USING (uscc) ORDER BY s.uscc) "
                f"TO '{tmp_out}' (FORMAT PARQUET, COMPRESSION ZSTD)"
            )
        finally:
            con.close()
        os.replace(tmp_out, out)
        report.enterprises = report.rows["samr"]
    return report
