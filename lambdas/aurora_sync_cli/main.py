"""`aurora-sync`: the operator CLI (console script in pyproject.toml).

Subcommands live one per module (cmd_*.py) and are registered below, each using App.session() for
names and connections.
"""

from __future__ import annotations

from pathlib import Path

import click

from aurora_sync_cli.app import App
from aurora_sync_cli.cmd_backfill import backfill
from aurora_sync_cli.cmd_onboard import onboard
from aurora_sync_cli.cmd_pause import pause, resume
from aurora_sync_cli.cmd_resync import resync
from aurora_sync_cli.cmd_status import status

EPILOG = """\b
Names come from Terraform outputs (--env, --outputs), else from the
variables the Lambdas take (TABLES_PARAMETER, EXPORT_BUCKET,
ALERT_STATE_TABLE, SNOWFLAKE_*, DB_*, VAULT_* ...). With outputs, the
reconciler's own environment fills the connection settings; set
VAULT_AUTH_METHOD=token and VAULT_TOKEN for your own Vault login.

\b
Exit codes:
  0  ok
  1  something is wrong: status found a problem; pause/resume/onboard
     failed; a backfill or resync chunk failed (its re-run is printed);
     or the confirmation was declined
  2  bad usage or configuration (named): nothing was read or changed
  3  status only: nothing known to be wrong, but something could not
     be read (shown as unknown, with its cause)
  130  backfill/resync: Ctrl-C stopped the following; the execution
     goes on (backfill --follow ARN)
"""


@click.group(
    epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.option(
    "--env", metavar="ENV", help="Read names from `terraform -chdir=terraform/envs/ENV output -json`."
)
@click.option(
    "--outputs",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read names from a saved `terraform output -json` file instead.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log the domain code's info lines to stderr.")
@click.pass_context
def cli(ctx: click.Context, env: str | None, outputs: Path | None, verbose: bool) -> None:
    """On-call commands for aurora-snowflake-sync: state of every table, pause and resume, backfill,
    full refresh, onboarding."""
    if env is not None and outputs is not None:
        raise click.UsageError("give --env or --outputs, not both")
    ctx.obj = App(seams=ctx.obj, env=env, outputs=outputs, verbose=verbose)


cli.add_command(status)
cli.add_command(pause)
cli.add_command(resume)
cli.add_command(onboard)
cli.add_command(backfill)
cli.add_command(resync)


def main() -> None:
    cli(prog_name="aurora-sync")
