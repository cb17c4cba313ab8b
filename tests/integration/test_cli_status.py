"""`aurora-sync status` on the local stack: names from outputs, every reading, exit codes.

The pipe status, task state and TASK_HISTORY are read through the local stand-in's SQL (LOCAL_SEAMS,
as the reconciler's tests do: fakesnow has none of them); the subprocess test runs the installed
script with the production SQL, which fakesnow cannot answer, and so must say unknown, never ok.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

from aurora_sync.layout import pending_key
from aurora_sync.pins import PublishPin
from tests.integration.cli_fixtures import _synced_for_module, synced, synced_read_only
from tests.support.cli import CliStack
from tests.support.stack import free_port

__all__ = ["_synced_for_module", "synced", "synced_read_only"]


def test_a_synced_pipeline_is_ok_and_exits_0(synced_read_only: CliStack) -> None:
    # WHEN on-call runs status with only the outputs file and their Vault token
    result = synced_read_only.invoke("status", "--json")
    # THEN every table is ok, with what each reading found
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["state"] == "ok" and body["schedule"] == {"value": "ENABLED"}
    orders = {t["table"]: t for t in body["tables"]}["public.orders"]
    assert orders["findings"] == [] and orders["lag_seconds"] == 0
    assert orders["aurora_max"] == orders["final_max"]
    assert orders["last_export"]["value"]["rows"] == 30 and orders["last_export"]["value"]["files"] == 1
    assert orders["pipe"]["value"] == {"execution_state": "RUNNING", "pending_file_count": 0}
    assert orders["task_state"] == {"value": "started"}
    assert orders["last_task_run"]["value"]["state"] == "SUCCEEDED"
    # AND the screen form shows a row per table
    screen = synced_read_only.invoke("status")
    assert screen.exit_code == 0, screen.output
    assert "public.orders" in screen.stdout and "public.customers" in screen.stdout
    assert "OK" in screen.stdout and "30 rows, 1 file," in screen.stdout


def test_each_kind_of_trouble_is_a_problem_and_exits_1(synced: CliStack) -> None:
    p = synced.pipeline
    runner = p.loader()
    [orders] = [t for t in runner.tables if t.table_name == "public.orders"]
    # GIVEN Aurora three hours ahead of FINAL, the orders pipe paused, an open alert on customers, and
    # a publish pin older than the reconciler's grace
    admin = p.admin()
    admin.run(
        "INSERT INTO public.orders (id, status, amount, updated_at) "
        "VALUES (999, 'x', 1, now() + interval '3 hours')"
    )
    admin.close()
    runner.set_pipe_state(orders, "PAUSED")
    p.moto.client("dynamodb").put_item(
        TableName=p.alert_state_table,
        Item={
            "dedup_key": {"S": "loads:public.customers"},
            "status": {"S": "open"},
            "check": {"S": "loads"},
            "table": {"S": "public.customers"},
            "severity": {"S": "P2"},
            "summary": {"S": "1 file not loaded"},
            "first_seen": {"S": "2026-11-20T10:00:00Z"},
            "version": {"N": "1"},
        },
    )
    old = datetime.now(UTC) - timedelta(hours=5)
    pin = PublishPin("public.customers", "e-old", "run-old", old - timedelta(hours=1), old, old)
    p.s3.put_object(Bucket=p.bucket, Key=pending_key("public.customers", "e-old"), Body=pin.to_json())
    # WHEN status runs
    result = synced.invoke("status", "--json")
    # THEN it exits 1 and names each problem on its table
    assert result.exit_code == 1, result.output
    tables = {t["table"]: t for t in json.loads(result.stdout)["tables"]}
    orders_found = {f["what"]: f["message"] for f in tables["public.orders"]["findings"]}
    assert "pipe is PAUSED" in orders_found["pipe"]
    assert "behind Aurora (SLA 2h00m)" in orders_found["freshness"]
    customers_found = [f["what"] for f in tables["public.customers"]["findings"]]
    assert sorted(customers_found) == ["alert", "pins"]
    # AND a table named alone shows only that table
    one = synced.invoke("status", "public.customers")
    assert one.exit_code == 1 and "public.orders" not in one.stdout
    assert "P2 loads" in one.stdout


def test_what_cannot_be_read_is_unknown_with_its_cause_and_exits_3(synced_read_only: CliStack) -> None:
    # GIVEN Snowflake unreachable (nothing listens on its port)
    result = synced_read_only.invoke(
        "status", "--json", SNOWFLAKE_PORT=str(free_port()), SNOWFLAKE_LOGIN_TIMEOUT_SECONDS="2"
    )
    # THEN every Snowflake reading is unknown with the connection error, the others still read
    assert result.exit_code == 3, result.output
    orders = {t["table"]: t for t in json.loads(result.stdout)["tables"]}["public.orders"]
    assert orders["state"] == "unknown"
    for reading in ("final_max", "pipe", "task_state", "last_task_run"):
        assert "Snowflake" in orders[reading]["error"], orders[reading]
    assert "value" in orders["aurora_max"] and orders["last_export"]["value"]["rows"] == 30
    # AND without the schedule's name in outputs or shell, the schedule is unknown, never ok
    synced_read_only.write_outputs(drop=("sync_schedule",))
    no_schedule = synced_read_only.invoke("status")
    assert no_schedule.exit_code == 3, no_schedule.output
    assert "SYNC_SCHEDULE_NAME is not set" in no_schedule.stdout


def test_an_unknown_table_exits_2_naming_it(synced_read_only: CliStack) -> None:
    result = synced_read_only.invoke("status", "public.orders", "public.nope")
    assert result.exit_code == 2, result.output
    assert "public.nope" in result.output and "configured: public.orders, public.customers" in result.output


def test_the_installed_script_with_production_sql_says_unknown_not_ok(synced_read_only: CliStack) -> None:
    # WHEN the real entry point runs with the production SQL, which fakesnow cannot answer
    # (SYSTEM$PIPE_STATUS, SHOW TASKS, INFORMATION_SCHEMA.TASK_HISTORY)
    done = synced_read_only.run_script("status", "--json", base_env=os.environ)
    # THEN those readings are unknown with Snowflake's error, and the exit says unknown
    assert done.returncode == 3, done.stderr
    orders = {t["table"]: t for t in json.loads(done.stdout)["tables"]}["public.orders"]
    assert "SYSTEM$PIPE_STATUS" in orders["pipe"]["error"]
    assert "task" in orders["task_state"]["error"]
    assert orders["final_max"] == orders["aurora_max"]
    # AND no secret reached the output
    pipeline = synced_read_only.pipeline
    for secret in (pipeline.bao.root_token, pipeline.db_password, pipeline.snowflake_password):
        assert secret not in done.stdout + done.stderr
