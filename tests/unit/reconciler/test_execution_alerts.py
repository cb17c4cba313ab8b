"""Sync executions that fail, time out or are aborted page once per open problem, with a bounded
message; the next execution that succeeds resolves them. (The same path on moto, from a real
failed execution: tests/infra/test_state_machine.py.)"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from aurora_sync.adapters.sns import MAX_MESSAGE_BYTES, AlertPublisher, encode_message
from aurora_sync.alert_routing import AlertRouter
from aurora_sync.alerts import Alert, Severity
from aurora_sync.reconciler.execution_alerts import handle_status_change
from tests.unit.test_alert_routing import Clock, MemoryState, Sns

EVENTS = Path(__file__).resolve().parents[3] / "events" / "reconciler"
STATE_MACHINE = "aurora-snowflake-sync-prod-sync"


def status_change(status: str, name: str = "4b0ad4a8-hourly") -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "sync-execution-failed.json").read_text())
    event["detail"] |= {"status": status, "name": name, "executionArn": f"arn:...:{STATE_MACHINE}:{name}"}
    return event


def summary_cause(failed: int, chunks: int) -> str:
    """The cause the state machine's Fail state writes after failed chunks (first 10 of them)."""
    first = [
        {"rerun": {"table": "public.orders", "start": f"2026-11-{d:02d}T00:00:00.000000Z",
                   "end": f"2026-11-{d:02d}T01:00:00.000000Z"}, "error": "ExportRunFailed"}
        for d in range(1, min(failed, 10) + 1)
    ]  # fmt: skip
    return json.dumps({"stage": "export", "chunks": chunks, "failed_chunks": failed, "first_failures": first})


class Pager:
    """The AlertRouter with DynamoDB's behaviour in memory and SNS recorded."""

    def __init__(self) -> None:
        self.sns, self.state, self.clock = Sns(), MemoryState(), Clock()
        publisher = AlertPublisher(self.sns, "arn:topic", "https://runbook.example/runbook.md")
        self.router = AlertRouter(publisher, self.state, timedelta(hours=4), self.clock)

    def handle(self, event: dict[str, Any], described: dict[str, Any]) -> dict[str, Any]:
        return handle_status_change(event, self.router, lambda arn: described)


def test_failed_execution_pages_p1_with_counts_and_the_first_reruns() -> None:
    # GIVEN an execution that failed with 37 of 40 chunks failed (its cause is the Fail state's summary)
    pager = Pager()
    outcome = pager.handle(status_change("FAILED"), {"error": "SyncFailed", "cause": summary_cause(37, 40)})
    # THEN one P1, keyed by state machine and status, with the counts and 10 re-runnable chunk items
    assert outcome["decision"] == "notified"
    (body,) = pager.sns.sent
    assert body["severity"] == "P1" and body["dedup_key"] == f"sync_failed:{STATE_MACHINE}"
    assert body["summary"] == (
        "sync execution 4b0ad4a8-hourly failed at the export stage: 37 of 40 chunks failed"
    )
    assert body["details"]["failed_chunks"] == 37 and len(body["details"]["first_failures"]) == 10
    assert body["details"]["first_failures"][0]["rerun"]["table"] == "public.orders"
    assert body["runbook"] == "https://runbook.example/runbook.md#sync-execution-failed"


def test_the_same_failure_next_hour_does_not_page_again() -> None:
    # GIVEN a failed execution already paged
    pager = Pager()
    pager.handle(status_change("FAILED", "run-1"), {"cause": summary_cause(1, 2)})
    # WHEN the next hour's execution fails too THEN nothing is sent (re-sent only after RENOTIFY_MINUTES)
    pager.clock.now += timedelta(hours=1)
    again = pager.handle(status_change("FAILED", "run-2"), {"cause": summary_cause(1, 2)})
    assert again["decision"] == "suppressed"
    assert len(pager.sns.sent) == 1
    pager.clock.now += timedelta(hours=4)
    later = pager.handle(status_change("FAILED", "run-6"), {"cause": summary_cause(1, 2)})
    assert later["decision"] == "notified"


