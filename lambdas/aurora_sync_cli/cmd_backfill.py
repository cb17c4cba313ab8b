"""`aurora-sync backfill TABLE --start --end [--chunk-minutes N]` / `backfill --follow ARN`

Starts the sync state machine with the exporter's manual payload `{"tables": [TABLE], "start",
"end", "chunk_minutes"}` (the Plan step cuts it into chunks, the Map exports each), follows it and
prints the result. The payload is checked first by the exporter's own parser
(aurora_sync.exporter.payloads.parse_request, as the Plan step runs it), so the CLI and the Lambda
agree on what is valid; nothing is started when it is not.

The execution's name is derived from the request, so a retried or repeated call finds the execution
already running instead of starting a second export of the same rows (executions.py); `--again`
re-runs a backfill that already finished.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from aurora_sync_cli.app import ActionFailure, App, UsageFailure, pass_app

if TYPE_CHECKING:
    from aurora_sync_cli.executions import SyncMachine
    from aurora_sync_cli.session import Session

# The exporter's payload fields, as the CLI names them.
FIELDS = {
    "tables": "TABLE",
    "tables[0]": "TABLE",
    "start": "--start",
    "end": "--end",
    "chunk_minutes": "--chunk-minutes",
}


def manual_payload(session: Session, table: str, start: str, end: str, chunk: int | None) -> dict[str, Any]:
    """The state machine's input, validated like the Plan step validates it; start and end are
    written back in the exporter's canonical form (so `Z` and `+00:00` name the same execution)."""
    from aurora_sync.errors import PayloadError
    from aurora_sync.exporter.payloads import parse_request
    from aurora_sync.timeutil import iso, parse_instant

    payload: dict[str, Any] = {"tables": [table], "start": start, "end": end}
    if chunk is not None:
        payload["chunk_minutes"] = chunk
    from aurora_sync.errors import SyncError

    try:
        tables = session.runtime.parameters.load_tables()
    except SyncError as exc:
        raise ActionFailure(f"cannot read the table list, nothing started: {exc}") from None
    try:
        parse_request(
            {**payload, "action": "plan"}, tables, timedelta(hours=session.settings.max_range_hours)
        )
    except PayloadError as exc:
        raise UsageFailure(f"{FIELDS.get(exc.field, exc.field)}: {exc.problem}") from None
    payload["start"] = iso(parse_instant(start, "start"))
    payload["end"] = iso(parse_instant(end, "end"))
    return payload


def _compact(instant: str) -> str:
    return instant.replace("-", "").replace(":", "").replace(".000000", "")


def name_for(payload: dict[str, Any], again: bool) -> str:
    from aurora_sync_cli.executions import execution_name

    chunk = f"{payload['chunk_minutes']}m" if "chunk_minutes" in payload else "whole"
    parts = [_compact(payload["start"]), _compact(payload["end"]), chunk]
    if again:
        parts.append("at" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S"))
    return execution_name("backfill", payload["tables"][0], *parts)


def follow_and_report(app: App, machine: SyncMachine, arn: str, poll_seconds: float) -> None:
    """Follow to the end, print the result; exit 0 only when every chunk exported."""
    from aurora_sync.errors import SyncError
    from aurora_sync_cli.follow import INTERRUPTED_EXIT, follow, interrupted, render_outcome

    try:
        outcome = follow(machine, arn, sys.stdout, poll_seconds=poll_seconds)
    except KeyboardInterrupt:
        click.echo(interrupted(arn, app.command()))
        sys.exit(INTERRUPTED_EXIT)
    except SyncError as exc:
        raise ActionFailure(
            f"cannot follow {arn}: {exc}\nthe execution is not affected; follow it again: "
            f"{app.command()} backfill --follow {arn}"
        ) from None
    render_outcome(outcome, sys.stdout, app.command())
    sys.exit(0 if outcome.ok else 1)


def _start(app: App, machine: SyncMachine, name: str, payload: dict[str, Any]) -> str:
    import json

    from aurora_sync.errors import SyncError
    from aurora_sync_cli.executions import ExecutionClosed

    click.echo(f"starting {machine.arn} as {name}: {json.dumps(payload, sort_keys=True)}")
    try:
        started = machine.start(name, payload)
    except SyncError as exc:
        raise ActionFailure(
            f"{exc}\nrunning the same command again is safe: if {name} started, it is followed, not doubled"
        ) from None
    except ExecutionClosed as exc:
        if exc.status == "RUNNING":  # started by hand with the same name and another input
            raise ActionFailure(
                f"{exc.arn} is running with another input; nothing started. Follow it: "
                f"{app.command()} backfill --follow {exc.arn}"
            ) from None
        raise ActionFailure(
            f"this backfill already ran: {exc.arn} ({exc.status}); nothing started.\n"
            f"its result:    {app.command()} backfill --follow {exc.arn}\n"
            f"run it again:  the same command with --again"
        ) from None
    if started.existing:
        click.echo("already running with this input (started before): following it, not starting another")
    return started.arn


@click.command()
@click.argument("table", required=False)
@click.option("--start", metavar="TIME", help="Exclusive lower bound, ISO-8601 with a zone (…T00:00:00Z).")
@click.option("--end", metavar="TIME", help="Inclusive upper bound, ISO-8601 with a zone.")
@click.option("--chunk-minutes", type=int, metavar="N", help="Chunks of N minutes (one Lambda each).")
@click.option("--no-wait", is_flag=True, help="Print the execution ARN and how to follow it, then exit.")
@click.option("--follow", "follow_arn", metavar="EXECUTION_ARN", help="Follow an execution already started.")
@click.option("--again", is_flag=True, help="Start a new execution even if this exact backfill already ran.")
@pass_app
def backfill(
    app: App,
    *,
    table: str | None,
    start: str | None,
    end: str | None,
    chunk_minutes: int | None,
    no_wait: bool,
    follow_arn: str | None,
    again: bool,
) -> None:
    """Re-export TABLE's rows with start < watermark <= end through the sync state machine, in
    chunks, and follow it: chunks done of total, rows exported, then the result and the payload
    that re-runs each failed chunk. Exit 0 when every chunk exported, 1 otherwise, 2 for bad input
    (nothing started), 130 when Ctrl-C stopped the following (the execution goes on)."""
    from aurora_sync_cli.session import UsageProblem

    if follow_arn is not None and (table or start or end or chunk_minutes is not None or again):
        raise UsageFailure("--follow: give the execution ARN alone, without TABLE, --start, --end")
    if follow_arn is None:
        missing = [n for n, v in (("TABLE", table), ("--start", start), ("--end", end)) if not v]
        if missing:
            raise UsageFailure(f"{', '.join(missing)}: required (or --follow EXECUTION_ARN)")
    session = app.session()
    try:
        try:
            machine = session.machine()
        except UsageProblem as exc:
            raise UsageFailure(str(exc)) from None
        if follow_arn is not None:
            follow_and_report(app, machine, follow_arn, session.seams.poll_seconds)
            return
        assert table is not None and start is not None and end is not None
        payload = manual_payload(session, table, start, end, chunk_minutes)
        arn = _start(app, machine, name_for(payload, again), payload)
        if no_wait:
            click.echo(f"execution: {arn}\nfollow it:  {app.command()} backfill --follow {arn}")
            return
        follow_and_report(app, machine, arn, session.seams.poll_seconds)
    finally:
        session.close()
