"""The sync state machine (terraform/modules/aws_orchestration/state_machine.asl.json), rendered by
Terraform, validated by asl-validator and executed for real on moto's Step Functions interpreter.

moto cannot run Lambda code, so Lambda invocations are answered by a script (tests/support/
stepfunctions.py) that returns results or raises function errors exactly as the Lambda API reports
them. The script parses `plan`, `split` and every export item with the exporter's own payload parser
(aurora_sync.events.parse_request), so the payloads the state machine builds are the ones the
exporter accepts; export results themselves are canned. SNS is moto's: the P1 path is observed on an
SQS queue subscribed to the alerts topic.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aurora_sync.config import parse_tables
from aurora_sync.events import parse_request, split_window
from aurora_sync.timeutil import iso
from tests.support.stepfunctions import FunctionError, Outcome, Result, StepFunctionsStack
from tests.support.terraform import ASL_VARS, ENVS_DIR, REPO, terraform_bin, terraform_view

TABLES_FILE = ENVS_DIR / "dev" / "tables.json"
TABLES = parse_tables(TABLES_FILE.read_text(), "tables.json")
MAX_RANGE = timedelta(hours=168)
EXPORTER = ASL_VARS["exporter_function_arn"]
RECONCILER = ASL_VARS["reconciler_function_arn"]
TOPIC_NAME = ASL_VARS["alert_topic_arn"].rsplit(":", 1)[1]
ASL_VALIDATOR = REPO / "tests/infra/asl/node_modules/.bin/asl-validator"
TASK_TIMEOUT_S = int(ASL_VARS["export_task_timeout_seconds"])
# The window an incremental item resolves to when split (the real exporter reads FINAL and Aurora).
INCREMENTAL_WINDOW = (datetime(2026, 11, 20, 5, tzinfo=UTC), datetime(2026, 11, 20, 6, tzinfo=UTC))

pytestmark = pytest.mark.skipif(terraform_bin() is None, reason="terraform is not installed here")


@pytest.fixture(scope="module")
def definition() -> str:
    return str(terraform_view(TABLES_FILE)["state_machine"])


def test_definition_is_valid_asl(definition: str, tmp_path: Path) -> None:
    """GIVEN the state machine as Terraform renders it WHEN asl-validator checks it THEN it is valid."""
    assert ASL_VALIDATOR.exists(), f"{ASL_VALIDATOR} missing: run `make venv` (scripts/bootstrap_infra.sh)"
    path = tmp_path / "sync.asl.json"
    path.write_text(definition)
    result = subprocess.run(
        [str(ASL_VALIDATOR), "--json-path", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------------------------------
# The scripted exporter and reconciler
# --------------------------------------------------------------------------------------------------

ExportScript = Callable[[dict[str, Any], int], Outcome | None]
"""(export item, attempt number from 1) -> an outcome, or None for the canned success."""


def exported(item: dict[str, Any]) -> dict[str, Any]:
    """The canned exporter result of one item."""
    key = "-".join(str(item.get(k, "")) for k in ("table", "start", "end"))
    return {
        "run_id": f"run-{key}",
        "tables": [
            {
                "table": item["table"],
                "status": "exported",
                "rows": 10,
                "files": 1,
                "lower": item.get("start"),
                "upper": item.get("end"),
                "export_id": f"export-{key}",
                "manifest": f"_manifests/{item['table']}/run-{key}.json",
            }
        ],
        "remaining": [],
    }


@dataclass
class Pipeline:
    """Answers the exporter's and reconciler's invocations; records what it was sent."""

    export: ExportScript = lambda item, attempt: None  # default: every export succeeds
    incremental_window: tuple[datetime, datetime] = INCREMENTAL_WINDOW
    reconcile: Outcome = field(default_factory=lambda: Result({"status": "ok", "checks": []}))
    attempts: Counter[str] = field(default_factory=Counter)
    exports: list[dict[str, Any]] = field(default_factory=list)
    reconciles: list[Any] = field(default_factory=list)
    plans: list[Any] = field(default_factory=list)
    splits: list[Any] = field(default_factory=list)
    script_errors: list[BaseException] = field(default_factory=list)

    def __call__(self, function: str, payload: Any) -> Outcome:
        try:
            if function == RECONCILER:
                self.reconciles.append(payload)
                return self.reconcile
            assert function == EXPORTER, function
            action = payload.get("action") if isinstance(payload, dict) else None
            return {"plan": self._plan, "split": self._split}.get(action, self._export)(payload)
        except Exception as exc:  # surfaced by the test, never mistaken for exporter behaviour
            self.script_errors.append(exc)
            return FunctionError("ScriptError", repr(exc))

    def _plan(self, payload: Any) -> Outcome:
        self.plans.append(payload)
        try:
            request = parse_request(payload, TABLES, MAX_RANGE)
        except Exception as exc:  # what the real exporter raises for a bad payload
            return FunctionError(type(exc).__name__, str(exc))
        return Result({"run_id": "plan", "items": [w.item() for w in request.windows]})

    def _split(self, payload: Any) -> Outcome:
        self.splits.append(payload)
        request = parse_request(payload, TABLES, MAX_RANGE)
        (window,) = request.windows
        start, end = (window.start, window.end) if window.start and window.end else self.incremental_window
        return Result({"items": [w.item() for w in split_window(window.table, start, end, request.parts)]})

    def _export(self, payload: Any) -> Outcome:
        request = parse_request(payload, TABLES, MAX_RANGE)
        assert request.action is None and len(request.windows) == 1, payload
        assert request.windows[0].item() == payload, "a Step Functions item is exactly one window"
        self.exports.append(payload)
        key = json.dumps(payload, sort_keys=True)
        self.attempts[key] += 1
        return self.export(payload, self.attempts[key]) or Result(exported(payload))

    def attempts_of(self, item: dict[str, Any]) -> int:
        return self.attempts[json.dumps(item, sort_keys=True)]


@dataclass
class Execution:
    status: str
    error: str | None
    history: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    pipeline: Pipeline


@pytest.fixture(scope="module")
def stack() -> Iterator[StepFunctionsStack]:
    with StepFunctionsStack() as started:
        yield started


@pytest.fixture
def run(stack: StepFunctionsStack, definition: str) -> Callable[[Pipeline, dict[str, Any]], Execution]:
    """Deploy the rendered definition on a fresh moto, execute it with `execution_input`, collect
    the outcome, the history and the alerts published to the topic."""

    def execute(pipeline: Pipeline, execution_input: dict[str, Any]) -> Execution:
        stack.reset(pipeline)
        sns, sqs, sfn = stack.client("sns"), stack.client("sqs"), stack.client("stepfunctions")
        topic = sns.create_topic(Name=TOPIC_NAME)["TopicArn"]
        assert topic == ASL_VARS["alert_topic_arn"]
        queue = sqs.create_queue(QueueName="alerts-observer")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        machine = sfn.create_state_machine(
            name="aurora-snowflake-sync-test-sync", definition=definition,
            roleArn="arn:aws:iam::123456789012:role/sync-sfn",
        )["stateMachineArn"]  # fmt: skip
        arn = sfn.start_execution(stateMachineArn=machine, name="exec-1", input=json.dumps(execution_input))[
            "executionArn"
        ]
        deadline = time.monotonic() + 90
        while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline, "execution still running after 90 s"
            time.sleep(0.2)
        history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        assert not pipeline.script_errors, pipeline.script_errors
        return Execution(
            described["status"], described.get("error"), history,
            [json.loads(m["Body"]) for m in messages], pipeline,
        )  # fmt: skip

    return execute


def items(table: str, start: str, end: str, minutes: int) -> list[dict[str, str]]:
    step = timedelta(minutes=minutes)
    a, b = datetime.fromisoformat(start), datetime.fromisoformat(end)
    out = []
    while a < b:
        out.append({"table": table, "start": iso(a), "end": iso(min(a + step, b))})
        a += step
    return out


def entered(history: list[dict[str, Any]]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]


def p1_alert(execution: Execution) -> dict[str, Any]:
    """The one alert published, checked for the routing attributes the pager filter uses."""
    assert len(execution.alerts) == 1, execution.alerts
    (envelope,) = execution.alerts
    attributes = {k: v["Value"] for k, v in envelope["MessageAttributes"].items()}
    assert attributes == {"severity": "P1", "check": "sync_execution", "table": "*"}
    body: dict[str, Any] = json.loads(envelope["Message"])
    assert (
        body["severity"] == "P1" and body["run_id"] == "exec-1" and body["runbook"] == ASL_VARS["runbook_url"]
    )
    assert {"summary", "details", "dedup_key", "check", "table"} <= set(body)
    return body


# --------------------------------------------------------------------------------------------------
# Executions
# --------------------------------------------------------------------------------------------------


def test_scheduled_run_exports_every_table_then_reconciles(run: Callable[..., Execution]) -> None:
    """GIVEN the hourly schedule's input {}
    WHEN the state machine runs
    THEN it plans one incremental item per table, exports each once, hands every result to the
    reconciler, publishes nothing and succeeds."""
    execution = run(Pipeline(), {})

    assert execution.status == "SUCCEEDED", execution.error
    assert execution.pipeline.plans == [{"action": "plan"}]
    assert sorted(e["table"] for e in execution.pipeline.exports) == sorted(TABLES.names)
    assert all(set(e) == {"table"} for e in execution.pipeline.exports)
    assert execution.pipeline.reconciles == [
        {"source": "sync", "exports": [exported({"table": t}) for t in TABLES.names]}
    ]
    assert execution.alerts == []
    assert entered(execution.history)[-2:] == ["AnyChunkFailed", "Done"]


def test_manual_range_is_exported_in_planned_chunks(run: Callable[..., Execution]) -> None:
    """GIVEN a manual time-range input with chunk_minutes
    WHEN the state machine runs
    THEN each chunk the exporter planned is exported exactly once, as one window."""
    manual = {"tables": ["public.orders"], "start": "2026-11-20T00:00:00Z", "end": "2026-11-20T03:00:00Z",
              "chunk_minutes": 60}  # fmt: skip
    execution = run(Pipeline(), manual)

    assert execution.status == "SUCCEEDED", execution.error
    assert execution.pipeline.plans == [manual | {"action": "plan"}]
    expected = items("public.orders", "2026-11-20T00:00:00+00:00", "2026-11-20T03:00:00+00:00", 60)
    assert sorted(execution.pipeline.exports, key=lambda i: i["start"]) == expected
    assert execution.pipeline.reconciles[0]["exports"] == [exported(i) for i in expected]


def test_transient_export_error_is_retried_then_succeeds(run: Callable[..., Execution]) -> None:
    """GIVEN the first export of public.orders fails with ExportRunRetryable
    WHEN the state machine runs
    THEN that chunk is retried (with backoff) and succeeds; the run succeeds without an alert."""

    def flaky(item: dict[str, Any], attempt: int) -> Outcome | None:
        if item["table"] == "public.orders" and attempt == 1:
            return FunctionError(
                "ExportRunRetryable", '{"tables": [{"status": "failed", "retryable": true}]}'
            )
        return None

    execution = run(Pipeline(export=flaky), {})

    assert execution.status == "SUCCEEDED", execution.error
    assert execution.pipeline.attempts_of({"table": "public.orders"}) == 2
    assert execution.pipeline.attempts_of({"table": "public.customers"}) == 1
    assert exported({"table": "public.orders"}) in execution.pipeline.reconciles[0]["exports"]
    assert execution.alerts == []


def test_lambda_service_errors_are_retried_too(run: Callable[..., Execution]) -> None:
    """GIVEN Lambda itself fails transiently (throttling) on the first export
    WHEN the state machine runs THEN the export is retried and the run succeeds."""

    def throttled(item: dict[str, Any], attempt: int) -> Outcome | None:
        return FunctionError("Lambda.TooManyRequestsException", "Rate exceeded") if attempt == 1 else None

    execution = run(Pipeline(export=throttled), {"tables": ["public.customers"]})

    assert execution.status == "SUCCEEDED", execution.error
    assert execution.pipeline.attempts_of({"table": "public.customers"}) == 2


@pytest.mark.parametrize("timeout", ["States.Timeout", "Sandbox.Timedout", "ExportRunTimedOut"])
def test_chunk_that_times_out_is_split_and_exported_in_parts(
    run: Callable[..., Execution], timeout: str
) -> None:
    """GIVEN a 2-hour chunk whose export times out (the Task's own TimeoutSeconds, the Lambda
    function's timeout as Lambda reports it, or the export statement's statement_timeout as the
    exporter reports it)
    WHEN the state machine runs
    THEN the exporter is asked to split exactly that chunk, each part is exported, the reconciler
    receives the parts' results and the run succeeds."""
    start, end = datetime(2026, 11, 20, 0, tzinfo=UTC), datetime(2026, 11, 20, 2, tzinfo=UTC)
    chunk = {"table": "public.orders", "start": iso(start), "end": iso(end)}

    def slow_big_chunk(item: dict[str, Any], attempt: int) -> Outcome | None:
        if item != chunk:
            return None
        if timeout == "States.Timeout":
            time.sleep(TASK_TIMEOUT_S + 1)  # the Task gives up first
            return None
        if timeout == "ExportRunTimedOut":
            return FunctionError(timeout, '{"tables": [{"status": "failed", "timed_out": true}]}')
        return FunctionError("Sandbox.Timedout", "Task timed out after 900.00 seconds")

    execution = run(
        Pipeline(export=slow_big_chunk),
        {"tables": ["public.orders"], "start": "2026-11-20T00:00:00Z", "end": "2026-11-20T02:00:00Z"},
    )

    assert execution.status == "SUCCEEDED", execution.error
    assert execution.pipeline.splits == [chunk | {"action": "split", "parts": int(ASL_VARS["split_parts"])}]
    parts = [p | {"split": True} for p in items("public.orders", "2026-11-20T00:00:00+00:00",
                                                 "2026-11-20T02:00:00+00:00", 60)]  # fmt: skip
    assert sorted((e for e in execution.pipeline.exports if e != chunk), key=lambda i: i["start"]) == parts
    assert execution.pipeline.reconciles[0]["exports"] == [exported(p) for p in parts]
    assert execution.alerts == []


