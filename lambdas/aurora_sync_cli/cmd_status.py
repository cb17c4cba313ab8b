"""`aurora-sync status [TABLE...]`"""

from __future__ import annotations

import sys

import click

from aurora_sync_cli.app import App, Unreadable, UsageFailure, pass_app


@click.command()
@click.argument("tables", nargs=-1, metavar="[TABLE]...")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout (same exit codes).")
@pass_app
def status(app: App, tables: tuple[str, ...], as_json: bool) -> None:
    """One row per table: Aurora's and FINAL's newest watermark, the lag against the table's SLA, the
    last export, files pending in the pipe, the pipe's and the task's state, open alerts and publish
    pins. Exit 0 all ok, 1 a problem, 3 something unknown (see aurora-sync --help)."""
    from aurora_sync_cli.render import render_table, report_exit, to_json
    from aurora_sync_cli.session import UsageProblem
    from aurora_sync_cli.status import gather

    session = app.session()
    try:
        try:
            configured = session.tables(tables)
        except UsageProblem as exc:
            raise UsageFailure(str(exc)) from None
        except Exception as exc:  # the table list itself unreadable: nothing else can be judged
            raise Unreadable(f"every table unknown: cannot read the table list: {exc}") from None
        report = gather(session, configured)
    finally:
        session.close()
    if as_json:
        click.echo(to_json(report))
    else:
        render_table(report, sys.stdout)
    sys.exit(int(report_exit(report)))