def test_timed_out_execution_pages_with_its_input_to_rerun() -> None:
    # GIVEN a manual backfill that hit the execution's TimeoutSeconds (no summary: nothing caught it)
    pager = Pager()
    backfill = {"tables": ["public.orders"], "start": "2026-11-01T00:00:00Z", "end": "2026-11-08T00:00:00Z"}
    pager.handle(status_change("TIMED_OUT"), {"error": "States.Timeout", "input": json.dumps(backfill)})
    # THEN a P1 of its own key whose re-run is the execution's input
    (body,) = pager.sns.sent
    assert body["severity"] == "P1" and body["dedup_key"] == f"sync_timed_out:{STATE_MACHINE}"
    assert body["details"]["rerun"] == backfill and body["details"]["error"] == "States.Timeout"


def test_aborted_execution_pages_p2() -> None:
    pager = Pager()
    pager.handle(status_change("ABORTED"), {"input": "{}"})
    assert [(b["severity"], b["check"]) for b in pager.sns.sent] == [("P2", "sync_aborted")]


def test_a_failure_the_state_machine_could_not_catch_still_pages_with_its_cause() -> None:
    # GIVEN an execution killed by States.DataLimitExceeded (its cause is text, not the summary)
    pager = Pager()
    cause = "The state/task returned a result with a size exceeding the maximum number of bytes " * 200
    described = {"error": "States.DataLimitExceeded", "cause": cause, "input": "{}"}
    pager.handle(status_change("FAILED"), described)
    # THEN a P1 naming the error, with the cause cut to a few thousand characters
    (body,) = pager.sns.sent
    assert "States.DataLimitExceeded" in body["summary"] and len(body["details"]["cause"]) == 4000


def test_a_failed_describe_execution_does_not_stop_the_page() -> None:
    # GIVEN DescribeExecution is denied WHEN a FAILED status arrives THEN the P1 goes out anyway
    pager = Pager()

    def denied(arn: str) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeExecution")

    handle_status_change(status_change("FAILED"), pager.router, denied)
    (body,) = pager.sns.sent
    assert body["severity"] == "P1" and "AccessDeniedException" in body["details"]["describe_error"]


def test_a_successful_execution_resolves_the_open_problems_once() -> None:
    # GIVEN a timed-out and a failed execution paged
    pager = Pager()
    pager.handle(status_change("TIMED_OUT", "run-1"), {"input": "{}"})
    pager.handle(status_change("FAILED", "run-2"), {"cause": summary_cause(1, 2)})
    # WHEN the next execution succeeds THEN one resolve each; another success sends nothing
    resolved = pager.handle(status_change("SUCCEEDED", "run-3"), {})["resolved"]
    assert resolved == ["sync_failed", "sync_timed_out"]
    assert [b["status"] for b in pager.sns.sent] == ["open", "open", "resolved", "resolved"]
    assert pager.handle(status_change("SUCCEEDED", "run-4"), {})["resolved"] == []
    assert len(pager.sns.sent) == 4


def test_running_status_is_ignored() -> None:
    pager = Pager()
    assert pager.handle(status_change("RUNNING"), {})["ignored"] is True and pager.sns.sent == []


def test_alert_message_never_exceeds_what_sns_accepts() -> None:
    # GIVEN an alert whose details are about 1 MB (thousands of problems)
    files = [{"file": f"public.orders/2026/11/22/08/run-{i:05d}.csv", "rows": i} for i in range(20_000)]
    huge = {"problems": files}
    alert = Alert(Severity.P2, "loads", "public.orders", "20000 files not loaded", details=huge)
    # WHEN encoded for SNS THEN it fits SNS's 256 KiB with the rest of the body intact
    message = encode_message(alert, "https://runbook.example/runbook.md")
    body = json.loads(message)
    assert len(message.encode()) <= MAX_MESSAGE_BYTES < 256 * 1024
    assert body["details"]["truncated"] is True and body["details"]["details_bytes"] > 1_000_000
    assert body["summary"] == "20000 files not loaded" and body["dedup_key"] == "loads:public.orders"
    # AND a normal alert is sent unchanged
    small = Alert(Severity.P2, "loads", "public.orders", "1 file", details={"problems": [1]})
    assert json.loads(encode_message(small, "https://runbook.example/runbook.md"))["details"] == {
        "problems": [1]
    }
