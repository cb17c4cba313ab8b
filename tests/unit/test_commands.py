"""The aurora-sync command beside each alert's `rerun`: on-call copies a command, not JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aurora_sync.adapters.sns import AlertPublisher
from aurora_sync.alerts import Alert, Severity
from aurora_sync.commands import cli_prefix, rerun_command

PROD = cli_prefix("prod")
START, END = "2026-11-20T00:00:00.000000Z", "2026-11-20T06:00:00.000000Z"


@pytest.mark.parametrize(
    ("rerun", "command"),
    [
        (
            {"tables": ["public.orders"], "start": START, "end": END},
            f"aurora-sync --env prod backfill public.orders --start {START} --end {END}",
        ),
        (
            {"tables": ["public.orders"], "start": START, "end": END, "chunk_minutes": 60},
            f"aurora-sync --env prod backfill public.orders --start {START} --end {END} --chunk-minutes 60",
        ),
        (
            {"table": "public.orders", "start": START, "end": END},
            f"aurora-sync --env prod backfill public.orders --start {START} --end {END}",
        ),
        (
            {
                "override": "/aurora-snowflake-sync/prod/overrides/public.orders",
                "value": {"full_refresh": True},
            },
            "aurora-sync --env prod resync public.orders",
        ),
        # a split part may be wider than a manual range: its payload is what to run
        ({"table": "public.orders", "start": START, "end": END, "split": True}, None),
        ({"tables": ["public.orders", "public.customers"], "start": START, "end": END}, None),
        ({"tables": ["public.orders"]}, None),
        ({"override": "/aurora-snowflake-sync/prod/overrides/public.orders", "value": {}}, None),
    ],
    ids=["window", "chunks", "item", "override", "split-part", "two-tables", "incremental", "not-refresh"],
)
def test_each_rerun_shape_has_its_command_or_none(rerun: dict[str, Any], command: str | None) -> None:
    assert rerun_command(rerun, PROD) == command


def test_without_the_environment_name_the_command_asks_for_it() -> None:
    rerun = {"tables": ["public.orders"], "start": START, "end": END}
    assert (rerun_command(rerun, cli_prefix(None)) or "").startswith("aurora-sync --env <env> backfill")


class Sns:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def publish(self, **kwargs: Any) -> dict[str, str]:
        self.sent.append(json.loads(kwargs["Message"]))
        return {"MessageId": "1"}


def test_a_published_alert_carries_a_command_beside_every_rerun() -> None:
    # GIVEN a loads alert with two file problems, each with its rerun (as checks.check_loads writes them)
    rerun = {"tables": ["public.orders"], "start": START, "end": END}
    problems = [{"file": "a.csv", "rerun": rerun}, {"file": "b.csv", "rerun": rerun}]
    details = {"problems": problems, "rerun": rerun}
    alert = Alert(Severity.P2, "loads", "public.orders", "2 file problem(s)", details, "run", "load-failed")
    # WHEN prod's publisher sends it
    sns = Sns()
    AlertPublisher(sns, "arn:topic", "https://runbook.example", cli_prefix("prod")).publish(alert)
    # THEN each problem and the top level have the command; the rerun payloads are unchanged
    [body] = sns.sent
    expected = f"aurora-sync --env prod backfill public.orders --start {START} --end {END}"
    assert [p["command"] for p in body["details"]["problems"]] == [expected, expected]
    assert body["details"]["command"] == expected and body["details"]["rerun"] == rerun
    # AND the alert's own details were not modified (the alert state keeps what the check said)
    assert "command" not in details and "command" not in problems[0]
