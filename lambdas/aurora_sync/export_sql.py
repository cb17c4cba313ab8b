"""The export query, built once from config and bounds, used verbatim by both export modes.

Neither COPY nor aws_s3.query_export_to_s3 can bind parameters inside the exported query, so the
query is text: identifiers are validated and quoted, the bounds rendered by the typed renderer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from aurora_sync.config import TableConfig
from aurora_sync.identifiers import quote_pg
from aurora_sync.timeutil import pg_timestamptz_literal


@dataclass(frozen=True)
class ExportQuery:
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def build_export_query(table: TableConfig, lower: datetime | None, upper: datetime) -> ExportQuery:
    """Rows with lower < watermark <= upper, explicit column list in config order.

    lower None is a full refresh: everything up to the bound, plus rows whose watermark is NULL,
    which no incremental window can ever select.
    """
    columns = ", ".join(quote_pg(c) for c in table.column_names)
    relation = quote_pg(table.schema_name, table.relation)
    wm = quote_pg(table.watermark_col)
    upper_sql = f"{wm} <= {pg_timestamptz_literal(upper)}"
    if lower is None:
        where = f"({upper_sql} OR {wm} IS NULL)"
    else:
        where = f"{wm} > {pg_timestamptz_literal(lower)} AND {upper_sql}"
    return ExportQuery(f"SELECT {columns} FROM {relation} WHERE {where}")


def csv_header(table: TableConfig) -> bytes:
    """The header line PostgreSQL writes for this column list (validated names never need quoting)."""
    return (",".join(table.column_names) + "\n").encode()
