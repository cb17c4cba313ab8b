"""Pages for sync executions that did not succeed, from Step Functions' status-change events.

Step Functions sends "Step Functions Execution Status Change" events to EventBridge for Standard
workflows; a rule hands the sync state machine's FAILED, TIMED_OUT, ABORTED and SUCCEEDED ones to
the reconciler (docs/deploy.md). A Catch inside the state machine cannot see the execution's own
timeout, an abort, or States.DataLimitExceeded; this path sees every ending. It pages through the
AlertRouter: one open problem per state machine and status (dedup_key `sync_failed:<state machine>`),
sent again only when it gets worse or after RENOTIFY_MINUTES, resolved by the next execution that
succeeds. The state machine's Fail state puts a bounded summary (stage, counts, first failed
chunks) in the execution's cause, read here with DescribeExecution.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aurora_sync.alert_routing import AlertRouter
from aurora_sync.alerts import Alert, Severity
from aurora_sync.errors import PayloadError
from aurora_sync.timeutil import iso
from aurora_sync.validation import describe

DETAIL_TYPE = "Step Functions Execution Status Change"
RUNBOOK_ANCHOR = "sync-execution-failed"
# An abort is someone's StopExecution: it pages (P2), but it is not the pipeline failing by itself.
SEVERITY = {"FAILED": Severity.P1, "TIMED_OUT": Severity.P1, "ABORTED": Severity.P2}
CHECKS = tuple(f"sync_{status.lower()}" for status in SEVERITY)
# A cause or input that is not the state machine's own summary is kept to this many characters.
MAX_TEXT_CHARS = 4000

Describe = Callable[[str], Mapping[str, Any]]


class StatusChange(BaseModel):
    """The `detail` of the event (only the fields used here)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    execution_arn: str = Field(alias="executionArn", min_length=1)
    state_machine_arn: str = Field(alias="stateMachineArn", min_length=1)
    name: str = Field(min_length=1)
    status: str = Field(min_length=1)
    start_date: int | None = Field(default=None, alias="startDate")
    stop_date: int | None = Field(default=None, alias="stopDate")

    @property
    def state_machine(self) -> str:
        return self.state_machine_arn.rsplit(":", 1)[-1]


def is_status_change(event: object) -> bool:
    if not isinstance(event, dict):
        return False
    return event.get("source") == "aws.states" and event.get("detail-type") == DETAIL_TYPE


def parse_status_change(event: Mapping[str, Any]) -> StatusChange:
    try:
        return StatusChange.model_validate(event.get("detail"))
    except ValidationError as exc:
        field, problems = describe(exc, prefix="detail")
        raise PayloadError(field, problems) from None


def handle_status_change(
    event: Mapping[str, Any], router: AlertRouter, describe_execution: Describe
) -> dict[str, Any]:
    """Page (or resolve) for one status change; returns what was done, for the result and the log."""
    change = parse_status_change(event)
    if change.status == "SUCCEEDED":
        evidence = f"execution {change.name} succeeded"
        resolved = [c for c in CHECKS if router.resolve(c, change.state_machine, change.name, evidence)]
        return {"execution": change.name, "status": change.status, "resolved": resolved}
    if change.status not in SEVERITY:
        return {"execution": change.name, "status": change.status, "ignored": True}
    alert = execution_alert(change, _described(describe_execution, change.execution_arn))
    return {"execution": change.name, "status": change.status, "decision": router.raise_alert(alert)}


def _described(describe_execution: Describe, arn: str) -> Mapping[str, Any]:
    """DescribeExecution's error, cause and input; when it fails, the page still goes out without them."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return describe_execution(arn)
    except (BotoCoreError, ClientError) as exc:
        return {"describe_error": f"DescribeExecution failed: {exc}"}


def execution_alert(change: StatusChange, described: Mapping[str, Any]) -> Alert:
    """The alert for an execution that ended without succeeding: what ended, where, and what to re-run."""
    details: dict[str, Any] = {
        "execution_arn": change.execution_arn,
        "status": change.status,
        "started_at": _instant(change.start_date),
        "stopped_at": _instant(change.stop_date),
        "error": described.get("error"),
    }
    summary = _json_object(described.get("cause"))
    if summary is not None:  # the Fail state's summary: stage, counts, first failures (each a rerun)
        details.update(summary)
    elif described.get("cause"):
        details["cause"] = str(described["cause"])[:MAX_TEXT_CHARS]
    if "first_failures" not in details:  # nothing narrower to re-run than the execution's input
        text = described.get("input", "")
        parsed = _json_object(text)
        details["rerun"] = parsed if parsed is not None else str(text)[:MAX_TEXT_CHARS]
    if "describe_error" in described:
        details["describe_error"] = described["describe_error"]
    return Alert(
        SEVERITY[change.status],
        f"sync_{change.status.lower()}",
        change.state_machine,
        _summary(change, details),
        details=details,
        run_id=change.name,
        runbook_anchor=RUNBOOK_ANCHOR,
    )


def _summary(change: StatusChange, details: Mapping[str, Any]) -> str:
    text = f"sync execution {change.name} {change.status.lower().replace('_', ' ')}"
    if "stage" in details:
        text += f" at the {details['stage']} stage"
    if "failed_chunks" in details:
        text += f": {details['failed_chunks']} of {details.get('chunks', '?')} chunks failed"
    elif details.get("error"):
        text += f" ({details['error']})"
    return text


def _json_object(text: object) -> dict[str, Any] | None:
    if not isinstance(text, str) or len(text) > 64 * 1024:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _instant(epoch_ms: int | None) -> str | None:
    return None if epoch_ms is None else iso(datetime.fromtimestamp(epoch_ms / 1000, UTC))
