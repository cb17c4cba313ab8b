"""`aurora-sync resync TABLE`: the runbook's full refresh (docs/runbook.md, "full-reload"), end to end.

Steps, each printed: (1) the table's unfinished refresh, if any (its checkpoints under `_refresh/`:
this run resumes it), or a new one; (2) start the sync state machine with `{"refresh": TABLE}` (its
Plan step plans the key ranges, or returns the ranges left), or follow the execution already running
it; (3) follow it: ranges done of the total, rows, ETA; (4) the result: complete, or how many ranges
are left and that running the command again resumes them. FINAL is never truncated: readers keep
seeing the table while it is refreshed.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from aurora_sync_cli.app import ActionFailure, App, UsageFailure, pass_app

if TYPE_CHECKING:
    from aurora_sync_cli.executions import SyncMachine
    from aurora_sync_cli.resync import FullRefresh

FIELDS = {"rows_per_range": "--rows-per-range", "refresh": "TABLE", "restart": "--restart"}


def _step(number: int, text: str) -> None:
    click.echo(f"[{number}/4] {text}")


@click.command()
@click.argument("table")
@click.option("--rows-per-range", type=int, help="Rows per key range of a new refresh.")
@click.option("--restart", is_flag=True, help="Abandon the table's unfinished refresh and plan a new one.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def resync(app: App, table: str, rows_per_range: int | None, restart: bool, yes: bool) -> None:
    """Full refresh of TABLE in primary-key ranges through the state machine, merged into FINAL
    (updates and inserts; FINAL stays readable). Run again to resume one that stopped. Exit 0 when the
    refresh is complete, 1 when ranges are left or it was declined, 2 bad usage (nothing started)."""
    from aurora_sync.errors import SyncError
    from aurora_sync_cli.session import UsageProblem

    session = app.session()
    try:
        try:
            [config] = session.tables((table,))
            machine = session.machine()
        except UsageProblem as exc:
            raise UsageFailure(str(exc)) from None
        except SyncError as exc:
            raise ActionFailure(f"cannot read the table list, nothing started: {exc}") from None
        payload = _payload(table, rows_per_range, restart)
        from aurora_sync_cli.resync import WHAT_IT_FIXES, FullRefresh

        refresh = FullRefresh(session, config)
        click.echo(f"resync {table}: full refresh in key ranges through {machine.arn}")
        click.echo(f"note: {WHAT_IT_FIXES}")
        if not yes and not click.confirm(f"Full refresh of {table}?", default=False):
            raise ActionFailure("not confirmed: nothing started")
        try:
            _run(app, refresh, machine, payload, session.seams.poll_seconds)
        except SyncError as exc:
            raise ActionFailure(str(exc)) from None
    finally:
        session.close()


def _payload(table: str, rows_per_range: int | None, restart: bool) -> dict[str, Any]:
    """The state machine's input, checked by the exporter's own model (the Plan step checks again)."""
    from pydantic import ValidationError

    from aurora_sync.exporter.payloads import RefreshPayload
    from aurora_sync.validation import describe

    payload: dict[str, Any] = {"refresh": table}
    if rows_per_range is not None:
        payload["rows_per_range"] = rows_per_range
    if restart:
        payload["restart"] = True
    try:
        RefreshPayload.model_validate(payload)
    except ValidationError as exc:
        field, problem = describe(exc)
        raise UsageFailure(f"{FIELDS.get(field, field)}: {problem}") from None
    return payload


def _run(
    app: App, refresh: FullRefresh, machine: SyncMachine, payload: dict[str, Any], poll_seconds: float
) -> None:
    from aurora_sync_cli.executions import execution_name
    from aurora_sync_cli.follow import INTERRUPTED_EXIT, follow, interrupted, render_outcome

    table = refresh.table.table_name
    again = f"{app.command()} resync {table}"
    from aurora_sync.exporter.refresh import PlanGone

    _step(1, f"the refresh of {table} ...")
    try:
        unfinished = refresh.unfinished()
    except PlanGone as gone:  # the Plan step abandons it and plans anew, as with --restart
        click.echo(f"  {gone}")
        unfinished = None
    if unfinished is None or payload.get("restart"):
        click.echo("  a new refresh: the Plan step samples the keys and cuts the table into ranges")
    else:
        plan, before = unfinished
        click.echo(
            f"  resuming refresh {plan.refresh_id} (planned {plan.created_at}): {len(before.done)} of "
            f"{plan.ranges} ranges exported; the others are exported now, in the same ranges"
        )
    running = refresh.running_execution(machine)
    if running is not None:
        _step(2, f"an execution is refreshing {table} already: following it, nothing started")
        arn = running
    else:
        name = execution_name("refresh", table, datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"))
        _step(2, f"start {name} with {payload}")
        arn = machine.start(name, payload).arn
    _step(3, f"follow {arn}")
    try:
        outcome = follow(machine, arn, sys.stdout, poll_seconds=poll_seconds)
    except KeyboardInterrupt:
        click.echo(interrupted(arn, app.command()))
        click.echo(f"the refresh goes on; `{again}` follows it again, or resumes it once it stopped")
        sys.exit(INTERRUPTED_EXIT)
    render_outcome(outcome, sys.stdout, app.command())
    _step(4, "result")
    planned = outcome.progress.refresh or {}
    refresh_id = str(planned.get("id") or "")
    progress = refresh.progress_of(refresh_id) if refresh_id else None
    counts = refresh.counts()
    click.echo(f"  Aurora now: {counts.aurora_estimate}; FINAL now: {counts.final}")
    if progress is None or progress.ended != "complete":
        ranges = planned.get("ranges", "?")
        done = "?" if progress is None else str(len(progress.done))
        raise ActionFailure(
            f"refresh {refresh_id or '(not planned)'} of {table}: {done} of {ranges} ranges exported; "
            f"run `{again}` to resume from the ranges left (exporting a range again is harmless)"
        )
    click.echo(
        f"  refresh {refresh_id} complete: all {planned.get('ranges')} ranges exported. FINAL catches up "
        f"when Snowpipe loads the files and the MERGE task runs (`{app.command()} status {table}`); "
        "rows deleted in Aurora are removed only by the table's delete detection (issue 15 §1)."
    )
    if not outcome.ok:
        sys.exit(1)
