"""Reconciler payload contract: every file in events/reconciler/ is exercised here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aurora_sync.config import parse_tables
from aurora_sync.errors import PayloadError
from aurora_sync.reconcile_events import parse_reconcile_event

ROOT = Path(__file__).resolve().parents[2]
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


def test_manual_payload_reconciles_the_listed_tables() -> None:
    assert parse_reconcile_event(load("manual-tables.json"), TABLES).tables == ["public.orders"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_payload_is_rejected_naming_the_field(name: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_reconcile_event(load(f"invalid/{name}"), TABLES)
    assert caught.value.field == EXPECTED[name], str(caught.value)
