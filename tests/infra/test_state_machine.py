"""The sync state machine (terraform/modules/aws_orchestration/state_machine.asl.json), rendered by
Terraform (aws_orchestration/render), validated by asl-validator and executed for real on moto's Step
Functions interpreter; and the path that pages for an execution that did not succeed (an EventBridge
rule to the reconciler, which pages through its alert router), on the same moto.

moto cannot run Lambda code, so Lambda invocations are answered by a script (tests/support/
stepfunctions.py) that returns results or raises function errors exactly as the Lambda API reports
them. The script parses `plan`, `split` and every export item with the exporter's own payload parser
(aurora_sync.exporter.payloads.parse_request), so the payloads the state machine builds are the ones the
exporter accepts; export results themselves are canned. moto enforces Step Functions' 256 KiB limit
on state input and task output (States.DataLimitExceeded), and every test also measures the largest
state in the execution history.
"""

from __future__ import annotations

import json
import math
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aurora_sync import aws
from aurora_sync.exporter.payloads import Attempt, parse_request, split_window, unwrap_attempt
from aurora_sync.tables import parse_tables
from aurora_sync.timeutil import iso
from tests.support.lambda_context import LambdaContext
from tests.support.stepfunctions import FunctionError, Outcome, Result, StepFunctionsStack
from tests.support.terraform import (
    ENVS_DIR,
    MODULES_DIR,
    ORCHESTRATION,
    REPO,
    STATE_MACHINE_NAME,
    TerraformError,
    hcl_load,
    one,
    terraform_bin,
    terraform_view,
)

TABLES_FILE = ENVS_DIR / "dev" / "tables.json"
TABLES = parse_tables(TABLES_FILE.read_text(), "tables.json")
MAX_RANGE = timedelta(hours=168)
EXPORTER = ORCHESTRATION["exporter_function_arn"]
RECONCILER = ORCHESTRATION["reconciler_function_arn"]
SPLIT_PARTS = ORCHESTRATION["split_parts"]
ALERT_TOPIC = "arn:aws:sns:us-east-1:123456789012:aurora-snowflake-sync-alerts"
ALERT_STATE_TABLE = "aurora-snowflake-sync-alert-state"
ASL_VALIDATOR = REPO / "tests/infra/asl/node_modules/.bin/asl-validator"
TASK_TIMEOUT_S = ORCHESTRATION["export_task_timeout_seconds"]
# The window an incremental item resolves to when split (the real exporter reads FINAL and Aurora).
INCREMENTAL_WINDOW = (datetime(2026, 11, 20, 5, tzinfo=UTC), datetime(2026, 11, 20, 6, tzinfo=UTC))
# Step Functions' limit on a state's input or output (and a task's result): 256 KiB of UTF-8.
STATE_LIMIT_BYTES = 256 * 1024
# Execution history quota of a Standard workflow (an INLINE Map's iterations count in it).
HISTORY_EVENTS_LIMIT = 25_000

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
    """The canned exporter result of one item (a whole result, as the exporter returns it)."""
    key = "-".join(str(item.get(k, "")) for k in ("table", "start", "end"))
    if "refresh" in item:  # a full refresh's key range: one run per range
        key += f"-range{item['refresh']['index']}"
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


