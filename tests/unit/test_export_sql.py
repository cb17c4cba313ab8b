"""The export query: identifiers quoted, bounds rendered by typed code, half-open window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from aurora_sync.config import parse_tables
from aurora_sync.export_sql import build_export_query, csv_header
from aurora_sync.identifiers import quote_pg, quote_sf
from aurora_sync.timeutil import parse_instant, pg_timestamptz_literal

TABLE = parse_tables(
    '[{"table_name": "public.Orders", "watermark_col": "updated_at", "primary_keys": ["id"],'
    ' "columns": [{"name": "id", "type": "NUMBER"}, {"name": "select", "type": "VARCHAR"},'
    ' {"name": "updated_at", "type": "TIMESTAMP_TZ"}]}]',
    "p",
).tables[0]
LOWER = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
UPPER = datetime(2026, 11, 20, 6, 0, 0, 123456, tzinfo=UTC)


def test_incremental_query_is_exact_text() -> None:
    query = build_export_query(TABLE, LOWER, UPPER)
    assert query.text == (
        'SELECT "id", "select", "updated_at" FROM "public"."Orders" '
        "WHERE \"updated_at\" > '2026-11-20 00:00:00.000000+00'::timestamptz "
        "AND \"updated_at\" <= '2026-11-20 06:00:00.123456+00'::timestamptz"
    )
    assert len(query.sha256) == 64


def test_full_refresh_has_no_lower_bound_and_includes_null_watermarks() -> None:
    text = build_export_query(TABLE, None, UPPER).text
    assert '"updated_at" >' not in text and '"updated_at" IS NULL' in text


def test_non_utc_bounds_are_rendered_as_the_same_instant_in_utc() -> None:
    plus_two = datetime(2026, 11, 20, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    assert pg_timestamptz_literal(plus_two) == "'2026-11-20 00:00:00.000000+00'::timestamptz"


def test_renderer_refuses_anything_but_a_datetime() -> None:
    with pytest.raises(TypeError):
        pg_timestamptz_literal("2026-11-20'; drop table x; --")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["orders; drop table x", 'a"b', "a'b", "", "1abc", "a.b", "x" * 64])
def test_quoting_rejects_unsafe_identifiers(bad: str) -> None:
    with pytest.raises(ValueError):
        quote_pg(bad)
    with pytest.raises(ValueError):
        quote_sf(bad)


def test_snowflake_names_are_upper_cased_and_quoted() -> None:
    assert quote_sf("final", "orders") == '"FINAL"."ORDERS"'


def test_header_matches_postgres_csv_header() -> None:
    assert csv_header(TABLE) == b"id,select,updated_at\n"


@pytest.mark.parametrize("text", ["2026-11-20", "2026-11-20T00:00:00", "nope", "2026-13-01T00:00:00Z"])
def test_instants_need_a_valid_time_and_zone(text: str) -> None:
    with pytest.raises(ValueError, match="start"):
        parse_instant(text, "start")