def test_incremental_item_that_times_out_is_split_on_its_resolved_window(
    run: Callable[..., Execution],
) -> None:
    """GIVEN the incremental export of one table times out
    WHEN the state machine splits it THEN the split request is the item itself (the exporter resolves
    its window) and the parts cover that window."""

    def timeout_incremental(item: dict[str, Any], attempt: int) -> Outcome | None:
        return FunctionError("Sandbox.Timedout", "timed out") if "start" not in item else None

    execution = run(Pipeline(export=timeout_incremental), {"tables": ["public.customers"]})

    assert execution.status == "SUCCEEDED", execution.error
    assert execution.pipeline.splits == [{"table": "public.customers", "action": "split", "parts": 2}]
    start, end = INCREMENTAL_WINDOW
    middle = start + (end - start) / 2
    assert sorted((e for e in execution.pipeline.exports if "start" in e), key=lambda i: i["start"]) == [
        {"table": "public.customers", "start": iso(start), "end": iso(middle), "split": True},
        {"table": "public.customers", "start": iso(middle), "end": iso(end), "split": True},
    ]


def test_first_incremental_run_from_the_epoch_is_split_into_parts_the_exporter_accepts(
    run: Callable[..., Execution],
) -> None:
    """GIVEN a table's first incremental run (FINAL empty: its window starts at the epoch, 56 years
    wide) whose export times out
    WHEN the state machine splits it
    THEN every part, each far wider than MAX_RANGE_HOURS, is accepted by the exporter's own parser
    and exported, and the run succeeds (before the fix each part was refused as too wide)."""
    epoch_window = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2026, 11, 20, 6, tzinfo=UTC))

    def first_run_times_out(item: dict[str, Any], attempt: int) -> Outcome | None:
        return FunctionError("Sandbox.Timedout", "timed out") if "start" not in item else None

    execution = run(Pipeline(export=first_run_times_out, incremental_window=epoch_window),
                    {"tables": ["public.orders"]})  # fmt: skip

    assert execution.status == "SUCCEEDED", execution.error
    parts = [e for e in execution.pipeline.exports if "start" in e]
    assert len(parts) == int(ASL_VARS["split_parts"]) and all(e["split"] is True for e in parts)
    assert min(e["start"] for e in parts) == iso(epoch_window[0])
    assert max(e["end"] for e in parts) == iso(epoch_window[1])