def trimmed(item: dict[str, Any]) -> dict[str, Any]:
    """What the state machine keeps of `exported(item)` and hands to the reconciler."""
    return {"run_id": exported(item)["run_id"], "tables": [item["table"]]}


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
    attempt_of: dict[str, list[Attempt]] = field(default_factory=dict)  # item (JSON) -> each attempt
    refresh_ranges: int = 4  # the key ranges a refresh plan returns
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
        if request.refresh is not None:  # a full refresh: the planned key ranges, as the exporter answers
            ranges = self.refresh_ranges
            refresh = {"id": REFRESH_ID, "table": request.refresh.refresh, "ranges": ranges, "done": 0}
            items = [
                {"table": request.refresh.refresh, "refresh": {"id": REFRESH_ID, "index": i, "of": ranges}}
                for i in range(ranges)
            ]
            return Result({"run_id": "plan", "items": items, "refresh": refresh})
        return Result({"run_id": "plan", "items": [w.item() for w in request.windows], "refresh": None})

    def _split(self, payload: Any) -> Outcome:
        self.splits.append(payload)
        request = parse_request(payload, TABLES, MAX_RANGE)
        (window,) = request.windows
        start, end = (window.start, window.end) if window.start and window.end else self.incremental_window
        return Result({"items": [w.item() for w in split_window(window.table, start, end, request.parts)]})

    def _export(self, wrapped: Any) -> Outcome:
        payload, attempt = unwrap_attempt(wrapped)
        assert attempt is not None, "every export step says which attempt it is"
        request = parse_request(payload, TABLES, MAX_RANGE)
        assert request.action is None and len(request.windows) == 1, payload
        assert request.windows[0].item() == payload, "a Step Functions item is exactly one window"
        self.exports.append(payload)
        key = json.dumps(payload, sort_keys=True)
        self.attempts[key] += 1
        self.attempt_of.setdefault(key, []).append(attempt)
        return self.export(payload, self.attempts[key]) or Result(exported(payload))

    def attempts_sent(self, item: dict[str, Any]) -> list[Attempt]:
        return self.attempt_of[json.dumps(item, sort_keys=True)]

    def attempts_of(self, item: dict[str, Any]) -> int:
        return self.attempts[json.dumps(item, sort_keys=True)]


@dataclass
class Execution:
    arn: str
    status: str
    error: str | None
    cause: Any
    history: list[dict[str, Any]]
    pipeline: Pipeline

    @property
    def summary(self) -> dict[str, Any]:
        """The Fail state's cause: the bounded summary the P1 is built from."""
        assert self.error == "SyncFailed" and isinstance(self.cause, dict), (self.error, self.cause)
        return self.cause

    def largest_state_bytes(self) -> int:
        """The largest input, output or task result any event of the history carries (UTF-8 bytes)."""
        sizes = [
            len(str(details[key]).encode())
            for event in self.history
            for name, details in event.items()
            if name.endswith("EventDetails") and isinstance(details, dict)
            for key in ("input", "output", "parameters")
            if key in details
        ]
        truncated = [e for e in self.history for d in e.values() if isinstance(d, dict) and _truncated(d)]
        assert not truncated, "the history truncated a payload: sizes would be under-measured"
        return max(sizes)


def _truncated(details: dict[str, Any]) -> bool:
    return any(
        isinstance(v, dict) and v.get("truncated") for k, v in details.items() if k.endswith("Details")
    )


@dataclass
class Deployment:
    """The rendered definition on a fresh moto, with the alerts topic (observed through a queue) and
    the alert-state table the reconciler pages with."""

    stack: StepFunctionsStack
    machine: str
    alerts_queue: str

    def execute(
        self, pipeline: Pipeline, execution_input: Any, name: str = "exec-1", wait_s: float = 90
    ) -> Execution:
        self.stack.lambdas.script = pipeline
        sfn = self.stack.client("stepfunctions")
        arn = sfn.start_execution(stateMachineArn=self.machine, name=name, input=json.dumps(execution_input))[
            "executionArn"
        ]
        deadline = time.monotonic() + wait_s
        while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline, f"execution still running after {wait_s} s"
            time.sleep(0.2)
        assert not pipeline.script_errors, pipeline.script_errors
        cause = described.get("cause")
        with_json = json.loads(cause) if cause and cause.startswith("{") else cause
        return Execution(
            arn, described["status"], described.get("error"), with_json, self.history(arn), pipeline
        )

    def history(self, arn: str) -> list[dict[str, Any]]:
        sfn = self.stack.client("stepfunctions")
        events: list[dict[str, Any]] = []
        token: dict[str, str] = {}
        while True:
            page = sfn.get_execution_history(executionArn=arn, maxResults=1000, **token)
            events += page["events"]
            if not page.get("nextToken"):
                return events
            token = {"nextToken": page["nextToken"]}

    def published(self) -> list[dict[str, Any]]:
        """Every message on the alerts topic since the last call (SNS envelopes)."""
        sqs = self.stack.client("sqs")
        messages = []
        while batch := sqs.receive_message(QueueUrl=self.alerts_queue, MaxNumberOfMessages=10).get(
            "Messages"
        ):
            messages += batch
            for m in batch:
                sqs.delete_message(QueueUrl=self.alerts_queue, ReceiptHandle=m["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in messages]


@pytest.fixture(scope="module")
def stack() -> Iterator[StepFunctionsStack]:
    with StepFunctionsStack() as started:
        yield started


@pytest.fixture
def deploy(stack: StepFunctionsStack, definition: str) -> Callable[[], Deployment]:
    def deployed() -> Deployment:
        stack.reset()
        sns, sqs, sfn = stack.client("sns"), stack.client("sqs"), stack.client("stepfunctions")
        topic = sns.create_topic(Name=ALERT_TOPIC.rsplit(":", 1)[1])["TopicArn"]
        queue = sqs.create_queue(QueueName="alerts-observer")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        stack.client("dynamodb").create_table(
            TableName=ALERT_STATE_TABLE, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "dedup_key", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "dedup_key", "AttributeType": "S"}],
        )  # fmt: skip
        machine = sfn.create_state_machine(
            name=STATE_MACHINE_NAME, definition=definition, roleArn="arn:aws:iam::123456789012:role/sync-sfn"
        )["stateMachineArn"]
        assert machine == ORCHESTRATION["state_machine_arn"]
        return Deployment(stack, machine, queue)

    return deployed


