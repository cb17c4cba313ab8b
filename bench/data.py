"""The benchmark tables, generated server-side, in two widths.

Wide, `public.orders`: eleven columns (bigint, text, numeric, boolean, jsonb, timestamptz), about 280
bytes per CSV row, some NULLs and some fields that need CSV quoting (commas, double quotes).
Narrow, `public.events`: seven columns (bigint, text, numeric, boolean, timestamptz), about 100 bytes
per CSV row, the shape of issue 16's table, where the cost per row (one CopyData message each) weighs
most. No field of either contains a newline, so the row count of an exported object is its line
count minus the header.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

TABLE = "public.orders"
RANGE_START = datetime(2026, 11, 19, 23, 0, tzinfo=UTC)
RANGE_END = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
"""The manual window: every generated updated_at lies inside it (up to 5.6 h after midnight for 5M
rows), and it is in the past, so the exporter's commit-safe bound does not cut it."""
MAX_ROWS = int((RANGE_END - datetime(2026, 11, 20, tzinfo=UTC)).total_seconds() * 1000 / 4)

COLUMNS: list[tuple[str, str, str]] = [
    # (name, PostgreSQL type, Snowflake type)
    ("id", "bigint PRIMARY KEY", "NUMBER(38,0)"),
    ("customer_id", "bigint NOT NULL", "NUMBER(38,0)"),
    ("status", "text NOT NULL", "VARCHAR"),
    ("amount", "numeric(12,2)", "NUMBER(12,2)"),
    ("currency", "text NOT NULL", "VARCHAR"),
    ("is_deleted", "boolean NOT NULL DEFAULT false", "BOOLEAN"),
    ("shipping_address", "text", "VARCHAR"),
    ("note", "text", "VARCHAR"),
    ("attributes", "jsonb", "VARIANT"),
    ("created_at", "timestamptz NOT NULL", "TIMESTAMP_TZ(6)"),
    ("updated_at", "timestamptz NOT NULL", "TIMESTAMP_TZ(6)"),
]

TABLE_CONFIG: dict[str, Any] = {
    "table_name": TABLE,
    "watermark_col": "updated_at",
    "primary_keys": ["id"],
    "columns": [{"name": name, "type": sf_type} for name, _, sf_type in COLUMNS],
    "soft_delete_col": "is_deleted",
    "lookback_seconds": 300,
    "freshness_sla_minutes": 120,
}

DDL = f"CREATE TABLE {TABLE} (" + ", ".join(f"{name} {pg_type}" for name, pg_type, _ in COLUMNS) + ")"

# Rows first+1 .. last; deterministic in g, so every run exports the same bytes.
INSERT_SQL = """
INSERT INTO public.orders
SELECT g,
       (g::bigint * 7919) % 100000 + 1,
       (ARRAY['pending','paid','shipped','delivered','cancelled','refunded'])[1 + g % 6],
       CASE WHEN g % 50 = 0 THEN NULL ELSE round(((g::bigint * 104729) % 10000000) / 100.0, 2) END,
       (ARRAY['EUR','USD','GBP'])[1 + g % 3],
       g % 97 = 0,
       (g % 9999 + 1) || ' Main Street, Apt ' || (g % 300 + 1)
           || ', Springfield, IL 627' || lpad((g % 100)::text, 2, '0'),
       CASE WHEN g % 10 = 0 THEN NULL
            WHEN g % 10 = 1 THEN 'gift wrap, "fragile" sticker'
            ELSE 'ref ' || md5(g::text) END,
       jsonb_build_object(
           'channel', (ARRAY['web','app','store'])[1 + g % 3],
           'items', g % 7 + 1,
           'coupon', CASE WHEN g % 5 = 0 THEN 'SAVE10' END,
           'tags', jsonb_build_array('t' || g % 13, 't' || g % 17)),
       TIMESTAMPTZ '2026-11-19 00:00:00+00' + g * INTERVAL '3 ms' + (g % 997) * INTERVAL '1 microsecond',
       TIMESTAMPTZ '2026-11-20 00:00:00+00' + g * INTERVAL '4 ms' + (g % 991) * INTERVAL '1 microsecond'
  FROM generate_series(CAST(:first AS integer) + 1, CAST(:last AS integer)) AS g
"""


