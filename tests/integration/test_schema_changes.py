"""Schema changes on the local stack, step by step as docs/runbook.md's procedures run them (a
column added, a column dropped in Aurora, a retyped column), and a table config that still holds the
removed `full_refresh` key.

"Apply" is played in the order Terraform applies it (tests/infra/test_schema_changes.py proves the
order): the Snowflake side first, as the provider changes it (ALTER TABLE ... ADD COLUMN; the pipe's
COPY and the task's MERGE from the new config, which the local load runner takes from it), then the
SSM table parameters the exporter reads.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from aurora_sync.errors import ConfigError
from aurora_sync.exporter.run import ExportRunFailed
from aurora_sync.snowflake_sql import SnowflakeTable
from aurora_sync.tables import parse_tables
from tests.support.pipeline import Pipeline

ORDERS = "public.orders"
T0 = "'2026-11-20T00:00:00Z'::timestamptz"


@pytest.fixture
def pipeline(pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any) -> Pipeline:
    p = Pipeline(pg_server, moto, bao, fakesnow_server)
    p.tables = [t for t in p.tables if t["table_name"] == ORDERS]
    p.tables[0]["lookback_seconds"] = 0
    p.put_tables()
    aurora(
        p,
        "INSERT INTO public.orders (id, status, amount, updated_at) "
        f"SELECT g, 'new', g, {T0} + g * interval '1 minute' FROM generate_series(1, 10) g",
    )
    return p


def aurora(p: Pipeline, *statements: str) -> None:
    admin = p.admin()
    try:
        for statement in statements:
            admin.run(statement)
    finally:
        admin.close()


def snowflake(p: Pipeline, *statements: str) -> list[tuple[Any, ...]]:
    conn = p.snow.connect(p.snowflake_database, "FINAL")
    try:
        cur = conn.cursor()
        for statement in statements:
            cur.execute(statement)
        return list(cur.fetchall())
    finally:
        conn.close()


def final(p: Pipeline, column: str) -> dict[int, Any]:
    rows = snowflake(p, f'SELECT "ID", "{column}" FROM "FINAL"."ORDERS" ORDER BY "ID"')
    return {int(i): value for i, value in rows}


def export(p: Pipeline, event: dict[str, Any] | None = None) -> dict[str, Any]:
    result = p.run(event or {"tables": [ORDERS]})["tables"][0]
    assert isinstance(result, dict)
    return result


def failed(p: Pipeline) -> dict[str, Any]:
    with pytest.raises(ExportRunFailed) as caught:
        p.run({"tables": [ORDERS]})
    result = json.loads(str(caught.value))["tables"][0]
    assert isinstance(result, dict)
    return result


def test_full_refresh_in_a_deployed_table_parameter_fails_every_run_naming_it(pipeline: Pipeline) -> None:
    # GIVEN a table parameter an older release wrote from a tables.json entry with full_refresh
    pipeline.tables[0]["full_refresh"] = True
    pipeline.put_tables()
    parameter = f"{pipeline.tables_parameter}/{ORDERS}"
    # WHEN the hourly run or a Step Functions item loads the table list
    for event in ({}, {"table": ORDERS}):
        with pytest.raises(ConfigError) as caught:
            pipeline.run(event)
        # THEN it fails before any export, naming the parameter, the field and the override
        message = str(caught.value)
        assert message.startswith(f"{parameter}: full_refresh: no longer a tables.json key"), message
        assert f'overrides/{ORDERS} to {{"full_refresh": true}}' in message
    assert pipeline.object_keys() == []
    # WHEN the key is removed and applied THEN the table exports incrementally again
    del pipeline.tables[0]["full_refresh"]
    pipeline.put_tables()
    assert export(pipeline)["rows"] == 10


def test_adding_a_column_exports_it_once_snowflake_then_ssm_take_it(pipeline: Pipeline) -> None:
    # GIVEN FINAL in sync, then Aurora adds a column and rows get values in it
    export(pipeline)
    pipeline.merge_into_final(ORDERS)
    aurora(
        pipeline,
        "ALTER TABLE public.orders ADD COLUMN note text",
        f"UPDATE public.orders SET note = 'n' || id, updated_at = {T0} + interval '1 hour' WHERE id <= 3",
    )
    # WHEN the next run exports THEN it exports without the new column and pages P3 naming it
    assert export(pipeline)["rows"] == 3
    drift = [a for a in pipeline.alerts() if a["check"] == "schema_drift"]
    assert [a["details"]["unexported_columns"] for a in drift] == [["note"]]
    pipeline.merge_into_final(ORDERS)  # drained: every file of the old column list is loaded

    # WHEN the column is appended to tables.json and applied: the Snowflake side first ...
    pipeline.tables[0]["columns"].append({"name": "note", "type": "VARCHAR"})
    config = parse_tables(json.dumps(pipeline.tables), "tables.json").tables[0]
    objects = SnowflakeTable(config, pipeline.snowflake_database)
    for table in (objects.staging, objects.stream, objects.final):  # the provider's ALTER TABLE
        snowflake(pipeline, f'ALTER TABLE {table} ADD COLUMN "NOTE" VARCHAR')
    # ... then the SSM table config
    pipeline.put_tables()
    # THEN new changes export with the column and merge into FINAL
    aurora(
        pipeline,
        f"UPDATE public.orders SET note = 'late', updated_at = {T0} + interval '2 hours' WHERE id = 4",
    )
    assert export(pipeline)["rows"] == 1
    pipeline.merge_into_final(ORDERS)
    assert final(pipeline, "NOTE")[4] == "late"
    # AND rows changed before the apply are backfilled by the procedure's full refresh override
    assert final(pipeline, "NOTE")[1] is None
    pipeline.ssm.put_parameter(
        Name=f"{pipeline.overrides_path}{ORDERS}", Value='{"full_refresh": true}', Type="String"
    )
    assert export(pipeline)["rows"] == 10
    pipeline.merge_into_final(ORDERS)
    assert [final(pipeline, "NOTE")[i] for i in (1, 2, 3, 4, 5)] == ["n1", "n2", "n3", "late", None]


def test_a_column_dropped_in_aurora_is_retired_and_final_keeps_its_values(pipeline: Pipeline) -> None:
    # GIVEN FINAL holds every row with its status
    export(pipeline)
    pipeline.merge_into_final(ORDERS)
    assert set(final(pipeline, "STATUS").values()) == {"new"}
    # WHEN Aurora drops the column THEN the table stops, pointing to the procedure, nothing exported
    aurora(pipeline, "ALTER TABLE public.orders DROP COLUMN status")
    stopped = failed(pipeline)
    assert "status no longer exist in Aurora" in stopped["error"]
    assert '"retired": true' in stopped["error"] and "runbook: schema-drop-column" in stopped["error"]
    keys = pipeline.object_keys()

    # WHEN the column is retired in tables.json and applied (STAGING and FINAL unchanged)
    for column in pipeline.tables[0]["columns"]:
        if column["name"] == "status":
            column["retired"] = True
    pipeline.put_tables()
    # THEN changed and new rows export without it, and no schema drift is raised for it
    aurora(
        pipeline,
        f"UPDATE public.orders SET amount = 100, updated_at = {T0} + interval '1 hour' WHERE id = 1",
        f"INSERT INTO public.orders (id, amount, updated_at) VALUES (11, 11, {T0} + interval '1 hour')",
    )
    result = export(pipeline)
    assert result["status"] == "exported" and result["rows"] == 2
    (data_key,) = [k for k in result["files"] if k not in keys]
    assert pipeline.read(data_key).split(b"\n", 1)[0] == b"id,customer_id,amount,is_deleted,updated_at"
    assert [a for a in pipeline.alerts() if a["check"] == "schema_drift" and a["status"] == "open"] == []
    # AND the MERGE leaves the retired column alone: its last value kept, NULL for new rows
    pipeline.merge_into_final(ORDERS)
    status = final(pipeline, "STATUS")
    assert status[1] == "new" and status[11] is None and len(status) == 11
    assert final(pipeline, "AMOUNT")[1] == 100


def test_a_retyped_column_stops_the_table_pointing_to_the_procedure(pipeline: Pipeline) -> None:
    # GIVEN Aurora changes a column's type in place (amount: numeric -> text)
    aurora(pipeline, "ALTER TABLE public.orders ALTER COLUMN amount TYPE text")
    # WHEN the table is exported THEN it fails before any query names the types and the procedure
    stopped = failed(pipeline)
    assert "column amount is text in Aurora but NUMBER(12,2) in tables.json" in stopped["error"]
    assert "runbook: schema-retype-column" in stopped["error"] and stopped["retryable"] is False
    assert pipeline.object_keys() == []
