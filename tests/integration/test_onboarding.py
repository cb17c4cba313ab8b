"""Onboarding: a live table's tables.json entry, valid config, types that lose nothing."""

from __future__ import annotations

from typing import Any

import pytest

from aurora_sync.onboarding import snowflake_type, table_entry
from aurora_sync.tables import TableConfig

DDL = """
CREATE TYPE mood AS ENUM ('ok', 'sad');
CREATE TABLE public.things (
    tenant int, id bigint, name varchar(40), price numeric(12,2), ratio numeric, score real,
    ok boolean, feeling mood, tags text[], doc jsonb, born date, seen timestamp, updated_at timestamptz,
    raw bytea, payload json, opens time, PRIMARY KEY (tenant, id)
)
"""


@pytest.fixture
def conn(pg_server: Any) -> Any:
    db = pg_server.create_database("onboard_" + __import__("uuid").uuid4().hex[:8])
    c = pg_server.connect(dbname=db)
    for statement in DDL.split(";"):
        if statement.strip():
            c.run(statement)
    yield c
    c.close()


def test_entry_for_a_live_table_is_valid_config_with_exact_types(conn: Any) -> None:
    # WHEN the onboarding reads the live table
    entry, notes = table_entry(conn, "public.things")
    # THEN it is a valid tables.json entry: composite key in key order, updated_at as watermark
    TableConfig.model_validate(entry)
    assert entry["primary_keys"] == ["tenant", "id"] and entry["watermark_col"] == "updated_at"
    types = {c["name"]: c["type"] for c in entry["columns"]}
    assert types == {
        "tenant": "NUMBER(38,0)",
        "id": "NUMBER(38,0)",
        "name": "VARCHAR",
        "price": "NUMBER(12,2)",
        "ratio": "VARCHAR",
        "score": "FLOAT",
        "ok": "BOOLEAN",
        "feeling": "VARCHAR",
        "tags": "VARCHAR",
        "doc": "VARIANT",
        "born": "DATE",
        "seen": "TIMESTAMP_NTZ(6)",
        "updated_at": "TIMESTAMP_TZ(6)",
        "raw": "VARCHAR",
        "payload": "VARIANT",
        "opens": "TIME(6)",
    }
    # AND every lossy-looking choice is explained, and so is every type PostgreSQL lets hold values
    # Snowflake refuses (the export stops on them) or that the export transforms (json)
    notes_by_column = {n.split(":")[0]: n for n in notes}
    assert set(notes_by_column) == {
        "ratio",
        "tags",
        "raw",
        "price",
        "born",
        "seen",
        "updated_at",
        "payload",
        "opens",
    }
    assert "'infinity', BC dates and years after 9999" in notes_by_column["born"]
    assert "24:00:00" in notes_by_column["opens"] and "NaN" in notes_by_column["price"]
    assert "jsonb" in notes_by_column["payload"] and "doc" not in notes_by_column


def test_table_without_primary_key_or_watermark_is_refused(conn: Any) -> None:
    conn.run("CREATE TABLE public.nokey (a int, updated_at timestamptz)")
    conn.run("CREATE TABLE public.nowm (a int PRIMARY KEY, created date)")
    with pytest.raises(ValueError, match="primary key"):
        table_entry(conn, "public.nokey")
    with pytest.raises(ValueError, match="watermark"):
        table_entry(conn, "public.nowm")
    with pytest.raises(ValueError, match="no such table"):
        table_entry(conn, "public.missing")


def test_wide_numeric_keeps_every_digit_as_text() -> None:
    assert snowflake_type("numeric", "N", 50, 2).snowflake_type == "VARCHAR"
    assert snowflake_type("numeric", "N", 38, 10).snowflake_type == "NUMBER(38,10)"