def test_part_that_times_out_again_fails_loudly(run: Callable[..., Execution]) -> None:
    """GIVEN a chunk that times out, and one of its parts times out as well
    WHEN the state machine runs
    THEN there is no second split: the other table is still exported and reconciled, then a P1
    names the failed chunk and the execution fails."""

    def always_times_out(item: dict[str, Any], attempt: int) -> Outcome | None:
        if item["table"] == "public.orders" and item.get("start") in (iso(INCREMENTAL_WINDOW[0]), None):
            return FunctionError("Sandbox.Timedout", "timed out")
        return None

    execution = run(Pipeline(export=always_times_out), {"tables": ["public.orders", "public.customers"]})

    assert execution.status == "FAILED" and execution.error == "SyncFailed"
    assert len(execution.pipeline.splits) == 1
    assert execution.pipeline.reconciles[0]["exports"] == [exported({"table": "public.customers"})]
    body = p1_alert(execution)
    (failure,) = body["details"]["failed_chunks"]
    assert failure["item"] == {"table": "public.orders"}
    assert failure["error"]["Error"] == "Sandbox.Timedout"


def test_terminal_export_failure_is_not_retried_and_pages_p1(run: Callable[..., Execution]) -> None:
    """GIVEN public.orders fails terminally (ExportRunFailed)
    WHEN the state machine runs
    THEN that chunk is not retried, the other table is exported and reconciled, a P1 with the
    failed chunk and its error goes to the alerts topic and the execution fails."""

    def broken(item: dict[str, Any], attempt: int) -> Outcome | None:
        if item["table"] == "public.orders":
            return FunctionError(
                "ExportRunFailed", '{"tables": [{"table": "public.orders", "status": "failed"}]}'
            )
        return None

    execution = run(Pipeline(export=broken), {})

    assert execution.status == "FAILED" and execution.error == "SyncFailed"
    assert execution.pipeline.attempts_of({"table": "public.orders"}) == 1
    assert execution.pipeline.reconciles == [
        {"source": "sync", "exports": [exported({"table": "public.customers"})]}
    ]
    body = p1_alert(execution)
    assert "export stage" in body["summary"] and body["dedup_key"] == "sync_execution:export"
    (failure,) = body["details"]["failed_chunks"]
    assert failure["item"] == {"table": "public.orders"}
    assert failure["error"]["Error"] == "ExportRunFailed"
    assert entered(execution.history)[-3:] == ["BuildAlert", "NotifyP1", "Failed"]


