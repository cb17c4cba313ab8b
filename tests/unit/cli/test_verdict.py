"""What status makes of its readings: problems, unknowns, exit codes (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aurora_sync.adapters.snowflake_history import PipeStatus, TaskRun
from aurora_sync.pauses import Pause
from aurora_sync_cli.verdict import (
    ExitCode,
    LastExport,
    OpenAlert,
    Pins,
    Reading,
    State,
    TableStatus,
    exit_code,
    judge,
    read,
    span,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def healthy(**changes: Any) -> TableStatus:
    values: dict[str, Any] = {
        "table": "public.orders",
        "sla_minutes": 120,
        "aurora_max": Reading(value=NOW - timedelta(minutes=5)),
        "final_max": Reading(value=NOW - timedelta(minutes=30)),
        "last_export": Reading(value=LastExport(10, 1, NOW - timedelta(minutes=20), "m.json")),
        "pipe": Reading(value=PipeStatus("RUNNING", 0, None, {})),
        "task_state": Reading(value="started"),
        "last_run": Reading(value=TaskRun("ORDERS_MERGE", "SUCCEEDED", NOW, NOW, NOW, None, None, "q")),
        "alerts": Reading(value=[]),
        "pins": Reading(value=Pins(0, None, [])),
        "pause": Reading(value=None),
    }
    values.update(changes)
    return TableStatus(**values)


def states(status: TableStatus) -> dict[str, str]:
    return {f.what: str(f.state) for f in judge(status, NOW)}


def test_a_healthy_table_has_no_finding() -> None:
    assert judge(healthy(), NOW) == []


@pytest.mark.parametrize(
    ("changes", "what"),
    [
        ({"final_max": Reading(value=NOW - timedelta(hours=3))}, "freshness"),
        ({"final_max": Reading(value=None)}, "freshness"),
        ({"last_export": Reading(value=None)}, "export"),
        ({"last_export": Reading(value=LastExport(1, 1, NOW - timedelta(hours=3), "m"))}, "export"),
        ({"pipe": Reading(value=PipeStatus("PAUSED", 0, None, {}))}, "pipe"),
        ({"pipe": Reading(value=PipeStatus("RUNNING", 4, NOW - timedelta(minutes=45), {}))}, "pipe"),
        ({"task_state": Reading(value="suspended")}, "task"),
        (
            {
                "last_run": Reading(
                    value=TaskRun("T", "FAILED_AND_AUTO_SUSPENDED", NOW, NOW, NOW, "1", "x", "q")
                )
            },
            "task",
        ),
        (
            {"alerts": Reading(value=[OpenAlert("loads", "public.orders", "P2", "late", "2026-11-20")])},
            "alert",
        ),
        ({"pins": Reading(value=Pins(1, NOW - timedelta(hours=3), []))}, "pins"),
        ({"pins": Reading(value=Pins(0, None, ["publish pin k is not JSON"]))}, "pins"),
    ],
)
def test_each_trouble_is_a_problem(changes: dict[str, Any], what: str) -> None:
    assert states(healthy(**changes)) == {what: "problem"}


@pytest.mark.parametrize(
    "changes",
    [
        {"pipe": Reading(value=PipeStatus("RUNNING", 4, NOW - timedelta(minutes=5), {}))},  # within the grace
        {"pins": Reading(value=Pins(1, NOW - timedelta(minutes=30), []))},  # the next run re-exports it
        {"aurora_max": Reading(value=None), "final_max": Reading(value=None)},  # an empty table
        {"last_run": Reading(value=None)},  # no run in the look-back: nothing loaded to merge
    ],
)
def test_what_is_not_yet_a_problem(changes: dict[str, Any]) -> None:
    assert judge(healthy(**changes), NOW) == []


def test_a_reading_that_failed_is_unknown_with_its_cause_never_ok() -> None:
    def fail() -> str:
        raise RuntimeError("Snowflake error 250001: could not connect")

    task = read("task", fail)
    assert not task.known and task.error == "task: Snowflake error 250001: could not connect"
    status = healthy(task_state=task)
    status.findings = judge(status, NOW)
    assert status.state is State.UNKNOWN
    assert [(f.what, f.message) for f in status.findings] == [("task", task.error)]


def test_a_problem_outranks_unknown_in_the_exit_code() -> None:
    assert exit_code([State.OK, State.OK]) is ExitCode.OK
    assert exit_code([State.OK, State.UNKNOWN]) is ExitCode.UNKNOWN
    assert exit_code([State.UNKNOWN, State.PROBLEM]) is ExitCode.PROBLEM
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(45, "45s"), (12 * 60, "12m"), (3 * 3600 + 5 * 60, "3h05m"), (50 * 3600, "2d02h")],
)
def test_durations_read_at_a_glance(seconds: int, shown: str) -> None:
    assert span(timedelta(seconds=seconds)) == shown


def test_a_pause_in_force_is_said_first_with_who_and_until_when() -> None:
    # GIVEN a table on-call paused, its pipe PAUSED
    by = "arn:aws:sts::1:assumed-role/oncall/ana"
    pause = Pause("public.orders", by, NOW, NOW + timedelta(hours=4), "DDL")
    status = healthy(pause=Reading(value=pause), pipe=Reading(value=PipeStatus("PAUSED", 0, None, {})))
    # WHEN judged
    found = status.findings = judge(status, NOW)
    # THEN the pause comes first, naming who, until when and why, and the table is a problem (exit 1)
    assert found[0].what == "pause" and found[0].state == State.PROBLEM
    assert "oncall/ana until 2026-11-20T16:00:00" in found[0].message and "(DDL)" in found[0].message
    assert {f.what for f in found} == {"pause", "pipe"}
    assert exit_code([status.state]) == ExitCode.PROBLEM


def test_unreadable_pauses_make_the_table_unknown() -> None:
    found = judge(healthy(pause=Reading(error="pauses: AccessDenied")), NOW)
    assert [(f.what, f.state) for f in found] == [("pause", State.UNKNOWN)]
