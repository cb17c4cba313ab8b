"""Reconciler payload contract: every file in events/reconciler/ is exercised here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aurora_sync.errors import PayloadError
from aurora_sync.reconciler.execution_alerts import is_status_change, parse_status_change
from aurora_sync.reconciler.payloads import parse_reconcile_event
from aurora_sync.tables import parse_tables

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events" / "reconciler"
TABLES = parse_tables((ROOT / "terraform/envs/dev/tables.json").read_text(), "tables.json")
EXPECTED = json.loads((EVENTS / "invalid" / "EXPECTED.json").read_text())


def load(name: str) -> object:
    return json.loads((EVENTS / name).read_text())


def test_scheduled_event_reconciles_every_table() -> None:
    request = parse_reconcile_event(load("scheduled.json"), TABLES)
    assert request.tables == ["public.orders", "public.customers"] and request.export_run_ids == []


def test_state_machine_payload_names_the_exported_tables_and_runs() -> None:
    request = parse_reconcile_event(load("stepfunctions-after-sync.json"), TABLES)
    assert request.tables == ["public.orders", "public.customers"]
    assert request.export_run_ids[0].startswith("0b5e7a7e")


def test_state_machine_payload_trimmed_to_table_names_is_accepted() -> None:
    # GIVEN the results as the state machine trims them (names only; a failed chunk's empty entry)
    request = parse_reconcile_event(load("stepfunctions-after-sync-trimmed.json"), TABLES)
    # THEN the same tables and run ids as from whole results
    assert request.tables == ["public.orders", "public.customers"]
    assert request.export_run_ids == [
        "0b5e7a7e-8d7c-4c1e-9d64-2f2a4b1f9c01",
        "8c1f2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
    ]


def test_sync_execution_status_change_is_told_apart_from_a_reconcile_request() -> None:
    # GIVEN EventBridge's event for a sync execution that failed WHEN read THEN it is a status change
    event = load("sync-execution-failed.json")
    assert is_status_change(event) and not is_status_change(load("scheduled.json"))
    change = parse_status_change(event)
    assert change.status == "FAILED" and change.state_machine == "aurora-snowflake-sync-prod-sync"


def parse(event: object) -> object:
    """What the reconciler's handler does first: a status change, else a reconcile request."""
    if is_status_change(event):
        assert isinstance(event, dict)
        return parse_status_change(event)
    return parse_reconcile_event(event, TABLES)


def test_manual_payload_reconciles_the_listed_tables() -> None:
    assert parse_reconcile_event(load("manual-tables.json"), TABLES).tables == ["public.orders"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_payload_is_rejected_naming_the_field(name: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse(load(f"invalid/{name}"))
    assert caught.value.field == EXPECTED[name], str(caught.value)