@pytest.fixture
def run(deploy: Callable[[], Deployment]) -> Callable[..., Execution]:
    """Execute the definition once on a fresh moto; the state machine itself publishes nothing."""

    def execute(pipeline: Pipeline, execution_input: Any, wait_s: float = 90) -> Execution:
        deployment = deploy()
        execution = deployment.execute(pipeline, execution_input, wait_s=wait_s)
        assert deployment.published() == [], "the state machine must not page by itself (no dedup there)"
        assert execution.largest_state_bytes() < STATE_LIMIT_BYTES
        return execution

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


# --------------------------------------------------------------------------------------------------
# Executions
# --------------------------------------------------------------------------------------------------


def test_scheduled_run_exports_every_table_then_reconciles(run: Callable[..., Execution]) -> None:
    """GIVEN the hourly schedule's input {}
    WHEN the state machine runs
    THEN it plans one incremental item per table, exports each once, hands every run (trimmed to its
    run id and tables) to the reconciler, and succeeds."""
    execution = run(Pipeline(), {})

    assert execution.status == "SUCCEEDED", execution.error
    assert execution.pipeline.plans == [{"action": "plan"}]
    assert sorted(e["table"] for e in execution.pipeline.exports) == sorted(TABLES.names)
    assert all(set(e) == {"table"} for e in execution.pipeline.exports)
    assert execution.pipeline.reconciles == [
        {"source": "sync", "exports": [trimmed({"table": t}) for t in TABLES.names]}
    ]
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
    assert execution.pipeline.reconciles[0]["exports"] == [trimmed(i) for i in expected]


def test_transient_export_error_is_retried_then_succeeds(run: Callable[..., Execution]) -> None:
    """GIVEN the first export of public.orders fails with ExportRunRetryable
    WHEN the state machine runs
    THEN that chunk is retried (with backoff) and succeeds; the run succeeds. Each attempt told the
    exporter it was retry 0, then 1, of the retrier's MaxAttempts ($$.State.RetryCount), so the
    first attempt's failure paged no one (the exporter defers it: tests/unit/exporter)."""

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
    retries = ORCHESTRATION["retry"]["max_attempts"]
    assert execution.pipeline.attempts_sent({"table": "public.orders"}) == [
        Attempt(retry=0, max_retries=retries, split_on_timeout=True),
        Attempt(retry=1, max_retries=retries, split_on_timeout=True),
    ]
    assert trimmed({"table": "public.orders"}) in execution.pipeline.reconciles[0]["exports"]


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
    receives the parts' runs and the run succeeds."""
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
    assert execution.pipeline.splits == [chunk | {"action": "split", "parts": SPLIT_PARTS}]
    parts = [p | {"split": True} for p in items("public.orders", "2026-11-20T00:00:00+00:00",
                                                 "2026-11-20T02:00:00+00:00", 60)]  # fmt: skip
    assert sorted((e for e in execution.pipeline.exports if e != chunk), key=lambda i: i["start"]) == parts
    assert execution.pipeline.reconciles[0]["exports"] == [trimmed(p) for p in parts]
    # The chunk's attempt told the exporter a timeout is split (not paged); the parts', that it is not.
    assert [a.split_on_timeout for a in execution.pipeline.attempts_sent(chunk)] == [True]
    assert {a.split_on_timeout for p in parts for a in execution.pipeline.attempts_sent(p)} == {False}


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
    assert len(parts) == SPLIT_PARTS and all(e["split"] is True for e in parts)
    assert min(e["start"] for e in parts) == iso(epoch_window[0])
    assert max(e["end"] for e in parts) == iso(epoch_window[1])


