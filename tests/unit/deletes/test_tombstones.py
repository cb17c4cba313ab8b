"""The tombstone file keeps the table's CSV contract (docs/architecture.md, "The CSV contract")."""

from __future__ import annotations

from datetime import UTC, datetime

from aurora_sync.deletes.tombstones import csv_field, render
from aurora_sync.tables import TableConfig

TABLE = TableConfig.model_validate(
    {
        "table_name": "public.lines",
        "watermark_col": "changed",
        "primary_keys": ["code", "order_id"],
        "columns": [
            {"name": "order_id", "type": "NUMBER(38,0)"},
            {"name": "note", "type": "VARCHAR"},
            {"name": "code", "type": "VARCHAR"},
            {"name": "old", "type": "VARCHAR", "retired": True},
            {"name": "changed", "type": "TIMESTAMP_NTZ"},
        ],
        "delete_detection": "hard",
    }
)


def test_fields_are_quoted_as_postgresql_writes_csv() -> None:
    assert [csv_field(v) for v in (None, "", "a", 'say "hi"', "a,b", "a\nb", " x ", 42)] == [
        "",
        '""',
        "a",
        '"say ""hi"""',
        '"a,b"',
        '"a\nb"',
        " x ",
        "42",
    ]


def test_each_key_becomes_a_row_of_the_active_columns_with_the_bound_as_its_watermark() -> None:
    body = render(TABLE, [("A,1", 7), ("", 8)], datetime(2026, 11, 20, 6, 0, 0, 123, tzinfo=UTC))
    assert body.decode().splitlines() == [
        "order_id,note,code,changed",
        '7,,"A,1",2026-11-20T06:00:00.000123+00:00',
        '8,,"",2026-11-20T06:00:00.000123+00:00',
    ]
