"""The exporter's domain logic: for each window, fix the bounds, export, publish, write the manifest.

Ordering is the safety argument: data becomes visible under the table prefix only when complete,
the manifest is written after the data, and the override is deleted only after both. An
incremental window that becomes visible in pieces (a split publish, a split window) is pinned
first (aurora_sync.pins): incremental runs start no higher than what no manifest covers yet.
An incremental window runs only under its table's lease (aurora_sync.exporter.lease): two runs never
export the same table's incremental window at once; the one that finds it held skips the table.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from aurora_sync.adapters.postgres import Aurora, SafeBound
from aurora_sync.adapters.s3 import MIB, ObjectStore
from aurora_sync.adapters.snowflake import Snowflake
from aurora_sync.adapters.ssm import ParameterStore
from aurora_sync.alert_routing import AlertRouter
from aurora_sync.alerts import Alert, Severity
from aurora_sync.column_types import mismatch
from aurora_sync.errors import (
    RejectedValueError,
    SchemaDriftError,
    StatementTimeoutError,
    SyncError,
    TerminalError,
)
from aurora_sync.exporter.lease import Lease, TableLeases
from aurora_sync.exporter.payloads import ExportWindow, can_cut, smaller_rerun, smaller_windows_advice
from aurora_sync.exporter.query import ExportQuery, build_export_query, csv_header, describe_rejection
from aurora_sync.layout import data_key, manifest_key, pending_key, temp_key, temp_part_number
from aurora_sync.manifest import Manifest, ManifestFile, read_manifests
from aurora_sync.observability import METRICS_NAMESPACE, logger
from aurora_sync.pins import PublishPin, Window, gaps, held_lower, read_pins
from aurora_sync.settings import ExporterSettings, ExportMode
from aurora_sync.tables import Override, TableConfig, TablesConfig
from aurora_sync.timeutil import EPOCH, iso

WATERMARK_TYPES = frozenset({"timestamp", "timestamptz"})


@dataclass
class TableResult:
    table: str
    status: str  # exported | empty | failed | skipped (another run holds the table's lease)
    rows: int = 0
    files: list[str] = field(default_factory=list)
    lower: str | None = None
    upper: str | None = None
    error: str | None = None
    retryable: bool | None = None
    timed_out: bool | None = None  # the statement timeout: a smaller window succeeds
    export_id: str | None = None
    manifest: str | None = None
    rerun: dict[str, Any] | None = None
    message: str | None = None  # why a table was skipped

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class RunResult:
    run_id: str
    tables: list[TableResult] = field(default_factory=list)
    remaining: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> list[TableResult]:
        return [t for t in self.tables if t.status == "failed"]

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"run_id": self.run_id, "tables": [t.as_dict() for t in self.tables]}
        if self.remaining:
            result["remaining"] = self.remaining
        return result


@dataclass(frozen=True)
class Published:
    files: list[ManifestFile]
    rows: int
    pin: PublishPin | None = None  # written before an incremental split publish's first copy


class ExportService:
    def __init__(
        self,
        *,
        settings: ExporterSettings,
        tables: TablesConfig,
        parameters: ParameterStore,
        store: ObjectStore,
        open_aurora: Callable[[], Aurora],
        open_snowflake: Callable[[], Snowflake],
        alerts: AlertRouter,
        leases: TableLeases,
        remaining_ms: Callable[[], int],
        run_id: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._tables = tables
        self._parameters = parameters
        self._store = store
        self._open_aurora = open_aurora
        self._open_snowflake = open_snowflake
        self._alerts = alerts
        self._leases = leases
        self._remaining_ms = remaining_ms
        self._clock = clock
        self.run_id = run_id
        self._started = clock()
        self._aurora: Aurora | None = None
        self._snowflake: Snowflake | None = None
        self._bound: SafeBound | None = None
        self._pinned: set[str] = set()  # tables with pinned gaps when this invocation began them

    @property
    def _max_range(self) -> timedelta:
        """The widest manual payload the exporter accepts (MAX_RANGE_HOURS)."""
        return timedelta(hours=self._settings.max_range_hours)

    # -- lazily opened, shared across the invocation's tables -------------------------------
    def aurora(self) -> Aurora:
        if self._aurora is None:
            self._aurora = self._open_aurora()
        return self._aurora

    def snowflake(self) -> Snowflake:
        if self._snowflake is None:
            self._snowflake = self._open_snowflake()
        return self._snowflake

    def bound(self) -> SafeBound:
        """Fixed once per invocation: later tables reuse it, which is always still safe."""
        if self._bound is None:
            self._bound = self.aurora().safe_bound()
            blocker = self._bound.held_back_by
            if blocker is not None:
                held = self._bound.db_now - self._bound.upper
                log = logger.warning if held > timedelta(minutes=5) else logger.info
                log(
                    "export upper bound held back by an open transaction",
                    extra={
                        "pid": blocker.pid,
                        "xact_start": iso(blocker.xact_start),
                        "held_back_seconds": round(held.total_seconds(), 3),
                        "usename": blocker.usename,
                        "application_name": blocker.application_name,
                        "state": blocker.state,
                    },
                )
        return self._bound

    def close(self) -> None:
        for adapter in (self._aurora, self._snowflake):
            if adapter is not None:
                adapter.close()

    # -- the run -------------------------------------------------------------------------------
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
                window.table, "failed", error=str(exc), retryable=exc.transient, timed_out=timed_out or None
            )
            logger.error(
                "Export failed",
                extra={"table": window.table, "error": str(exc), "retryable": exc.transient},
            )
            cut = exc.window if isinstance(exc, StatementTimeoutError) else None
            if cut is not None and not window.split and can_cut(*cut, self._max_range):
                rerun = smaller_rerun(window.table, *cut)
        except Exception as exc:  # an unexpected bug must not stop the other tables
            outcome = TableResult(
                window.table, "failed", error=f"{type(exc).__name__}: {exc}", retryable=False
            )
            logger.exception("Export failed with an unexpected error", extra={"table": window.table})
        if outcome.status == "skipped":  # the holder exports it, and raises or resolves `export` itself
            self._emit(window.table, outcome, time.monotonic() - started)
            return outcome
        if outcome.status == "failed":
            outcome.rerun = rerun
            self._alert(
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
        else:
            self._resolve("export", window.table, f"exported: {outcome.status}")
        self._emit(window.table, outcome, time.monotonic() - started)
        return outcome

    def _emit(self, table: str, outcome: TableResult, seconds: float) -> None:
        def put(name: str, unit: MetricUnit, value: float) -> None:
            with single_metric(name=name, unit=unit, value=value, namespace=METRICS_NAMESPACE) as metric:
                metric.add_dimension(name="table", value=table)

        if outcome.status == "skipped":
            put("ExportSkipped", MetricUnit.Count, 1)
            return
        put("ExportedRows", MetricUnit.Count, outcome.rows)
        put("ExportDuration", MetricUnit.Seconds, seconds)
        put("ExportFailed", MetricUnit.Count, 1 if outcome.status == "failed" else 0)

    # -- the table's lease (aurora_sync.exporter.lease) ---------------------------------------------------
    def _export_leased(self, window: ExportWindow) -> TableResult:
        """An incremental window runs under its table's lease, released however the export ends;
        a manual window takes none (skipping it would lose exactly the rows its caller asked for)."""
        if window.is_manual:
            return self.export_window(window)
        remaining = timedelta(milliseconds=self._remaining_ms())
        claim = self._leases.acquire(window.table, self.run_id, remaining)
        if not claim.acquired:
            return self._skipped(claim.lease)
        self._resolve("export_lease", window.table, f"lease acquired by run {self.run_id}")
        try:
            return self.export_window(window)
        finally:
            self._leases.release(claim.lease)

    def _skipped(self, lease: Lease) -> TableResult:
        """Not a failure, nothing to re-run: the holder is exporting this incremental window. Pages
        only when the lease has been held longer than any healthy run holds one."""
        now = self._clock()
        message = f"{lease.describe()}; that run exports this table's incremental window, nothing to re-run"
        limit = timedelta(minutes=self._settings.lease_alert_after_minutes)
        held = lease.held_for(now)
        minutes = None if held is None else round(held.total_seconds() / 60, 1)
        extra = {"table": lease.table, "holder": lease.holder, "held_minutes": minutes}
        skipped = TableResult(lease.table, "skipped", message=message)
        if not lease.overdue(now, limit):
            logger.info("export skipped: another run holds the table's lease", extra=extra)
            return skipped
        logger.warning("export skipped: the table's lease is held past the alert limit", extra=extra)
        self._alert(
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

    def export_window(self, window: ExportWindow) -> TableResult:
        table, override, full_refresh = self._plan(window)
        aurora = self.aurora()
        self._check_schema(table, aurora)
        lower, upper = self._bounds(table, window, self.bound(), full_refresh)
        if lower is not None and lower >= upper:
            logger.info(
                "nothing to export: window is empty",
                extra={"table": table.table_name, "lower": iso(lower), "upper": iso(upper)},
            )
            return TableResult(table.table_name, "empty", lower=iso(lower), upper=iso(upper))

        query = build_export_query(table, lower, upper)
        export_id = str(uuid.uuid4())
        logger.info(
            "export query",
            extra={
                "table": table.table_name,
                "export_id": export_id,
                "query": query.text,
                "query_sha256": query.sha256,
                "mode": str(self._settings.export_mode),
                "full_refresh": full_refresh,
            },
        )
        started_at = self._clock()
        pin = None if window.is_manual else self._new_pin(table, export_id, lower, upper)
        try:
            published = self._export(table, query, export_id, (lower, upper), pin)
        except StatementTimeoutError as exc:
            advice = smaller_windows_advice(table.table_name, lower, upper, self._max_range)
            raise StatementTimeoutError(f"{exc}; {advice}", exc.timeout_ms, (lower, upper)) from exc
        except RejectedValueError as exc:  # raised before anything was published
            raise TerminalError(describe_rejection(table, exc)) from exc
        manifest = Manifest(
            run_id=self.run_id,
            export_id=export_id,
            table=table.table_name,
            files=published.files,
            rows=published.rows,
            lower=None if lower is None else iso(lower),
            upper=iso(upper),
            mode=str(self._settings.export_mode),
            started_at=iso(started_at),
            finished_at=iso(self._clock()),
            query_sha256=query.sha256,
            full_refresh=full_refresh,
        )
        key = manifest_key(table.table_name, self._started, export_id)
        self._store.put_json(key, manifest.to_json())
        if published.pin is not None:  # its window is this manifest's
            self._drop_pin(published.pin, "its export's manifest is written")
        if table.table_name in self._pinned:  # this manifest may cover those gaps
            self._pinned.discard(table.table_name)
            try:
                self._pin_gaps(table.table_name)
            except SyncError as exc:  # the export is done; the next run re-checks its pins
                logger.warning(
                    "publish pins not re-checked", extra={"table": table.table_name, "error": str(exc)}
                )
        if override is not None and override.full_refresh:
            self._parameters.delete_override(table.table_name)
            logger.info("full_refresh override consumed and deleted", extra={"table": table.table_name})
        status = "exported" if published.rows else "empty"
        logger.info(
            "export finished",
            extra={
                "table": table.table_name,
                "status": status,
                "rows": published.rows,
                "keys": [f.key for f in published.files],
                "manifest": key,
                "bytes": sum(f.bytes for f in published.files),
            },
        )
        return TableResult(
            table.table_name,
            status,
            rows=published.rows,
            files=[f.key for f in published.files],
            lower=manifest.lower,
            upper=manifest.upper,
            export_id=export_id,
            manifest=key,
        )

    def resolve(self, window: ExportWindow) -> tuple[datetime, datetime]:
        """The concrete (lower, upper] an export of `window` would use now, for splitting it.

        A full refresh has no lower bound (it also takes NULL watermarks), so it cannot be cut
        into watermark ranges; that is refused rather than silently narrowed.
        """
        table, _, full_refresh = self._plan(window)
        lower, upper = self._bounds(table, window, self.bound(), full_refresh)
        if lower is None:
            raise TerminalError(
                f"{table.table_name} is a full refresh (no lower bound) and cannot be split into "
                "watermark windows; give the exporter a longer timeout or export manual ranges"
            )
        if not window.is_manual:
            # The sub-windows run as manual windows; one may fail while later ones advance FINAL.
            pin = self._new_pin(table, f"split-{uuid.uuid4()}", lower, upper)
            self._store.put_json(pending_key(pin.table, pin.export_id), pin.to_json())
        return lower, upper

    def _plan(self, window: ExportWindow) -> tuple[TableConfig, Override | None, bool]:
        table = self._tables.get(window.table)
        if table is None:  # parse_event already rejects unknown tables; config may change between
            raise TerminalError(f"table {window.table!r} is not configured")
        override = None if window.is_manual else self._parameters.load_override(table.table_name)
        full_refresh = not window.is_manual and (
            table.full_refresh or bool(override and override.full_refresh)
        )
        return table, override, full_refresh

    def _bounds(
        self, table: TableConfig, window: ExportWindow, bound: SafeBound, full_refresh: bool
    ) -> tuple[datetime | None, datetime]:
        if window.start is not None and window.end is not None:
            if window.end > bound.upper:
                logger.warning(
                    "manual window end is past the commit-safe bound; exporting up to the bound",
                    extra={"table": table.table_name, "end": iso(window.end), "bound": iso(bound.upper)},
                )
            return window.start, min(window.end, bound.upper)
        if full_refresh:
            return None, bound.upper
        final_max = self.snowflake().max_watermark("FINAL", table.snowflake_table, table.watermark_col)
        lag = bound.db_now - (final_max or EPOCH)
        with single_metric(
            name="WatermarkLag",
            unit=MetricUnit.Seconds,
            value=lag.total_seconds(),
            namespace=METRICS_NAMESPACE,
        ) as metric:
            metric.add_dimension(name="table", value=table.table_name)
        # Empty FINAL: a full backfill from the epoch; the overlap applies only below a real watermark.
        lower = EPOCH if final_max is None else final_max - timedelta(seconds=table.lookback_seconds)
        logger.info(
            "lower bound from FINAL",
            extra={
                "table": table.table_name,
                "final_max": None if final_max is None else iso(final_max),
                "lookback_seconds": table.lookback_seconds,
                "lower": iso(lower),
            },
        )
        open_gaps = self._pin_gaps(table.table_name)
        if open_gaps:
            self._pinned.add(table.table_name)
        held = held_lower(lower, open_gaps, timedelta(seconds=table.lookback_seconds))
        if held != lower:
            logger.warning(
                "lower bound held at a pinned window no manifest covers yet",
                extra={
                    "table": table.table_name,
                    "lower": None if held is None else iso(held),
                    "gaps": [[None if lo is None else iso(lo), iso(hi)] for lo, hi in open_gaps],
                },
            )
        return held, bound.upper

    # -- publish pins (aurora_sync.pins) -----------------------------------------------------
    def _new_pin(
        self, table: TableConfig, export_id: str, lower: datetime | None, upper: datetime
    ) -> PublishPin:
        return PublishPin(table.table_name, export_id, self.run_id, lower, upper, self._clock())

    def _pin_gaps(self, table: str) -> list[Window]:
        """What the table's pins still guard: their windows minus every manifested window. A pin
        without gaps is deleted (best effort: gaps are recomputed from the evidence every time)."""
        pins, unreadable = read_pins(self._store, table)
        if unreadable:  # its window is unknown: no incremental bound is safe
            raise TerminalError(unreadable[0])
        if not pins:
            return []
        # A manifest lies under its run's start hour, which may precede its pin's by minutes.
        since = min(p.created_at for p in pins) - timedelta(hours=1)
        manifests, invalid = read_manifests(self._store, table, since, self._clock())
        for error in invalid:  # proves nothing; the reconciler's manifests check reports it
            logger.warning("manifest ignored as evidence for publish pins", extra={"error": error})
        covered = [m.doc.window() for m in manifests]
        open_gaps: list[Window] = []
        for pin in pins:
            left = gaps(pin.window, covered)
            if left:
                open_gaps.extend(left)
            else:
                self._drop_pin(pin, "manifests cover its window")
        return open_gaps

    def _drop_pin(self, pin: PublishPin, why: str) -> None:
        key = pending_key(pin.table, pin.export_id)
        try:
            self._store.delete([key])
        except SyncError as exc:
            logger.warning(
                "publish pin could not be deleted; its window is re-checked next run",
                extra={"table": pin.table, "pin": key, "error": str(exc)},
            )
            return
        logger.info("publish pin cleared", extra={"table": pin.table, "pin": key, "reason": why})

    def _check_schema(self, table: TableConfig, aurora: Aurora) -> None:
        actual = aurora.columns(table.schema_name, table.relation)
        if not actual:
            raise TerminalError(f"table {table.table_name} does not exist in Aurora (or is not visible)")
        missing = [c for c in table.column_names if c not in actual]
        if missing:
            raise SchemaDriftError(
                f"{table.table_name}: configured column(s) {', '.join(missing)} no longer exist in Aurora; "
                "update tables.json (and the Snowflake tables) before exporting"
            )
        wm_type = actual[table.watermark_col]
        if wm_type not in WATERMARK_TYPES:
            raise TerminalError(
                f"{table.table_name}.{table.watermark_col} is {wm_type}, not timestamp/timestamptz"
            )
        # The export query renders each column for its configured type; the wrong source type would
        # fail mid-export or, worse, write text Snowpipe skips.
        wrong = [m for c in table.columns if (m := mismatch(c.name, c.type, actual[c.name]))]
        if wrong:
            raise SchemaDriftError(
                f"{table.table_name}: {'; '.join(wrong)}; correct tables.json (scripts/onboard_table.py "
                "prints the mapping) or the Aurora column before exporting"
            )
        extra = [c for c in actual if c not in set(table.column_names)]
        if extra:
            logger.warning(
                "schema drift: Aurora has columns the config lacks",
                extra={"table": table.table_name, "columns": extra},
            )
            self._alert(
                Alert(
                    severity=Severity.P3,
                    check="schema_drift",
                    table=table.table_name,
                    summary=f"Aurora has {len(extra)} column(s) not in tables.json; they are not exported",
                    details={"unexported_columns": extra},
                    run_id=self.run_id,
                    runbook_anchor="schema-mismatch",
                )
            )
        else:
            self._resolve("schema_drift", table.table_name, "Aurora's columns match tables.json")

    # -- alerts: a failure to alert is logged and counted, never allowed to lose the export ------
    def _alert(self, alert: Alert, escalate_after: int | None = None) -> None:
        try:
            self._alerts.raise_alert(alert, escalate_after)
        except SyncError as exc:
            logger.error("alert could not be sent", extra={"dedup_key": alert.dedup_key, "error": str(exc)})

    def _resolve(self, check: str, table: str, evidence: str) -> None:
        try:
            self._alerts.resolve(check, table, self.run_id, evidence)
        except SyncError as exc:
            logger.error(
                "resolve could not be sent", extra={"check": check, "table": table, "error": str(exc)}
            )

    # -- the two export modes ------------------------------------------------------------------
    def _export(
        self, table: TableConfig, query: ExportQuery, export_id: str, bounds: Window, pin: PublishPin | None
    ) -> Published:
        """`pin` is written only if the export must be published in pieces (several aurora_s3 parts)."""
        if self._settings.export_mode is ExportMode.COPY_STREAM:
            return self._copy_stream(table, query, export_id)
        return self._aurora_s3(table, query, export_id, bounds, pin)

    def _copy_stream(self, table: TableConfig, query: ExportQuery, export_id: str) -> Published:
        key = data_key(table.table_name, self._started, export_id)
        writer = self._store.writer(key, self._settings.multipart_chunk_mib * MIB)
        try:
            rows = self.aurora().copy_out(query.text, writer)
            if rows == 0:
                writer.abort()
                return Published([], 0)
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        return Published([ManifestFile(key, rows, writer.bytes_written)], rows)

    def _aurora_s3(
        self, table: TableConfig, query: ExportQuery, export_id: str, bounds: Window, pin: PublishPin | None
    ) -> Published:
        temp = temp_key(self._settings.temp_prefix, table.table_name, export_id)
        try:
            result = self.aurora().export_to_s3(
                query.text, self._store.bucket, temp, self._settings.aws_region
            )
            if result.rows == 0:
                return Published([], 0)
            parts = self._temp_parts(temp, result.files, result.bytes)
            if len(parts) == 1:  # one copy is atomic; several make the rows visible in pieces
                pin = None
            if pin is not None:
                self._store.put_json(pending_key(pin.table, pin.export_id), pin.to_json())
            lower, upper = bounds
            replay = ExportWindow(table.table_name, lower or EPOCH, upper).payload()
            files = self._publish(table, export_id, parts, result.rows, replay, pinned=pin is not None)
            return Published(files, result.rows, pin)
        finally:
            self._discard_temp(temp)

    def _temp_parts(self, temp: str, files: int, size: int) -> list[tuple[int, str, int]]:
        found = sorted(
            (number, key, object_size)
            for key, object_size in self._store.sizes(temp).items()
            if (number := temp_part_number(temp, key)) is not None
        )
        if [n for n, _, _ in found] != list(range(1, files + 1)) or sum(s for _, _, s in found) != size:
            raise TerminalError(
                f"Aurora reported {files} file(s) / {size} bytes under s3://{self._store.bucket}/{temp} but "
                f"found {[(k, s) for _, k, s in found]}; nothing was published"
            )
        return found

    def _publish(
        self,
        table: TableConfig,
        export_id: str,
        parts: list[tuple[int, str, int]],
        rows: int,
        replay: dict[str, Any],
        *,
        pinned: bool,
    ) -> list[ManifestFile]:
        """Copy complete temp parts into the table prefix, each starting with the CSV header."""
        header = csv_header(table)
        published: list[ManifestFile] = []
        try:
            for number, key, size in parts:
                target = data_key(table.table_name, self._started, export_id, number)
                starts_with_header = (
                    size >= len(header) and self._store.read_range(key, 0, len(header) - 1) == header
                )
                written = self._store.copy(key, target, size, prefix=b"" if starts_with_header else header)
                published.append(ManifestFile(target, rows if len(parts) == 1 else None, written))
        except SyncError as exc:
            keys = [f.key for f in published]
            if not keys:
                raise
            # Snowpipe may have loaded those parts already, and FINAL's watermark with them. An
            # incremental window's pin stays, so the next run re-exports it; say what to run now.
            logger.error(
                "publishing a split export failed midway; removing the parts already published",
                extra={"table": table.table_name, "published": keys, "replay": replay},
            )
            self._store.delete(keys)
            then = (
                "the window stays pinned, so the next scheduled run re-exports it; to do it now, "
                if pinned
                else ""
            )
            raise TerminalError(
                f"{exc}; parts {keys} were published then removed; {then}re-export this window by invoking "
                f"the exporter with {json.dumps(replay)}"
            ) from exc
        return published

    def _discard_temp(self, temp: str) -> None:
        try:
            leftovers = list(self._store.sizes(temp))
            if leftovers:
                self._store.delete(leftovers)
        except SyncError as exc:
            # Only the temp prefix: no pipe watches it and a lifecycle rule expires it.
            logger.warning(
                "could not delete temporary export objects", extra={"prefix": temp, "error": str(exc)}
            )