def test_part_that_times_out_again_fails_the_execution_with_the_chunk_to_rerun(
    run: Callable[..., Execution],
) -> None:
    """GIVEN a chunk that times out, and one of its parts times out as well
    WHEN the state machine runs
    THEN there is no second split: the other table is still exported and reconciled, then the
    execution fails, its cause naming the failed chunk (the item that re-runs it) and the error."""

    def always_times_out(item: dict[str, Any], attempt: int) -> Outcome | None:
        if item["table"] == "public.orders" and item.get("start") in (iso(INCREMENTAL_WINDOW[0]), None):
            return FunctionError("Sandbox.Timedout", "timed out")
        return None

    execution = run(Pipeline(export=always_times_out), {"tables": ["public.orders", "public.customers"]})

    assert execution.status == "FAILED"
    assert len(execution.pipeline.splits) == 1
    assert execution.pipeline.reconciles[0]["exports"] == [
        {"tables": []},
        trimmed({"table": "public.customers"}),
    ]
    assert execution.summary == {
        "stage": "export", "chunks": 2, "failed_chunks": 1,
        "first_failures": [{"rerun": {"table": "public.orders"}, "error": "Sandbox.Timedout"}],
    }  # fmt: skip


def test_terminal_export_failure_is_not_retried_and_fails_the_execution(
    run: Callable[..., Execution],
) -> None:
    """GIVEN public.orders fails terminally (ExportRunFailed)
    WHEN the state machine runs
    THEN that chunk is not retried, the other table is exported and reconciled, and the execution
    fails with the failed chunk in its cause (no message from the state machine itself: the
    EventBridge rule pages, below)."""

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
        {"source": "sync", "exports": [{"tables": []}, trimmed({"table": "public.customers"})]}
    ]
    assert execution.summary["first_failures"] == [
        {"rerun": {"table": "public.orders"}, "error": "ExportRunFailed"}
    ]
    assert entered(execution.history)[-3:] == ["AnyChunkFailed", "ChunksFailed", "Failed"]


def test_transient_errors_that_persist_fail_after_bounded_retries(run: Callable[..., Execution]) -> None:
    """GIVEN an export that keeps failing transiently WHEN retries run out THEN the chunk fails and
    so does the execution (the reconciler still runs). Only the last attempt was told no retry is
    left: that one pages (P2 `export`), beside the execution's P1."""
    execution = run(Pipeline(export=lambda item, attempt: FunctionError("ExportRunRetryable", "db down")),
                    {"tables": ["public.customers"]})  # fmt: skip

    assert execution.status == "FAILED"
    assert (
        execution.pipeline.attempts_of({"table": "public.customers"})
        == 1 + ORCHESTRATION["retry"]["max_attempts"]
    )
    assert execution.summary["first_failures"][0]["error"] == "ExportRunRetryable"
    assert len(execution.pipeline.reconciles) == 1
    sent = execution.pipeline.attempts_sent({"table": "public.customers"})
    assert [a.retry for a in sent] == list(range(1 + ORCHESTRATION["retry"]["max_attempts"]))
    assert [a.retries_left for a in sent] == [True] * ORCHESTRATION["retry"]["max_attempts"] + [False]


def test_reconciler_that_cannot_run_fails_the_execution(run: Callable[..., Execution]) -> None:
    """GIVEN exports succeed but the reconciler raises (it cannot run at all)
    WHEN the state machine runs THEN the execution fails naming the reconcile stage and its error."""
    execution = run(Pipeline(reconcile=FunctionError("ReconcilerError", "Snowflake unreachable")), {})

    assert execution.status == "FAILED"
    assert execution.summary["stage"] == "reconcile"
    assert execution.summary["error"]["Error"] == "ReconcilerError"


def test_rejected_manual_input_fails_before_any_export(run: Callable[..., Execution]) -> None:
    """GIVEN a manual input naming an unknown table WHEN the exporter's plan rejects it
    THEN nothing is exported or reconciled and the execution fails naming the plan stage."""
    execution = run(Pipeline(), {"tables": ["public.nope"]})

    assert execution.status == "FAILED"
    assert execution.pipeline.exports == [] and execution.pipeline.reconciles == []
    assert execution.summary["stage"] == "plan" and execution.summary["error"]["Error"] == "PayloadError"


