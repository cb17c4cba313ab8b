"""Type fidelity, in both export modes: the CSV is exactly what PostgreSQL's own COPY writes for the
export query, and every date, time and timestamp in it parses with the format the file format pins
(read from the rendered file format) back to the value PostgreSQL holds."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aurora_sync.exporter.query import build_export_query
from aurora_sync.timeutil import parse_instant
from tests.support.pipeline import Pipeline, parse_pg_csv
from tests.support.snowflake_format import pinned_parsers

TYPED_DDL = """
CREATE TABLE public.typed (
    id integer PRIMARY KEY,
    txt text, vc varchar(20), num numeric(38,10), big bigint, dbl double precision,
    flag boolean, js json, jsb jsonb, d date, ts timestamp, tstz timestamptz, uid uuid, arr text[],
    t time, updated_at timestamptz NOT NULL
)
"""
TYPED_ROWS = """
INSERT INTO public.typed VALUES
 (1, NULL, '', 12345678901234567890.0123456789, 9223372036854775807, 1.0000000000000002,
  true, '{"a": [1, "x,y"]}', '{"b": "quote\\"d"}', '2026-02-28', '2026-11-20 01:02:03.456789',
  '2026-11-20 01:02:03.456789+05:30', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', ARRAY['a','b,c'],
  '23:59:59.999999', '2026-11-20 00:00:01.5+00'),
 (2, E'line1\\nline2\\r\\nline3', 'comma, here', -0.0000000001, -1, 'NaN', false, 'null', '[]',
  '0001-01-01', '1970-01-01 00:00:00', '1970-01-01 00:00:00-08', NULL, '{}', '00:00:00',
  '2026-11-20 00:00:02+00'),
 (3, 'say "hi"', 'ünïcødé ✓ 日本', 0, 0, '-Infinity', NULL, '{"k": 1, "k": 2}', NULL, '9999-12-31',
  '9999-12-31 23:59:59.999999', '0001-01-01 00:00:00+00', NULL, NULL, '10:00:00.5', '2026-11-20 00:00:03+00'),
 (4, '""', ',', NULL, NULL, NULL, true, '"s"', '{"k": null}', NULL, NULL, NULL, NULL, ARRAY[NULL,'x'],
  NULL, '2026-11-20 00:00:04+00')
