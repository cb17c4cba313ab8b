"""`aurora-sync pause [TABLE]` / `aurora-sync resume [TABLE]`

Without TABLE: the hourly sync schedule, then every table's pipe and task (resume: the reverse order,
so merges and loads are ready before the next export). With TABLE: that table's pipe and task only;
the schedule is shared by every table and is left as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import click

from aurora_sync_cli.app import ActionFailure, App, UsageFailure, pass_app

if TYPE_CHECKING:
    from aurora_sync_cli.session import Session

TERRAFORM_NOTE = (
    "note: `terraform apply` sets the schedule back to its `schedules_enabled` and every task back to "
    "started; pause again after an apply, or set schedules_enabled = false for a long pause. While a pipe "
    "is paused the reconciler reports it (pipe, P2); after 14 days paused a pipe is stale "
    "(runbook: pipe-stalled)."
)


@dataclass(frozen=True)
class Step:
    description: str
    run: Callable[[], None]


def plan(session: Session, table: str | None, pausing: bool) -> tuple[list[Step], list[str]]:
    """(steps, notes), validated before anything runs: an unknown table or a missing schedule name is
    a usage error naming it."""
    from aurora_sync_cli.session import UsageProblem

    try:
        tables = session.tables((table,) if table else ())
    except UsageProblem as exc:
        raise UsageFailure(str(exc)) from None
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
    steps = schedule_steps + table_steps if pausing else table_steps + schedule_steps
    return steps, notes


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


def _act(app: App, table: str | None, yes: bool, pausing: bool) -> None:
    verb = "pause" if pausing else "resume"
    session = app.session()
    try:
        steps, notes = plan(session, table, pausing)
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
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def pause(app: App, table: str | None, yes: bool) -> None:
    """Stop the sync: the hourly schedule (only without TABLE), then each pipe
    (PIPE_EXECUTION_PAUSED = TRUE: files wait in S3) and each MERGE task (SUSPEND)."""
    _act(app, table, yes, pausing=True)


@click.command()
@click.argument("table", required=False)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def resume(app: App, table: str | None, yes: bool) -> None:
    """Start the sync again: each MERGE task (RESUME), each pipe (PIPE_EXECUTION_PAUSED = FALSE: the
    files that waited are loaded), then the hourly schedule (only without TABLE)."""
    _act(app, table, yes, pausing=False)