# --------------------------------------------------------------------------------------------------
# At backfill scale: 256 KiB of state, whatever the number of chunks
# --------------------------------------------------------------------------------------------------


def backfill(chunks: int, minutes: int = 10) -> dict[str, Any]:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    end = start + timedelta(minutes=minutes * chunks)
    return {"tables": ["public.orders"], "start": iso(start), "end": iso(end), "chunk_minutes": minutes}


def test_thousand_chunk_backfill_stays_far_below_the_state_limit(run: Callable[..., Execution]) -> None:
    """GIVEN a manual backfill of 1,000 ten-minute chunks (the most one plan returns)
    WHEN the state machine runs it
    THEN every chunk is exported once, the reconciler gets all 1,000 runs, the run succeeds, and the
    largest state or task result in the history stays under 60 % of the 256 KiB limit (before this
    fix the Map's results alone took about 600 KB: States.DataLimitExceeded, which no Catch sees)."""
    execution = run(Pipeline(), backfill(1000), wait_s=600)

    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert len(execution.pipeline.exports) == 1000
    assert len(execution.pipeline.reconciles[0]["exports"]) == 1000
    largest = execution.largest_state_bytes()
    assert largest < 0.6 * STATE_LIMIT_BYTES, f"largest state {largest} bytes"
    assert len(execution.history) < HISTORY_EVENTS_LIMIT


REFRESH_ID = "20261202T030000Z"


def test_thousand_range_full_refresh_runs_every_range_once_far_below_the_state_limit(
    run: Callable[..., Execution],
) -> None:
    """GIVEN a full refresh the exporter plans in 1,000 key ranges (the most one plan returns)
    WHEN the state machine runs `{"refresh": "public.orders"}`
    THEN the Plan step sends the refresh request as it is, every range is exported once as its own
    item, the reconciler gets all 1,000 runs, the run succeeds, and the largest state stays under
    60 % of the 256 KiB limit (an item is {table, refresh: {id, index, of}}: the boundaries stay in
    the plan in S3)."""
    execution = run(Pipeline(refresh_ranges=1000), {"refresh": "public.orders"}, wait_s=600)

    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert execution.pipeline.plans == [{"action": "plan", "refresh": "public.orders"}]
    assert sorted(e["refresh"]["index"] for e in execution.pipeline.exports) == list(range(1000))
    assert len(execution.pipeline.reconciles[0]["exports"]) == 1000
    # AND the execution's output carries the refresh's plan beside each range's outcome
    [succeeded] = [e for e in execution.history if e["type"] == "ExecutionSucceeded"]
    output = json.loads(succeeded["executionSucceededEventDetails"]["output"])
    assert output["refresh"]["ranges"] == 1000 and len(output["chunks"]) == 1000
    largest = execution.largest_state_bytes()
    assert largest < 0.6 * STATE_LIMIT_BYTES, f"largest state {largest} bytes"
    assert len(execution.history) < HISTORY_EVENTS_LIMIT


def test_failed_chunks_with_whole_run_results_keep_state_and_summary_small(
    run: Callable[..., Execution],
) -> None:
    """GIVEN a 300-chunk backfill in which 25 chunks fail terminally, each Cause carrying a whole
    run result of about 16 KB (what the exporter's ExportRunFailed message is)
    WHEN the state machine runs it
    THEN the execution fails with a summary of a few KB: the counts, and the first 10 failed items
    (each the payload that re-runs its chunk) with their error names; no state comes near the
    limit (before, each failure kept its Cause: about 400 KB, States.DataLimitExceeded)."""
    run_result = json.dumps(
        {"tables": [{"table": "public.orders", "status": "failed", "error": "x" * 16_000}]}
    )
    chunks = items("public.orders", "2026-11-01T00:00:00+00:00", "2026-11-03T02:00:00+00:00", 10)
    failing = {json.dumps(i, sort_keys=True) for i in chunks[::12]}

    def big_failures(item: dict[str, Any], attempt: int) -> Outcome | None:
        return (
            FunctionError("ExportRunFailed", run_result)
            if json.dumps(item, sort_keys=True) in failing
            else None
        )

    execution = run(Pipeline(export=big_failures), backfill(300))

    assert len(failing) == 25 and execution.status == "FAILED"
    summary = execution.summary
    assert (summary["chunks"], summary["failed_chunks"], len(summary["first_failures"])) == (300, 25, 10)
    first = summary["first_failures"][0]
    assert first == {"rerun": {"table": "public.orders", "start": "2026-11-01T00:00:00.000000Z",
                               "end": "2026-11-01T00:10:00.000000Z"}, "error": "ExportRunFailed"}  # fmt: skip
    assert len(json.dumps(summary)) < 4096
    assert execution.largest_state_bytes() < 0.3 * STATE_LIMIT_BYTES


