"""The command an alert prints is one the CLI accepts: on-call pastes it at 3 a.m., and a command the
parser or the Plan step refuses would cost them the time the command was meant to save."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import pytest

from aurora_sync.commands import cli_prefix, with_commands
from aurora_sync.exporter.payloads import ExportWindow, parse_request
from aurora_sync.settings import ExporterSettings
from aurora_sync.tables import parse_tables
from aurora_sync_cli.main import cli

ROOT = Path(__file__).resolve().parents[3]
TABLES = parse_tables((ROOT / "terraform/envs/dev/tables.json").read_text(), "tables.json")
TABLE = TABLES.names[0]
MAX_RANGE = timedelta(hours=ExporterSettings.model_fields["max_range_hours"].default)
START = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


def parsed(command: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(subcommand, its parameters, the group's parameters) as click parses `command`, without
    running it."""
    argv = shlex.split(command)
    assert argv[0] == "aurora-sync"
    group = cli.make_context("aurora-sync", argv[1:], resilient_parsing=False)
    name, sub, rest = cli.resolve_command(group, group._protected_args + group.args)
    assert name is not None and sub is not None
    return name, sub.make_context(name, rest, parent=group).params, group.params


@pytest.mark.parametrize(
    "rerun",
    [
        ExportWindow(TABLE, START, START + timedelta(hours=6)).payload(),
        {**ExportWindow(TABLE, START, START + timedelta(hours=6)).payload(), "chunk_minutes": 60},
        ExportWindow(TABLE, START, START + timedelta(hours=1)).item(),
    ],
    ids=["window", "chunks", "item"],
)
def test_an_alerts_backfill_command_parses_and_passes_the_plan_steps_checks(rerun: dict[str, Any]) -> None:
    # GIVEN an alert whose details carry a rerun as the exporter writes it
    details = with_commands({"rerun": rerun}, cli_prefix("prod"))
    # WHEN on-call's shell and the CLI's parser read its command
    name, params, group = parsed(details["command"])
    # THEN it is a backfill of the same table and window in prod
    assert (name, group["env"], params["table"]) == ("backfill", "prod", TABLE)
    assert (params["start"], params["end"]) == (rerun["start"], rerun["end"])
    assert params["chunk_minutes"] == rerun.get("chunk_minutes")
    # AND the payload the CLI builds from it is one the Plan step accepts
    payload = {"tables": [params["table"]], "start": params["start"], "end": params["end"]}
    if params["chunk_minutes"] is not None:
        payload["chunk_minutes"] = params["chunk_minutes"]
    parse_request({**payload, "action": "plan"}, TABLES, MAX_RANGE)


def test_an_alerts_resync_command_parses() -> None:
    rerun = {"override": f"/aurora-snowflake-sync/prod/overrides/{TABLE}", "value": {"full_refresh": True}}
    name, params, group = parsed(with_commands({"rerun": rerun}, cli_prefix("prod"))["command"])
    assert (name, group["env"], params["table"], params["restart"]) == ("resync", "prod", TABLE, False)


def test_the_parser_itself_refuses_a_malformed_command() -> None:
    # GIVEN a command whose option value is not what the option takes (the test's own check can fail)
    with pytest.raises(click.BadParameter):
        parsed(f"aurora-sync --env prod backfill {TABLE} --start a --end b --chunk-minutes sixty")
