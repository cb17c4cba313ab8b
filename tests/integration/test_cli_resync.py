"""`aurora-sync resync` on the local stack: lease check, override, an incremental execution of the
Terraform-rendered state machine on moto calling the real exporter in process
(tests/support/sync_machine.py), the manifest that proves the refresh, and what it does not fix."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import FOLLOW_SEAMS, CliStack
from tests.support.pipeline import Pipeline
from tests.support.stepfunctions import StepFunctionsStack
from tests.support.sync_machine import DeployedSync, deploy, executions, fresh_clients


@dataclass
class Resync:
    cli: CliStack
    sync: DeployedSync

    @property
    def pipeline(self) -> Pipeline:
        return self.cli.pipeline

    def invoke(self, *args: str, input: str | None = None) -> Any:
        return self.cli.invoke("resync", "public.orders", *args, input=input, seams=FOLLOW_SEAMS)

    def override(self) -> str | None:
        name = f"{self.pipeline.overrides_path}public.orders"
        try:
            return str(self.pipeline.ssm.get_parameter(Name=name)["Parameter"]["Value"])
        except self.pipeline.ssm.exceptions.ParameterNotFound:
            return None

    def final_ids(self) -> list[int]:
        p = self.pipeline
        with p.snow.connect(p.snowflake_database, "FINAL") as conn:
            rows = conn.cursor().execute('SELECT "ID" FROM "FINAL"."ORDERS"').fetchall()
        return sorted(int(r[0]) for r in rows)


@pytest.fixture(scope="module")
def sfn_stack() -> Iterator[StepFunctionsStack]:
    with StepFunctionsStack() as stack:
        yield stack


@pytest.fixture
def resync(
    pg_server: Any, sfn_stack: StepFunctionsStack, bao: Any, fakesnow_server: Any, tmp_path: Path
) -> Iterator[Resync]:
    """GIVEN public.orders (ids 1..30) exported, loaded and merged into FINAL once, and the state
    machine deployed on the stack's moto."""
    with contextlib.contextmanager(fresh_clients)():
        pipeline = Pipeline(pg_server, sfn_stack.moto, bao, fakesnow_server)
        admin = pipeline.admin()
        admin.run(
            "INSERT INTO public.orders (id, status, amount, updated_at) "
            "SELECT g, 'new', g, now() - interval '10 minutes' + g * interval '1 second' "
            "FROM generate_series(1, 30) g"
        )
        admin.close()
        pipeline.run({"tables": ["public.orders"]})
        pipeline.loader().cycle()
        yield Resync(CliStack(pipeline, tmp_path), deploy(sfn_stack, pipeline))


def test_resync_refreshes_every_row_and_says_what_it_cannot_fix(resync: Resync) -> None:
    # GIVEN FINAL lost row 7 (no incremental run brings it back: its watermark is below FINAL's
    # maximum), and row 30 was hard-deleted in Aurora
    p = resync.pipeline
    with p.snow.connect(p.snowflake_database, "FINAL") as conn:
        conn.cursor().execute('DELETE FROM "FINAL"."ORDERS" WHERE "ID" = 7')
    admin = p.admin()
    admin.run("DELETE FROM public.orders WHERE id = 30")
    admin.close()
    # WHEN on-call runs the full refresh
    result = resync.invoke("--yes")
    # THEN every step is printed, the override was consumed and the manifest proves the refresh
    assert result.exit_code == 0, result.output
    for step in range(1, 7):
        assert f"[{step}/6]" in result.stdout
    assert "rows deleted from Aurora stay in FINAL" in result.stdout
    assert "SUCCEEDED" in result.stdout and "exported: 29;" in result.stdout
    assert resync.override() is None
    [execution] = executions(resync.sync.stack, resync.sync.arn)
    assert json.loads(resync.sync.stack.client("stepfunctions").describe_execution(
        executionArn=execution["executionArn"])["input"]) == {"tables": ["public.orders"]}  # fmt: skip
    refreshes = [m for m in p.manifests("public.orders") if m["full_refresh"]]
    assert [(m["rows"], m["lower"]) for m in refreshes] == [(29, None)]
    # AND once loaded and merged, row 7 is back; row 30, deleted in Aurora, is still in FINAL
    p.loader().cycle()
    assert resync.final_ids() == list(range(1, 31))


def test_declined_or_running_export_changes_nothing(resync: Resync) -> None:
    # WHEN on-call declines THEN no override, no execution, exit 1
    declined = resync.invoke(input="n\n")
    assert declined.exit_code == 1 and "nothing changed" in declined.output
    # GIVEN an export of the table holding its lease WHEN resync runs THEN it refuses, naming the holder
    p = resync.pipeline
    p.moto.client("dynamodb").put_item(
        TableName=p.lease_table,
        Item={
            "lease_key": {"S": "public.orders"},
            "holder": {"S": "run-hourly"},
            "acquired_at": {"S": "2026-11-20T00:00:00.000000Z"},
            "expires_at": {"N": str(int(time.time()) + 600)},
        },
    )
    held = resync.invoke("--yes")
    assert held.exit_code == 1, held.output
    assert "is running (held by run-hourly" in held.output
    assert resync.override() is None
    assert executions(resync.sync.stack, resync.sync.arn) == []


def test_a_failed_refresh_leaves_the_override_and_says_how_to_cancel(resync: Resync) -> None:
    # GIVEN a row Snowflake cannot load, so the full refresh fails
    admin = resync.pipeline.admin()
    admin.run("UPDATE public.orders SET amount = 'NaN' WHERE id = 3")
    admin.close()
    # WHEN on-call runs the full refresh
    result = resync.invoke("--yes")
    # THEN exit 1; the override stays (the next run retries the refresh) and the way to cancel it is printed
    assert result.exit_code == 1, result.output
    assert "not proven" in result.output and "the override stays set" in result.output
    assert f"aws ssm delete-parameter --name {resync.pipeline.overrides_path}public.orders" in result.output
    assert json.loads(resync.override() or "{}") == {"full_refresh": True}
