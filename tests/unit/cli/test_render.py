"""status on screen and as JSON: every state in words, colour only on terminals, unknown with cause."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aurora_sync_cli.render import render_table, report_exit, to_json
from aurora_sync_cli.status import StatusReport
from aurora_sync_cli.verdict import ExitCode, OpenAlert, Reading, judge
from tests.unit.cli.test_verdict import NOW, healthy


def report(*, schedule: Reading[str] | None = None, **changes: Any) -> StatusReport:
    table = healthy(**changes)
    table.findings = judge(table, NOW)
    return StatusReport(
        at=NOW, tables=[table], schedule=schedule or Reading(value="ENABLED"), other_alerts=Reading(value=[])
    )


def screen(r: StatusReport, color: bool | None = None) -> str:
    out = io.StringIO()
    render_table(r, out, color=color)
    return out.getvalue()


def row(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("public.orders"))


def test_ok_screen_is_plain_text_with_the_row() -> None:
    text = screen(report())
    assert "\x1b[" not in text  # not a terminal: no colour codes
    assert "OK" in text and "hourly schedule: ENABLED" in text
    line = row(text)
    assert " ok " in line and "25m / 2h00m" in line and "10 rows, 1 file, 20m ago" in line
    assert "RUNNING, 0 pending" in line and "started, last SUCCEEDED" in line
    assert report_exit(report()) is ExitCode.OK


def test_colour_when_asked_for_and_the_state_is_still_a_word() -> None:
    text = screen(report(task_state=Reading(value="suspended")), color=True)
    assert "\x1b[" in text
    assert "PROBLEM" in text and "task is suspended, not started" in text


def test_no_color_wins_over_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert "\x1b[3" not in screen(report(task_state=Reading(value="suspended")))


def test_unknown_shows_the_cause_on_screen_and_in_json() -> None:
    cause = "pipe: SYSTEM$PIPE_STATUS failed: Snowflake error 2003"
    r = report(pipe=Reading(error=cause))
    assert report_exit(r) is ExitCode.UNKNOWN
    text = screen(r)
    assert " unknown " in row(text)
    assert f"public.orders unknown pipe: {cause}" in text
    body = json.loads(to_json(r))
    assert body["exit_code"] == 3 and body["state"] == "unknown"
    assert body["tables"][0]["pipe"] == {"error": cause}


def test_a_disabled_schedule_or_an_alert_on_no_table_is_a_problem() -> None:
    assert report_exit(report(schedule=Reading(value="DISABLED"))) is ExitCode.PROBLEM
    r = report()
    r.other_alerts = Reading(
        value=[OpenAlert("sync_failed", "aurora-sync-prod-sync", "P1", "chunks failed", "x")]
    )
    assert report_exit(r) is ExitCode.PROBLEM
    assert "aurora-sync-prod-sync problem alert: P1 sync_failed" in screen(r)
    assert report_exit(report(schedule=Reading(error="schedule: AccessDenied"))) is ExitCode.UNKNOWN


def test_json_times_are_iso_utc() -> None:
    body = json.loads(to_json(report()))
    orders = body["tables"][0]
    assert orders["aurora_max"] == {"value": "2026-11-20T11:55:00.000000Z"}
    assert orders["lag_seconds"] == 25 * 60 and body["at"] == "2026-11-20T12:00:00.000000Z"
    assert datetime.fromisoformat(body["at"].replace("Z", "+00:00")) == NOW
    assert NOW - timedelta(minutes=5) == datetime(2026, 11, 20, 11, 55, tzinfo=UTC)
