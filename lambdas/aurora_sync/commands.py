"""The `aurora-sync` command that does what an alert's `rerun` payload describes.

Alerts carry `rerun` (the exporter payload that exports a window again); on-call at 3 a.m. should not
have to turn JSON into a command line. Every `rerun` in an alert's details gets a `command` beside it
(adapters/sns.py, when the alert is published), and the CLI prints the same for a failed chunk, from
this one mapping:
- a manual window `{"tables": [T], "start", "end"[, "chunk_minutes"]}` or a Step Functions item
  `{"table": T, "start", "end"}` -> `backfill T --start … --end …`;
- the full-refresh override `{"override": …/T, "value": {"full_refresh": true}}` -> `resync T`;
- anything else (a split part, wider than a manual range may be; several tables) -> no command: the
  payload is what to run (runbook: re-export a window).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CLI = "aurora-sync"


def cli_prefix(environment: str | None) -> str:
    """`aurora-sync --env prod`; without the environment's name (not deployed by Terraform) a
    placeholder on-call fills in, never a command that would act on some other environment."""
    return f"{CLI} --env {environment or '<env>'}"


def rerun_command(rerun: Mapping[str, Any], prefix: str) -> str | None:
    table = _one_table(rerun)
    if table is None:
        return None
    value = rerun.get("value")
    if "override" in rerun and isinstance(value, Mapping) and value.get("full_refresh") is True:
        return f"{prefix} resync {table}"
    start, end = rerun.get("start"), rerun.get("end")
    if not isinstance(start, str) or not isinstance(end, str) or rerun.get("split"):
        return None
    command = f"{prefix} backfill {table} --start {start} --end {end}"
    chunk = rerun.get("chunk_minutes")
    return command if chunk is None else f"{command} --chunk-minutes {chunk}"


def with_commands(details: Any, prefix: str) -> Any:
    """`details` with a `command` beside every `rerun` it can render (nested problems included);
    everything else as it was."""
    if isinstance(details, Mapping):
        copied = {key: with_commands(value, prefix) for key, value in details.items()}
        rerun = details.get("rerun")
        if isinstance(rerun, Mapping) and "command" not in details:
            command = rerun_command(rerun, prefix)
            if command is not None:
                copied["command"] = command
        return copied
    if isinstance(details, list):
        return [with_commands(item, prefix) for item in details]
    return details


def _one_table(rerun: Mapping[str, Any]) -> str | None:
    if isinstance(rerun.get("table"), str):
        return str(rerun["table"])
    tables = rerun.get("tables")
    if isinstance(tables, list) and len(tables) == 1 and isinstance(tables[0], str):
        return tables[0]
    override = rerun.get("override")
    if isinstance(override, str) and "/" in override:
        return override.rsplit("/", 1)[1] or None
    return None
