"""The exporter's run: each window in turn while time is left, its outcome an alert or a resolve
and metrics; one window's export is exporter/window.py.

An incremental window runs only under its table's lease (aurora_sync.exporter.lease): two runs never
export the same table's incremental window at once; the one that finds it held skips the table.
A failure fails only its window: the other tables still run, and the result carries the payload
that re-runs it (a smaller one when the statement timeout stopped a window that can be cut).
A failure the state machine will retry or split is not paged (`_deferred`): a retry that works
pages no one, and one that does not reaches the last attempt, which pages.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from aws_lambda_powertools.metrics import MetricUnit

from aurora_sync.alerts import Alert, Severity
from aurora_sync.errors import StatementTimeoutError, SyncError
from aurora_sync.exporter.deletes import DeletePass
from aurora_sync.exporter.lease import Lease
from aurora_sync.exporter.paging import Paging
from aurora_sync.exporter.payloads import Attempt, ExportWindow, can_cut, smaller_rerun
from aurora_sync.exporter.ports import Leases
from aurora_sync.exporter.results import RunResult, TableResult, TableStatus
from aurora_sync.exporter.window import WindowExport
from aurora_sync.observability import logger, put_metric
from aurora_sync.ports import Alerts
from aurora_sync.settings import ExporterSettings
from aurora_sync.timeutil import iso


class ExportService:
    def __init__(
        self,
        *,
        settings: ExporterSettings,
        windows: WindowExport,
        alerts: Alerts,
        leases: Leases,
        remaining_ms: Callable[[], int],
        run_id: str,
        attempt: Attempt | None = None,
        deletes: DeletePass | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._deletes = deletes
        self._attempt = attempt
        self._windows = windows
        self._paging = Paging(alerts, run_id)
        self._leases = leases
        self._remaining_ms = remaining_ms
        self._clock = clock
        self.run_id = run_id

    def run(self, windows: list[ExportWindow]) -> RunResult:
        result = RunResult(self.run_id)
        budget_ms = self._settings.min_remaining_seconds * 1000
        for window in windows:
            if self._remaining_ms() < budget_ms:
                result.remaining.append(window.payload())
                continue
            result.tables.append(self._export_guarded(window))
        if result.remaining:
            logger.warning(
                "time budget reached: windows left for a re-run",
                extra={
                    "remaining": result.remaining,
                    "min_remaining_seconds": self._settings.min_remaining_seconds,
                },
            )
        return result

    def _export_guarded(self, window: ExportWindow) -> TableResult:
        started = time.monotonic()
        rerun = window.payload()
        try:
            outcome = self._export_leased(window)
        except SyncError as exc:
            timed_out = isinstance(exc, StatementTimeoutError)
            outcome = TableResult(
                window.table,
                TableStatus.FAILED,
                error=str(exc),
                retryable=exc.transient,
                timed_out=timed_out or None,
            )
            logger.error(
                "Export failed",
                extra={"table": window.table, "error": str(exc), "retryable": exc.transient},
            )
            cut = exc.window if isinstance(exc, StatementTimeoutError) else None
            max_range = timedelta(hours=self._settings.max_range_hours)
            if cut is not None and not window.split and can_cut(*cut, max_range):
                rerun = smaller_rerun(window.table, *cut)
        except Exception as exc:  # an unexpected bug must not stop the other tables
            outcome = TableResult(
                window.table, TableStatus.FAILED, error=f"{type(exc).__name__}: {exc}", retryable=False
            )
            logger.exception("Export failed with an unexpected error", extra={"table": window.table})
        if outcome.status is TableStatus.SKIPPED:  # the holder raises or resolves `export` itself
            self._emit(window.table, outcome, time.monotonic() - started)
            return outcome
        if outcome.status is TableStatus.FAILED:
            outcome.rerun = rerun
            self._page_failure(window, outcome)
        else:
            self._paging.resolve("export", window.table, f"exported: {outcome.status.value}")
        self._emit(window.table, outcome, time.monotonic() - started)
        return outcome

    def _deferred(self, outcome: TableResult) -> str | None:
        """What the state machine does next with this failed attempt, when it does anything: the
        page waits for the attempt whose failure nothing retries (Step Functions' retrier counts its
        retries in $$.State.RetryCount; its Catch sends ExportRunTimedOut to Split)."""
        attempt = self._attempt
        if attempt is None:  # scheduled, manual or a hand-run item: nothing retries it
            return None
        if outcome.retryable and attempt.retries_left:
            return f"retried by the state machine (retry {attempt.retry + 1} of {attempt.max_retries})"
        if outcome.timed_out and attempt.split_on_timeout:
            return "split into smaller windows by the state machine"
        return None

    def _page_failure(self, window: ExportWindow, outcome: TableResult) -> None:
        deferred = self._deferred(outcome)
        if deferred is not None:
            logger.warning(
                "export failure not paged: the state machine handles it",
                extra={"table": window.table, "next": deferred, "error": outcome.error},
            )
            return
        self._paging.raise_alert(
            Alert(
                severity=Severity.P2,
                check="export",
                table=window.table,
                summary=f"export failed: {outcome.error}"[:300],
                details={"error": outcome.error, "retryable": outcome.retryable, "rerun": outcome.rerun},
                run_id=self.run_id,
                runbook_anchor="export-failed",
            ),
            escalate_after=self._settings.export_failures_p1_after,
        )

    def _emit(self, table: str, outcome: TableResult, seconds: float) -> None:
        def put(name: str, unit: MetricUnit, value: float) -> None:
            put_metric(name, unit, value, table=table)

        if outcome.status is TableStatus.SKIPPED:
            put("ExportSkipped", MetricUnit.Count, 1)
            return
        put("ExportedRows", MetricUnit.Count, outcome.rows)
        put("ExportDuration", MetricUnit.Seconds, seconds)
        put("ExportFailed", MetricUnit.Count, 1 if outcome.status is TableStatus.FAILED else 0)

    # -- the table's lease (aurora_sync.exporter.lease) ------------------------------------------
    def _export_leased(self, window: ExportWindow) -> TableResult:
        """An incremental window runs under its table's lease, released however the export ends;
        a manual window takes none (skipping it would lose exactly the rows its caller asked for)."""
        if not window.leased:
            return self._windows.export(window)
        remaining = timedelta(milliseconds=self._remaining_ms())
        claim = self._leases.acquire(window.table, self.run_id, remaining)
        if not claim.acquired:
            return self._skipped(claim.lease)
        self._paging.resolve("export_lease", window.table, f"lease acquired by run {self.run_id}")
        try:
            outcome = self._windows.export(window)
            self._detect_deletes(outcome)
            return outcome
        finally:
            self._leases.release(claim.lease)

    def _detect_deletes(self, outcome: TableResult) -> None:
        """After the table's incremental window succeeded, under its lease, while time is left: the
        delete detection pass (exporter/deletes.py). Its failure never fails the export."""
        table = self._windows.table(outcome.table)
        if self._deletes is None or table is None or not table.detects_deletes:
            return
        if outcome.status not in (TableStatus.EXPORTED, TableStatus.EMPTY):
            return
        # The pass reads every key on both sides: it needs more room than one more window.
        if self._remaining_ms() < 2 * self._settings.min_remaining_seconds * 1000:
            logger.warning("delete detection skipped: time budget", extra={"table": table.table_name})
            outcome.deletes = {"status": "skipped", "reason": "time budget"}
            return
        try:
            outcome.deletes = self._deletes.run(table).as_dict()
        except SyncError as exc:
            self._deletes.failed(table, str(exc))
            outcome.deletes = {"status": "failed", "error": str(exc)}
        except Exception as exc:  # a bug in the pass must not lose the export
            logger.exception(
                "delete detection failed with an unexpected error", extra={"table": table.table_name}
            )
            self._deletes.failed(table, f"{type(exc).__name__}: {exc}")
            outcome.deletes = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}

    def _skipped(self, lease: Lease) -> TableResult:
        """Not a failure, nothing to re-run: the holder is exporting this incremental window. Pages
        only when the lease has been held longer than any healthy run holds one."""
        now = self._clock()
        message = f"{lease.describe()}; that run exports this table's incremental window, nothing to re-run"
        limit = timedelta(minutes=self._settings.lease_alert_after_minutes)
        held = lease.held_for(now)
        minutes = None if held is None else round(held.total_seconds() / 60, 1)
        extra = {"table": lease.table, "holder": lease.holder, "held_minutes": minutes}
        skipped = TableResult(lease.table, TableStatus.SKIPPED, message=message)
        if not lease.overdue(now, limit):
            logger.info("export skipped: another run holds the table's lease", extra=extra)
            return skipped
        logger.warning("export skipped: the table's lease is held past the alert limit", extra=extra)
        self._paging.raise_alert(
            Alert(
                severity=Severity.P2,
                check="export_lease",
                table=lease.table,
                summary=f"not exporting: lease {lease.describe()}, longer than any run lasts"[:300],
                details={
                    "holder": lease.holder,
                    "acquired_at": None if lease.acquired_at is None else iso(lease.acquired_at),
                    "expires_at": None if lease.expires_at is None else iso(lease.expires_at),
                    "held_minutes": minutes,
                    "alert_after_minutes": self._settings.lease_alert_after_minutes,
                    "lease_table": self._settings.export_lease_table,
                },
                run_id=self.run_id,
                runbook_anchor="export-lease-held",
            )
        )
        return skipped
