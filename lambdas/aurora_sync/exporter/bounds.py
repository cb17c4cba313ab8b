"""Where a window's export starts and ends.

The upper bound is Aurora's commit-safe bound: no row at or below it can still be uncommitted. It is
read once per invocation; later tables reuse it, which is always still safe. A manual window ends at
it at the latest. An incremental window starts at FINAL's watermark less the table's lookback (late
commits), or at the epoch when FINAL is empty, and no higher than the lowest gap of the table's
publish pins (aurora_sync.pins). A full refresh has no lower bound.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from aws_lambda_powertools.metrics import MetricUnit

from aurora_sync.exporter.payloads import ExportWindow
from aurora_sync.exporter.ports import AuroraSource, SafeBound, WatermarkSource
from aurora_sync.observability import logger, put_metric
from aurora_sync.pins import PublishPins
from aurora_sync.tables import TableConfig
from aurora_sync.timeutil import EPOCH, iso


class Bounds:
    def __init__(
        self,
        *,
        aurora: Callable[[], AuroraSource],
        open_snowflake: Callable[[], WatermarkSource],
        pins: PublishPins,
    ) -> None:
        self._aurora = aurora
        self._open_snowflake = open_snowflake
        self._pins = pins
        self._snowflake: WatermarkSource | None = None
        self._safe: SafeBound | None = None

    def safe(self) -> SafeBound:
        """Fixed once per invocation: later tables reuse it, which is always still safe."""
        if self._safe is None:
            self._safe = self._aurora().safe_bound()
            blocker = self._safe.held_back_by
            if blocker is not None:
                held = self._safe.db_now - self._safe.upper
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
        return self._safe

    def close(self) -> None:
        if self._snowflake is not None:
            self._snowflake.close()

    def for_window(
        self, table: TableConfig, window: ExportWindow, full_refresh: bool
    ) -> tuple[datetime | None, datetime]:
        """(lower, upper] for exporting `window` now; lower None: no lower bound."""
        bound = self.safe()
        if window.start is not None and window.end is not None:
            if window.end > bound.upper:
                logger.warning(
                    "manual window end is past the commit-safe bound; exporting up to the bound",
                    extra={"table": table.table_name, "end": iso(window.end), "bound": iso(bound.upper)},
                )
            return window.start, min(window.end, bound.upper)
        if full_refresh:
            return None, bound.upper
        final_max = self._final_max(table)
        if final_max is not None:  # an empty FINAL has no lag to measure (from the epoch: ~56 years)
            lag = bound.db_now - final_max
            put_metric("WatermarkLag", MetricUnit.Seconds, lag.total_seconds(), table=table.table_name)
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
        held = self._pins.hold(table.table_name, lower, timedelta(seconds=table.lookback_seconds))
        return held, bound.upper

    def snowflake(self) -> WatermarkSource:
        """Opened on first use, shared with the delete detection pass."""
        if self._snowflake is None:
            self._snowflake = self._open_snowflake()
        return self._snowflake

    def _final_max(self, table: TableConfig) -> datetime | None:
        return self.snowflake().max_watermark("FINAL", table.snowflake_table, table.watermark_col)
