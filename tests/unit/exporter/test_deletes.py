"""The delete detection pass (exporter/deletes.py) inside an export run, on fakes: what it reads,
what it writes, when the guard stops it, and that it never costs the export."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aurora_sync.errors import TransientError
from aurora_sync.exporter.payloads import ExportWindow
from aurora_sync.exporter.results import TableStatus
from aurora_sync.layout import MANIFEST_ROOT
from aurora_sync.manifest import read_manifests
from tests.support import key_hash
from tests.unit.exporter.fakes import T0, TABLE, Exporter, tables

OLD = T0 - timedelta(days=1)
INCREMENTAL = ExportWindow(TABLE)


def detecting(final_keys: int = 2000, deleted: tuple[int, ...] = (), **rows: object) -> Exporter:
    """GIVEN orders with hard delete detection (lookback 300 s), FINAL holding keys 0..final_keys-1
    unchanged for a day, and Aurora the same keys less `deleted`."""
    exporter = Exporter(tables=tables(delete_detection="hard"))
    exporter.snowflake.rows = {(i,): OLD for i in range(final_keys)}
    exporter.aurora.keys = {(i,) for i in range(final_keys)} - {(i,) for i in deleted}
    return exporter


def tombstone_files(exporter: Exporter) -> list[str]:
    return [k for k in exporter.store.keys(TABLE + "/") if k.endswith(".deletes.csv")]


def test_keys_deleted_in_aurora_become_a_tombstone_file_with_its_manifest() -> None:
    exporter = detecting(deleted=(7, 1500))
    # WHEN the hourly run exports the table
    result = exporter.service.run([INCREMENTAL])
    # THEN the export stands and the pass wrote the two keys, watermark = the run's commit-safe
    # bound, the other columns NULL, under the table's data prefix (the pipe loads it)
    (table,) = result.tables
    assert table.status is TableStatus.EMPTY and table.deletes is not None
    assert (table.deletes["status"], table.deletes["deletes"], table.deletes["limit"]) == ("written", 2, 20)
    (key,) = tombstone_files(exporter)
    assert key.startswith(f"{TABLE}/2026/11/20/06/run-") and key == table.deletes["file"]
    assert exporter.store.objects[key] == (
        b"id,note,updated_at\n7,,2026-11-20T06:00:00.000000+00:00\n1500,,2026-11-20T06:00:00.000000+00:00\n"
    )
    # AND a manifest in mode "deletes" that the loads check reads and export-window readers skip
    manifest = table.deletes["manifest"]
    assert manifest.startswith(MANIFEST_ROOT) and manifest.endswith(".deletes.json")
    everything, _ = read_manifests(exporter.store, TABLE, T0 - timedelta(hours=1), T0, tombstones=True)
    exports, _ = read_manifests(exporter.store, TABLE, T0 - timedelta(hours=1), T0)
    (tombstones,) = [m for m in everything if m.doc.is_tombstones]
    assert tombstones.key == manifest and tombstones.doc.rows == 2 and tombstones.doc.files[0].key == key
    assert all(not m.doc.is_tombstones for m in exports) and len(exports) == len(everything) - 1
    # AND only the differing buckets were read key by key (2,000 keys: 2 buckets)
    assert table.deletes["buckets"] == 2 and table.deletes["differing"] == len(exporter.aurora.key_reads[0])
    assert exporter.alerts.checks() == []


def test_nothing_deleted_reads_no_key_at_all() -> None:
    exporter = detecting()
    result = exporter.service.run([INCREMENTAL])
    deletes = result.tables[0].deletes
    assert deletes is not None and (deletes["status"], deletes["differing"]) == ("none", 0)
    assert exporter.aurora.key_reads == [] and tombstone_files(exporter) == []
    assert deletes["statements"] == {"aurora": 1, "snowflake": 2}


def test_a_row_that_changed_within_the_lookback_is_not_deleted_yet() -> None:
    # GIVEN key 5 gone from Aurora, but FINAL's row changed after the cutoff (bound - 300 s): it
    # may be a row inserted after Aurora's read and merged since
    exporter = detecting(deleted=(5, 6))
    exporter.snowflake.rows[(5,)] = T0 - timedelta(seconds=299)
    result = exporter.service.run([INCREMENTAL])
    deletes = result.tables[0].deletes
    assert deletes is not None and (deletes["deletes"], deletes["recent"]) == (1, 1)
    (key,) = tombstone_files(exporter)
    assert exporter.store.objects[key].splitlines()[1:] == [b"6,,2026-11-20T06:00:00.000000+00:00"]


def test_keys_only_aurora_has_are_the_pipelines_lag_not_deletes() -> None:
    exporter = detecting()
    exporter.aurora.keys |= {(5000,), (5001,)}
    result = exporter.service.run([INCREMENTAL])
    deletes = result.tables[0].deletes
    assert deletes is not None and (deletes["status"], deletes["deletes"]) == ("none", 0)
    assert tombstone_files(exporter) == []


def test_a_bulk_delete_over_the_limit_applies_nothing_and_pages_before_reading_keys() -> None:
    # GIVEN 100 of 2,000 keys gone (the limit is 1 %: 20)
    exporter = detecting(deleted=tuple(range(0, 2000, 20)))
    result = exporter.service.run([INCREMENTAL])
    # THEN no tombstone, the counts alone stopped it (no key read), and on-call is paged P2 with them
    deletes = result.tables[0].deletes
    assert deletes is not None and (deletes["status"], deletes["deletes"]) == ("guarded", 100)
    assert tombstone_files(exporter) == [] and exporter.aurora.key_reads == []
    (alert,) = [a for a, _ in exporter.alerts.raised]
    assert (alert.check, alert.severity.value, alert.runbook_anchor) == (
        "deletes",
        "P2",
        "deletes-over-limit",
    )
    assert "at least 100 of 2,000 FINAL rows" in alert.summary and "nothing deleted" in alert.summary
    assert alert.details["limit"] == 20 and alert.details["max_delete_fraction"] == 0.01
    # AND the export itself is not a failure
    assert result.tables[0].status is TableStatus.EMPTY and not result.failed


def test_deletes_hidden_by_new_keys_in_the_same_buckets_are_still_guarded() -> None:
    # GIVEN 30 keys gone and 30 new ones (not merged yet) in the single bucket of 1,000 keys: equal
    # counts, so only the key read shows 30 deletes, over the limit of 10
    exporter = detecting(final_keys=1000, deleted=tuple(range(30)))
    exporter.aurora.keys |= {(i,) for i in range(5000, 5030)}
    result = exporter.service.run([INCREMENTAL])
    deletes = result.tables[0].deletes
    assert deletes is not None and (deletes["status"], deletes["deletes"], deletes["limit"]) == (
        "guarded",
        30,
        10,
    )
    assert tombstone_files(exporter) == [] and exporter.alerts.checks() == ["deletes"]


def test_a_failed_pass_keeps_the_export_and_tells_chat() -> None:
    exporter = detecting(deleted=(3,))
    exporter.aurora.fail_on["key_digests"] = TransientError("connection reset")
    result = exporter.service.run([INCREMENTAL])
    (table,) = result.tables
    assert table.status is TableStatus.EMPTY and not result.failed
    assert table.deletes == {"status": "failed", "error": "connection reset"}
    (alert,) = [a for a, _ in exporter.alerts.raised]
    assert (alert.check, alert.severity.value) == ("deletes_failed", "P3")


@pytest.mark.parametrize("why", ["detection off", "manual window", "time budget"])
def test_no_pass_without_detection_for_a_manual_window_or_without_time(why: str) -> None:
    exporter = detecting(deleted=(3,))
    window = INCREMENTAL
    if why == "detection off":
        exporter = Exporter()
        exporter.snowflake.rows = {(3,): OLD}
    elif why == "manual window":
        window = ExportWindow(TABLE, T0 - timedelta(hours=2), T0)
    else:
        exporter.remaining = 2 * exporter.settings.min_remaining_seconds * 1000 - 1
    result = exporter.service.run([window])
    deletes = result.tables[0].deletes
    assert deletes == ({"status": "skipped", "reason": "time budget"} if why == "time budget" else None)
    assert tombstone_files(exporter) == [] and exporter.aurora.key_reads == []


@pytest.mark.parametrize(("final_keys", "streamed"), [(4000, None), (8000, "filtered")])
def test_more_differing_buckets_than_one_read_names_are_streamed_once_per_side(
    monkeypatch: pytest.MonkeyPatch, final_keys: int, streamed: str | None
) -> None:
    # GIVEN a key read that names at most 1 bucket, so 2+ differing buckets are the wide case, and
    # keys gone from Aurora in at least 2 of 4 buckets (4,000 keys) or 2 of 8 (8,000: a minority)
    monkeypatch.setattr("aurora_sync.exporter.deletes.MAX_BUCKETS_PER_READ", 1)
    deleted = (0, 1, 2, 3, 4, 5, 6, 7) if streamed is None else (0, 1)
    exporter = detecting(final_keys=final_keys, deleted=deleted)
    exporter.aurora.keys |= {(50_000,)}  # a key FINAL does not have yet: not a delete
    exporter.snowflake.rows[(7,)] = T0 - timedelta(seconds=1)  # changed within the lookback
    differing = sorted({key_hash.bucket_of((i,), final_keys // 1000) for i in (*deleted, 50_000)})
    assert len(differing) >= 2  # the wide case, for these keys
    # WHEN the hourly run exports the table
    result = exporter.service.run([INCREMENTAL])
    # THEN one stream per side read the differing buckets (named only while they are a minority)
    deletes = result.tables[0].deletes
    assert deletes is not None and exporter.aurora.key_reads == []
    assert deletes["key_read"] == "stream" and deletes["differing"] == len(differing)
    expected_filter = None if len(differing) > final_keys // 1000 / 2 else differing
    assert exporter.aurora.key_streams == [expected_filter]
    # AND the candidates were looked up in Aurora by value once (the stream's third Aurora statement)
    assert deletes["statements"] == {"aurora": 3, "snowflake": 3} and len(exporter.aurora.looked_up) == 1
    # AND exactly the old keys gone from Aurora became tombstones; the recent one waits
    gone = [k for k in deleted if k != 7]
    assert (deletes["status"], deletes["deletes"], deletes["recent"]) == (
        "written",
        len(gone),
        int(7 in deleted),
    )
    (key,) = tombstone_files(exporter)
    assert [line.split(b",")[0] for line in exporter.store.objects[key].splitlines()[1:]] == [
        str(k).encode() for k in gone
    ]


def test_a_streamed_compare_over_the_limit_applies_nothing_and_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the wide case, 30 keys gone and 30 new ones in the same buckets (equal counts: only the
    # keys show it), over the limit of 20 of 2,000
    monkeypatch.setattr("aurora_sync.exporter.deletes.MAX_BUCKETS_PER_READ", 1)
    exporter = detecting(deleted=tuple(range(30)))
    exporter.aurora.keys |= {(i,) for i in range(5000, 5030)}
    result = exporter.service.run([INCREMENTAL])
    # THEN the stream stopped over the limit: no tombstone, a P2
    deletes = result.tables[0].deletes
    assert deletes is not None and (deletes["status"], deletes["key_read"]) == ("guarded", "stream")
    assert deletes["deletes"] > 20 and tombstone_files(exporter) == []
    assert exporter.alerts.checks() == ["deletes"]


def test_a_key_the_engines_bucket_differently_is_kept_not_deleted(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the wide case, key 5 gone from Aurora, and key 9 still there but put in another bucket
    # by Aurora's stream (as if the two engines hashed its text differently)
    monkeypatch.setattr("aurora_sync.exporter.deletes.MAX_BUCKETS_PER_READ", 1)
    exporter = detecting(final_keys=4000, deleted=(5, 1234, 2345, 3456))
    exporter.aurora.misbucketed = {(9,)}
    # WHEN the pass runs
    result = exporter.service.run([INCREMENTAL])
    # THEN the stream called 9 missing, the lookup by value found it, and only real deletes are written
    deletes = result.tables[0].deletes
    assert deletes is not None and deletes["key_read"] == "stream"
    assert (9,) in exporter.aurora.looked_up[0]
    assert (deletes["status"], deletes["deletes"], deletes["kept"]) == ("written", 4, 1)
    (key,) = tombstone_files(exporter)
    assert [line.split(b",")[0] for line in exporter.store.objects[key].splitlines()[1:]] == [
        b"5",
        b"1234",
        b"2345",
        b"3456",
    ]


@pytest.mark.parametrize("deleted", [(), (3,)])
def test_a_pass_without_time_for_the_key_read_skips_it_without_paging(deleted: tuple[int, ...]) -> None:
    # GIVEN a run with time to start the pass, but less than the reserve left once the digests are in
    exporter = detecting(deleted=deleted)
    exporter.remaining_during_pass = exporter.settings.min_remaining_seconds * 1000 - 1
    # WHEN the hourly run exports the table
    result = exporter.service.run([INCREMENTAL])
    deletes = result.tables[0].deletes
    assert deletes is not None and not result.failed
    if deleted:
        # THEN with buckets to read it stops before reading them: skipped, nothing written, no page
        assert (deletes["status"], deletes["reason"], deletes["differing"]) == ("skipped", "time budget", 1)
        assert exporter.aurora.key_reads == [] and exporter.aurora.key_streams == []
        assert tombstone_files(exporter) == [] and exporter.alerts.raised == []
    else:
        # THEN with nothing to read the digests were the whole pass, and it completes
        assert (deletes["status"], deletes["differing"]) == ("none", 0)
