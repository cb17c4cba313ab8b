"""`status` as one screen (rich) or as JSON. Pure: a report in, text out (tests/unit/cli/).

Colour only where the terminal supports it: rich turns it off when stdout is not a terminal and
when NO_COLOR is set (no-color.org). The state is always written as a word too, never colour alone.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import IO, Any

from aurora_sync.timeutil import iso
from aurora_sync_cli.status import StatusReport
from aurora_sync_cli.verdict import (
    ExitCode,
    LastExport,
    Reading,
    State,
    TableStatus,
    exit_code,
    overall,
    span,
)

STYLE = {State.OK: "green", State.PROBLEM: "bold red", State.UNKNOWN: "yellow"}
UNKNOWN = "unknown"
# Wide enough for every column without wrapping when the output is a file or a pipe.
PLAIN_WIDTH = 160


def report_state(report: StatusReport) -> State:
    states = [t.state for t in report.tables]
    states.append(State.UNKNOWN if not report.schedule.known else State.OK)
    if report.schedule.value not in (None, "ENABLED"):
        states.append(State.PROBLEM)
    if not report.other_alerts.known:
        states.append(State.UNKNOWN)
    if report.other_alerts.value:
        states.append(State.PROBLEM)
    return overall(states)


def report_exit(report: StatusReport) -> ExitCode:
    return exit_code([report_state(report)])


def _export(export: LastExport, now: datetime) -> str:
    files = "1 file" if export.files == 1 else f"{export.files} files"
    return f"{export.rows} rows, {files}, {span(now - export.finished_at)} ago"


def _cell(reading: Reading[Any], show: Any) -> str:
    return UNKNOWN if not reading.known else str(show(reading.value))


def _row(t: TableStatus, now: datetime) -> list[str]:
    lag = t.lag
    pipe = t.pipe.value
    run = t.last_run.value
    export = t.last_export.value
    pins = t.pins.value
    alerts = t.alerts.value or []
    return [
        t.table,
        str(t.state),
        _cell(t.aurora_max, lambda v: "-" if v is None else f"{v:%m-%d %H:%M}"),
        _cell(t.final_max, lambda v: "-" if v is None else f"{v:%m-%d %H:%M}"),
        ("-" if lag is None else span(lag)) + f" / {span(timedelta(minutes=t.sla_minutes))}",
        _cell(t.last_export, lambda _: "none" if export is None else _export(export, now)),
        _cell(
            t.pipe, lambda _: f"{pipe.execution_state}, {pipe.pending_file_count} pending" if pipe else "-"
        ),
        _cell(t.task_state, str) + ("" if run is None else f", last {run.state}"),
        _cell(t.alerts, lambda _: ", ".join(f"{a.severity} {a.check}" for a in alerts) or "0"),
        _cell(t.pins, lambda _: str(pins.count) if pins else "0"),
    ]


HEADERS = [
    "table",
    "state",
    "aurora max",
    "final max",
    "lag / sla",
    "last export",
    "pipe",
    "task",
    "alerts",
    "pins",
]


def render_table(report: StatusReport, out: IO[str], *, color: bool | None = None) -> None:
    """The one screen: a header line, a row per table, then every finding (problems and unknowns)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # color None: rich decides (a terminal, and neither NO_COLOR nor TERM=dumb); True forces, False refuses.
    console = Console(
        file=out,
        force_terminal=True if color else None,
        no_color=True if color is False else None,
        highlight=False,
        emoji=False,
    )
    if not console.is_terminal:
        console.width = PLAIN_WIDTH
    state = report_state(report)
    schedule = report.schedule.value if report.schedule.known else f"unknown ({report.schedule.error})"
    console.print(
        Text.assemble(
            ("aurora-sync status ", "bold"),
            (f"at {iso(report.at)}: ", ""),
            (str(state).upper(), STYLE[state]),
            (f"   hourly schedule: {schedule}", ""),
        )
    )
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for header in HEADERS:
        table.add_column(header, overflow="fold")
    for status in report.tables:
        row = _row(status, report.at)
        table.add_row(row[0], Text(row[1], style=STYLE[status.state]), *row[2:])
    console.print(table)
    for status in report.tables:
        for finding in status.findings:
            console.print(
                Text.assemble(
                    (f"{status.table} ", "bold"),
                    (f"{finding.state}", STYLE[finding.state]),
                    f" {finding.what}: {finding.message}",
                )
            )
    if not report.other_alerts.known:
        console.print(Text(f"open alerts unknown: {report.other_alerts.error}", style=STYLE[State.UNKNOWN]))
    for alert in report.other_alerts.value or []:
        console.print(
            Text(
                f"{alert.table} problem alert: {alert.severity} {alert.check} open since {alert.first_seen}: "
                f"{alert.summary}",
                style=STYLE[State.PROBLEM],
            )
        )


def to_json(report: StatusReport) -> str:
    def reading(r: Reading[Any], value: Any) -> dict[str, Any]:
        return {"error": r.error} if not r.known else {"value": value}

    def when(value: datetime | None) -> str | None:
        return None if value is None else iso(value)

    tables = []
    for t in report.tables:
        export, pipe, run, pins = t.last_export.value, t.pipe.value, t.last_run.value, t.pins.value
        tables.append(
            {
                "table": t.table,
                "state": str(t.state),
                "aurora_max": reading(t.aurora_max, when(t.aurora_max.value)),
                "final_max": reading(t.final_max, when(t.final_max.value)),
                "lag_seconds": None if t.lag is None else int(t.lag.total_seconds()),
                "sla_minutes": t.sla_minutes,
                "last_export": reading(
                    t.last_export,
                    export
                    and {
                        "rows": export.rows,
                        "files": export.files,
                        "finished_at": iso(export.finished_at),
                        "manifest": export.manifest,
                    },
                ),
                "pipe": reading(
                    t.pipe,
                    pipe
                    and {
                        "execution_state": pipe.execution_state,
                        "pending_file_count": pipe.pending_file_count,
                    },
                ),
                "task_state": reading(t.task_state, t.task_state.value),
                "last_task_run": reading(
                    t.last_run,
                    run
                    and {
                        "state": run.state,
                        "completed_time": when(run.completed_time),
                        "error_message": run.error_message,
                    },
                ),
                "open_alerts": reading(t.alerts, [a.__dict__ for a in t.alerts.value or []]),
                "pause": reading(t.pause, t.pause.value and t.pause.value.as_dict()),
                "pins": reading(
                    t.pins,
                    pins
                    and {"count": pins.count, "oldest": when(pins.oldest), "unreadable": pins.unreadable},
                ),
                "refresh": reading(t.refresh, t.refresh.value and t.refresh.value.as_dict()),
                "findings": [
                    {"state": str(f.state), "what": f.what, "message": f.message} for f in t.findings
                ],
            }
        )
    body = {
        "at": iso(report.at),
        "state": str(report_state(report)),
        "exit_code": int(report_exit(report)),
        "schedule": reading(report.schedule, report.schedule.value),
        "other_open_alerts": reading(
            report.other_alerts, [a.__dict__ for a in report.other_alerts.value or []]
        ),
        "tables": tables,
    }
    return json.dumps(body, indent=2)
