"""The run's decisions on fakes: leases, the outcome of a failed window, its re-run payload, alerts
that cannot lose an export, and the time budget."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from aurora_sync.errors import StatementTimeoutError, TerminalError, TransientError
from aurora_sync.exporter.lease import Lease
from aurora_sync.exporter.payloads import Attempt, ExportWindow
from aurora_sync.exporter.results import TableStatus
from aurora_sync.layout import MANIFEST_ROOT
from aurora_sync.timeutil import EPOCH
from tests.unit.exporter.fakes import FINAL_TABLE, HEADER, T0, TABLE, Exporter, FailingAlerts

INCREMENTAL = ExportWindow(TABLE)
MANUAL = ExportWindow(TABLE, T0 - timedelta(hours=2), T0)


def with_rows(exporter: Exporter) -> Exporter:
    exporter.aurora.rows = 1
    exporter.aurora.parts = [HEADER + b"1,a,2026-11-20T05:00:00.000000+00:00\n"]
    return exporter


def manifests(exporter: Exporter) -> list[str]:
    return exporter.store.keys(MANIFEST_ROOT)


def test_a_manual_window_takes_no_lease_even_when_the_table_is_held() -> None:
    # GIVEN another run holds the table's lease
    exporter = with_rows(Exporter())
    exporter.leases.held[TABLE] = Lease(TABLE, "run-0", T0 - timedelta(minutes=2), T0 + timedelta(minutes=14))
    # WHEN a manual window of the table runs
    result = exporter.service.run([MANUAL])
    # THEN it is exported without asking for the lease: skipping it would lose the rows asked for
    assert [t.status for t in result.tables] == [TableStatus.EXPORTED]
    assert exporter.leases.acquired == [] and len(manifests(exporter)) == 1


@pytest.mark.parametrize(("held_minutes", "pages"), [(5, False), (30, True)])
def test_an_incremental_window_skips_a_held_table_and_pages_only_when_the_lease_is_overdue(
    held_minutes: int, pages: bool
) -> None:
    # GIVEN another run has held the table's lease for `held_minutes` (the alert limit is 20)
    exporter = with_rows(Exporter())
    since = T0 - timedelta(minutes=held_minutes)
    exporter.leases.held[TABLE] = Lease(TABLE, "run-0", since, since + timedelta(minutes=16))
    # WHEN an incremental window of the table runs
    result = exporter.service.run([INCREMENTAL])
    # THEN the table is skipped, not failed: nothing exported, nothing to re-run
    (skipped,) = result.tables
    assert skipped.status is TableStatus.SKIPPED and skipped.rerun is None and not result.failed
    assert "held by run-0" in (skipped.message or "")
    assert exporter.aurora.queries == [] and manifests(exporter) == []
    # AND it pages (P2 export_lease) only past the limit; the holder raises or resolves `export`
    assert exporter.alerts.checks() == (["export_lease"] if pages else [])
    assert exporter.alerts.resolved == []


def test_an_incremental_window_releases_its_lease_however_the_export_ends() -> None:
    # GIVEN Aurora fails while the table's lease is held by this run
    exporter = Exporter()
    exporter.aurora.fail_on["columns"] = TerminalError("boom")
    # WHEN the window runs THEN it failed, and the lease it took is released
    result = exporter.service.run([INCREMENTAL])
    assert result.tables[0].status is TableStatus.FAILED
    assert exporter.leases.acquired == [TABLE] and exporter.leases.released == [TABLE]


@pytest.mark.parametrize(
    ("method", "error", "retryable", "timed_out"),
    [
        ("columns", TransientError("connection reset"), True, None),
        ("columns", TerminalError("permission denied"), False, None),
        ("columns", ValueError("a bug"), False, None),
        ("export_to_s3", StatementTimeoutError("cancelled", 60_000), False, True),
    ],
    ids=["transient", "terminal", "unexpected", "statement-timeout"],
)
def test_a_failed_window_says_whether_a_retry_or_a_smaller_window_can_succeed(
    method: str, error: Exception, retryable: bool, timed_out: bool | None
) -> None:
    # GIVEN Aurora fails the export in one of the ways that decide what Step Functions does next
    exporter = Exporter()
    exporter.aurora.fail_on[method] = error
    # WHEN the run exports a manual window (and then a second table would still run)
    result = exporter.service.run([MANUAL])
    # THEN the window failed with that classification, and carries its re-run payload
    (failed,) = result.failed
    assert (failed.retryable, failed.timed_out) == (retryable, timed_out)
    assert failed.rerun is not None and failed.rerun["tables"] == [TABLE]
    if isinstance(error, ValueError):
        assert failed.error == "ValueError: a bug"
    # AND it pages P2 `export`, escalating after EXPORT_FAILURES_P1_AFTER runs in a row
    ((alert, escalate_after),) = exporter.alerts.raised
    assert (alert.check, alert.severity.value, escalate_after) == ("export", "P2", 3)
    assert alert.details["rerun"] == failed.rerun


FIRST_OF_THREE = Attempt(retry=0, max_retries=3, split_on_timeout=True)
LAST_OF_THREE = Attempt(retry=3, max_retries=3, split_on_timeout=True)
PART = Attempt(retry=0, max_retries=3, split_on_timeout=False)
TRANSIENT = ("columns", TransientError("connection reset"))
TERMINAL = ("columns", TerminalError("permission denied"))
TIMEOUT = ("export_to_s3", StatementTimeoutError("cancelled", 60_000))


@pytest.mark.parametrize(
    ("attempt", "failure", "pages"),
    [
        (FIRST_OF_THREE, TRANSIENT, False),  # Step Functions retries it
        (LAST_OF_THREE, TRANSIENT, True),  # retries exhausted
        (FIRST_OF_THREE, TIMEOUT, False),  # Step Functions splits it
        (PART, TIMEOUT, True),  # a part is not split again
        (FIRST_OF_THREE, TERMINAL, True),  # nothing retries a terminal failure
        (None, TRANSIENT, True),  # invoked by hand (or its item re-run): nothing retries it
        (None, TIMEOUT, True),
    ],
    ids=["retried", "last-retry", "split", "part-timed-out", "terminal", "by-hand", "by-hand-timeout"],
)
def test_a_failure_pages_only_when_nothing_retries_or_splits_it(
    attempt: Attempt | None, failure: tuple[str, Exception], pages: bool
) -> None:
    # GIVEN the state machine's attempt (or none) and a window that fails
    exporter = Exporter(attempt=attempt)
    method, error = failure
    exporter.aurora.fail_on[method] = error
    # WHEN it runs
    result = exporter.service.run([MANUAL])
    # THEN the failure is reported either way (the state machine decides on it), and it pages P2
    # `export` only when no retry or split follows; a deferred failure resolves nothing either
    assert [t.status for t in result.tables] == [TableStatus.FAILED]
    assert exporter.alerts.checks() == (["export"] if pages else [])
    assert [r for r in exporter.alerts.resolved if r[0] == "export"] == []


def test_a_retry_that_works_pages_no_one_and_resolves_nothing_open() -> None:
    # GIVEN the first attempt failed transiently (deferred) WHEN the retry exports the window
    exporter = with_rows(Exporter(attempt=FIRST_OF_THREE))
    exporter.aurora.fail_on["columns"] = TransientError("connection reset")
    exporter.service.run([MANUAL])
    retried = with_rows(Exporter(attempt=Attempt(retry=1, max_retries=3, split_on_timeout=True)))
    result = retried.service.run([MANUAL])
    # THEN no alert was raised by either attempt; the success resolves `export` (a no-op when
    # nothing is open, the router's state decides)
    assert [t.status for t in result.tables] == [TableStatus.EXPORTED]
    assert exporter.alerts.raised == [] and retried.alerts.raised == []
    assert ("export", TABLE, "exported: exported") in retried.alerts.resolved


def timed_out(exporter: Exporter, window: ExportWindow) -> dict[str, object]:
    exporter.aurora.fail_on["export_to_s3"] = StatementTimeoutError("cancelled", 60_000)
    (failed,) = exporter.service.run([window]).failed
    assert failed.timed_out and failed.rerun is not None
    return failed.rerun


def test_a_timed_out_window_that_can_be_cut_is_re_run_in_smaller_chunks() -> None:
    # GIVEN a two-hour manual window WHEN its statement times out THEN the re-run cuts it in four
    assert timed_out(Exporter(), MANUAL) == {
        **MANUAL.payload(),
        "chunk_minutes": 30,
    }


def test_a_timed_out_window_wider_than_a_manual_payload_or_a_split_part_is_re_run_as_it_was() -> None:
    # GIVEN an incremental window from the epoch (FINAL is empty): wider than MAX_RANGE_HOURS
    # WHEN it times out THEN the re-run is the window itself (the state machine splits it)
    assert timed_out(Exporter(), INCREMENTAL) == {"tables": [TABLE]}
    # GIVEN a part the state machine already split WHEN it times out THEN it is re-run as that item
    part = ExportWindow(TABLE, EPOCH, T0, split=True)
    assert timed_out(Exporter(), part) == part.item()


def test_an_alert_that_cannot_be_sent_never_loses_the_export_or_the_failure() -> None:
    # GIVEN alerting is down (every raise and resolve fails)
    exporter = with_rows(Exporter(alerts=FailingAlerts()))
    # WHEN one table exports and one fails
    exported = exporter.service.run([MANUAL]).tables[0]
    exporter.aurora.fail_on["columns"] = TransientError("connection reset")
    failed = exporter.service.run([MANUAL]).tables[0]
    # THEN the export still stands (its manifest is written) and the failure is still reported
    assert exported.status is TableStatus.EXPORTED and exported.manifest in manifests(exporter)
    assert failed.status is TableStatus.FAILED and failed.retryable


def test_an_exported_window_resolves_the_export_alert_and_serializes_its_status_as_text() -> None:
    exporter = with_rows(Exporter())
    result = exporter.service.run([INCREMENTAL])
    assert ("export", TABLE, "exported: exported") in exporter.alerts.resolved
    assert ("export_lease", TABLE, "lease acquired by run run-1") in exporter.alerts.resolved
    body = result.as_dict()["tables"][0]
    assert type(body["status"]) is str and body["status"] == "exported"


def test_windows_past_the_time_budget_are_left_in_remaining_untouched() -> None:
    # GIVEN less of the Lambda's time left than MIN_REMAINING_SECONDS (60 s)
    exporter = with_rows(Exporter(remaining=59_000))
    # WHEN two windows are asked for
    other = ExportWindow(TABLE, T0 - timedelta(hours=4), T0 - timedelta(hours=2))
    result = exporter.service.run([MANUAL, other])
    # THEN neither starts, and both payloads come back to be re-run
    assert result.tables == [] and result.remaining == [MANUAL.payload(), other.payload()]
    assert exporter.aurora.queries == [] and "remaining" in result.as_dict()


def watermark_lags(out: str) -> list[float]:
    lines = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
    return [value for line in lines for value in line.get("WatermarkLag", [])]


@pytest.mark.parametrize(("final_max", "lags"), [(None, []), (T0 - timedelta(minutes=7), [420.0])])
def test_watermark_lag_is_measured_only_against_a_watermark_final_has(
    final_max: datetime | None,
    lags: list[float],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN metrics on (as in the Lambdas) and FINAL empty, or 7 minutes behind Aurora's clock
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    exporter = with_rows(Exporter())
    exporter.snowflake.final_max[FINAL_TABLE] = final_max
    # WHEN the incremental window runs
    exporter.service.run([INCREMENTAL])
    # THEN the lag is FINAL's distance to Aurora's now; an empty FINAL has none (a first export would
    # put ~56 years on the dashboard's per-table maximum)
    assert watermark_lags(capsys.readouterr().out) == lags
