"""One window's decisions on fakes: where it starts (FINAL, lookback, pinned gaps), what may be
split, the schema check's alert, and that an override is consumed only after the manifest."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from aurora_sync.errors import SchemaDriftError, TerminalError, TransientError
from aurora_sync.exporter.payloads import ExportWindow
from aurora_sync.exporter.results import TableStatus
from aurora_sync.layout import MANIFEST_ROOT, PENDING_ROOT
from aurora_sync.pins import PublishPin
from aurora_sync.tables import Override
from aurora_sync.timeutil import iso
from tests.unit.exporter.fakes import FINAL_TABLE, HEADER, T0, TABLE, Exporter, tables

H = timedelta(hours=1)
LOOKBACK = timedelta(seconds=300)
INCREMENTAL = ExportWindow(TABLE)


def with_rows(exporter: Exporter) -> Exporter:
    exporter.aurora.rows = 1
    exporter.aurora.parts = [HEADER + b"1,a,2026-11-20T05:00:00.000000+00:00\n"]
    return exporter


def pin(exporter: Exporter, lower_hours: int, upper_hours: int) -> PublishPin:
    """An interrupted split publish of (T0-lower_hours, T0-upper_hours], no manifest covering it."""
    pinned = PublishPin(TABLE, "e0", "run-0", T0 - lower_hours * H, T0 - upper_hours * H, T0 - 2 * H)
    exporter.store.put_json(pinned.key, pinned.to_json())
    return pinned


def test_an_incremental_window_starts_at_finals_watermark_less_the_lookback() -> None:
    exporter = with_rows(Exporter())
    exporter.snowflake.final_max[FINAL_TABLE] = T0 - H
    result = exporter.windows.export(INCREMENTAL)
    assert (result.lower, result.upper) == (iso(T0 - H - LOOKBACK), iso(T0))


def test_the_lower_bound_is_held_at_a_pinned_gap_until_a_manifest_covers_it() -> None:
    # GIVEN FINAL's watermark at T0-1h, and a pin on (T0-5h, T0-3h] that no manifest covers
    exporter = with_rows(Exporter())
    exporter.snowflake.final_max[FINAL_TABLE] = T0 - H
    pinned = pin(exporter, 5, 3)
    # WHEN the incremental window is exported
    result = exporter.windows.export(INCREMENTAL)
    # THEN it starts at the gap less the lookback, not at FINAL's watermark
    assert result.lower == iso(T0 - 5 * H - LOOKBACK)
    # AND its manifest covers the gap, so the pin is cleared in the same run
    assert pinned.key not in exporter.store.objects


def test_a_full_refresh_cannot_be_split_and_pins_nothing() -> None:
    # GIVEN a full_refresh override on the table (no lower bound; it also takes NULL watermarks)
    exporter = Exporter()
    exporter.overrides.overrides[TABLE] = Override(full_refresh=True)
    # WHEN the state machine asks to split its timed-out window THEN that is refused
    with pytest.raises(TerminalError, match=r"full refresh .* cannot be split"):
        exporter.windows.split_bounds(INCREMENTAL)
    assert exporter.store.keys(PENDING_ROOT) == []


def test_splitting_an_incremental_window_pins_it_and_a_manual_one_does_not() -> None:
    # GIVEN FINAL's watermark at T0-1h
    exporter = Exporter()
    exporter.snowflake.final_max[FINAL_TABLE] = T0 - H
    # WHEN an incremental window is split THEN its bounds come back and a pin guards the whole window
    assert exporter.windows.split_bounds(INCREMENTAL) == (T0 - H - LOOKBACK, T0)
    (key,) = exporter.store.keys(PENDING_ROOT)
    assert key.startswith(f"{PENDING_ROOT}{TABLE}/run-split-")
    assert PublishPin.from_json(exporter.store.objects[key], key).window == (T0 - H - LOOKBACK, T0)
    # WHEN a manual window is split THEN nothing is pinned: its caller sees failures and re-runs them
    manual = ExportWindow(TABLE, T0 - 3 * H, T0 - 2 * H)
    by_hand = Exporter()
    assert by_hand.windows.split_bounds(manual) == (T0 - 3 * H, T0 - 2 * H)
    assert by_hand.store.keys(PENDING_ROOT) == []


def test_columns_aurora_has_and_the_config_lacks_page_p3_and_matching_columns_resolve() -> None:
    # GIVEN Aurora has a column tables.json does not list
    drifted = with_rows(Exporter())
    drifted.aurora.columns_of["secret"] = "text"
    # WHEN the table is exported THEN it still exports, and schema_drift pages P3 naming the column
    assert drifted.windows.export(INCREMENTAL).status is TableStatus.EXPORTED
    ((alert, _),) = drifted.alerts.raised
    assert (alert.check, alert.severity.value, alert.details) == (
        "schema_drift",
        "P3",
        {"unexported_columns": ["secret"]},
    )
    # GIVEN the columns match WHEN exported THEN schema_drift is resolved, nothing raised
    matching = with_rows(Exporter())
    matching.windows.export(INCREMENTAL)
    assert matching.alerts.raised == []
    assert ("schema_drift", TABLE, "Aurora's columns match tables.json") in matching.alerts.resolved


def test_a_configured_column_gone_from_aurora_stops_the_table_before_any_query() -> None:
    exporter = with_rows(Exporter())
    del exporter.aurora.columns_of["note"]
    with pytest.raises(SchemaDriftError, match="configured column\\(s\\) note no longer exist"):
        exporter.windows.export(INCREMENTAL)
    assert exporter.aurora.queries == [] and exporter.alerts.raised == []


def test_a_full_refresh_override_is_deleted_only_after_the_manifest_is_written() -> None:
    # GIVEN on-call set a full_refresh override, and the manifest cannot be written
    exporter = with_rows(Exporter())
    exporter.overrides.overrides[TABLE] = Override(full_refresh=True)
    exporter.store.fail_on["put"] = TransientError("s3:PutObject: throttled")
    # WHEN the window is exported THEN it fails and the override stays for the next run
    with pytest.raises(TransientError):
        exporter.windows.export(INCREMENTAL)
    assert exporter.overrides.deleted == [] and TABLE in exporter.overrides.overrides
    # WHEN the manifest can be written THEN the refresh (no lower bound) is manifested, then consumed
    del exporter.store.fail_on["put"]
    result = exporter.windows.export(INCREMENTAL)
    assert result.lower is None and "IS NULL" in exporter.aurora.queries[-1]
    (key,) = exporter.store.keys(MANIFEST_ROOT)
    assert json.loads(exporter.store.objects[key])["full_refresh"] is True
    assert exporter.overrides.deleted == [TABLE]


def test_a_manual_window_ignores_overrides() -> None:
    exporter = with_rows(Exporter())
    exporter.overrides.overrides[TABLE] = Override(full_refresh=True)
    result = exporter.windows.export(ExportWindow(TABLE, T0 - 2 * H, T0 - H))
    assert result.lower == iso(T0 - 2 * H) and exporter.overrides.deleted == []


def test_an_empty_window_exports_nothing() -> None:
    # GIVEN FINAL's watermark (less the lookback) at the commit-safe bound
    exporter = with_rows(Exporter(tables=tables(lookback_seconds=0)))
    exporter.snowflake.final_max[FINAL_TABLE] = T0
    # WHEN exported THEN nothing runs and nothing is written
    assert exporter.windows.export(INCREMENTAL).status is TableStatus.EMPTY
    assert exporter.aurora.queries == [] and exporter.store.keys() == []
