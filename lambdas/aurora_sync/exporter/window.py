"""One window of one table: fix the bounds, export, publish, write the manifest.

Ordering is the safety argument: data becomes visible under the table prefix only when complete
(exporter/publish.py), the manifest is written after the data, and the override is deleted only
after both. An incremental window that becomes visible in pieces (a split publish, a split window)
is pinned first (aurora_sync.pins): incremental runs start no higher than what no manifest covers
yet (exporter/bounds.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from aurora_sync.errors import RejectedValueError, StatementTimeoutError, TerminalError
from aurora_sync.exporter.bounds import Bounds
from aurora_sync.exporter.paging import Paging
from aurora_sync.exporter.payloads import ExportWindow, RangeRef, smaller_windows_advice
from aurora_sync.exporter.ports import AuroraSource, ExportStore, Overrides, WatermarkSource
from aurora_sync.exporter.publish import Published, Publisher
from aurora_sync.exporter.query import ExportQuery, build_export_query, build_range_query, describe_rejection
from aurora_sync.exporter.refresh import RefreshLedger
from aurora_sync.exporter.refresh_planner import RefreshPlanner
from aurora_sync.exporter.results import TableResult, TableStatus
from aurora_sync.exporter.schema import drift_alert, unexported_columns
from aurora_sync.layout import manifest_key
from aurora_sync.manifest import Manifest
from aurora_sync.observability import logger
from aurora_sync.pins import PublishPin, PublishPins
from aurora_sync.ports import Alerts
from aurora_sync.settings import ExporterSettings
from aurora_sync.tables import Override, TableConfig, TablesConfig
from aurora_sync.timeutil import iso, parse_instant


class WindowExport:
    def __init__(
        self,
        *,
        settings: ExporterSettings,
        tables: TablesConfig,
        overrides: Overrides,
        store: ExportStore,
        open_aurora: Callable[[], AuroraSource],
        open_snowflake: Callable[[], WatermarkSource],
        alerts: Alerts,
        run_id: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._tables = tables
        self._overrides = overrides
        self._store = store
        self._open_aurora = open_aurora
        self._paging = Paging(alerts, run_id)
        self._run_id = run_id
        self._clock = clock
        self._started = clock()
        self._aurora: AuroraSource | None = None
        self._pins = PublishPins(store, run_id, clock)
        self._bounds = Bounds(aurora=self.aurora, open_snowflake=open_snowflake, pins=self._pins)
        self._publisher = Publisher(
            store=store, settings=settings, started=self._started, aurora=self.aurora, pins=self._pins
        )
        self._ledger = RefreshLedger(store)
        self._refreshes = RefreshPlanner(
            settings=settings, ledger=self._ledger, aurora=self.aurora, clock=clock
        )

    def aurora(self) -> AuroraSource:
        """Opened on first use, shared across the invocation's tables."""
        if self._aurora is None:
            self._aurora = self._open_aurora()
        return self._aurora

    def snowflake(self) -> WatermarkSource:
        """Snowflake, opened on first use (the lower bound's, shared with delete detection)."""
        return self._bounds.snowflake()

    def safe_upper(self) -> datetime:
        """The invocation's commit-safe bound (fixed on first use; delete detection's B)."""
        return self._bounds.safe().upper

    def table(self, name: str) -> TableConfig | None:
        return self._tables.get(name)

    @property
    def started(self) -> datetime:
        return self._started

    def close(self) -> None:
        if self._aurora is not None:
            self._aurora.close()
        self._bounds.close()

    @property
    def refreshes(self) -> RefreshPlanner:
        """Plans and completes full refreshes in key ranges (exporter/refresh.py)."""
        return self._refreshes

    def export(self, window: ExportWindow) -> TableResult:
        if window.refresh is not None:
            return self._export_range(window, window.refresh)
        table, override, full_refresh = self._plan(window)
        self._check_schema(table)
        lower, upper = self._bounds.for_window(table, window, full_refresh)
        if lower is not None and lower >= upper:
            logger.info(
                "nothing to export: window is empty",
                extra={"table": table.table_name, "lower": iso(lower), "upper": iso(upper)},
            )
            return TableResult(table.table_name, TableStatus.EMPTY, lower=iso(lower), upper=iso(upper))

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
        pin = None if window.is_manual else self._pins.new(table.table_name, export_id, lower, upper)
        max_range = timedelta(hours=self._settings.max_range_hours)
        published, manifest, key = self._publish(
            table,
            query,
            export_id,
            (lower, upper),
            pin,
            timeout=(smaller_windows_advice(table.table_name, lower, upper, max_range), (lower, upper)),
            lower=None if lower is None else iso(lower),
            upper=iso(upper),
            full_refresh=full_refresh,
        )
        self._pins.manifested(table.table_name, published.pin)
        if override is not None and override.full_refresh:
            self._overrides.delete_override(table.table_name)
            logger.info("full_refresh override consumed and deleted", extra={"table": table.table_name})
        return _finished(table, published, manifest, key)

    def _export_range(self, window: ExportWindow, ref: RangeRef) -> TableResult:
        """One key range of a full refresh: every row of the range up to the plan's bound, its
        manifest, then its checkpoint; the last range's checkpoint completes the refresh."""
        table = self._table(window.table)
        plan = self._ledger.plan(table.table_name, ref.id)
        if plan.ranges != ref.of:
            raise TerminalError(
                f"refresh {ref.id} of {table.table_name} has {plan.ranges} ranges, the item says {ref.of}"
            )
        if plan.keys != list(table.primary_keys):  # tables.json changed the key since the plan
            raise TerminalError(
                f"refresh {ref.id} of {table.table_name} was planned on the key {plan.keys}, the "
                f"table's is now {list(table.primary_keys)}: plan it anew "
                '("restart": true, or aurora-sync resync --restart)'
            )
        self._check_schema(table)
        self.aurora().limit_statements(self._settings.refresh_statement_seconds * 1000)
        after, upto = plan.bounds(ref.index)
        upper = parse_instant(plan.upper, "upper")
        query = build_range_query(table, upper, after, upto)
        export_id = str(uuid.uuid4())
        where = {"refresh_id": ref.id, "range": ref.index, "of": ref.of}
        logger.info(
            "export query",
            extra={"table": table.table_name, "export_id": export_id, "query": query.text, **where},
        )
        advice = (
            f"range {ref.index} of refresh {ref.id} did not finish within REFRESH_STATEMENT_SECONDS "
            f"({self._settings.refresh_statement_seconds}); raise it, or plan the refresh again with a "
            'smaller rows_per_range and "restart": true'
        )
        published, manifest, key = self._publish(
            table,
            query,
            export_id,
            (None, upper),
            None,
            timeout=(advice, None),
            lower=None,
            upper=plan.upper,
            refresh=ref.model_dump(),
        )
        self._ledger.checkpoint(plan, ref.index, key, manifest.to_json())
        progress = self._ledger.one(table.table_name, ref.id)
        if progress.ended is None and len(progress.done) >= plan.ranges:
            self._refreshes.complete(plan, rows=None)
        result = _finished(table, published, manifest, key)
        result.refresh = {**ref.model_dump(), "done": len(progress.done)}
        return result

    def _publish(
        self,
        table: TableConfig,
        query: ExportQuery,
        export_id: str,
        bounds: tuple[datetime | None, datetime],
        pin: PublishPin | None,
        *,
        timeout: tuple[str, tuple[datetime | None, datetime] | None],
        lower: str | None,
        upper: str,
        full_refresh: bool = False,
        refresh: dict[str, object] | None = None,
    ) -> tuple[Published, Manifest, str]:
        """Both kinds of export from here on: the rows published, then their manifest (written last).
        `timeout` is (what on-call should do, the window a split may cut) for a statement timeout."""
        started_at = self._clock()
        try:
            published = self._publisher.export(table, query, export_id, bounds, pin)
        except StatementTimeoutError as exc:
            advice, window = timeout
            raise StatementTimeoutError(f"{exc}; {advice}", exc.timeout_ms, window) from exc
        except RejectedValueError as exc:  # raised before anything was published
            raise TerminalError(describe_rejection(table, exc)) from exc
        manifest = Manifest(
            run_id=self._run_id,
            export_id=export_id,
            table=table.table_name,
            files=published.files,
            rows=published.rows,
            lower=lower,
            upper=upper,
            mode=str(self._settings.export_mode),
            started_at=iso(started_at),
            finished_at=iso(self._clock()),
            query_sha256=query.sha256,
            full_refresh=full_refresh,
            refresh=refresh,
        )
        key = manifest_key(table.table_name, self._started, export_id)
        self._store.put_json(key, manifest.to_json())
        return published, manifest, key

    def split_bounds(self, window: ExportWindow) -> tuple[datetime, datetime]:
        """The concrete (lower, upper] an export of `window` would use now, for splitting it.

        A full refresh has no lower bound (it also takes NULL watermarks), so it cannot be cut
        into watermark ranges; that is refused rather than silently narrowed. Nor is a refresh's key
        range: its boundaries are the plan's, which every resume reuses.
        """
        if window.refresh is not None:
            raise TerminalError(
                f"range {window.refresh.index} of refresh {window.refresh.id} of {window.table} is not "
                "split: resuming the refresh exports it again; if it times out again, raise "
                "REFRESH_STATEMENT_SECONDS "
                'or plan anew with a smaller rows_per_range and "restart": true'
            )
        table, _, full_refresh = self._plan(window)
        lower, upper = self._bounds.for_window(table, window, full_refresh)
        if lower is None:
            raise TerminalError(
                f"{table.table_name} is a full refresh (no lower bound) and cannot be split into "
                "watermark windows; give the exporter a longer timeout or export manual ranges"
            )
        if not window.is_manual:
            # The sub-windows run as manual windows; one may fail while later ones advance FINAL.
            self._pins.write(self._pins.new(table.table_name, f"split-{uuid.uuid4()}", lower, upper))
        return lower, upper

    def _table(self, name: str) -> TableConfig:
        table = self._tables.get(name)
        if table is None:  # parse_event already rejects unknown tables; config may change between
            raise TerminalError(f"table {name!r} is not configured")
        return table

    def _plan(self, window: ExportWindow) -> tuple[TableConfig, Override | None, bool]:
        table = self._table(window.table)
        # On-call's override is the one way to a full export (tables.json has no such key).
        override = None if window.is_manual else self._overrides.load_override(table.table_name)
        return table, override, bool(override and override.full_refresh)

    def _check_schema(self, table: TableConfig) -> None:
        unexported = unexported_columns(table, self.aurora().columns(table.schema_name, table.relation))
        if not unexported:
            self._paging.resolve("schema_drift", table.table_name, "Aurora's columns match tables.json")
            return
        logger.warning(
            "schema drift: Aurora has columns the config lacks",
            extra={"table": table.table_name, "columns": unexported},
        )
        self._paging.raise_alert(drift_alert(table.table_name, unexported, self._run_id))


def _finished(table: TableConfig, published: Published, manifest: Manifest, key: str) -> TableResult:
    status = TableStatus.EXPORTED if published.rows else TableStatus.EMPTY
    logger.info(
        "export finished",
        extra={
            "table": table.table_name,
            "status": status.value,
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
        export_id=manifest.export_id,
        manifest=key,
    )
