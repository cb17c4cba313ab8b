"""Following a sync execution: names, progress from history events, paging, Ctrl-C, the result."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from aurora_sync_cli.executions import ExecutionClosed, RunProgress, SyncMachine, execution_name
from aurora_sync_cli.follow import Outcome, follow, render_outcome

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:aurora-snowflake-sync-prod-sync"
ITEM = {
    "table": "public.orders",
    "start": "2026-11-20T01:00:00.000000Z",
    "end": "2026-11-20T02:00:00.000000Z",
}


def exited(i: int, name: str, output: Any) -> dict[str, Any]:
    return {
        "id": i,
        "type": "PassStateExited",
        "stateExitedEventDetails": {"name": name, "output": json.dumps(output)},
    }


def exported(i: int, rows: int, remaining: list[Any] | None = None) -> dict[str, Any]:
    payload = {"run_id": "r", "tables": [{"table": "public.orders", "status": "exported", "rows": rows}]}
    if remaining:
        payload["remaining"] = remaining
    response = {"StatusCode": 200, "Payload": payload}
    return {"id": i, "type": "TaskSucceeded", "taskSucceededEventDetails": {"output": json.dumps(response)}}


HISTORY = [
    {"id": 1, "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "Plan"}},
    exited(2, "Plan", {"chunks": {"items": [ITEM, ITEM, ITEM]}}),
    {"id": 3, "type": "MapStateEntered", "stateEnteredEventDetails": {"name": "ExportChunks"}},
    exported(4, 60),
    exited(5, "ChunkExported", {"failed": False}),
    {
        "id": 6,
        "type": "TaskFailed",
        "taskFailedEventDetails": {
            "error": "ExportRunFailed",
            "cause": json.dumps(
                {
                    "errorMessage": json.dumps(
                        {"tables": [{"table": "public.orders", "error": "NaN in amount"}]}
                    )
                }
            ),
        },
    },
    exited(7, "ChunkFailed", {"failed": True, "failure": {"rerun": ITEM, "error": "ExportRunFailed"}}),
    exported(8, 40, remaining=[{"tables": ["public.orders"], "start": "a", "end": "b"}]),
    exited(9, "PartsExported", {"failed": False}),
    {"id": 10, "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "Reconcile"}},
    {
        "id": 11,
        "type": "TaskSucceeded",
        "taskSucceededEventDetails": {"output": json.dumps({"Payload": {"status": "ok", "checks": []}})},
    },
    exited(12, "Reconcile", {"reconcile": {"status": "ok"}}),
]


def test_progress_counts_chunks_rows_failures_and_remaining() -> None:
    # GIVEN the history of a run with three chunks, one failed WHEN applied (twice: no double count)
    progress = RunProgress()
    progress.apply(HISTORY[:5])
    assert (progress.total, progress.done, progress.rows, progress.stage) == (3, 1, 60, "exporting")
    progress.apply(HISTORY)
    # THEN chunks, rows (the reconciler's result is not an export), the failure with its rerun item
    assert (progress.done, progress.rows, progress.stage, progress.reconcile_status) == (
        3,
        100,
        "reconciling",
        "ok",
    )
    assert [(f.error, f.rerun) for f in progress.failures] == [("ExportRunFailed", ITEM)]
    assert progress.remaining == [{"tables": ["public.orders"], "start": "a", "end": "b"}]
    assert progress.attempt_errors == ["public.orders: NaN in amount"]


class FakeSfn:
    """Pages of history (ascending, or descending like AWS with reverseOrder) and scripted describes."""

    def __init__(self, events: list[dict[str, Any]], statuses: list[Any], newest_first: bool = True) -> None:
        self.events = events
        self.statuses = statuses
        self.newest_first = newest_first
        self.history_calls = 0
        self.started: list[dict[str, Any]] = []

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if isinstance(status, BaseException):
            raise status
        if status is None:
            raise ClientError(
                {"Error": {"Code": "ExecutionDoesNotExist", "Message": "no"}}, "DescribeExecution"
            )
        return {"executionArn": executionArn, "status": status, "input": json.dumps({"tables": ["t"]})}

    def get_execution_history(self, **kwargs: Any) -> dict[str, Any]:
        self.history_calls += 1
        ordered = sorted(self.events, key=lambda e: -e["id"] if self.newest_first else e["id"])
        start = int(kwargs.get("nextToken", 0))
        page = ordered[start : start + 2]
        more = start + 2 < len(ordered)
        return {"events": page, **({"nextToken": str(start + 2)} if more else {})}

    def start_execution(self, **kwargs: Any) -> dict[str, Any]:
        self.started.append(kwargs)
        return {"executionArn": "arn:new"}


@pytest.mark.parametrize("newest_first", [True, False])
def test_events_after_reads_only_new_events_in_either_order(newest_first: bool) -> None:
    # GIVEN a history of 12 events, 9 already seen
    sfn = FakeSfn(HISTORY, ["RUNNING"], newest_first)
    # WHEN the new events are read THEN exactly 10..12, oldest first
    events = SyncMachine(sfn, MACHINE).events_after("arn:x", 9)
    assert [e["id"] for e in events] == [10, 11, 12]
    # AND newest first, the paging stops at the first page holding a seen event
    assert sfn.history_calls == (2 if newest_first else 6)


def test_follow_polls_until_closed_and_returns_the_outcome() -> None:
    # GIVEN an execution running for two polls, then failed
    sfn = FakeSfn(HISTORY, ["RUNNING", "RUNNING", "FAILED"])
    sleeps: list[float] = []
    out = io.StringIO()
    # WHEN followed (not a terminal: one line per change)
    outcome = follow(SyncMachine(sfn, MACHINE), "arn:x", out, poll_seconds=0.5, sleep=sleeps.append)
    # THEN it slept between polls and knows the whole history
    assert sleeps == [0.5, 0.5] and outcome.status == "FAILED" and not outcome.ok
    assert outcome.progress.done == 3
    assert "reconciling: 3/3 chunks, 100 rows" in out.getvalue()


def test_ctrl_c_while_following_leaves_the_execution_alone() -> None:
    # GIVEN Ctrl-C during the second poll
    sfn = FakeSfn(HISTORY, ["RUNNING", KeyboardInterrupt()])
    # WHEN followed THEN the interrupt reaches the caller (which prints how to resume) and nothing
    # was sent to Step Functions but reads
    with pytest.raises(KeyboardInterrupt):
        follow(SyncMachine(sfn, MACHINE), "arn:x", io.StringIO(), poll_seconds=0, sleep=lambda _: None)
    assert sfn.started == []


def test_start_follows_an_open_execution_and_refuses_a_closed_one() -> None:
    machine = SyncMachine(FakeSfn([], [None]), MACHINE)
    # GIVEN no execution of the name WHEN started THEN StartExecution runs with the name
    started = machine.start("backfill-x", {"tables": ["t"]})
    assert started.arn == "arn:new" and not started.existing
    # GIVEN one running with the same input THEN it is followed, none started
    running = FakeSfn([], ["RUNNING"])
    found = SyncMachine(running, MACHINE).start("backfill-x", {"tables": ["t"]})
    assert found.existing and found.arn.endswith(":execution:aurora-snowflake-sync-prod-sync:backfill-x")
    assert running.started == []
    # GIVEN one that already finished THEN nothing starts and the caller hears which
    with pytest.raises(ExecutionClosed, match="SUCCEEDED"):
        SyncMachine(FakeSfn([], ["SUCCEEDED"]), MACHINE).start("backfill-x", {"tables": ["t"]})


def test_execution_names_are_valid_and_deterministic() -> None:
    # GIVEN a table with `$` and a very long name WHEN named THEN only allowed characters, <= 80
    short = execution_name("backfill", "public.or$ders", "20261120T000000Z", "20261120T060000Z", "60m")
    assert short == "backfill-public.or-ders-20261120T000000Z-20261120T060000Z-60m"
    long = execution_name("backfill", "s." + "x" * 120, "20261120T000000Z", "20261120T060000Z", "60m")
    other = execution_name("backfill", "s." + "x" * 119 + "y", "20261120T000000Z", "20261120T060000Z", "60m")
    assert len(long) <= 80 and long.endswith("20261120T000000Z-20261120T060000Z-60m") and long != other
    assert long == execution_name("backfill", "s." + "x" * 120, "20261120T000000Z", "20261120T060000Z", "60m")


def test_result_prints_each_rerun_and_the_command_for_it() -> None:
    # GIVEN a failed run's progress WHEN rendered THEN each failed chunk's payload and command
    progress = RunProgress()
    progress.apply(HISTORY)
    out = io.StringIO()
    render_outcome(
        Outcome("arn:x", {"status": "FAILED", "error": "SyncFailed"}, progress), out, "aurora-sync"
    )
    text = out.getvalue()
    assert "chunks: 2 of 3 exported, 1 failed; rows exported: 100" in text
    assert f"ExportRunFailed: {json.dumps(ITEM, sort_keys=True)}" in text
    assert f"aurora-sync backfill public.orders --start {ITEM['start']} --end {ITEM['end']}" in text
    assert "windows left for a re-run" in text and "public.orders: NaN in amount" in text


def test_ctrl_c_says_the_execution_goes_on_and_how_to_follow_again(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from aurora_sync_cli.app import App
    from aurora_sync_cli.cmd_backfill import follow_and_report

    # GIVEN Ctrl-C while following WHEN the command handles it THEN exit 130 with the resume command
    sfn = FakeSfn(HISTORY, ["RUNNING", KeyboardInterrupt()])
    with pytest.raises(SystemExit) as exited_with:
        follow_and_report(App(None, "prod", None, False), SyncMachine(sfn, MACHINE), "arn:x", 0)
    assert exited_with.value.code == 130
    said = capsys.readouterr().out
    assert "the execution goes on: arn:x" in said
    assert "aurora-sync --env prod backfill --follow arn:x" in said
    assert sfn.started == []


def test_a_refresh_shows_ranges_done_of_the_plans_total_with_rows_and_an_eta() -> None:
    # GIVEN a resumed refresh of 10 ranges, 6 done before this execution, whose Plan answered so
    from aurora_sync_cli.follow import refresh_line

    plan = {"run_id": "p", "items": [ITEM] * 4, "refresh": {"id": "20261202T030000Z", "ranges": 10,
            "done": 6, "rows_estimate": 1_000_000}}  # fmt: skip
    plan_answer = {"StatusCode": 200, "Payload": plan}
    progress = RunProgress()
    progress.apply(
        [
            {
                "id": 1,
                "type": "TaskSucceeded",
                "taskSucceededEventDetails": {"output": json.dumps(plan_answer)},
            },
            exited(2, "Plan", {"chunks": {"items": [ITEM] * 4}}),
            exported(3, 100_000),
            exited(4, "ChunkExported", {"failed": False}),
        ]
    )
    # WHEN its line is drawn after 60 s THEN 7 of 10 ranges, the rows, and 3 ranges at 60 s each left
    line = refresh_line(progress, 60.0)
    assert (
        line
        == "starting: 7/10 ranges, 100,000 rows (this execution; about 1,000,000 in the table), ETA 3m00s"
    )