# --------------------------------------------------------------------------------------------------
# The execution timeout covers the worst case the definition allows
# --------------------------------------------------------------------------------------------------

LAMBDA_MAX_TIMEOUT_S = 900  # the function module refuses more (Lambda's maximum)


def task_worst_seconds(state: dict[str, Any]) -> float:
    """Every retrier used up, each attempt running to the task's TimeoutSeconds, plus the backoff
    (ASL defaults: MaxAttempts 3, IntervalSeconds 1, BackoffRate 2)."""
    retriers = state.get("Retry", [])
    attempts = 1 + sum(r.get("MaxAttempts", 3) for r in retriers)
    backoff = sum(
        r.get("IntervalSeconds", 1) * r.get("BackoffRate", 2.0) ** n
        for r in retriers
        for n in range(r.get("MaxAttempts", 3))
    )
    return attempts * state["TimeoutSeconds"] + backoff


def longest_seconds(states: dict[str, Any], name: str, map_items: dict[str, int]) -> float:
    """The longest path from state `name` to the end: tasks at their worst, waits, Maps in rounds of
    MaxConcurrency over `map_items[map name]` items, the worst of Next, every Catch and Choice."""
    state = states[name]
    own = 0.0
    if state["Type"] == "Task":
        own = task_worst_seconds(state)
    elif state["Type"] == "Wait":
        own = state["Seconds"]
    elif state["Type"] == "Map":
        processor = state["ItemProcessor"]
        rounds = math.ceil(map_items[name] / state["MaxConcurrency"])
        own = rounds * longest_seconds(processor["States"], processor["StartAt"], map_items)
    successors = [state.get("Next"), state.get("Default")]
    successors += [c["Next"] for c in state.get("Catch", []) + state.get("Choices", [])]
    return own + max((longest_seconds(states, n, map_items) for n in successors if n), default=0.0)


def worst_case_seconds(asl: dict[str, Any], table_count: int) -> float:
    """An hourly run: one item per table; a timed-out chunk splits into the parts its split action asks."""
    parts = asl["States"]["ExportChunks"]["ItemSelector"]["split_action"]["parts"]
    return longest_seconds(asl["States"], asl["StartAt"], {"ExportChunks": table_count, "ExportParts": parts})


def production_inputs() -> dict[str, Any]:
    """The render module's inputs as deployed with every default: aws_orchestration's variable
    defaults, this environment's table count, and both Lambdas at the longest timeout allowed."""
    defaults = {
        name: one(body["default"])
        for entry in hcl_load(MODULES_DIR / "aws_orchestration" / "variables.tf")["variable"]
        for name, body in entry.items()
        if "default" in body
    }
    keys = ("execution_timeout_seconds", "max_concurrency", "split_parts", "split_concurrency", "retry",
            "ingestion_wait_seconds")  # fmt: skip
    return (
        ORCHESTRATION
        | {k: defaults[k] for k in keys}
        | {
            "table_count": len(TABLES.names),
            "export_task_timeout_seconds": LAMBDA_MAX_TIMEOUT_S + 60,
            "reconcile_task_timeout_seconds": LAMBDA_MAX_TIMEOUT_S + 60,
        }
    )


