"""The export query, built once from config and bounds, used verbatim by both export modes.

Neither COPY nor aws_s3.query_export_to_s3 can bind parameters inside the exported query, so the
query is text: identifiers are validated and quoted, the bounds rendered by the typed renderer.

Each column is rendered for the Snowflake type it loads into (aurora_sync.column_types), not left
to PostgreSQL's output settings: dates, times and timestamps in one explicit ISO 8601 form (six
fraction digits, offset `+00:00`), the form the file format pins Snowflake's parser to
(terraform/modules/snowflake_table/sql/file_format.sql); json as jsonb (duplicate keys resolved
the way PostgreSQL reads them: the last wins). A value Snowflake cannot hold (infinity, BC, year
10000, 24:00:00, NaN in a NUMBER) makes the query itself fail, in the same single pass over the
rows, with an error naming the column, the value and the row's key (after
column_types.REJECT_MARKER, where `rejected_value` reads it back).
Snowpipe would otherwise skip the whole file (ON_ERROR = SKIP_FILE) an hour later.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from aurora_sync.column_types import REJECT_MARKER, Kind, column_type
from aurora_sync.errors import RejectedValueError
from aurora_sync.identifiers import quote_pg, validate_identifier
from aurora_sync.tables import ColumnSpec, TableConfig
from aurora_sync.timeutil import pg_timestamptz_literal

# PostgreSQL to_char patterns. The CSV is UTC: timestamptz is converted AT TIME ZONE 'UTC' (the
# session's TimeZone does not matter), timestamp is UTC wall-clock time by this system's convention,
# so both carry the same literal offset and one Snowflake TIMESTAMP_FORMAT parses every timestamp.
PG_TIMESTAMP_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'
PG_DATE_FORMAT = "YYYY-MM-DD"
PG_TIME_FORMAT = "HH24:MI:SS.US"


@dataclass(frozen=True)
class ExportQuery:
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def build_export_query(table: TableConfig, lower: datetime | None, upper: datetime) -> ExportQuery:
    """Rows with lower < watermark <= upper, explicit column list in config order (retired columns left
    out: Aurora may no longer have them).

    lower None is a full refresh: everything up to the bound, plus rows whose watermark is NULL,
    which no incremental window can ever select.
    """
    columns = ", ".join(column_expression(table, c) for c in table.active_columns)
    relation = quote_pg(table.schema_name, table.relation)
    wm = quote_pg(table.watermark_col)
    upper_sql = f"{wm} <= {pg_timestamptz_literal(upper)}"
    if lower is None:
        where = f"({upper_sql} OR {wm} IS NULL)"
    else:
        where = f"{wm} > {pg_timestamptz_literal(lower)} AND {upper_sql}"
    return ExportQuery(f"SELECT {columns} FROM {relation} WHERE {where}")


def build_range_query(
    table: TableConfig, upper: datetime, after: Sequence[str] | None, upto: Sequence[str] | None
) -> ExportQuery:
    """One key range of a full refresh (exporter/refresh.py): rows with `after < key <= upto` (an
    open end for None), whatever their watermark up to the refresh's commit-safe `upper`, NULL
    watermarks included.

    The key is compared as a row, `(k1, k2) > (v1, v2)`, which PostgreSQL answers from a b-tree on
    (k1, k2) as one index range (keyset pagination: no OFFSET, no rows read twice). `upper` is the
    one bound of the whole refresh, so no range exports a row a transaction open at planning time
    could still be writing, and FINAL's watermark never passes what every range has covered.
    """
    columns = ", ".join(column_expression(table, c) for c in table.active_columns)
    relation = quote_pg(table.schema_name, table.relation)
    wm = quote_pg(table.watermark_col)
    where = [f"({wm} <= {pg_timestamptz_literal(upper)} OR {wm} IS NULL)"]
    keys = table.primary_keys
    row = f"({', '.join(quote_pg(k) for k in keys)})"
    for op, values in ((">", after), ("<=", upto)):
        if values is None:
            continue
        if len(values) != len(keys):
            raise ValueError(
                f"a boundary of {table.table_name} has {len(values)} values for {len(keys)} keys"
            )
        where.append(f"{row} {op} ({', '.join(pg_text_literal(v) for v in values)})")
    return ExportQuery(f"SELECT {columns} FROM {relation} WHERE {' AND '.join(where)}")


def pg_text_literal(value: str) -> str:
    """A key value (PostgreSQL's own text output of it) as an untyped string literal, which the
    comparison with the key column reads as that column's type. An escape string (E'...'), so the
    result does not depend on standard_conforming_strings: backslash and quote are escaped, and a
    NUL, which no PostgreSQL text holds, is refused."""
    if not isinstance(value, str) or "\x00" in value:
        raise ValueError("a key value must be text without NUL")
    return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def column_expression(table: TableConfig, column: ColumnSpec) -> str:
    """The select-list item for one column, aliased to its name so the CSV header is unchanged."""
    col = quote_pg(column.name)
    spec = column_type(column.type)
    match spec.kind:
        case Kind.TIMESTAMP_TZ:
            bad = _outside_years(col, "timestamptz", " 00:00:00+00")
            text = f"to_char({col} AT TIME ZONE 'UTC', '{PG_TIMESTAMP_FORMAT}')"
        case Kind.TIMESTAMP_NTZ:
            bad = _outside_years(col, "timestamp", " 00:00:00")
            text = f"to_char({col}, '{PG_TIMESTAMP_FORMAT}')"
        case Kind.DATE:
            bad = _outside_years(col, "date", "")
            text = f"to_char({col}::timestamp, '{PG_DATE_FORMAT}')"
        case Kind.TIME:
            bad = f"{col} > '23:59:59.999999'::time"
            text = f"to_char('2000-01-01'::date + {col}, '{PG_TIME_FORMAT}')"
        case Kind.NUMBER:  # NaN and Infinity compare above every number in PostgreSQL
            bound = f"'1e{spec.integer_digits}'::numeric"
            reject = _reject(table, column)
            return f"CASE WHEN abs({col}::numeric) >= {bound} THEN {reject} ELSE {col} END AS {col}"
        case Kind.FLOAT:  # Snowflake documents 'inf'/'-inf'; PostgreSQL writes Infinity
            infinities = "WHEN 'Infinity' THEN 'inf' WHEN '-Infinity' THEN '-inf'"
            return f"CASE {col}::text {infinities} ELSE {col}::text END AS {col}"
        case Kind.JSON:
            return f"{col}::jsonb AS {col}"
        case _:
            return col
    return f"CASE WHEN {bad} THEN {_reject(table, column)}::text ELSE {text} END AS {col}"


def _outside_years(col: str, pg_type: str, suffix: str) -> str:
    """Below year 1 (BC, -infinity) or past 9999 (+infinity): not a 4-digit YYYY in any format."""
    return f"({col} < '0001-01-01{suffix}'::{pg_type} OR {col} >= '10000-01-01{suffix}'::{pg_type})"


def _reject(table: TableConfig, column: ColumnSpec) -> str:
    """An integer expression that always fails, its error text carrying column, value and key.

    The cast of text to integer is PostgreSQL's way to raise from plain SQL (the export user may not
    create functions); the text is JSON after REJECT_MARKER. Only the matching row evaluates it.
    """
    name = validate_identifier(column.name)  # safe inside '...': no quote or backslash possible
    keys = ", ".join(f"'{validate_identifier(k)}', {quote_pg(k)}" for k in table.primary_keys)
    key = f"json_build_object({keys})"
    doc = f"json_build_object('column', '{name}', 'value', {quote_pg(name)}::text, 'key', {key})"
    return f"CAST('{REJECT_MARKER}' || {doc}::text AS integer)"


def describe_rejection(table: TableConfig, rejected: RejectedValueError) -> str:
    """The table's error for on-call: what, where, why Snowflake refuses it, and the two ways out."""
    configured = next((c.type for c in table.active_columns if c.name == rejected.column), None)
    limit = "Snowflake cannot load it" if configured is None else column_type(configured).limit()
    return (
        f"{table.table_name}: column {rejected.column} ({configured or '?'}) holds {rejected.value!r} in the "
        f"row {rejected.row}: {limit}; nothing was published for this window. Correct the value in "
        "Aurora, or load the column as VARCHAR (tables.json and the Snowflake tables), then re-run "
        "(runbook: rejected-value)"
    )


def csv_header(table: TableConfig) -> bytes:
    """The header line PostgreSQL writes for this column list (validated names never need quoting)."""
    return (",".join(table.column_names) + "\n").encode()
