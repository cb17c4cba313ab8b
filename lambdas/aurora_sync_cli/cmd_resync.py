"""`aurora-sync resync TABLE`: the runbook's full refresh (docs/runbook.md, "full-reload"), end to end.

Steps, each printed: (1) no export of the table is running (its export lease); (2) write the
full_refresh override; (3) start the sync state machine with `{"tables": [TABLE]}`, an incremental
run, the only kind that honours the override (aurora_sync_cli/resync.py); (4) follow it; (5) the
override was consumed and a full-refresh manifest written; (6) rows exported against Aurora's and
FINAL's counts. FINAL is never truncated: readers keep seeing the table while it is refreshed.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from aurora_sync_cli.app import ActionFailure, App, UsageFailure, pass_app

if TYPE_CHECKING:
    from aurora_sync_cli.executions import SyncMachine
    from aurora_sync_cli.resync import FullRefresh


def _step(number: int, text: str) -> None:
    click.echo(f"[{number}/6] {text}")


@click.command()
@click.argument("table")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def resync(app: App, table: str, yes: bool) -> None:
    """Full refresh of TABLE: export every row again through the state machine and merge it into
    FINAL (updates and inserts; rows deleted in Aurora stay in FINAL). Exit 0 when the refresh is
    proven by its manifest, 1 when it failed or was declined (it says what stays set), 2 bad usage."""
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
            raise ActionFailure(f"cannot read the table list, nothing changed: {exc}") from None
        if not session.settings.export_lease_table:
            raise UsageFailure(
                "EXPORT_LEASE_TABLE: not set (Terraform output export_lease_table, or the variable)"
            )
        from aurora_sync_cli.resync import WHAT_IT_FIXES, FullRefresh

        refresh = FullRefresh(session, config)
        click.echo(f"resync {table}: full refresh through {machine.arn}")
        click.echo(f"note: {WHAT_IT_FIXES}")
        if not yes and not click.confirm(f"Full refresh of {table}?", default=False):
            raise ActionFailure("not confirmed: nothing changed")
        try:
            _run(app, refresh, machine, session.seams.poll_seconds)
        except SyncError as exc:
            raise ActionFailure(str(exc)) from None
    finally:
        session.close()


def _run(app: App, refresh: FullRefresh, machine: SyncMachine, poll_seconds: float) -> None:
    from aurora_sync.errors import SyncError
    from aurora_sync_cli.executions import execution_name
    from aurora_sync_cli.follow import INTERRUPTED_EXIT, follow, interrupted, render_outcome

    table = refresh.table.table_name
    now = datetime.now(UTC)
    _step(1, f"no export of {table} running (export lease) ...")
    lease = refresh.running_export(now)
    if lease is not None:
        raise ActionFailure(
            f"an export of {table} is running ({lease.describe()}): nothing changed; run again after it"
        )
    _step(2, f'set {refresh.override_name} = {{"full_refresh": true}}')
    refresh.set_override()
    cancel = f"to cancel it: aws ssm delete-parameter --name {refresh.override_name}"
    stays = (
        f"the override stays set, so the next hourly run does the full refresh (each run after it "
        f"tries again until one succeeds); {cancel}"
    )
    name = execution_name("resync", table, now.strftime("%Y%m%dT%H%M%SZ"))
    _step(3, f'start {name} with {{"tables": ["{table}"]}}')
    try:
        started = machine.start(name, {"tables": [table]})
    except SyncError as exc:
        raise ActionFailure(f"{exc}\n{stays}") from None
    _step(4, f"follow {started.arn}")
    try:
        outcome = follow(machine, started.arn, sys.stdout, poll_seconds=poll_seconds)
    except KeyboardInterrupt:
        click.echo(interrupted(started.arn, app.command()))
        click.echo(f"then check: the override {refresh.override_name} is gone once the refresh exported")
        sys.exit(INTERRUPTED_EXIT)
    render_outcome(outcome, sys.stdout, app.command())
    _step(5, "override consumed and a full-refresh manifest written ...")
    manifest = refresh.refresh_manifest(now)
    still_set = refresh.override_set()
    if manifest is None or still_set:
        reasons = ["no full-refresh manifest since the override was set"] if manifest is None else []
        raise ActionFailure(f"the full refresh of {table} is not proven: " + "; ".join([*reasons, stays]))
    click.echo(f"  manifest {manifest.key}: {manifest.doc.rows:,} rows, run {manifest.doc.run_id}")
    counts = refresh.counts(manifest)
    _step(6, "rows")
    click.echo(f"  exported: {counts.exported:,}; Aurora now: {counts.aurora_estimate}")
    click.echo(f"  FINAL now: {counts.final}")
    click.echo(
        "  FINAL catches up when Snowpipe loads the files and the MERGE task runs "
        f"(`{app.command()} status {table}`). Once merged, FINAL holding more rows than were exported "
        "means rows deleted in Aurora (or inserted since): a full refresh does not remove them."
    )
    if not outcome.ok:
        sys.exit(1)