def test_default_execution_timeout_covers_the_worst_case_of_an_hourly_run() -> None:
    """GIVEN the definition rendered with the production defaults (both Lambdas at 900 s)
    WHEN its worst case is computed from the ASL itself (each task's attempts x TimeoutSeconds plus
    backoff; export, split, then the parts in rounds; wait; reconcile)
    THEN the execution's TimeoutSeconds is at least that (before: 3300 s against about 5.9 h), and the
    render module's own figure, which its plan-time check uses, is the same number."""
    inputs = production_inputs()
    view = terraform_view(TABLES_FILE, inputs)
    asl = json.loads(view["state_machine"])

    worst = worst_case_seconds(asl, inputs["table_count"])
    assert asl["TimeoutSeconds"] == inputs["execution_timeout_seconds"]
    assert asl["TimeoutSeconds"] >= worst, f"TimeoutSeconds {asl['TimeoutSeconds']} < worst case {worst}"
    assert view["state_machine_worst_case_seconds"] == math.ceil(worst)


def test_test_definition_agrees_with_its_worst_case_too() -> None:
    """GIVEN the tiny timeouts the moto executions use WHEN compared THEN the ASL walk and the render
    module agree there as well (the formula is not tuned to one set of numbers)."""
    view = terraform_view(TABLES_FILE)
    asl = json.loads(view["state_machine"])
    assert view["state_machine_worst_case_seconds"] == math.ceil(
        worst_case_seconds(asl, ORCHESTRATION["table_count"])
    )


def test_plan_refuses_an_execution_timeout_below_the_worst_case() -> None:
    """GIVEN more tables than chunks run at once (two Map rounds) and the default timeout
    WHEN Terraform evaluates the definition THEN it refuses, naming both numbers."""
    defaults = production_inputs()
    inputs = defaults | {"table_count": defaults["max_concurrency"] + 1}
    with pytest.raises(TerraformError, match="is below the worst case of an hourly run"):
        terraform_view(TABLES_FILE, inputs)


# --------------------------------------------------------------------------------------------------
# Paging: the status change (EventBridge) -> the reconciler -> its alert router (DynamoDB, SNS)
# --------------------------------------------------------------------------------------------------

SAMPLE_EVENT = json.loads((REPO / "events/reconciler/sync-execution-failed.json").read_text())


def status_event(execution_arn: str, status: str, state_machine_arn: str = "") -> dict[str, Any]:
    """EventBridge's event for an execution of this state machine, shaped like events/reconciler's sample."""
    name = execution_arn.rsplit(":", 1)[1]
    machine = state_machine_arn or ORCHESTRATION["state_machine_arn"]
    detail = SAMPLE_EVENT["detail"] | {"executionArn": execution_arn, "stateMachineArn": machine,
                                       "name": name, "status": status}  # fmt: skip
    return SAMPLE_EVENT | {"resources": [execution_arn], "detail": detail}


def test_status_change_rule_matches_every_ending_that_pages_or_resolves(
    deploy: Callable[[], Deployment],
) -> None:
    """GIVEN the rule's event pattern as Terraform renders it, on moto's EventBridge with a queue target
    WHEN Step Functions-shaped events are put on the bus
    THEN FAILED, TIMED_OUT, ABORTED and SUCCEEDED of this state machine are delivered; RUNNING, and
    another state machine's failure, are not."""
    deployment = deploy()
    events, sqs = deployment.stack.client("events"), deployment.stack.client("sqs")
    queue = sqs.create_queue(QueueName="status-changes")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="sync-status", EventPattern=terraform_view(TABLES_FILE)["status_change_pattern"])
    events.put_targets(Rule="sync-status", Targets=[{"Id": "reconciler", "Arn": queue_arn}])
    execution = f"arn:aws:states:us-east-1:123456789012:execution:{STATE_MACHINE_NAME}:run"
    other = "arn:aws:states:us-east-1:123456789012:stateMachine:someone-else"
    statuses = ["FAILED", "TIMED_OUT", "ABORTED", "SUCCEEDED", "RUNNING"]
    sample = [status_event(f"{execution}-{s}", s) for s in statuses] + [
        status_event(f"{execution}-x", "FAILED", other)
    ]

    entries = [{"Source": e["source"], "DetailType": e["detail-type"], "Detail": json.dumps(e["detail"]),
                "Resources": e["resources"]} for e in sample]  # fmt: skip
    assert events.put_events(Entries=entries)["FailedEntryCount"] == 0

    delivered = []
    while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
        "Messages"
    ):
        delivered += [json.loads(m["Body"])["detail"] for m in batch]
        sqs.delete_message_batch(QueueUrl=queue, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                          for i, m in enumerate(batch)])  # fmt: skip
    assert sorted(d["status"] for d in delivered) == ["ABORTED", "FAILED", "SUCCEEDED", "TIMED_OUT"]
    assert {d["stateMachineArn"] for d in delivered} == {ORCHESTRATION["state_machine_arn"]}


