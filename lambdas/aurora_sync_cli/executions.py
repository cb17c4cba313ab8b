"""The sync state machine as the CLI drives it (terraform/modules/aws_orchestration/state_machine.asl.json).

Step Functions API facts relied on (API reference: StartExecution, DescribeExecution,
GetExecutionHistory, HistoryEvent, StateExitedEventDetails):
- StartExecution is idempotent for STANDARD workflows by `name`: the same name and input as an open
  execution returns that execution (200); a different input, or a closed execution of that name,
  is `ExecutionAlreadyExists`. Names are unique per account, region and state machine for 90 days;
  at most 80 characters, none of whitespace, < > { } [ ] ? * " # % \\ ^ | ~ ` $ & , ; : /.
  So a retried call (botocore retries a request whose answer was lost) never starts a second run.
- DescribeExecution: `status` RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED | PENDING_REDRIVE,
  `input`, `output` (succeeded), `error` and `cause` (failed); eventually consistent.
- GetExecutionHistory: events oldest first, or newest first with `reverseOrder`; `maxResults` up to
  1000, then `nextToken` (valid 24 hours). Event ids are sequential from 1, so reading newest first
  down to the last id already seen reads only what is new.
- DescribeMapRun only describes a Distributed Map; this Map is INLINE, so progress comes from the
  history: the Plan state's output holds the chunks (`chunks.items`), each Map iteration ends in
  ChunkExported, PartsExported or ChunkFailed (its output holds `failure.rerun`), and each Lambda
  TaskSucceeded event's `output` is the Invoke response, whose `Payload` is the exporter's result
  (`tables[].rows`, `remaining`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from aurora_sync.adapters.aws_errors import classify, error_code

OPEN = "RUNNING"
HISTORY_PAGE = 500
NAME_LIMIT = 80
_NOT_IN_NAMES = re.compile(r"[^A-Za-z0-9._-]")

# Top-level states and what the progress line calls them.
STAGES = {
    "Prepare": "planning",
    "Plan": "planning",
    "Planned": "planning",
    "ExportChunks": "exporting",
    "WaitForIngestion": "waiting for Snowpipe",
    "Summarize": "reconciling",
    "Reconcile": "reconciling",
    "ChunksFailed": "failing",
    "Failed": "failing",
    "Done": "done",
}
CHUNK_DONE = ("ChunkExported", "PartsExported")
CHUNK_FAILED = "ChunkFailed"


def execution_name(kind: str, table: str, *parts: str) -> str:
    """A deterministic execution name (the idempotency key): readable when it fits 80 characters,
    else the table is shortened and a digest of the whole keeps it unique."""
    wanted = "-".join((kind, table, *parts))
    name = _NOT_IN_NAMES.sub("-", wanted)
    if len(name) <= NAME_LIMIT:
        return name
    digest = hashlib.sha256(wanted.encode()).hexdigest()[:12]
    tail = _NOT_IN_NAMES.sub("-", "-".join(parts))
    room = NAME_LIMIT - len(kind) - len(tail) - len(digest) - 3
    return f"{kind}-{_NOT_IN_NAMES.sub('-', table)[: max(room, 0)]}-{digest}-{tail}"[:NAME_LIMIT]


@dataclass(frozen=True)
class Started:
    arn: str
    existing: bool  # an execution of this name and input was already open: it is followed, not re-run


class ExecutionClosed(Exception):
    """An execution of this name already ran (names are unique for 90 days), or runs with another
    input."""

    def __init__(self, arn: str, status: str) -> None:
        super().__init__(f"execution {arn} already ran ({status})")
        self.arn = arn
        self.status = status


class SyncMachine:
    def __init__(self, sfn: Any, state_machine_arn: str) -> None:
        self._sfn = sfn
        self.arn = state_machine_arn

    def execution_arn(self, name: str) -> str:
        return self.arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"

    def start(self, name: str, payload: dict[str, Any]) -> Started:
        """Start `name` with `payload`, or find it open with the same input. Looked up first, so
        on-call hears that it was running already; StartExecution's idempotency covers the race."""
        arn = self.execution_arn(name)
        before = self._describe_if_exists(arn)
        if before is not None:
            return self._existing(arn, before, payload)
        body = json.dumps(payload, sort_keys=True)
        try:
            response = self._sfn.start_execution(stateMachineArn=self.arn, name=name, input=body)
            return Started(str(response["executionArn"]), existing=False)
        except ClientError as exc:
            if error_code(exc) != "ExecutionAlreadyExists":
                raise classify(exc, f"states:StartExecution {name}") from exc
        except BotoCoreError as exc:
            raise classify(exc, f"states:StartExecution {name}") from exc
        return self._existing(arn, self.describe(arn), payload)

    @staticmethod
    def _existing(arn: str, described: dict[str, Any], payload: dict[str, Any]) -> Started:
        if described["status"] == OPEN and json.loads(described.get("input") or "null") == payload:
            return Started(arn, existing=True)
        raise ExecutionClosed(arn, str(described["status"]))

    def _describe_if_exists(self, arn: str) -> dict[str, Any] | None:
        try:
            return dict(self._sfn.describe_execution(executionArn=arn))
        except ClientError as exc:
            if error_code(exc) == "ExecutionDoesNotExist":
                return None
            raise classify(exc, f"states:DescribeExecution {arn}") from exc
        except BotoCoreError as exc:
            raise classify(exc, f"states:DescribeExecution {arn}") from exc

    def running_inputs(self) -> list[tuple[str, Any]]:
        """(arn, input) of every open execution: ListExecutions (RUNNING), then DescribeExecution of
        each, since only that returns the input. Open executions are few (hourly runs, backfills)."""
        arns: list[str] = []
        kwargs: dict[str, Any] = {"stateMachineArn": self.arn, "statusFilter": OPEN}
        while True:
            try:
                page = self._sfn.list_executions(**kwargs)
            except (ClientError, BotoCoreError) as exc:
                raise classify(exc, f"states:ListExecutions {self.arn}") from exc
            arns += [str(e["executionArn"]) for e in page.get("executions", [])]
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        found = []
        for arn in arns:
            described = self.describe(arn)
            if described.get("status") == OPEN:
                found.append((arn, _json(described.get("input"))))
        return found

    def describe(self, arn: str) -> dict[str, Any]:
        try:
            return dict(self._sfn.describe_execution(executionArn=arn))
        except (ClientError, BotoCoreError) as exc:
            raise classify(exc, f"states:DescribeExecution {arn}") from exc

    def events_after(self, arn: str, last_id: int) -> list[dict[str, Any]]:
        """The history's events newer than `last_id`, oldest first. Asked newest first, the pages stop
        at the first event already seen; a server that ignores `reverseOrder` (moto does) is read to
        its end instead, which is slower but as correct."""
        found: dict[int, dict[str, Any]] = {}
        kwargs: dict[str, Any] = {"executionArn": arn, "reverseOrder": True, "maxResults": HISTORY_PAGE}
        while True:
            try:
                page = self._sfn.get_execution_history(**kwargs)
            except (ClientError, BotoCoreError) as exc:
                raise classify(exc, f"states:GetExecutionHistory {arn}") from exc
            ids = [int(event["id"]) for event in page.get("events", [])]
            found.update({i: e for i, e in zip(ids, page.get("events", []), strict=True) if i > last_id})
            newest_first = len(ids) > 1 and ids[0] > ids[-1]
            if not page.get("nextToken") or (newest_first and min(ids) <= last_id):
                return [found[i] for i in sorted(found)]
            kwargs["nextToken"] = page["nextToken"]


