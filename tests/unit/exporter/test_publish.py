"""Publishing on fakes: what becomes visible under the table prefix, when a pin is written, and what a
publish that stops midway leaves behind and tells on-call."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from aurora_sync.errors import SyncError, TerminalError, TransientError
from aurora_sync.exporter.publish import Published, Publisher
from aurora_sync.exporter.query import build_export_query
from aurora_sync.layout import PENDING_ROOT
from aurora_sync.pins import PublishPin, PublishPins, Window
from tests.unit.exporter.fakes import HEADER, T0, TABLE, ExportMemoryStore, FakeAurora, settings, table_config

LOWER = T0 - timedelta(hours=2)
ROW = b"1,a,2026-11-20T05:00:00.000000+00:00\n"
TEMP = "_incoming/"
DATA_KEY = f"{TABLE}/2026/11/20/06/run-e1.csv"
PIN = PublishPin(TABLE, "e1", "run-1", LOWER, T0, T0)  # an incremental window's


def export(
    store: ExportMemoryStore,
    aurora: FakeAurora,
    *,
    pin: PublishPin | None = PIN,
    mode: str = "aurora_s3",
    bounds: Window = (LOWER, T0),
) -> Published:
    publisher = Publisher(
        store=store,
        settings=settings(EXPORT_MODE=mode),
        started=T0,
        aurora=lambda: aurora,
        pins=PublishPins(store, "run-1", lambda: T0),
    )
    query = build_export_query(table_config(), *bounds)
    return publisher.export(table_config(), query, "e1", bounds, pin)


def aurora_wrote(store: ExportMemoryStore, *parts: bytes) -> FakeAurora:
    return FakeAurora(store, rows=len(parts), parts=list(parts))


def copies_fail_from(number: int) -> ExportMemoryStore:
    return ExportMemoryStore(fail_copy_at=number, fail_on={"copy": TransientError("s3:CopyObject: reset")})


def published(store: ExportMemoryStore) -> list[str]:
    return store.keys(f"{TABLE}/")


def test_one_part_is_one_atomic_copy_and_needs_no_pin() -> None:
    # GIVEN Aurora wrote an incremental window's rows as one part
    store = ExportMemoryStore()
    # WHEN it is published
    result = export(store, aurora_wrote(store, HEADER + ROW))
    # THEN no pin was written (one copy makes all of it visible at once) and the temp prefix is empty
    assert result.pin is None and store.keys(PENDING_ROOT) == []
    assert published(store) == [DATA_KEY] and store.keys(TEMP) == []
    assert [(f.rows, f.bytes) for f in result.files] == [(1, len(HEADER + ROW))]


def test_several_parts_are_pinned_and_each_part_starts_with_the_header() -> None:
    # GIVEN Aurora split the export into two parts, the second without the header
    store = ExportMemoryStore()
    # WHEN published
    result = export(store, aurora_wrote(store, HEADER + ROW, ROW))
    # THEN the pin is written and handed back (the manifest clears it), and both parts carry the header
    assert result.pin == PIN and store.keys(PENDING_ROOT) == [PIN.key]
    assert [store.objects[k] for k in published(store)] == [HEADER + ROW, HEADER + ROW]
    assert [f.rows for f in result.files] == [None, None]  # Aurora reports only the total


def test_the_pin_is_written_before_the_first_copy() -> None:
    # GIVEN two parts WHEN the very first copy fails
    store = copies_fail_from(1)
    with pytest.raises(SyncError) as failed:
        export(store, aurora_wrote(store, HEADER + ROW, ROW))
    # THEN the pin is already in place, nothing is visible, and the copy's own error comes back
    assert store.keys(PENDING_ROOT) == [PIN.key] and published(store) == []
    assert not isinstance(failed.value, TerminalError) and failed.value.transient


@pytest.mark.parametrize("pin", [PIN, None], ids=["incremental", "manual"])
def test_a_publish_failing_midway_removes_the_published_parts_and_says_what_to_run(
    pin: PublishPin | None,
) -> None:
    # GIVEN three parts, and the second copy fails
    store = copies_fail_from(2)
    # WHEN the window is published
    with pytest.raises(TerminalError) as failed:
        export(store, aurora_wrote(store, HEADER + ROW, ROW, ROW), pin=pin)
    # THEN the part already published is removed, and nothing is left under the temp prefix
    assert published(store) == [] and store.keys(TEMP) == []
    # AND the error names the removed part and the exact payload that re-exports the window
    message = str(failed.value)
    replay = {"tables": [TABLE], "start": "2026-11-20T04:00:00.000000Z", "end": "2026-11-20T06:00:00.000000Z"}
    assert f"parts ['{DATA_KEY}'] were published then removed" in message
    assert message.endswith(f"re-export this window by invoking the exporter with {json.dumps(replay)}")
    # AND an incremental window stays pinned, so the next scheduled run re-exports it by itself
    assert ("the window stays pinned" in message) is (pin is not None)
    assert store.keys(PENDING_ROOT) == ([] if pin is None else [pin.key])


def test_a_full_refresh_is_replayed_from_the_epoch() -> None:
    store = copies_fail_from(2)
    with pytest.raises(TerminalError, match=re.escape('"start": "1970-01-01T00:00:00.000000Z"')):
        export(store, aurora_wrote(store, HEADER + ROW, ROW), pin=None, bounds=(None, T0))


def test_parts_that_do_not_match_what_aurora_reported_publish_nothing() -> None:
    # GIVEN Aurora reports three parts but wrote two
    store = ExportMemoryStore()
    aurora = aurora_wrote(store, HEADER + ROW, ROW)
    aurora.reported_files = 3
    # WHEN published THEN nothing is, and the temp prefix is emptied
    with pytest.raises(TerminalError, match=r"reported 3 file.*nothing was published"):
        export(store, aurora)
    assert published(store) == [] and store.keys(PENDING_ROOT) == [] and store.keys(TEMP) == []


def test_copy_stream_publishes_one_object_on_commit_and_nothing_for_no_rows() -> None:
    store = ExportMemoryStore()
    result = export(store, aurora_wrote(store, HEADER + ROW), mode="copy_stream")
    assert result.pin is None and store.objects == {DATA_KEY: HEADER + ROW}
    empty = ExportMemoryStore()
    assert export(empty, aurora_wrote(empty), mode="copy_stream").files == []
    assert empty.objects == {} and empty.writers[0].aborted


def test_a_failed_copy_stream_leaves_nothing_visible() -> None:
    store = ExportMemoryStore()
    aurora = aurora_wrote(store, HEADER + ROW)
    aurora.fail_on["copy_out"] = TransientError("connection reset")
    with pytest.raises(TransientError):
        export(store, aurora, mode="copy_stream")
    assert store.objects == {} and store.writers[0].aborted and not store.writers[0].committed