NARROW_COLUMNS: list[tuple[str, str, str]] = [
    ("id", "bigint PRIMARY KEY", "NUMBER(38,0)"),
    ("account_id", "bigint NOT NULL", "NUMBER(38,0)"),
    ("kind", "text NOT NULL", "VARCHAR"),
    ("amount", "numeric(12,2)", "NUMBER(12,2)"),
    ("is_deleted", "boolean NOT NULL DEFAULT false", "BOOLEAN"),
    ("created_at", "timestamptz NOT NULL", "TIMESTAMP_TZ(6)"),
    ("updated_at", "timestamptz NOT NULL", "TIMESTAMP_TZ(6)"),
]

NARROW_INSERT_SQL = """
INSERT INTO public.events
SELECT g,
       (g::bigint * 7919) % 100000 + 1,
       (ARRAY['view','click','cart','order','refund','login'])[1 + g % 6],
       CASE WHEN g % 50 = 0 THEN NULL ELSE round(((g::bigint * 104729) % 10000000) / 100.0, 2) END,
       g % 97 = 0,
       TIMESTAMPTZ '2026-11-19 00:00:00+00' + g * INTERVAL '3 ms' + (g % 997) * INTERVAL '1 microsecond',
       TIMESTAMPTZ '2026-11-20 00:00:00+00' + g * INTERVAL '4 ms' + (g % 991) * INTERVAL '1 microsecond'
  FROM generate_series(CAST(:first AS integer) + 1, CAST(:last AS integer)) AS g
"""


@dataclass(frozen=True)
class Shape:
    """One benchmark table: its name in reports, DDL, generator and the exporter's table entry."""

    width: str
    table: str
    columns: list[tuple[str, str, str]]
    insert_sql: str

    @property
    def relation(self) -> str:
        return self.table.split(".", 1)[1]

    @property
    def ddl(self) -> str:
        return f"CREATE TABLE {self.table} (" + ", ".join(f"{n} {t}" for n, t, _ in self.columns) + ")"

    @property
    def config(self) -> dict[str, Any]:
        return {
            **TABLE_CONFIG,
            "table_name": self.table,
            "columns": [{"name": name, "type": sf_type} for name, _, sf_type in self.columns],
        }


WIDE = Shape("wide", TABLE, COLUMNS, INSERT_SQL)
NARROW = Shape("narrow", "public.events", NARROW_COLUMNS, NARROW_INSERT_SQL)
SHAPES = {shape.width: shape for shape in (NARROW, WIDE)}


def recreate(admin: Any, export_user: str, shape: Shape = WIDE) -> None:
    """Replace the pipeline's table of that name (the wide one replaces its small orders table)."""
    admin.run(f"DROP TABLE IF EXISTS {shape.table}")
    admin.run(shape.ddl)
    admin.run(f"GRANT SELECT ON {shape.table} TO {export_user}")


def fill(admin: Any, first: int, last: int, *, in_window: bool = True, shape: Shape = WIDE) -> None:
    """Add rows first+1..last, then index, vacuum (hint bits, visibility map) and analyze, so every
    measured scan reads the same settled heap. `in_window` False: more rows than the manual window
    holds (the refresh bench exports every row, whatever its watermark)."""
    if in_window and last > MAX_ROWS:
        raise ValueError(f"at most {MAX_ROWS} rows fit the benchmark's manual window")
    index = f"public.{shape.relation}_updated_at"
    admin.run(f"DROP INDEX IF EXISTS {index}")
    admin.run(shape.insert_sql, first=first, last=last)
    admin.run(f"CREATE INDEX {shape.relation}_updated_at ON {shape.table} (updated_at)")
    admin.run(f"VACUUM (FREEZE, ANALYZE) {shape.table}")
