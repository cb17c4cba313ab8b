"""Onboarding a table: read a live Aurora table and print its tables.json entry.

The Snowflake types chosen here are what the exporter's CSV loads into without losing anything:
when a PostgreSQL type has no exact Snowflake twin, VARCHAR keeps the text exactly as PostgreSQL
wrote it, and the mapping says so. Where PostgreSQL allows values the Snowflake type cannot hold
(infinity, BC and 5-digit years, 24:00:00, NaN), the type is kept and a note says that such a
value stops the table's export, naming the row (aurora_sync.exporter.query): a column that really
holds them belongs in VARCHAR, which the engineer decides.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aurora_sync.adapters.postgres import COLUMNS_SQL
from aurora_sync.tables import TableConfig

TEXT_TYPES = frozenset({"text", "varchar", "bpchar", "citext", "uuid", "name", "inet", "cidr", "macaddr"})
SIMPLE = {
    "int2": "NUMBER(38,0)",
    "int4": "NUMBER(38,0)",
    "int8": "NUMBER(38,0)",
    "float4": "FLOAT",
    "float8": "FLOAT",
    "bool": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP_NTZ(6)",
    "timestamptz": "TIMESTAMP_TZ(6)",
    "time": "TIME(6)",
    "json": "VARIANT",
    "jsonb": "VARIANT",
}

PRIMARY_KEY_SQL = """
SELECT a.attname
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (i.indkey)
 WHERE n.nspname = :schema AND c.relname = :table AND i.indisprimary
 ORDER BY array_position(i.indkey::int2[], a.attnum)
"""


_YEARS = "'infinity', BC dates and years after 9999 stop the export naming the row (Snowflake: 0001..9999)"
# Notes for the types whose values Snowflake may refuse, or that the export transforms.
NOTES = {
    "date": _YEARS,
    "timestamp": _YEARS,
    "timestamptz": _YEARS,
    "time": "24:00:00 stops the export naming the row (Snowflake TIME ends at 23:59:59.999999999)",
    "json": (
        "exported as jsonb, so a repeated key keeps its last value (Snowflake's PARSE_JSON refuses "
        "duplicate keys) and key order and spacing are normalized"
    ),
}


@dataclass(frozen=True)
class Mapped:
    snowflake_type: str
    note: str | None = None


def snowflake_type(typname: str, category: str, precision: int | None, scale: int | None) -> Mapped:
    """The Snowflake column type for one PostgreSQL column."""
    if typname == "numeric":
        if precision is not None and precision <= 38:
            return Mapped(f"NUMBER({precision},{scale or 0})", "'NaN' stops the export naming the row")
        return Mapped("VARCHAR", "numeric without precision (or over 38 digits): text keeps every digit")
    if typname in SIMPLE:
        return Mapped(SIMPLE[typname], NOTES.get(typname))
    if typname in TEXT_TYPES or category == "E":  # E: enum
        return Mapped("VARCHAR")
    if category == "A":
        return Mapped("VARCHAR", "array: loaded as PostgreSQL's text form, e.g. {a,b}")
    return Mapped("VARCHAR", f"{typname}: no exact Snowflake type; loaded as PostgreSQL's text form")


def table_entry(
    conn: Any, table_name: str, watermark_col: str | None = None, soft_delete_col: str | None = None
) -> tuple[dict[str, Any], list[str]]:
    """(tables.json entry, notes) for a live table; the entry is validated like the real config."""
    schema, _, relation = table_name.partition(".")
    rows = conn.run(COLUMNS_SQL, schema=schema, table=relation)
    if not rows:
        raise ValueError(f"{table_name}: no such table (or not visible to this user)")
    columns, notes = [], []
    for name, typname, category, precision, scale in rows:
        mapped = snowflake_type(typname, category, precision, scale)
        columns.append({"name": name, "type": mapped.snowflake_type})
        if mapped.note:
            notes.append(f"{name}: {mapped.note}")
    names = [c["name"] for c in columns]
    keys = [r[0] for r in conn.run(PRIMARY_KEY_SQL, schema=schema, table=relation)]
    if not keys:
        raise ValueError(f"{table_name}: no primary key; the MERGE needs one (add primary_keys by hand)")
    watermark = watermark_col or next((n for n in ("updated_at", "modified_at") if n in names), None)
    if watermark is None:
        raise ValueError(f"{table_name}: say which timestamp column is the watermark (--watermark)")
    entry: dict[str, Any] = {
        "table_name": table_name,
        "watermark_col": watermark,
        "primary_keys": keys,
        "columns": columns,
        "lookback_seconds": 300,
        "freshness_sla_minutes": 120,
    }
    if soft_delete_col:
        entry["soft_delete_col"] = soft_delete_col
    TableConfig.model_validate(entry)
    return entry, notes


def render_entry(entry: dict[str, Any]) -> str:
    return json.dumps(entry, indent=2)
