"""The export query: identifiers quoted, bounds rendered by typed code, half-open window, each column
rendered for its Snowflake type, and values Snowflake cannot load refused by the query itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pg8000.exceptions import DatabaseError

from aurora_sync.adapters.postgres import classify_pg
from aurora_sync.column_types import REJECT_MARKER, rejected_value
from aurora_sync.errors import RejectedValueError
from aurora_sync.exporter.query import build_export_query, column_expression, csv_header, describe_rejection
from aurora_sync.identifiers import quote_pg, quote_sf
from aurora_sync.tables import parse_tables
from aurora_sync.timeutil import parse_instant, pg_timestamptz_literal

TABLE = parse_tables(
    '[{"table_name": "public.Orders", "watermark_col": "updated_at", "primary_keys": ["id"],'
    ' "columns": [{"name": "id", "type": "NUMBER"}, {"name": "select", "type": "VARCHAR"},'
    ' {"name": "updated_at", "type": "TIMESTAMP_TZ"}]}]',
    "p",
).tables[0]
LOWER = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
UPPER = datetime(2026, 11, 20, 6, 0, 0, 123456, tzinfo=UTC)


REJECT_UPDATED_AT = (
    f"CAST('{REJECT_MARKER}' || json_build_object('column', 'updated_at', 'value', \"updated_at\"::text, "
    "'key', json_build_object('id', \"id\"))::text AS integer)"
)


def test_incremental_query_is_exact_text() -> None:
    query = build_export_query(TABLE, LOWER, UPPER)
    assert query.text == (
        "SELECT CASE WHEN abs(\"id\"::numeric) >= '1e38'::numeric THEN "
        + REJECT_UPDATED_AT.replace("updated_at", "id", 2)
        + ' ELSE "id" END AS "id", "select", '
        "CASE WHEN (\"updated_at\" < '0001-01-01 00:00:00+00'::timestamptz "
        "OR \"updated_at\" >= '10000-01-01 00:00:00+00'::timestamptz) THEN "
        + REJECT_UPDATED_AT
        + '::text ELSE to_char("updated_at" AT TIME ZONE \'UTC\', \'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"\') '
        'END AS "updated_at" FROM "public"."Orders" '
        "WHERE \"updated_at\" > '2026-11-20 00:00:00.000000+00'::timestamptz "
        "AND \"updated_at\" <= '2026-11-20 06:00:00.123456+00'::timestamptz"
    )
    assert len(query.sha256) == 64


def one_column(configured: str) -> str:
    table = parse_tables(
        '[{"table_name": "s.t", "watermark_col": "w", "primary_keys": ["id"], "columns": ['
        f'{{"name": "id", "type": "NUMBER"}}, {{"name": "c", "type": "{configured}"}},'
        ' {"name": "w", "type": "TIMESTAMP_TZ"}]}]',
        "p",
    ).tables[0]
    return column_expression(table, table.columns[1])


@pytest.mark.parametrize(
    ("configured", "refused_when", "rendered"),
    [
        (
            "TIMESTAMP_NTZ(6)",
            "(\"c\" < '0001-01-01 00:00:00'::timestamp OR \"c\" >= '10000-01-01 00:00:00'::timestamp)",
            'to_char("c", \'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"\')',
        ),
        (
            "DATE",
            "(\"c\" < '0001-01-01'::date OR \"c\" >= '10000-01-01'::date)",
            "to_char(\"c\"::timestamp, 'YYYY-MM-DD')",
        ),
        (
            "TIME(6)",
            "\"c\" > '23:59:59.999999'::time",
            "to_char('2000-01-01'::date + \"c\", 'HH24:MI:SS.US')",
        ),
        ("NUMBER(12,2)", "abs(\"c\"::numeric) >= '1e10'::numeric", '"c"'),
    ],
)
def test_each_type_is_rendered_explicitly_and_refuses_what_snowflake_cannot_hold(
    configured: str, refused_when: str, rendered: str
) -> None:
    # GIVEN a column of this Snowflake type WHEN its select-list item is built
    expression = one_column(configured)
    # THEN the refusal comes first, the explicit rendering otherwise, aliased to the column's name
    assert expression.startswith(f"CASE WHEN {refused_when} THEN CAST('{REJECT_MARKER}' || ")
    assert expression.endswith(f' ELSE {rendered} END AS "c"')


def test_json_float_and_text_columns_are_never_refused() -> None:
    assert one_column("VARIANT") == '"c"::jsonb AS "c"'  # duplicate keys: the last wins, as in jsonb
    assert one_column("FLOAT") == (  # Snowflake documents 'inf' and '-inf' as FLOAT's infinities
        "CASE \"c\"::text WHEN 'Infinity' THEN 'inf' WHEN '-Infinity' THEN '-inf' "
        'ELSE "c"::text END AS "c"'
    )
    assert one_column("VARCHAR") == '"c"'
    assert one_column("BOOLEAN") == '"c"'


def postgres_error(message: str) -> DatabaseError:
    return DatabaseError({"S": "ERROR", "C": "22P02", "M": message})


def test_a_refused_value_comes_back_as_a_terminal_error_naming_column_value_and_row() -> None:
    # GIVEN PostgreSQL's error for the refusing cast (json_build_object's spacing, a key with quotes)
    doc = '{"column" : "d", "value" : "infinity", "key" : {"id" : 3, "code" : "a\\"b:c"}}'
    error = postgres_error(f'invalid input syntax for type integer: "{REJECT_MARKER}{doc}"')
    # WHEN the adapter classifies it
    classified = classify_pg(error, "COPY export query")
    # THEN it is terminal and carries the column, the value and the row's key
    assert isinstance(classified, RejectedValueError) and not classified.transient
    assert (classified.column, classified.value, classified.key) == (
        "d",
        "infinity",
        {"id": 3, "code": 'a"b:c'},
    )
    # AND the table's error tells on-call what, where, why, and the way out
    text = describe_rejection(one_table_with_date(), classified)
    for part in (
        "s.t: column d (DATE) holds 'infinity'",
        "id=3",
        "Snowflake DATE holds the years 0001..9999 only",
        "nothing was published",
        "rejected-value",
    ):
        assert part in text, text


def one_table_with_date() -> Any:
    return parse_tables(
        '[{"table_name": "s.t", "watermark_col": "w", "primary_keys": ["id", "code"], "columns": ['
        '{"name": "id", "type": "NUMBER"}, {"name": "code", "type": "VARCHAR"},'
        ' {"name": "d", "type": "DATE"}, {"name": "w", "type": "TIMESTAMP_TZ"}]}]',
        "p",
    ).tables[0]


@pytest.mark.parametrize(
    "message",
    [
        'invalid input syntax for type integer: "abc"',
        f'invalid input syntax for type integer: "{REJECT_MARKER}{{not json"',
        f'invalid input syntax for type integer: "{REJECT_MARKER}[1, 2]"',
        f'invalid input syntax for type integer: "{REJECT_MARKER}{{"value": "x"}}"',
    ],
)
def test_other_errors_are_not_mistaken_for_a_refused_value(message: str) -> None:
    assert rejected_value(message, "COPY") is None
    assert not isinstance(classify_pg(postgres_error(message), "COPY"), RejectedValueError)


def test_full_refresh_has_no_lower_bound_and_includes_null_watermarks() -> None:
    where = build_export_query(TABLE, None, UPPER).text.split(" WHERE ", 1)[1]
    assert '"updated_at" >' not in where and '"updated_at" IS NULL' in where


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
