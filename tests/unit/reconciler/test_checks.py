"""Each reconciler check as a pure function of its evidence: what is a problem, what is only
pending, and what evidence the alert carries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aurora_sync.adapters.snowflake_history import (
    CopyRecord,
    MergeAudit,
    PipeStatus,
    TaskRun,
    normalize_status,
)
from aurora_sync.alerts import Severity
from aurora_sync.manifest import ReadManifest, parse_manifest
from aurora_sync.pins import PublishPin
from aurora_sync.reconciler.checks import (
    Status,
    check_freshness,
    check_loads,
    check_merge,
    check_pins,
    check_pipe,
    check_sample,
    settled_upper,
)
from aurora_sync.timeutil import iso

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
GRACE = timedelta(minutes=30)
BUCKET = "exports"
TABLE = "public.orders"
# This environment's OVERRIDES_PATH (modules/names): a full-refresh re-run names the override under it.
OVERRIDES = "/aurora-snowflake-sync/prod/overrides/"


def manifest(
    name: str,
    files: list[tuple[str, int | None]],
    rows: int,
    *,
    finished: datetime = NOW - timedelta(hours=1),
    lower: str | None = "2026-11-22T05:00:00.000000Z",
    upper: str = "2026-11-22T06:00:00.000000Z",
    mode: str | None = None,
) -> ReadManifest:
    doc = {
        "mode": mode,
        "run_id": "r",
        "table": TABLE,
        "files": [{"key": f"{TABLE}/2026/11/22/06/{k}", "rows": n, "bytes": 10} for k, n in files],
        "rows": rows,
        "lower": lower,
        "upper": upper,
        "finished_at": finished.isoformat(),
    }
    return parse_manifest(f"_manifests/{TABLE}/2026/11/22/06/{name}.json", json.dumps(doc).encode(), TABLE)


def loaded(
    name: str, rows: int, status: str = "Loaded", at: datetime = NOW - timedelta(minutes=50), **kw: Any
) -> CopyRecord:
    return CopyRecord(
        file_name=f"2026/11/22/06/{name}",
        stage_location=f"s3://{BUCKET}/{TABLE}/",
        last_load_time=at,
        row_count=rows,
        row_parsed=kw.get("parsed", rows),
        error_count=kw.get("errors", 0),
        first_error_message=kw.get("error"),
        status=normalize_status(status),
    )


def loads(manifests: list[ReadManifest], records: list[CopyRecord], exists: bool = True) -> Any:
    return check_loads(
        TABLE,
        manifests,
        records,
        bucket=BUCKET,
        now=NOW,
        grace=GRACE,
        object_exists=lambda _: exists,
        overrides_path=OVERRIDES,
    )


def test_every_file_loaded_with_matching_rows_is_ok() -> None:
    result = loads([manifest("m", [("a.csv", 5)], 5)], [loaded("a.csv", 5)])
    assert result.status == Status.OK and result.details["rows_loaded"] == 5


def test_split_export_rows_are_summed_across_parts() -> None:
    # GIVEN an aurora_s3 export in three parts whose per-part rows are unknown (null)
    m = manifest("m", [("a.csv", None), ("a_part2.csv", None), ("a_part3.csv", None)], 9)
    records = [loaded("a.csv", 4), loaded("a_part2.csv", 4), loaded("a_part3.csv", 1)]
    assert loads([m], records).status == Status.OK
    # WHEN one part loaded a row fewer THEN the manifest's total no longer matches
    records[2] = loaded("a_part3.csv", 0)
    result = loads([m], records)
    assert result.status == Status.PROBLEM and result.severity == Severity.P2
    [problem] = result.details["problems"]
    assert problem["problem"] == "row count differs"
    assert (problem["exported_rows"], problem["loaded_rows"]) == (9, 8)
    assert result.runbook_anchor == "row-count-mismatch"


def test_unloaded_file_is_pending_inside_the_grace_period_and_a_problem_after() -> None:
    fresh = manifest("m", [("a.csv", 5)], 5, finished=NOW - timedelta(minutes=5))
    assert loads([fresh], []).status == Status.PENDING
    old = manifest("m", [("a.csv", 5)], 5)
    result = loads([old], [], exists=False)
    assert result.status == Status.PROBLEM and result.runbook_anchor == "load-missing"
    [problem] = result.details["problems"]
    assert problem["object_in_s3"] is False
    assert problem["rerun"] == {
        "tables": [TABLE],
        "start": "2026-11-22T05:00:00.000000Z",
        "end": "2026-11-22T06:00:00.000000Z",
    }


@pytest.mark.parametrize("status", ["Load failed", "LOAD_FAILED", "load FAILED", "Partially loaded"])
def test_failed_or_partial_load_is_reported_with_snowflakes_first_error(status: str) -> None:
    record = loaded("a.csv", 0, status=status, error="Numeric value 'x' is not recognized", errors=1)
    result = loads([manifest("m", [("a.csv", 5)], 5)], [record])
    assert result.status == Status.PROBLEM and result.runbook_anchor == "load-failed"
    assert "Numeric value 'x' is not recognized" in result.summary


def test_a_skipped_file_has_its_own_meaning_and_runbook_section() -> None:
    # GIVEN a manifest's file that COPY_HISTORY reports as "Load skipped" (no row loaded)
    record = loaded("a.csv", 0, status="Load skipped", error="Remote file was not found", errors=0)
    # WHEN the loads check reads it
    result = loads([manifest("m", [("a.csv", 5)], 5)], [record])
    # THEN it is a P2 of its own kind, linking the load-skipped section, saying what to do
    assert result.status == Status.PROBLEM and result.severity == Severity.P2
    assert result.runbook_anchor == "load-skipped"
    assert "load skipped" in result.summary and "re-export" in result.summary
    assert "Remote file was not found" in result.summary
    [problem] = result.details["problems"]
    assert problem["problem"] == "load skipped" and problem["rerun"]["tables"] == [TABLE]
    # AND a failed file elsewhere in the window still takes the load-failed section first
    failed = loaded("b.csv", 0, status="Load failed", error="bad", errors=1)
    both = loads([manifest("m", [("a.csv", 5), ("b.csv", 1)], 6)], [record, failed])
    assert both.runbook_anchor == "load-failed"


def test_a_reload_after_a_failure_counts_not_the_failure() -> None:
    failed = loaded("a.csv", 0, status="Load failed", at=NOW - timedelta(minutes=50), error="bad")
    reloaded = loaded("a.csv", 5, at=NOW - timedelta(minutes=10))
    assert loads([manifest("m", [("a.csv", 5)], 5)], [reloaded, failed]).status == Status.OK


def test_a_later_export_covering_the_window_supersedes_a_lost_file() -> None:
    # GIVEN a manifest whose file never loaded, and on-call's re-export of the same window, loaded
    lost = manifest("m1", [("a.csv", 5)], 5)
    redo = manifest("m2", [("b.csv", 5)], 5, finished=NOW - timedelta(minutes=20))
    result = loads([lost, redo], [loaded("b.csv", 5)])
    assert result.status == Status.OK and result.details["superseded"] == [lost.key]
    # BUT a later export of a narrower window does not
    narrow = manifest(
        "m3", [("c.csv", 5)], 5, finished=NOW - timedelta(minutes=20), lower="2026-11-22T05:30:00Z"
    )
    assert loads([lost, narrow], [loaded("c.csv", 5)]).status == Status.PROBLEM


def test_a_tombstone_file_must_load_and_neither_covers_nor_is_covered_by_an_export() -> None:
    # GIVEN a tombstone manifest (delete detection) whose file never loaded, and an export manifest
    # finished later over a wider window, loaded
    tombstones = manifest("t.deletes", [("t.deletes.csv", 2)], 2, mode="deletes")
    export = manifest("m2", [("b.csv", 5)], 5, finished=NOW - timedelta(minutes=20), lower=None)
    # WHEN the loads check runs THEN the tombstones are a problem: no export supersedes them, and
    # what repairs them is the next pass, not a window to re-export
    result = loads([tombstones, export], [loaded("b.csv", 5)])
    assert result.status == Status.PROBLEM and "superseded" not in result.details
    (problem,) = result.details["problems"]
    assert problem["file"].endswith("t.deletes.csv") and "next hourly run" in problem["rerun"]["tombstones"]
    # AND a tombstone manifest never covers a lost export file
    lost = manifest("m1", [("a.csv", 5)], 5)
    late = manifest("u.deletes", [("u.deletes.csv", 1)], 1, mode="deletes", finished=NOW, lower=None)
    assert loads([lost, late], [loaded("u.deletes.csv", 1)]).status == Status.PROBLEM


def test_tombstone_rows_are_counted_apart_from_data_rows() -> None:
    # GIVEN an export of 5 rows and a tombstone file of 2 keys, both loaded
    export = manifest("m1", [("a.csv", 5)], 5)
    tombstones = manifest("t.deletes", [("t.deletes.csv", 2)], 2, mode="deletes")
    # WHEN the loads check runs THEN it is ok, with 5 data rows and 2 tombstones, never 7 rows
    result = loads([export, tombstones], [loaded("a.csv", 5), loaded("t.deletes.csv", 2)])
    assert result.status == Status.OK
    assert (result.details["rows_loaded"], result.details["tombstones_loaded"]) == (5, 2)


def test_a_manifests_mode_must_match_its_key() -> None:
    with pytest.raises(ValueError, match="does not match the key's kind"):
        manifest("m", [("a.csv", 5)], 5, mode="deletes")
    with pytest.raises(ValueError, match="does not match the key's kind"):
        manifest("m.deletes", [("a.deletes.csv", 5)], 5)


def test_manifest_problems_name_the_object_and_the_field() -> None:
    with pytest.raises(ValueError, match=r"_manifests/x\.json: .*rows"):
        parse_manifest(
            "_manifests/x.json",
            b'{"run_id": "r", "table": "public.orders", "files": [], "rows": "many"}',
            TABLE,
        )
    bad_upper = json.dumps(
        {
            "run_id": "r",
            "table": TABLE,
            "files": [],
            "rows": 0,
            "lower": None,
            "upper": "yesterday",
            "finished_at": NOW.isoformat(),
        }
    )
    with pytest.raises(ValueError, match=r"_manifests/x\.json: upper"):
        parse_manifest("_manifests/x.json", bad_upper.encode(), TABLE)
    with pytest.raises(ValueError, match=r"_manifests/x\.json: .*EOF"):
        parse_manifest("_manifests/x.json", b'{"run_id": ', TABLE)


def run(
    state: str, completed: datetime, error: str | None = None, *, started: datetime | None = None
) -> TaskRun:
    """A finished run; its statement started 5 s before it completed unless `started` says."""
    started = completed - timedelta(seconds=5) if started is None else started
    return TaskRun(
        "ORDERS_MERGE",
        state,
        started - timedelta(seconds=1),
        started,
        completed,
        "100183" if error else None,
        error,
        "q",
    )


def test_merge_after_the_last_load_is_ok_and_carries_the_audit_counts() -> None:
    audit = MergeAudit("q1", 3, 2, NOW - timedelta(minutes=40))
    result = check_merge(
        TABLE,
        "T",
        [loaded("a.csv", 5)],
        [run("SUCCEEDED", NOW - timedelta(minutes=40))],
        [audit],
        now=NOW,
        grace=GRACE,
    )
    assert result.status == Status.OK
    assert result.details["last_merge"]["rows_inserted"] == 3 and result.details["rows_merged_in_window"] == 5


def test_the_merge_details_show_what_tombstones_removed_apart_from_rows_merged() -> None:
    # GIVEN two MERGEs: 3 inserted and 2 deleted (hard), then 1 updated and 4 marked (soft)
    audits = [
        MergeAudit("q1", 3, 0, NOW - timedelta(minutes=50), rows_deleted=2),
        MergeAudit("q2", 0, 1, NOW - timedelta(minutes=40), rows_marked=4),
    ]
    # WHEN the merge check runs
    result = check_merge(
        TABLE,
        "T",
        [loaded("a.csv", 3)],
        [run("SUCCEEDED", NOW - timedelta(minutes=40))],
        audits,
        now=NOW,
        grace=GRACE,
    )
    # THEN rows merged are data rows only; deletes and marks have their own totals
    details = result.details
    assert (details["last_merge"]["rows_deleted"], details["last_merge"]["rows_marked"]) == (0, 4)
    assert details["rows_merged_in_window"] == 4
    assert (details["rows_deleted_in_window"], details["rows_marked_in_window"]) == (2, 4)


def test_latest_failed_run_is_a_problem_with_its_error_until_a_later_success() -> None:
    failed = run("FAILED", NOW - timedelta(minutes=20), error="invalid identifier 'STATUS'")
    result = check_merge(TABLE, "T", [loaded("a.csv", 5)], [failed], [], now=NOW, grace=GRACE)
    assert result.status == Status.PROBLEM and result.runbook_anchor == "merge-failed"
    assert result.details["error_message"] == "invalid identifier 'STATUS'"
    ok = run("SUCCEEDED", NOW - timedelta(minutes=5))
    assert (
        check_merge(TABLE, "T", [loaded("a.csv", 5)], [failed, ok], [], now=NOW, grace=GRACE).status
        == Status.OK
    )


def test_no_merge_since_the_last_load_is_pending_then_a_problem() -> None:
    recent = [loaded("a.csv", 5, at=NOW - timedelta(minutes=5))]
    assert check_merge(TABLE, "T", recent, [], [], now=NOW, grace=GRACE).status == Status.PENDING
    old = [loaded("a.csv", 5, at=NOW - timedelta(minutes=45))]
    before = [run("SUCCEEDED", NOW - timedelta(minutes=50))]
    result = check_merge(TABLE, "T", old, before, [], now=NOW, grace=GRACE)
    assert result.status == Status.PROBLEM and result.runbook_anchor == "merge-not-run"


def test_a_run_that_fails_and_is_auto_suspended_is_a_failed_merge() -> None:
    # GIVEN a success before the last load, then the run Snowflake reports as
    # FAILED_AND_AUTO_SUSPENDED (the SUSPEND_TASK_AFTER_NUM_FAILURES-th failure in a row)
    merged = run("SUCCEEDED", NOW - timedelta(minutes=55))
    suspended = run("FAILED_AND_AUTO_SUSPENDED", NOW - timedelta(minutes=10), error="Numeric value 'x'")
    records = [loaded("a.csv", 5, at=NOW - timedelta(minutes=20))]
    # WHEN the merge check reads them, the load still inside the grace period
    result = check_merge(TABLE, "T", records, [merged, suspended], [], now=NOW, grace=GRACE)
    # THEN it is a failed merge now (not "pending"), with the error and the state that says the
    # task no longer runs until someone resumes it
    assert result.status == Status.PROBLEM and result.runbook_anchor == "merge-failed"
    assert result.details["state"] == "FAILED_AND_AUTO_SUSPENDED"
    assert "suspended" in result.summary and "Numeric value 'x'" in result.summary


def test_a_run_that_started_before_the_last_load_did_not_merge_it() -> None:
    # GIVEN a load at 07:15 and the only successful run started at 07:14 and completed at 07:16:
    # its transaction read the stream before the load committed
    load_at = NOW - timedelta(minutes=45)
    records = [loaded("a.csv", 5, at=load_at)]
    straddling = run("SUCCEEDED", load_at + timedelta(minutes=1), started=load_at - timedelta(minutes=1))
    # WHEN the merge check and the sample's bound read them, past the grace period
    result = check_merge(TABLE, "T", records, [straddling], [], now=NOW, grace=GRACE)
    # THEN the load is not merged, and no export bound counts as settled
    assert result.status == Status.PROBLEM and result.runbook_anchor == "merge-not-run"
    m = manifest("m", [("a.csv", 5)], 5)
    assert settled_upper([m], records, [straddling], BUCKET) is None
    # AND a run that started after the load did merge it
    later = run("SUCCEEDED", load_at + timedelta(minutes=6), started=load_at + timedelta(minutes=5))
    assert check_merge(TABLE, "T", records, [straddling, later], [], now=NOW, grace=GRACE).status == Status.OK
    assert settled_upper([m], records, [straddling, later], BUCKET) == datetime(2026, 11, 22, 6, tzinfo=UTC)


def test_a_load_older_than_the_task_history_is_not_judged() -> None:
    # GIVEN the last load 7 days and 30 minutes ago, merged by a run TASK_HISTORY no longer reaches
    runs_since = NOW - timedelta(days=7) + timedelta(minutes=10)
    records = [loaded("a.csv", 5, at=NOW - timedelta(days=7, minutes=30))]
    # WHEN the merge check reads the runs from where TASK_HISTORY starts
    result = check_merge(TABLE, "T", records, [], [], now=NOW, grace=GRACE, runs_since=runs_since)
    # THEN that load is outside the evidence: no page for a merge nobody can see
    assert result.status == Status.OK and result.details["last_load"] is None


def test_freshness_compares_aurora_and_final_against_the_sla() -> None:
    ok, lag = check_freshness(TABLE, NOW, NOW - timedelta(minutes=90), 120)
    assert ok.status == Status.OK and lag == 5400
    late, _ = check_freshness(TABLE, NOW, NOW - timedelta(minutes=121), 120)
    assert late.status == Status.PROBLEM and late.severity == Severity.P3
    empty_final, _ = check_freshness(TABLE, NOW, None, 120)
    assert empty_final.status == Status.PROBLEM
    assert check_freshness(TABLE, None, None, 120)[0].status == Status.OK
    assert check_freshness(TABLE, NOW, None, None)[0].status == Status.SKIPPED


def test_sample_reports_missing_and_stale_keys_with_an_exact_rerun() -> None:
    t1, t2, t3 = (NOW - timedelta(hours=h) for h in (3, 2, 1))
    sampled = [((1,), t1), ((2,), t2), ((3,), t3)]
    # Decimal keys from one driver equal int keys from the other
    from decimal import Decimal

    found = {(Decimal(1),): t1, (3,): t3 - timedelta(seconds=1)}
    result = check_sample(TABLE, NOW, sampled, {tuple(int(v) for v in k): w for k, w in found.items()})
    assert result.status == Status.PROBLEM
    assert [m["key"] for m in result.details["missing"]] == [["2"]]
    assert [m["key"] for m in result.details["stale"]] == [["3"]]
    assert result.details["rerun"]["start"] == "2026-11-22T05:59:59.999999Z"
    assert result.details["rerun"]["end"] == "2026-11-22T07:00:00.000000Z"
    assert check_sample(TABLE, None, [], {}).status == Status.SKIPPED
    assert check_sample(TABLE, NOW, [], {}).status == Status.SKIPPED  # nothing old enough yet


def test_settled_upper_needs_every_file_loaded_and_a_later_successful_merge() -> None:
    m = manifest("m", [("a.csv", 5)], 5)
    records = [loaded("a.csv", 5, at=NOW - timedelta(minutes=50))]
    assert settled_upper([m], records, [], BUCKET) is None
    assert settled_upper([m], records, [run("SUCCEEDED", NOW - timedelta(minutes=55))], BUCKET) is None
    upper = settled_upper([m], records, [run("SUCCEEDED", NOW - timedelta(minutes=45))], BUCKET)
    assert upper == datetime(2026, 11, 22, 6, tzinfo=UTC)


def test_pipe_not_running_is_p2_and_old_pending_files_are_p3() -> None:
    paused = PipeStatus("PAUSED", 0, None, {"executionState": "PAUSED"})
    assert check_pipe(TABLE, "P", paused, now=NOW, grace=GRACE).severity == Severity.P2
    backlog = PipeStatus("RUNNING", 3, NOW - timedelta(hours=1), {})
    assert check_pipe(TABLE, "P", backlog, now=NOW, grace=GRACE).severity == Severity.P3
    fresh = PipeStatus("RUNNING", 3, NOW - timedelta(minutes=1), {})
    assert check_pipe(TABLE, "P", fresh, now=NOW, grace=GRACE).status == Status.OK


# -- publish pins ------------------------------------------------------------------------------

PIN_GRACE = timedelta(minutes=150)


def pin(age: timedelta, lower: datetime | None = NOW - timedelta(hours=5)) -> PublishPin:
    return PublishPin(TABLE, f"e-{age.total_seconds():.0f}", "r1", lower, NOW - timedelta(hours=4), NOW - age)


def covering(lower: datetime | None, upper: datetime) -> ReadManifest:
    doc = {
        "run_id": "r2",
        "table": TABLE,
        "files": [],
        "rows": 0,
        "lower": None if lower is None else iso(lower),
        "upper": iso(upper),
        "finished_at": iso(NOW),
    }
    return parse_manifest(f"_manifests/{TABLE}/2026/11/22/07/run-c.json", json.dumps(doc).encode(), TABLE)


def pins(found: list[PublishPin], manifests: list[ReadManifest] | None = None) -> Any:
    return check_pins(TABLE, found, [], manifests or [], now=NOW, grace=PIN_GRACE, overrides_path=OVERRIDES)


def test_no_pin_or_a_covered_pin_is_ok_and_an_uncovered_young_one_only_pending() -> None:
    assert pins([]).status == Status.OK
    # GIVEN a pin three hours old whose window a later export's manifest covers THEN ok
    covered = pins([pin(timedelta(hours=3))], [covering(NOW - timedelta(hours=6), NOW)])
    assert covered.status == Status.OK and "deleted next run" in covered.summary
    # GIVEN an uncovered pin younger than PIN_GRACE_MINUTES THEN pending, no alert
    young = pins([pin(timedelta(minutes=80))])
    assert young.status == Status.PENDING and young.severity is None and young.details["count"] == 1


def test_overdue_gap_is_a_p2_with_the_payload_that_reexports_exactly_it() -> None:
    # GIVEN a pin three hours old whose upper half a manifest covers
    result = pins([pin(timedelta(hours=3))], [covering(NOW - timedelta(hours=4, minutes=30), NOW)])
    # THEN one P2 naming the gap (5 h ago, 4 h 30 ago], with the rerun of exactly that window
    assert (result.status, result.severity, result.runbook_anchor) == (
        Status.PROBLEM,
        Severity.P2,
        "publish-pins",
    )
    assert result.details["rerun"] == {
        "tables": [TABLE],
        "start": "2026-11-22T03:00:00.000000Z",
        "end": "2026-11-22T03:30:00.000000Z",
    }
    assert result.details["pins"][0]["gaps"] == [
        ["2026-11-22T03:00:00.000000Z", "2026-11-22T03:30:00.000000Z"]
    ]
    assert "below its watermark" in result.summary


def test_overdue_full_refresh_pin_says_to_set_the_override_not_a_window() -> None:
    # GIVEN an interrupted full refresh (no lower bound: NULL watermarks too) WHEN overdue
    result = pins([pin(timedelta(hours=3), lower=None)])
    # THEN the rerun is the full_refresh override: no manual window can export NULL watermarks
    assert result.details["rerun"] == {
        "override": f"{OVERRIDES}{TABLE}",
        "value": {"full_refresh": True},
    }


def test_unreadable_pin_is_a_p2_naming_it() -> None:
    error = "publish pin _pending/public.orders/run-x.json is not JSON (...); inspect and delete it"
    result = check_pins(TABLE, [], [error], [], now=NOW, grace=PIN_GRACE, overrides_path=OVERRIDES)
    assert (result.status, result.severity) == (Status.PROBLEM, Severity.P2)
    assert result.details["unreadable"] == [error] and "run-x.json" in result.summary
