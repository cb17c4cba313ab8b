"""Values PostgreSQL stores but Snowflake cannot load stop that table's export, in both modes.

Without this, the export would write the value, Snowpipe would skip the whole file (ON_ERROR =
SKIP_FILE) an hour later, and every later file of the table could follow it. The export query
refuses the value itself, in its one pass over the rows; the table fails naming column, value and
row, nothing of it is published, and the other tables export as usual.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from aurora_sync.exporter.run import ExportRunFailed
from tests.support.aws_s3_fake import grant_export, install_aws_s3_fake
from tests.support.pipeline import DEV_TABLES, Pipeline

# table, PostgreSQL type, Snowflake type, a good value, the refused value, its text in the error
CASES = [
    ("date_infinity", "date", "DATE", "'2026-11-20'", "'infinity'", "infinity"),
    ("date_minus_infinity", "date", "DATE", "'2026-11-20'", "'-infinity'", "-infinity"),
    ("date_bc", "date", "DATE", "'2026-11-20'", "'0044-03-15 BC'", "0044-03-15 BC"),
    (
        "tstz_bc",
        "timestamptz",
        "TIMESTAMP_TZ(6)",
        "now()",
        "'0044-03-15 12:00:00+00 BC'",
        "0044-03-15 12:00:00+00 BC",
    ),
    ("tstz_infinity", "timestamptz", "TIMESTAMP_TZ(6)", "now()", "'infinity'", "infinity"),
    (
        "ts_year_10000",
        "timestamp",
        "TIMESTAMP_NTZ(6)",
        "'2026-11-20 10:00'",
        "'10000-01-01 00:00'",
        "10000-01-01 00:00:00",
    ),
    ("time_24", "time", "TIME(6)", "'10:00'", "'24:00:00'", "24:00:00"),
    ("number_nan", "numeric(12,2)", "NUMBER(12,2)", "1.5", "'NaN'", "NaN"),
    ("number_infinity", "numeric", "NUMBER(38,10)", "1.5", "'Infinity'", "Infinity"),
    ("number_too_wide", "numeric", "NUMBER(12,2)", "1.5", "12345678901.5", "12345678901.5"),
]
GOOD_ROWS = 300  # before the refused row: the query fails after it has already written output


def entry(name: str, snowflake_type: str) -> dict[str, Any]:
    return {
        "table_name": f"public.{name}",
        "watermark_col": "updated_at",
        "primary_keys": ["id"],
        "columns": [
            {"name": "id", "type": "NUMBER(38,0)"},
            {"name": "v", "type": snowflake_type},
            {"name": "updated_at", "type": "TIMESTAMP_TZ(6)"},
        ],
    }


@pytest.fixture(params=["copy_stream", "aurora_s3"])
def pipeline(request: Any, pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any) -> Pipeline:
    p = Pipeline(pg_server, moto, bao, fakesnow_server, export_mode=request.param)
    p.tables = [*DEV_TABLES, *(entry(name, sf) for name, _, sf, *_ in CASES)]
    p.put_tables()
    admin = p.admin()
    try:
        admin.run("INSERT INTO public.orders (id, status) SELECT g, 'ok' FROM generate_series(1, 50) g")
        for name, pg_type, _, good, bad, _ in CASES:
            columns = f"id bigint PRIMARY KEY, v {pg_type}, updated_at timestamptz NOT NULL"
            admin.run(f"CREATE TABLE public.{name} ({columns})")
            admin.run(
                f"INSERT INTO public.{name} SELECT g, {good}, now() - interval '1 minute' "
                f"FROM generate_series(1, {GOOD_ROWS}) g"
            )
            admin.run(f"INSERT INTO public.{name} VALUES (9999, {bad}, now() - interval '1 minute')")
        admin.run(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {p.db_user}")
        if request.param == "aurora_s3":
            install_aws_s3_fake(admin, endpoint_url=moto.endpoint_url, max_file_bytes=2_000)
            grant_export(admin, p.db_user)
    finally:
        admin.close()
    p._setup_snowflake()
    return p


def failed_run(pipeline: Pipeline) -> dict[str, dict[str, Any]]:
    """Each table's result of a run that failed (the invocation fails when any table did)."""
    with pytest.raises(ExportRunFailed) as caught:
        pipeline.run({})
    return {t["table"]: t for t in json.loads(str(caught.value))["tables"]}


def test_each_refused_value_fails_its_table_naming_column_value_and_row(pipeline: Pipeline) -> None:
    # WHEN the scheduled export runs over every table
    result = failed_run(pipeline)

    # THEN the table without such values exports as usual
    assert result["public.orders"]["status"] == "exported" and result["public.orders"]["rows"] == 50
    for name, _, snowflake_type, _, _, shown in CASES:
        table = result[f"public.{name}"]
        # AND each other table fails, terminally, naming the column, its type, the value and the row
        assert table["status"] == "failed" and table["retryable"] is False, table
        assert f"column v ({snowflake_type}) holds '{shown}' in the row id=9999" in table["error"], table
        assert f"Snowflake {snowflake_type} " in table["error"] and "nothing was published" in table["error"]
        # AND nothing of it was published: no data, no manifest
        assert pipeline.object_keys(f"public.{name}/") == []
        assert pipeline.object_keys(f"_manifests/public.{name}/") == []
    # AND no temporary object is left behind (aurora_s3 mode exports through _incoming/)
    assert pipeline.object_keys("_incoming/") == []
    # AND on-call is paged per table with the same message and the payload that re-runs it
    pages = {a["table"]: a for a in pipeline.pages() if a["check"] == "export"}
    assert set(pages) == {f"public.{name}" for name, *_ in CASES}
    assert "holds 'infinity'" in pages["public.date_infinity"]["details"]["error"]


def test_a_configured_type_the_aurora_column_cannot_feed_fails_before_exporting(pipeline: Pipeline) -> None:
    # GIVEN tables.json says DATE for a timestamptz column (the rendering would be wrong)
    wrong = entry("tstz_infinity", "TIMESTAMP_TZ(6)")
    wrong["columns"][1] = {"name": "v", "type": "DATE"}
    pipeline.tables = [wrong]
    pipeline.put_tables()
    # WHEN it is exported THEN the table fails naming both types, and nothing reaches S3
    table = failed_run(pipeline)["public.tstz_infinity"]
    assert table["status"] == "failed"
    assert "column v is timestamptz in Aurora but DATE in tables.json" in table["error"], table
    assert pipeline.object_keys("public.tstz_infinity/") == [] and pipeline.object_keys("_incoming/") == []
