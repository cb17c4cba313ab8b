"""Aurora's columns against tables.json: retired columns, and errors that name the procedure."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aurora_sync.errors import SchemaDriftError
from aurora_sync.exporter.query import build_export_query, csv_header
from aurora_sync.exporter.schema import unexported_columns
from aurora_sync.tables import TableConfig, parse_tables
from tests.unit.exporter.fakes import T0

AURORA = {"id": "int8", "note": "text", "updated_at": "timestamptz"}


def table(*retired: str) -> TableConfig:
    columns: list[dict[str, Any]] = [
        {"name": "id", "type": "NUMBER(38,0)"},
        {"name": "note", "type": "VARCHAR"},
        {"name": "updated_at", "type": "TIMESTAMP_TZ"},
    ]
    for column in columns:
        column["retired"] = column["name"] in retired
    entry = {
        "table_name": "public.orders",
        "watermark_col": "updated_at",
        "primary_keys": ["id"],
        "columns": columns,
    }
    return parse_tables(json.dumps([entry]), "t").tables[0]


def test_a_retired_column_is_neither_exported_nor_required_nor_drift() -> None:
    # GIVEN note is retired WHEN Aurora has dropped it THEN the export runs without it
    config = table("note")
    assert unexported_columns(config, {k: v for k, v in AURORA.items() if k != "note"}) == []
    assert '"note"' not in build_export_query(config, None, T0).text
    assert csv_header(config) == b"id,updated_at\n"
    # AND while Aurora still has it, it is not reported as a column tables.json lacks
    assert unexported_columns(config, AURORA) == []
    # AND an unknown Aurora column still is
    assert unexported_columns(config, {**AURORA, "secret": "text"}) == ["secret"]


def test_each_schema_error_names_its_runbook_procedure() -> None:
    with pytest.raises(SchemaDriftError, match=r'note no longer exist.*"retired": true.*schema-drop-column'):
        unexported_columns(table(), {k: v for k, v in AURORA.items() if k != "note"})
    with pytest.raises(SchemaDriftError, match=r"id is text in Aurora but NUMBER.*schema-retype-column"):
        unexported_columns(table(), {**AURORA, "id": "text"})