@dataclass(frozen=True)
class ChunkFailure:
    rerun: dict[str, Any]
    error: str


@dataclass
class RunProgress:
    """What an execution's history says so far; `apply` takes events oldest first, each once."""

    total: int | None = None
    done: int = 0
    rows: int = 0
    stage: str = "starting"
    failures: list[ChunkFailure] = field(default_factory=list)
    remaining: list[dict[str, Any]] = field(default_factory=list)
    exports: list[dict[str, Any]] = field(default_factory=list)  # the exporter's table results
    attempt_errors: list[str] = field(default_factory=list)  # failed attempts, retried ones included
    reconcile_status: str | None = None
    last_event_id: int = 0
    # A full refresh's plan (the Plan step's `refresh`): {id, ranges, done (before this execution),
    # rows_estimate, resumed}; None for other executions.
    refresh: dict[str, Any] | None = None

    def apply(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            if int(event["id"]) <= self.last_event_id:
                continue
            self.last_event_id = int(event["id"])
            kind = str(event.get("type", ""))
            if kind.endswith("StateEntered"):
                name = event.get("stateEnteredEventDetails", {}).get("name")
                self.stage = STAGES.get(str(name), self.stage)
            elif kind.endswith("StateExited"):
                details = event.get("stateExitedEventDetails", {})
                self._exited(str(details.get("name")), _json(details.get("output")))
            elif kind == "TaskSucceeded":
                self._task_result(_json(event.get("taskSucceededEventDetails", {}).get("output")))
            elif kind == "TaskFailed":
                self._task_failed(event.get("taskFailedEventDetails", {}))

    def _exited(self, name: str, output: Any) -> None:
        if not isinstance(output, dict):
            return
        if name == "Plan":
            items = (output.get("chunks") or {}).get("items")
            self.total = len(items) if isinstance(items, list) else self.total
        elif name in CHUNK_DONE:
            self.done += 1
        elif name == CHUNK_FAILED:
            self.done += 1
            failure = output.get("failure") or {}
            self.failures.append(ChunkFailure(failure.get("rerun") or {}, str(failure.get("error"))))
        elif name == "Reconcile":
            self.reconcile_status = (output.get("reconcile") or {}).get("status")

    def _task_result(self, response: Any) -> None:
        payload = response.get("Payload") if isinstance(response, dict) else None
        if not isinstance(payload, dict) or "checks" in payload:
            return  # not a Lambda's answer, or the reconciler's result
        if isinstance(payload.get("refresh"), dict):
            self.refresh = payload["refresh"]
        if not isinstance(payload.get("tables"), list):
            return  # a plan or a split: items
        for table in payload["tables"]:
            if isinstance(table, dict):
                self.exports.append(table)
                self.rows += int(table.get("rows") or 0)
        self.remaining += [r for r in payload.get("remaining") or [] if isinstance(r, dict)]

    def _task_failed(self, details: dict[str, Any]) -> None:
        cause = _json(details.get("cause"))
        message = _json(cause.get("errorMessage")) if isinstance(cause, dict) else None
        tables = message.get("tables") if isinstance(message, dict) else None
        if isinstance(tables, list):
            errors = [_named(t) for t in tables if isinstance(t, dict) and t.get("error")]
        else:
            errors = [f"{details.get('error')}: {str(details.get('cause') or '')[:300]}"]
        self.attempt_errors += [e for e in errors if e not in self.attempt_errors]


def _named(table: dict[str, Any]) -> str:
    error, name = str(table["error"]), str(table.get("table"))
    return error if error.startswith(name) else f"{name}: {error}"


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
