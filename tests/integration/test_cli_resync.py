"""`aurora-sync resync` on the local stack: a full refresh in key ranges through the Terraform-rendered
state machine on moto, calling the real exporter in process (tests/support/sync_machine.py): every
range exported and checkpointed, a failed refresh resumed by running the command again (only its
unfinished ranges), FINAL equal to Aurora at the end and its row count never dropping on the way."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import FOLLOW_SEAMS, CliStack
from tests.support.pipeline import Pipeline
from tests.support.stepfunctions import StepFunctionsStack
from tests.support.sync_machine import DeployedSync, deploy, executions, fresh_clients
from tests.support.terraform import terraform_bin

# The state machine's definition is rendered by terraform (tests/support/sync_machine.py).
pytestmark = pytest.mark.skipif(terraform_bin() is None, reason="terraform is not installed here")


@dataclass
class Resync:
    cli: CliStack
    sync: DeployedSync

    @property
    def pipeline(self) -> Pipeline:
        return self.cli.pipeline

    def invoke(self, *args: str, input: str | None = None) -> Any:
        return self.cli.invoke("resync", "public.orders", *args, input=input, seams=FOLLOW_SEAMS)

    def final_ids(self) -> list[int]:
        p = self.pipeline
        with p.snow.connect(p.snowflake_database, "FINAL") as conn:
            rows = conn.cursor().execute('SELECT "ID" FROM "FINAL"."ORDERS"').fetchall()
        return sorted(int(r[0]) for r in rows)

    def aurora_ids(self) -> list[int]:
        admin = self.pipeline.admin()
        try:
            return sorted(int(r[0]) for r in admin.run("SELECT id FROM public.orders"))
        finally:
            admin.close()

    def inputs(self) -> list[Any]:
        sfn = self.sync.stack.client("stepfunctions")
        found = executions(self.sync.stack, self.sync.arn)
        return [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in found]


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
        admin.run("ANALYZE public.orders")  # the planner's estimate: 30 rows, so 3 ranges of 10
        admin.close()
        pipeline.run({"tables": ["public.orders"]})
        pipeline.loader().cycle()
        yield Resync(CliStack(pipeline, tmp_path), deploy(sfn_stack, pipeline))


def test_resync_refreshes_every_row_in_key_ranges_and_says_what_it_cannot_fix(resync: Resync) -> None:
    # GIVEN FINAL lost row 7 (no incremental run brings it back: its watermark is below FINAL's
    # maximum), and row 30 was hard-deleted in Aurora
    p = resync.pipeline
    with p.snow.connect(p.snowflake_database, "FINAL") as conn:
        conn.cursor().execute('DELETE FROM "FINAL"."ORDERS" WHERE "ID" = 7')
    admin = p.admin()
    admin.run("DELETE FROM public.orders WHERE id = 30")
    admin.close()
    # WHEN on-call runs the full refresh in ranges of 10 rows
    result = resync.invoke("--yes", "--rows-per-range", "10")
    # THEN every step is printed, the state machine got the refresh request, and the refresh is complete
    assert result.exit_code == 0, result.output
    for step in range(1, 5):
        assert f"[{step}/4]" in result.stdout
    assert "a new refresh" in result.stdout and "complete: all" in result.stdout
    assert "rows deleted from Aurora stay in FINAL" in result.stdout
    assert resync.inputs() == [{"refresh": "public.orders", "rows_per_range": 10}]
    ranges = [m for m in p.manifests("public.orders") if m.get("refresh")]
    assert len(ranges) == 3 and sum(m["rows"] for m in ranges) == 29
    # AND once loaded and merged, row 7 is back; row 30, deleted in Aurora, is still in FINAL
    p.loader().cycle()
    assert resync.final_ids() == list(range(1, 31))


def test_declined_or_bad_input_starts_nothing(resync: Resync) -> None:
    # WHEN on-call declines THEN no execution, exit 1
    declined = resync.invoke(input="n\n")
    assert declined.exit_code == 1 and "nothing started" in declined.output
    # WHEN the ranges asked for are too small THEN exit 2 naming the option, nothing started
    bad = resync.invoke("--yes", "--rows-per-range", "3")
    assert bad.exit_code == 2 and "--rows-per-range" in bad.output, bad.output
    assert executions(resync.sync.stack, resync.sync.arn) == []


def test_a_failed_refresh_resumes_from_its_unfinished_ranges_and_ends_with_final_equal_to_aurora(
    resync: Resync,
) -> None:
    # GIVEN a value Snowflake cannot load in row 3, so the range holding it fails
    p = resync.pipeline
    start = len(resync.final_ids())
    admin = p.admin()
    admin.run("UPDATE public.orders SET amount = 'NaN' WHERE id = 3")
    admin.close()
    # WHEN on-call runs the full refresh
    failed = resync.invoke("--yes", "--rows-per-range", "10")
    # THEN exit 1, saying how many ranges are left and that the same command resumes them
    assert failed.exit_code == 1, failed.output
    assert "ranges exported; run `" in failed.output and "resync public.orders` to resume" in failed.output
    exported_first = [x for x in resync.sync.lambdas.exporter_payloads if isinstance(x, dict) and "item" in x]
    # AND `status` shows the refresh unfinished, with its ranges done of the total
    status = resync.cli.invoke("status", "public.orders", seams=FOLLOW_SEAMS)
    assert "full refresh" in status.stdout and "unfinished: 2 of 3 ranges exported" in status.stdout, (
        status.output
    )
    p.loader().cycle()
    assert len(resync.final_ids()) >= start  # FINAL never shrinks while a refresh runs
    # WHEN the value is corrected and the command runs again
    admin = p.admin()
    admin.run("UPDATE public.orders SET amount = 3 WHERE id = 3")
    admin.close()
    resync.sync.lambdas.exporter_payloads.clear()
    resumed = resync.invoke("--yes")
    # THEN it resumes the same refresh, exporting only the range that failed, and completes
    assert resumed.exit_code == 0, resumed.output
    assert "resuming refresh" in resumed.output and "complete: all" in resumed.output
    again = [x["item"] for x in resync.sync.lambdas.exporter_payloads if isinstance(x, dict) and "item" in x]
    assert len(again) == 1 and again[0]["refresh"]["of"] == len(
        {json.dumps(x["item"]) for x in exported_first}
    )
    # AND once loaded and merged, FINAL equals Aurora, never having held fewer rows than at the start
    p.loader().cycle()
    assert resync.final_ids() == resync.aurora_ids() and len(resync.final_ids()) >= start