@pytest.fixture
def reconciler_env(stack: StepFunctionsStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The reconciler's deploy contract pointed at this moto (the status-change path touches no
    database, Vault or Snowflake: their settings only have to be valid)."""
    env = stack.moto.env | {
        "ALERT_TOPIC_ARN": ALERT_TOPIC, "ALERT_STATE_TABLE": ALERT_STATE_TABLE, "EXPORT_BUCKET": "unused",
        "RUNBOOK_URL": "https://git.example/aurora-snowflake-sync/blob/main/docs/runbook.md",
        "DB_HOST": "aurora.invalid", "DB_NAME": "app", "DB_SSL": "false",
        "VAULT_ADDR": "https://vault.invalid", "SNOWFLAKE_ACCOUNT": "org-acct", "SNOWFLAKE_DATABASE": "SYNC",
        "POWERTOOLS_METRICS_NAMESPACE": "AuroraSnowflakeSync",
        "POWERTOOLS_SERVICE_NAME": "aurora-snowflake-sync",
    }  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    aws.client.cache_clear()  # clients are cached per cold start; this "cold start" talks to this moto
    yield
    aws.client.cache_clear()


def reconcile(event: dict[str, Any]) -> Any:
    from reconciler.handler import handler

    return handler(event, LambdaContext())


def test_failed_execution_pages_once_through_the_reconciler_and_resolves_on_success(
    deploy: Callable[[], Deployment], reconciler_env: None
) -> None:
    """GIVEN an execution on moto that failed (25 of 300 chunks, each with a 16 KB cause)
    WHEN EventBridge hands its FAILED status change to the reconciler's handler
    THEN one P1 goes to the alerts topic, under SNS's 256 KiB, with the counts and the first failed
    chunks to re-run, keyed per state machine and status; the next hour's failure does not page
    again (the alert router's state in DynamoDB); the next execution that succeeds sends one resolve."""
    deployment = deploy()
    run_result = json.dumps(
        {"tables": [{"table": "public.orders", "status": "failed", "error": "x" * 16_000}]}
    )

    def every_twelfth_fails(item: dict[str, Any], attempt: int) -> Outcome | None:
        minute = datetime.fromisoformat(item["start"]).timestamp() // 600
        return FunctionError("ExportRunFailed", run_result) if minute % 12 == 0 else None

    failed = deployment.execute(Pipeline(export=every_twelfth_fails), backfill(300), name="backfill-1")
    assert failed.status == "FAILED"

    outcome = reconcile(status_event(failed.arn, "FAILED"))

    assert outcome["decision"] == "notified"
    (envelope,) = deployment.published()
    assert len(envelope["Message"].encode()) < 256 * 1024
    assert {k: v["Value"] for k, v in envelope["MessageAttributes"].items()} == {
        "severity": "P1", "check": "sync_failed", "table": STATE_MACHINE_NAME}  # fmt: skip
    body = json.loads(envelope["Message"])
    assert body["dedup_key"] == f"sync_failed:{STATE_MACHINE_NAME}" and body["run_id"] == "backfill-1"
    assert body["summary"] == "sync execution backfill-1 failed at the export stage: 25 of 300 chunks failed"
    (first_chunk,) = items("public.orders", "2026-11-01T00:00:00+00:00", "2026-11-01T00:10:00+00:00", 10)
    assert body["details"]["first_failures"][0]["rerun"] == first_chunk
    assert len(body["details"]["first_failures"]) == 10 and body["runbook"].endswith("#sync-execution-failed")

    again = deployment.execute(Pipeline(export=every_twelfth_fails), backfill(300), name="backfill-2")
    assert reconcile(status_event(again.arn, "FAILED"))["decision"] == "suppressed"
    assert deployment.published() == []

    fixed = deployment.execute(Pipeline(), {}, name="hourly-3")
    assert fixed.status == "SUCCEEDED"
    assert reconcile(status_event(fixed.arn, "SUCCEEDED"))["resolved"] == ["sync_failed"]
    (resolve,) = deployment.published()
    assert json.loads(resolve["Message"])["status"] == "resolved"
