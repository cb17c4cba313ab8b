"""`aurora-sync onboard SCHEMA.TABLE`: the tables.json entry for a live Aurora table.

Connects as the Lambdas do (DB_HOST over verified TLS with the CA bundle from Parameter Store, the
user from Vault, the KMS fallback only when Vault is unreachable), so it reads the columns and types
the export user sees. The entry goes to stdout, the notes to stderr.
"""

from __future__ import annotations

from typing import Any

import click

from aurora_sync_cli.app import ActionFailure, App, UsageFailure, pass_app


class _Columns:
    """aurora_sync.onboarding reads through `run(sql, **params)`; Aurora.run also names the action."""

    def __init__(self, aurora: Any) -> None:
        self._aurora = aurora

    def run(self, sql: str, **params: Any) -> list[list[Any]]:
        rows: list[list[Any]] = self._aurora.run(sql, "read the table's columns and primary key", **params)
        return rows


@click.command()
@click.argument("table", metavar="SCHEMA.TABLE")
@click.option("--watermark", metavar="COLUMN", help="Timestamp column (default: updated_at or modified_at).")
@click.option("--soft-delete", metavar="COLUMN", help="Boolean column marking deleted rows.")
@pass_app
def onboard(app: App, table: str, watermark: str | None, soft_delete: str | None) -> None:
    """Print the tables.json entry (columns with Snowflake types, primary key, watermark) for
    terraform/envs/<env>/tables.json; notes on stderr explain every column loaded as text and every
    column that may hold values Snowflake cannot load."""
    from aurora_sync.identifiers import validate_identifier
    from aurora_sync.onboarding import render_entry, table_entry

    parts = table.split(".")
    try:
        if len(parts) != 2:
            raise ValueError(f"SCHEMA.TABLE {table!r} must be schema.table")
        for what, value in (
            ("SCHEMA.TABLE part", parts[0]),
            ("SCHEMA.TABLE part", parts[1]),
            ("--watermark", watermark),
            ("--soft-delete", soft_delete),
        ):
            if value is not None:
                validate_identifier(value, what)
    except ValueError as exc:
        raise UsageFailure(str(exc)) from None
    session = app.session()
    aurora = None
    try:
        aurora = session.runtime.open_aurora()
        entry, notes = table_entry(_Columns(aurora), table, watermark, soft_delete)
    except ValueError as exc:
        raise UsageFailure(str(exc)) from None
    except Exception as exc:  # connection, credentials, TLS: the adapters' messages name the cause
        raise ActionFailure(str(exc)) from None
    finally:
        if aurora is not None:
            aurora.close()
        session.close()
    click.echo(render_entry(entry))
    for note in notes:
        click.echo(f"note: {note}", err=True)
