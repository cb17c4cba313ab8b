"""Exporter payload contract: every file in events/ is exercised here."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aurora_sync.errors import PayloadError
from aurora_sync.exporter.payloads import (
    Attempt,
    ExportWindow,
    item_table,
    parse_event,
    parse_request,
    split_range,
    split_window,
)
from aurora_sync.tables import parse_tables

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events" / "exporter"
TABLES = parse_tables((ROOT / "terraform/envs/dev/tables.json").read_text(), "tables.json")
MAX_RANGE = timedelta(hours=168)


def load(name: str) -> object:
    return json.loads((EVENTS / name).read_text())


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_scheduled_event_exports_every_table_incrementally() -> None:
    # GIVEN the EventBridge scheduled event WHEN parsed THEN one incremental window per table
    windows = parse_event(load("scheduled.json"), TABLES, MAX_RANGE)
    assert windows == [ExportWindow("public.orders"), ExportWindow("public.customers")]


def test_empty_scheduler_payload_is_a_scheduled_run() -> None:
    assert parse_event({}, TABLES, MAX_RANGE) == [ExportWindow(n) for n in TABLES.names]


def test_manual_range_is_one_window_with_exact_bounds() -> None:
    windows = parse_event(load("manual-range.json"), TABLES, MAX_RANGE)
    assert windows == [ExportWindow("public.orders", t("2026-11-20T00:00:00"), t("2026-11-20T06:00:00"))]


def test_chunked_range_covers_range_exactly_for_each_table() -> None:
    # GIVEN a 6 hour range in 60 minute chunks for two tables
    windows = parse_event(load("manual-range-chunked.json"), TABLES, MAX_RANGE)
    # THEN 6 contiguous chunks per table, in table order
    assert len(windows) == 12
    orders = [w for w in windows if w.table == "public.orders"]
    assert orders[0].start == t("2026-11-20T00:00:00") and orders[-1].end == t("2026-11-20T06:00:00")
    assert all(a.end == b.start for a, b in itertools.pairwise(orders))


def test_table_list_without_range_is_incremental_for_those_tables() -> None:
    assert parse_event(load("manual-incremental-one-table.json"), TABLES, MAX_RANGE) == [
        ExportWindow("public.customers")
    ]


def test_step_functions_item_is_one_chunk() -> None:
    windows = parse_event(load("stepfunctions-item.json"), TABLES, MAX_RANGE)
    assert windows == [ExportWindow("public.orders", t("2026-11-20T00:00:00"), t("2026-11-20T01:00:00"))]


def test_step_functions_item_with_its_attempt_is_the_same_chunk_and_says_which_attempt() -> None:
    # GIVEN the state machine's Export payload: the item wrapped with its attempt
    request = parse_request(load("stepfunctions-item-attempt.json"), TABLES, MAX_RANGE)
    # THEN the windows are the item's, and the attempt tells the service what Step Functions does next
    assert request.windows == parse_event(load("stepfunctions-item.json"), TABLES, MAX_RANGE)
    assert request.action is None and request.attempt == Attempt(
        retry=0, max_retries=3, split_on_timeout=True
    )
    assert request.attempt.retries_left
    assert item_table(load("stepfunctions-item-attempt.json")) == "public.orders"
    # AND every other payload has none: it is its own last attempt
    assert parse_request(load("stepfunctions-item.json"), TABLES, MAX_RANGE).attempt is None
    assert not Attempt(retry=3, max_retries=3).retries_left


def test_window_payload_round_trips_to_the_same_window() -> None:
    # GIVEN a window left over when time ran out WHEN its re-run payload is parsed THEN same window
    window = ExportWindow("public.orders", t("2026-11-20T00:00:00"), t("2026-11-20T01:00:00"))
    assert parse_event(window.payload(), TABLES, MAX_RANGE) == [window]


EXPECTED = json.loads((EVENTS / "invalid" / "EXPECTED.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_payload_is_rejected_naming_the_field(name: str) -> None:
    # GIVEN a malformed payload WHEN parsed THEN PayloadError names the offending field
    with pytest.raises(PayloadError) as caught:
        parse_request(load(f"invalid/{name}"), TABLES, MAX_RANGE)
    assert caught.value.field == EXPECTED[name], str(caught.value)


def test_every_invalid_sample_has_an_expectation() -> None:
    files = {p.name for p in (EVENTS / "invalid").glob("*.json")} - {"EXPECTED.json"}
    assert files == set(EXPECTED)


def test_split_range_last_chunk_is_shortened_to_the_end() -> None:
    chunks = split_range(t("2026-11-20T00:00:00"), t("2026-11-20T02:30:00"), 60)
    assert chunks[-1] == (t("2026-11-20T02:00:00"), t("2026-11-20T02:30:00"))
    assert len(chunks) == 3


def test_too_many_chunks_is_rejected() -> None:
    with pytest.raises(PayloadError) as caught:
        parse_event(
            {"start": "2026-11-01T00:00:00Z", "end": "2026-11-07T00:00:00Z", "chunk_minutes": 1},
            TABLES,
            MAX_RANGE,
        )
    assert caught.value.field == "chunk_minutes"


def test_plan_returns_one_item_per_chunk_without_the_action() -> None:
    # GIVEN the state machine's plan payload (6 h in 120 min chunks for one table)
    request = parse_request(load("stepfunctions-plan.json"), TABLES, MAX_RANGE)
    # THEN three chunk items, each a valid Step Functions item for the same window
    items = [w.item() for w in request.windows]
    assert request.action == "plan"
    assert items[0] == {
        "table": "public.orders",
        "start": "2026-11-20T00:00:00.000000Z",
        "end": "2026-11-20T02:00:00.000000Z",
    }
    assert len(items) == 3
    assert [parse_event(i, TABLES, MAX_RANGE)[0] for i in items] == request.windows


def test_plan_of_a_scheduled_run_is_one_incremental_item_per_table() -> None:
    request = parse_request({"action": "plan"}, TABLES, MAX_RANGE)
    assert [w.item() for w in request.windows] == [{"table": n} for n in TABLES.names]


def test_split_request_names_one_window_and_the_parts() -> None:
    request = parse_request(load("stepfunctions-split.json"), TABLES, MAX_RANGE)
    assert request.action == "split" and request.parts == 4
    assert request.windows == [
        ExportWindow("public.orders", t("2026-11-20T00:00:00"), t("2026-11-20T01:00:00"))
    ]


@pytest.mark.parametrize("parts", [2, 3, 7, 16])
def test_split_window_covers_the_window_exactly(parts: int) -> None:
    # GIVEN an odd-length window WHEN split THEN contiguous parts, no gap or overlap, same ends
    start, end = t("2026-11-20T00:00:00"), t("2026-11-20T00:59:59.999999")
    windows = split_window("public.orders", start, end, parts)
    assert len(windows) == parts
    assert windows[0].start == start and windows[-1].end == end
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    assert all(w.start is not None and w.end is not None and w.start < w.end for w in windows)


def test_split_of_a_window_shorter_than_its_parts_is_refused() -> None:
    start = t("2026-11-20T00:00:00")
    with pytest.raises(PayloadError) as caught:
        split_window("public.orders", start, start + timedelta(microseconds=2), 3)
    assert caught.value.field == "parts"


def test_parts_of_a_window_wider_than_the_maximum_range_are_accepted() -> None:
    # GIVEN a first incremental run (FINAL empty: from the epoch) whose export timed out, split in 4
    start, end = t("1970-01-01T00:00:00"), t("2026-11-20T06:00:00")
    parts = split_window("public.orders", start, end, 4)
    # WHEN the state machine hands each part to the exporter
    windows = [parse_request(p.item(), TABLES, MAX_RANGE).windows for p in parts]
    # THEN every part is accepted as exactly that window, although each spans about 14 years
    assert [w for (w,) in windows] == parts
    assert all(p.item()["split"] is True for p in parts)


def test_a_hand_written_item_wider_than_the_maximum_is_still_refused() -> None:
    # GIVEN an item a person typed (no split marker) spanning years WHEN parsed THEN refused on `end`
    typed = {"table": "public.orders", "start": "1970-01-01T00:00:00Z", "end": "1984-01-12T00:00:00Z"}
    with pytest.raises(PayloadError) as caught:
        parse_event(typed, TABLES, MAX_RANGE)
    assert caught.value.field == "end"


def test_split_part_sample_and_its_rerun_payload_are_accepted() -> None:
    # GIVEN a split part as the state machine sends it WHEN parsed, and its re-run payload re-parsed
    (window,) = parse_event(load("stepfunctions-split-part.json"), TABLES, MAX_RANGE)
    # THEN one wide window, and the payload reported for a re-run is that same window again
    assert window.split and window.start == t("1970-01-01T00:00:00")
    assert parse_event(window.payload(), TABLES, MAX_RANGE) == [window]


def test_plan_refuses_more_items_than_one_execution_carries() -> None:
    # GIVEN a plan of 600 ten-minute chunks for each of the two tables (1,200 items)
    payload = {"action": "plan", "start": "2026-11-01T00:00:00Z", "end": "2026-11-05T04:00:00Z",
               "chunk_minutes": 10}  # fmt: skip
    # WHEN planned THEN refused naming chunk_minutes; one table's 600 chunks are fine
    with pytest.raises(PayloadError) as caught:
        parse_request(payload, TABLES, MAX_RANGE)
    assert caught.value.field == "chunk_minutes" and "1200 chunks" in str(caught.value)
    assert len(parse_request(payload | {"tables": ["public.orders"]}, TABLES, MAX_RANGE).windows) == 600