def test_transient_errors_that_persist_fail_after_bounded_retries(run: Callable[..., Execution]) -> None:
    """GIVEN an export that keeps failing transiently WHEN retries run out THEN the chunk fails with a
    P1 (the reconciler still runs, with no exports of this run)."""
    execution = run(Pipeline(export=lambda item, attempt: FunctionError("ExportRunRetryable", "db down")),
                    {"tables": ["public.customers"]})  # fmt: skip

    assert execution.status == "FAILED"
    assert execution.pipeline.attempts_of({"table": "public.customers"}) == 1 + int(
        ASL_VARS["retry_max_attempts"]
    )
    assert p1_alert(execution)["details"]["failed_chunks"][0]["error"]["Error"] == "ExportRunRetryable"


def test_reconciler_that_cannot_run_pages_p1(run: Callable[..., Execution]) -> None:
    """GIVEN exports succeed but the reconciler raises (it cannot run at all)
    WHEN the state machine runs THEN a P1 names the reconcile stage and the execution fails."""
    execution = run(Pipeline(reconcile=FunctionError("ReconcilerError", "Snowflake unreachable")), {})

    assert execution.status == "FAILED" and execution.error == "SyncFailed"
    body = p1_alert(execution)
    assert "reconcile stage" in body["summary"]
    assert body["details"]["error"]["Error"] == "ReconcilerError"


def test_rejected_manual_input_pages_p1_before_any_export(run: Callable[..., Execution]) -> None:
    """GIVEN a manual input naming an unknown table WHEN the exporter's plan rejects it
    THEN nothing is exported or reconciled, a P1 names the plan stage, the execution fails."""
    execution = run(Pipeline(), {"tables": ["public.nope"]})

    assert execution.status == "FAILED"
    assert execution.pipeline.exports == [] and execution.pipeline.reconciles == []
    body = p1_alert(execution)
    assert "plan stage" in body["summary"]
    assert body["details"]["request"] == {"tables": ["public.nope"]}
