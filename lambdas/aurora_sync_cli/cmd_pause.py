"""`aurora-sync pause [TABLE]` / `aurora-sync resume [TABLE]`

Without TABLE: the hourly sync schedule, then every table's pipe and task (resume: the reverse order,
so merges and loads are ready before the next export). With TABLE: that table's pipe and task only;
the schedule is shared by every table and is left as it is.

Pausing first records who paused which tables until when (aurora_sync.pauses), so the reconciler sends
what the pause causes (a paused pipe, files waiting, lag) to chat instead of the pager; resuming
removes the record last, once pipes and tasks run again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

import click

from aurora_sync.pauses import DEFAULT_PAUSE, MAX_PAUSE, Pause
from aurora_sync_cli.app import ActionFailure, App, UsageFailure, pass_app

if TYPE_CHECKING:
    from aurora_sync_cli.session import Session

TERRAFORM_NOTE = (
    "note: `terraform apply` sets the schedule back to its `schedules_enabled` and every task back to "
    "started; pause again after an apply, or set schedules_enabled = false for a long pause. Until the "
    "pause ends the reconciler sends the paused tables' P1/P2 alerts to chat only (as P3); after that "
    "they page again. After 14 days paused a pipe is stale (runbook: pipe-stalled)."
)
DURATION = re.compile(r"(\d+)([mhd])")
UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """`--for`: 90m, 4h, 2d; more than 0 and at most MAX_PAUSE (a pipe paused 14 days goes stale)."""
    match = DURATION.fullmatch(text.strip())
    if match is None:
        raise UsageFailure(f"--for: {text!r} is not a duration like 90m, 4h or 2d")
    duration = timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
    if not timedelta(0) < duration <= MAX_PAUSE:
        raise UsageFailure(f"--for: {text!r} must be more than 0 and at most {MAX_PAUSE.days}d")
    return duration


@dataclass(frozen=True)
class PauseRecord:
    """--for and --reason of `pause`: what the record of the pause says."""

    duration: timedelta
    reason: str


@dataclass(frozen=True)
class Step:
    description: str
    run: Callable[[], None]


def plan(session: Session, table: str | None, record: PauseRecord | None) -> tuple[list[Step], list[str]]:
    """(steps, notes), validated before anything runs: an unknown table or a missing schedule name is
    a usage error naming it. `record` is given when pausing, None when resuming."""
    from aurora_sync_cli.session import UsageProblem

    try:
        tables = session.tables((table,) if table else ())
    except UsageProblem as exc:
        raise UsageFailure(str(exc)) from None
    pausing = record is not None
    notes: list[str] = []
    schedule_steps: list[Step] = []
    if table is None:
        schedule = session.schedule()
        if schedule is None:
            raise UsageFailure(
                "SYNC_SCHEDULE_NAME: not set (Terraform output sync_schedule, or the variable)"
            )
        state = "DISABLED" if pausing else "ENABLED"
        schedule_steps.append(
            Step(f"set schedule {schedule.group}/{schedule.name} {state}", lambda: schedule.set_state(state))
        )
    else:
        notes.append(
            f"the hourly schedule runs every table: left as it is (pause without TABLE to stop it); "
            f"{table}'s exports go on and wait in S3 for its pipe"
        )
    control = session.control()
    table_steps: list[Step] = []
    for config in tables:
        objects = session.objects(config)
        if pausing:
            table_steps.append(Step(f"pause pipe {objects.pipe}", partial(control.pause_pipe, objects)))
            table_steps.append(Step(f"suspend task {objects.task}", partial(control.suspend_task, objects)))
        else:
            table_steps.append(Step(f"resume task {objects.task}", partial(control.resume_task, objects)))
            table_steps.append(Step(f"resume pipe {objects.pipe}", partial(control.resume_pipe, objects)))
    names = [config.table_name for config in tables]
    if record is not None:
        now = datetime.now(UTC)
        until = now + record.duration
        marker = Step(
            f"record the pause of {_tables(names)} until {until:%Y-%m-%dT%H:%M}Z (alerts: chat only)",
            partial(_record, session, names, record, now),
        )
        return [marker, *schedule_steps, *table_steps], notes
    unmark = Step(f"remove the pause record of {_tables(names)}", partial(_unrecord, session, names))
    return [*table_steps, *schedule_steps, unmark], notes


def _tables(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{len(names)} tables"


def _record(session: Session, names: list[str], record: PauseRecord, now: datetime) -> None:
    by = session.operator()
    pause = partial(Pause, by=by, at=now, until=now + record.duration, reason=record.reason)
    session.pauses().update({name: pause(table=name) for name in names}, now)


def _unrecord(session: Session, names: list[str]) -> None:
    session.pauses().update(dict.fromkeys(names), datetime.now(UTC))


def run_steps(steps: list[Step]) -> None:
    for number, step in enumerate(steps, start=1):
        click.echo(f"[{number}/{len(steps)}] {step.description} ... ", nl=False)
        try:
            step.run()
        except Exception as exc:  # report what ran and what did not, then stop
            click.echo("FAILED")
            left = [s.description for s in steps[number:]]
            raise ActionFailure(
                f"{step.description} failed: {exc}\n"
                f"done: {number - 1} of {len(steps)} steps; not run: {', '.join(left) or 'none'}"
            ) from None
        click.echo("done")


def _act(app: App, table: str | None, yes: bool, record: PauseRecord | None) -> None:
    verb = "pause" if record is not None else "resume"
    session = app.session()
    try:
        steps, notes = plan(session, table, record)
        for note in notes:
            click.echo(f"note: {note}")
        click.echo(f"{verb} {table or 'every table and the hourly schedule'}: {len(steps)} steps")
        for step in steps:
            click.echo(f"  - {step.description}")
        if not yes and not click.confirm(f"{verb.capitalize()}?", default=False):
            raise ActionFailure("not confirmed: nothing changed")
        run_steps(steps)
        click.echo(TERRAFORM_NOTE)
    finally:
        session.close()


@click.command()
@click.argument("table", required=False)
@click.option(
    "--for",
    "duration",
    default=f"{int(DEFAULT_PAUSE.total_seconds() // 3600)}h",
    show_default=True,
    help="How long alerts stay off the pager (90m, 4h, 2d; at most 7d). Resume ends it sooner.",
)
@click.option("--reason", default="", help="Shown in the alerts sent to chat meanwhile.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def pause(app: App, table: str | None, duration: str, reason: str, yes: bool) -> None:
    """Stop the sync: a record of the pause (alerts of the paused tables go to chat only until it
    ends), the hourly schedule (only without TABLE), then each pipe (PIPE_EXECUTION_PAUSED = TRUE:
    files wait in S3) and each MERGE task (SUSPEND)."""
    _act(app, table, yes, PauseRecord(parse_duration(duration), reason.strip()))


@click.command()
@click.argument("table", required=False)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def resume(app: App, table: str | None, yes: bool) -> None:
    """Start the sync again: each MERGE task (RESUME), each pipe (PIPE_EXECUTION_PAUSED = FALSE: the
    files that waited are loaded), the hourly schedule (only without TABLE), then removes the record
    of the pause: alerts page again."""
    _act(app, table, yes, None)
