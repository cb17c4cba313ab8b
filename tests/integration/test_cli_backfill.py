"""`aurora-sync backfill` on the local stack: the state machine Terraform renders runs on moto's Step
Functions interpreter and calls the real exporter and reconciler in this process
(tests/support/sync_machine.py), which export from PostgreSQL to moto's S3 as in a Lambda."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aurora_sync.timeutil import iso
from tests.support.cli import FOLLOW_SEAMS, CliStack
from tests.support.pipeline import Pipeline
from tests.support.stepfunctions import StepFunctionsStack
from tests.support.sync_machine import DeployedSync, deploy, executions, fresh_clients, wait_closed
from tests.support.terraform import terraform_bin

# The state machine's definition is rendered by terraform (tests/support/sync_machine.py).
pytestmark = pytest.mark.skipif(terraform_bin() is None, reason="terraform is not installed here")

ROWS = 180  # one a minute over three hours: three 60-minute chunks of 60 rows


@dataclass
class Backfill:
    cli: CliStack
    sync: DeployedSync
    start: datetime

    def invoke(self, *args: str) -> Any:
        return self.cli.invoke(*args, seams=FOLLOW_SEAMS)

    def args(self, hours: int = 3, chunk: int | None = 60) -> list[str]:
        end = self.start + timedelta(hours=hours)
        extra = [] if chunk is None else ["--chunk-minutes", str(chunk)]
        return ["backfill", "public.orders", "--start", iso(self.start), "--end", iso(end), *extra]

    def executions(self) -> list[dict[str, Any]]:
        return executions(self.sync.stack, self.sync.arn)


@pytest.fixture(scope="module")
def sfn_stack() -> Iterator[StepFunctionsStack]:
    with StepFunctionsStack() as stack:
        yield stack


@pytest.fixture
def backfill(
    pg_server: Any, sfn_stack: StepFunctionsStack, bao: Any, fakesnow_server: Any, tmp_path: Path
) -> Iterator[Backfill]:
    """GIVEN public.orders with a row a minute over three past hours (ids 1..180), the state machine
    deployed on the stack's moto, and the CLI's names in a `terraform output -json` file."""
    with contextlib.contextmanager(fresh_clients)():
        pipeline = Pipeline(pg_server, sfn_stack.moto, bao, fakesnow_server)
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=5)
        admin = pipeline.admin()
        admin.run(
            "INSERT INTO public.orders (id, status, amount, updated_at) "
            "SELECT g, 'new', g, CAST(:start AS timestamptz) + g * interval '1 minute' "
            "FROM generate_series(1, :rows) g",
            start=start,
            rows=ROWS,
        )
        admin.close()
        yield Backfill(CliStack(pipeline, tmp_path), deploy(sfn_stack, pipeline), start)


def exported_ids(b: Backfill) -> list[int]:
    return sorted(int(str(r["id"])) for r in b.cli.pipeline.exported_rows("public.orders"))


def test_backfill_exports_every_chunk_and_reports_rows(backfill: Backfill) -> None:
    # WHEN on-call backfills three hours in 60-minute chunks
    result = backfill.invoke(*backfill.args())
    # THEN one execution exported the three chunks, each row once, and the CLI says so (exit 0)
    assert result.exit_code == 0, result.output
    assert "SUCCEEDED" in result.stdout
    assert f"chunks: 3 of 3 exported, 0 failed; rows exported: {ROWS}" in result.stdout
    assert exported_ids(backfill) == list(range(1, ROWS + 1))
    [execution] = backfill.executions()
    assert execution["name"].startswith("backfill-public.orders-")
    # WHEN the same command runs again THEN nothing starts: it says where the first one's result is
    again = backfill.invoke(*backfill.args())
    assert again.exit_code == 1, again.output
    assert "this backfill already ran" in again.output and "--follow" in again.output
    assert len(backfill.executions()) == 1


def test_a_failing_chunk_fails_the_command_with_its_rerun(backfill: Backfill) -> None:
    # GIVEN a row in the second hour that Snowflake could not load (NaN in a NUMBER(12,2))
    admin = backfill.cli.pipeline.admin()
    admin.run("UPDATE public.orders SET amount = 'NaN' WHERE id = 90")
    admin.close()
    # WHEN on-call backfills the three hours
    result = backfill.invoke(*backfill.args())
    # THEN the other chunks export, the command exits 1 and prints the payload and the command that
    # re-run exactly the failed chunk, and the exporter's error naming the value
    assert result.exit_code == 1, result.output
    assert "chunks: 2 of 3 exported, 1 failed" in result.stdout
    second = (iso(backfill.start + timedelta(hours=1)), iso(backfill.start + timedelta(hours=2)))
    rerun = f'{{"end": "{second[1]}", "start": "{second[0]}", "table": "public.orders"}}'
    assert f"ExportRunFailed: {rerun}" in result.stdout
    assert f"backfill public.orders --start {second[0]} --end {second[1]}" in result.stdout
    assert "NaN" in result.stdout
    assert exported_ids(backfill) == [*range(1, 61), *range(121, ROWS + 1)]


def test_bad_input_names_the_field_and_starts_nothing(backfill: Backfill) -> None:
    start = iso(backfill.start)
    cases = [
        (["public.orders", "--start", "2026-11-20T00:00:00", "--end", start], "--start", "timezone"),
        (["public.orders", "--start", start, "--end", start], "--start", "must be before end"),
        (
            ["public.nope", "--start", start, "--end", iso(backfill.start + timedelta(hours=1))],
            "TABLE",
            "nope",
        ),
        (
            ["public.orders", "--start", "2026-01-01T00:00:00Z", "--end", "2026-03-01T00:00:00Z"],
            "--end",
            "wider",
        ),
        ([*backfill.args()[1:6], "--chunk-minutes", "0"], "--chunk-minutes", "greater than 0"),
        (["public.orders", "--start", start], "--end", "required"),
    ]
    for args, field, problem in cases:
        # WHEN the input is wrong in one field
        result = backfill.invoke("backfill", *args)
        # THEN exit 2 naming the field, and no execution started
        assert result.exit_code == 2, (args, result.output)
        assert f"{field}:" in result.output and problem in result.output, (args, result.output)
    assert backfill.executions() == []
    assert backfill.sync.lambdas.exporter_payloads == []


def test_no_wait_then_follow_and_no_second_execution(backfill: Backfill) -> None:
    # GIVEN the exporter held back, so the execution stays running
    backfill.sync.lambdas.gate.clear()
    # WHEN started with --no-wait THEN it prints the ARN and how to follow it
    started = backfill.invoke(*backfill.args(chunk=None), "--no-wait")
    assert started.exit_code == 0, started.output
    [execution] = backfill.executions()
    assert f"backfill --follow {execution['executionArn']}" in started.stdout
    # WHEN the same backfill is started again while it runs THEN the running one is found, not doubled
    twice = backfill.invoke(*backfill.args(chunk=None), "--no-wait")
    assert twice.exit_code == 0, twice.output
    assert "already running with this input" in twice.stdout
    assert len(backfill.executions()) == 1
    # WHEN followed after the exporter runs THEN the result is printed as by a waiting backfill
    backfill.sync.lambdas.gate.set()
    followed = backfill.invoke("backfill", "--follow", execution["executionArn"])
    assert followed.exit_code == 0, followed.output
    assert f"chunks: 1 of 1 exported, 0 failed; rows exported: {ROWS}" in followed.stdout
    assert wait_closed(backfill.sync.stack, execution["executionArn"])["status"] == "SUCCEEDED"
