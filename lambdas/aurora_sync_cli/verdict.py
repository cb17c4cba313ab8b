"""What `status` read, and what it means: pure, no I/O (tests/unit/cli/).

Every reading is a value or the cause it could not be read. A reading that failed is never "ok":
its table is `unknown` and the exit code says so, as the reconciler's `unknown` checks do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from typing import Any, Generic, TypeVar

from aurora_sync.adapters.snowflake_history import FAILED_STATES, PipeStatus, TaskRun
from aurora_sync.pauses import Pause

T = TypeVar("T")

# As the reconciler judges them (ReconcilerSettings defaults): files pending longer than the load grace,
# publish pins older than the pin grace.
PENDING_GRACE = timedelta(minutes=30)
PIN_GRACE = timedelta(minutes=150)


class ExitCode(IntEnum):
    """`aurora-sync status` exit codes (also in --help and README)."""

    OK = 0  # every table ok
    PROBLEM = 1  # something is wrong (a problem outranks unknowns, as in the reconciler's result)
    USAGE = 2  # bad option, unknown table, missing or bad configuration: nothing was read
    UNKNOWN = 3  # nothing known to be wrong, but something could not be read


class State(StrEnum):
    OK = "ok"
    PROBLEM = "problem"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Reading(Generic[T]):
    value: T | None = None
    error: str | None = None

    @property
    def known(self) -> bool:
        return self.error is None


def read(what: str, fetch: Callable[[], T]) -> Reading[T]:
    """Run one read; any failure becomes its cause (the adapters' errors name what they tried)."""
    try:
        return Reading(value=fetch())
    except Exception as exc:  # every failure is shown as unknown with its cause, never as ok
        return Reading(error=f"{what}: {exc}")


@dataclass(frozen=True)
class LastExport:
    rows: int
    files: int
    finished_at: datetime
    manifest: str


@dataclass(frozen=True)
class OpenAlert:
    check: str
    table: str
    severity: str
    summary: str
    first_seen: str | None


@dataclass(frozen=True)
class Pins:
    count: int
    oldest: datetime | None
    unreadable: list[str]


@dataclass(frozen=True)
class Finding:
    state: State
    what: str
    message: str


@dataclass(frozen=True)
class RefreshProgress:
    """A full refresh of the table not yet complete (exporter/refresh.py): its checkpoints so far."""

    refresh_id: str
    done: int
    ranges: int
    created_at: str

    def as_dict(self) -> dict[str, object]:
        return {"id": self.refresh_id, "done": self.done, "ranges": self.ranges, "planned": self.created_at}


@dataclass
class TableStatus:
    table: str
    sla_minutes: int
    aurora_max: Reading[datetime | None]
    final_max: Reading[datetime | None]
    last_export: Reading[LastExport | None]
    pipe: Reading[PipeStatus]
    task_state: Reading[str]
    last_run: Reading[TaskRun | None]
    alerts: Reading[list[OpenAlert]]
    pins: Reading[Pins]
    pause: Reading[Pause | None]  # an on-call pause in force (aurora_sync.pauses)
    # An unfinished full refresh (information, never a problem by itself: its failures page on their own)
    refresh: Reading[RefreshProgress | None] = field(default_factory=Reading)
    findings: list[Finding] = field(default_factory=list)

    @property
    def lag(self) -> timedelta | None:
        aurora, final = self.aurora_max.value, self.final_max.value
        if aurora is None or final is None:
            return None
        return max(aurora - final, timedelta(0))

    @property
    def state(self) -> State:
        return overall(f.state for f in self.findings)


def overall(states: Iterable[State]) -> State:
    found = set(states)
    if State.PROBLEM in found:
        return State.PROBLEM
    if State.UNKNOWN in found:
        return State.UNKNOWN
    return State.OK


def exit_code(states: list[State]) -> ExitCode:
    state = overall(states)
    return {State.OK: ExitCode.OK, State.PROBLEM: ExitCode.PROBLEM, State.UNKNOWN: ExitCode.UNKNOWN}[state]


def _unknowns(status: TableStatus) -> list[Finding]:
    readings: list[tuple[str, Reading[Any]]] = [
        ("aurora", status.aurora_max),
        ("final", status.final_max),
        ("export", status.last_export),
        ("pipe", status.pipe),
        ("task", status.task_state),
        ("task_run", status.last_run),
        ("alerts", status.alerts),
        ("pins", status.pins),
        ("pause", status.pause),
    ]
    return [Finding(State.UNKNOWN, what, str(r.error)) for what, r in readings if not r.known]


def judge(status: TableStatus, now: datetime) -> list[Finding]:
    """Every problem and unknown of one table (empty: ok)."""
    sla = timedelta(minutes=status.sla_minutes)
    found = _unknowns(status)
    if status.pause.value is not None:
        # Deliberate, but the table is not syncing: a problem until resumed, said first.
        found.append(
            Finding(State.PROBLEM, "pause", f"{status.pause.value.describe()}: its alerts go to chat only")
        )
    found += _freshness(status, sla)
    if status.last_export.known:
        found += _export(status.last_export.value, now, sla)
    if status.pipe.known and status.pipe.value is not None:
        found += _pipe(status.pipe.value, now)
    found += _task(status)
    if status.alerts.value:
        found += [
            Finding(State.PROBLEM, "alert", f"{a.severity} {a.check} open since {a.first_seen}: {a.summary}")
            for a in status.alerts.value
        ]
    if status.pins.value is not None:
        found += _pins(status.pins.value, now)
    refresh = status.refresh.value
    if refresh is not None:
        found.append(
            Finding(
                State.OK,
                "refresh",
                f"full refresh {refresh.refresh_id} unfinished: {refresh.done} of {refresh.ranges} ranges "
                f"exported (`aurora-sync resync {status.table}` follows or resumes it)",
            )
        )
    return found


def _freshness(status: TableStatus, sla: timedelta) -> list[Finding]:
    if not (status.aurora_max.known and status.final_max.known) or status.aurora_max.value is None:
        return []
    if status.final_max.value is None:
        return [Finding(State.PROBLEM, "freshness", "FINAL is empty while Aurora has rows")]
    lag = status.lag
    if lag is not None and lag > sla:
        return [Finding(State.PROBLEM, "freshness", f"FINAL is {span(lag)} behind Aurora (SLA {span(sla)})")]
    return []


def _export(last: LastExport | None, now: datetime, sla: timedelta) -> list[Finding]:
    if last is None:
        return [
            Finding(State.PROBLEM, "export", "no export manifest in the look-back: is the exporter running?")
        ]
    age = now - last.finished_at
    if age > sla:
        return [Finding(State.PROBLEM, "export", f"last export finished {span(age)} ago (SLA {span(sla)})")]
    return []


def _pipe(pipe: PipeStatus, now: datetime) -> list[Finding]:
    if pipe.execution_state != "RUNNING":
        return [
            Finding(State.PROBLEM, "pipe", f"pipe is {pipe.execution_state or 'in no state'}, not RUNNING")
        ]
    oldest = pipe.oldest_file_timestamp
    if pipe.pending_file_count and oldest is not None and now - oldest > PENDING_GRACE:
        return [
            Finding(
                State.PROBLEM, "pipe", f"{pipe.pending_file_count} files pending, oldest {span(now - oldest)}"
            )
        ]
    return []


def _task(status: TableStatus) -> list[Finding]:
    found = []
    if status.task_state.known and status.task_state.value != "started":
        found.append(Finding(State.PROBLEM, "task", f"task is {status.task_state.value}, not started"))
    run = status.last_run.value
    if run is not None and run.state in FAILED_STATES:
        found.append(Finding(State.PROBLEM, "task", f"last MERGE run {run.state}: {run.error_message}"))
    return found


def _pins(pins: Pins, now: datetime) -> list[Finding]:
    found = [Finding(State.PROBLEM, "pins", message) for message in pins.unreadable]
    if pins.oldest is not None and now - pins.oldest > PIN_GRACE:
        found.append(
            Finding(State.PROBLEM, "pins", f"{pins.count} publish pin(s), oldest {span(now - pins.oldest)}")
        )
    return found


def span(delta: timedelta) -> str:
    """A duration at a glance: 45s, 12m, 3h05m, 2d04h."""
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"