"""
TYPED_COLUMNS = [
    ("id", "NUMBER(38,0)"),
    ("txt", "VARCHAR"),
    ("vc", "VARCHAR"),
    ("num", "NUMBER(38,10)"),
    ("big", "NUMBER(38,0)"),
    ("dbl", "FLOAT"),
    ("flag", "BOOLEAN"),
    ("js", "VARIANT"),
    ("jsb", "VARIANT"),
    ("d", "DATE"),
    ("ts", "TIMESTAMP_NTZ(6)"),
    ("tstz", "TIMESTAMP_TZ(6)"),
    ("uid", "VARCHAR"),
    ("arr", "VARCHAR"),
    ("t", "TIME(6)"),
    ("updated_at", "TIMESTAMP_TZ(6)"),
]
TEMPORAL = {"d": "DATE", "ts": "TIMESTAMP", "tstz": "TIMESTAMP", "t": "TIME", "updated_at": "TIMESTAMP"}


@pytest.fixture(params=["copy_stream", "aurora_s3"])
def typed(request: Any, pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any) -> Pipeline:
    p = Pipeline(pg_server, moto, bao, fakesnow_server, export_mode=request.param)
    p.tables = [
        {
            "table_name": "public.typed",
            "watermark_col": "updated_at",
            "primary_keys": ["id"],
            "columns": [{"name": n, "type": t} for n, t in TYPED_COLUMNS],
        }
    ]
    p.put_tables()
    admin = p.admin()
    try:
        admin.run(TYPED_DDL)
        admin.run(TYPED_ROWS)
        admin.run(f"GRANT SELECT ON public.typed TO {p.db_user}")
        if request.param == "aurora_s3":
            from tests.support.aws_s3_fake import install_aws_s3_fake

            install_aws_s3_fake(admin, endpoint_url=moto.endpoint_url, max_file_bytes=6 * 1024**3)
            admin.run(f"GRANT USAGE ON SCHEMA aws_s3, aws_commons TO {p.db_user}")
            admin.run(f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA aws_s3, aws_commons TO {p.db_user}")
    finally:
        admin.close()
    p._setup_snowflake()
    return p


def psql_copy(p: Pipeline, query: str) -> bytes:
    """What PostgreSQL itself writes for the query (psql, session in UTC)."""
    env = {**os.environ, "PGPASSWORD": p.pg.password, "PGTZ": "UTC"}
    psql = Path(p.pg.bin_dir) / "psql"
    return subprocess.run(
        [
            str(psql),
            "-h",
            p.pg.host,
            "-p",
            str(p.pg.port),
            "-U",
            p.pg.user,
            "-d",
            p.db_name,
            "-X",
            "-q",
            "-c",
            f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER)",
        ],
        env=env,
        check=True,
        capture_output=True,
    ).stdout


def test_csv_is_byte_identical_to_postgres_copy_and_keeps_null_apart_from_empty(typed: Pipeline) -> None:
    # WHEN the exporter runs a scheduled export of the typed table
    result = typed.run({})
    assert result["tables"][0]["status"] == "exported", result
    assert result["tables"][0]["rows"] == 4
    [manifest] = typed.manifests("public.typed")
    [entry] = manifest["files"]
    body = typed.read(entry["key"])

    # THEN the bytes are exactly what PostgreSQL's own COPY writes for the same query (rebuilt from
    # the manifest's window; its sha256 proves it is the query the exporter ran)
    query = build_export_query(
        typed.loader().tables[0],
        parse_instant(manifest["lower"], "lower"),
        parse_instant(manifest["upper"], "u"),
    )
    assert query.sha256 == manifest["query_sha256"]
    assert body == psql_copy(typed, query.text)

    # AND the CSV distinguishes NULL from '', and keeps quotes, commas, newlines and unicode
    rows = {r["id"]: r for r in parse_pg_csv(body)}
    assert rows["1"]["txt"] is None and rows["1"]["vc"] == ""
    assert rows["2"]["txt"] == "line1\nline2\r\nline3" and rows["2"]["vc"] == "comma, here"
    assert rows["3"]["txt"] == 'say "hi"' and rows["3"]["vc"] == "ünïcødé ✓ 日本"
    assert rows["4"]["txt"] == '""' and rows["4"]["vc"] == ","
    assert rows["1"]["num"] == "12345678901234567890.0123456789"
    assert rows["1"]["big"] == "9223372036854775807"
    assert rows["1"]["dbl"] == "1.0000000000000002"
    assert rows["1"]["flag"] == "t" and rows["2"]["flag"] == "f" and rows["3"]["flag"] is None
    assert rows["1"]["js"] == '{"a": [1, "x,y"]}' and rows["1"]["jsb"] == '{"b": "quote\\"d"}'
    assert rows["3"]["js"] == '{"k": 2}'  # json as jsonb: a repeated key keeps its last value
    assert rows["2"]["dbl"] == "NaN" and rows["3"]["dbl"] == "-inf"  # FLOAT's documented spellings
    # AND dates, times and timestamps have one explicit form: ISO 8601, six digits, +00:00
    assert rows["1"]["tstz"] == "2026-11-19T19:32:03.456789+00:00"  # the same instant, in UTC
    assert rows["1"]["ts"] == "2026-11-20T01:02:03.456789+00:00"  # UTC wall-clock by convention
    assert rows["2"]["tstz"] == "1970-01-01T08:00:00.000000+00:00" and rows["2"]["d"] == "0001-01-01"
    assert rows["3"]["t"] == "10:00:00.500000" and rows["1"]["updated_at"].endswith(":01.500000+00:00")
    assert rows["4"]["arr"] == "{NULL,x}"


def test_every_temporal_value_parses_with_the_pinned_format_to_the_value_in_postgres(
    typed: Pipeline,
) -> None:
    # GIVEN the formats the pipes' file format pins, read from the rendered template
    parsers = pinned_parsers()
    # WHEN the exporter exports the typed table
    typed.run({})
    exported = {r["id"]: r for r in typed.exported_rows("public.typed")}
    # THEN each date, time and timestamp parses with its pinned format, to what PostgreSQL holds
    admin = typed.admin()
    try:
        source = admin.run(f"SELECT id, {', '.join(TEMPORAL)} FROM public.typed ORDER BY id")
    finally:
        admin.close()
    checked = 0
    for id_, *values in source:
        for (column, fmt), value in zip(TEMPORAL.items(), values, strict=True):
            text = exported[str(id_)][column]
            if value is None:
                assert text is None
                continue
            parsed = parsers[fmt](text)
            loaded = {"DATE": parsed.date(), "TIME": parsed.time()}.get(fmt, parsed)
            if column == "ts":  # timestamp: the wall-clock time, which Snowflake's NTZ keeps
                loaded = parsed.replace(tzinfo=None)
            assert loaded == value, (column, text, value)
            checked += 1
    assert checked == 16


def test_values_read_back_from_final_equal_aurora(typed: Pipeline) -> None:
    # GIVEN the typed table exported WHEN the local pipe loads it and the production MERGE runs
    typed.run({})
    typed.merge_into_final("public.typed")
    conn = typed.snow.connect(typed.snowflake_database, "FINAL")
    try:
        cur = conn.cursor()
        cur.execute(
            'SELECT "ID", "TXT", "VC", "NUM", "BIG", "FLAG", "TSTZ", "D" FROM "FINAL"."TYPED" ORDER BY "ID"'
        )
        final = {int(r[0]): r[1:] for r in cur.fetchall()}
    finally:
        conn.close()
    # THEN NULL stays NULL, '' stays '', text, numerics, booleans and instants are unchanged
    assert final[1][0] is None and final[1][1] == ""
    assert final[2][0] == "line1\nline2\r\nline3" and final[2][1] == "comma, here"
    assert final[3][0] == 'say "hi"' and final[3][1] == "ünïcødé ✓ 日本"
    assert final[4][0] == '""'
    assert str(final[1][2]) == "12345678901234567890.0123456789" and int(final[1][3]) == 9223372036854775807
    assert final[1][4] is True and final[2][4] is False and final[3][4] is None
    assert final[1][5] == datetime(2026, 11, 19, 19, 32, 3, 456789, tzinfo=UTC)
    assert str(final[1][6]) == "2026-02-28"
