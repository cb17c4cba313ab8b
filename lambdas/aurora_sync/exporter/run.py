"""Composition root of the exporter: settings -> adapters -> WindowExport -> ExportService, and the
run's outcome.

Kept apart from handler.py so the handler stays one screen and tests can run a whole invocation
in-process against the local stack.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from aurora_sync import aws
from aurora_sync.adapters.dynamodb import LeaseTable
from aurora_sync.errors import TerminalError, TransientError
from aurora_sync.exporter.deletes import DeletePass
from aurora_sync.exporter.lease import TableLeases
from aurora_sync.exporter.payloads import (
    ExportWindow,
    RefreshPayload,
    item_table,
    parse_request,
    split_window,
)
from aurora_sync.exporter.results import RunResult
from aurora_sync.exporter.service import ExportService
from aurora_sync.exporter.window import WindowExport
from aurora_sync.observability import logger
from aurora_sync.runtime import Runtime
from aurora_sync.settings import load_exporter_settings
from aurora_sync.tables import TablesConfig


class ExportRunFailed(TerminalError):
    """At least one table failed terminally; the message is the run result (JSON)."""


class ExportRunRetryable(TransientError):
    """Every failed table failed transiently; Step Functions retries this error type."""


class ExportRunTimedOut(TerminalError):
    """Every failed table hit the statement timeout: the same window would again, so Step Functions
    splits the chunk instead of retrying it, as it does when the Lambda itself times out."""


def run_exporter(event: Any, context: Any) -> dict[str, Any]:
    settings = load_exporter_settings()
    runtime = Runtime(settings, "exporter", context.get_remaining_time_in_millis)
    run_id = runtime.run_id
    tables = runtime.parameters.load_tables(only=item_table(event))
    request = parse_request(event, tables, timedelta(hours=settings.max_range_hours))
    attempt = request.attempt
    windows = request.windows
    if request.action == "plan" and request.refresh is None:  # validate and chunk, no database
        items = [w.item() for w in windows]
        logger.info("exporter planned", extra={"run_id": run_id, "items": items})
        return {"run_id": run_id, "items": items, "refresh": None}  # the state machine selects both
    logger.info(
        "exporter invoked",
        extra={
            "run_id": run_id,
            "windows": [w.payload() for w in windows],
            "attempt": None if attempt is None else attempt.model_dump(),
        },
    )

    store = runtime.store()
    exports = WindowExport(
        settings=settings,
        tables=tables,
        overrides=runtime.parameters,
        store=store,
        open_aurora=runtime.open_aurora,
        open_snowflake=runtime.open_snowflake,
        alerts=runtime.router,
        run_id=run_id,
    )
    deletes = DeletePass(
        store=store,
        part_bytes=settings.multipart_chunk_mib * 1024 * 1024,
        aurora=exports.aurora,
        snowflake=exports.snowflake,
        safe_bound=exports.safe_upper,
        alerts=runtime.router,
        run_id=run_id,
        started=exports.started,
        clock=lambda: datetime.now(UTC),
        remaining_ms=runtime.remaining_ms,
        reserve_ms=settings.min_remaining_seconds * 1000,
    )
    service = ExportService(
        settings=settings,
        windows=exports,
        alerts=runtime.router,
        leases=TableLeases(
            LeaseTable(aws.client("dynamodb", settings.aws_region), settings.export_lease_table)
        ),
        remaining_ms=runtime.remaining_ms,
        run_id=run_id,
        attempt=attempt,
        deletes=deletes,
    )
    try:
        if request.refresh is not None:
            return _plan_refresh(exports, tables, run_id, request.refresh)
        if request.action == "split":
            return _split(exports, run_id, windows[0], request.parts)
        result = service.run(windows)
        runtime.settle_fallback_alert()
    finally:
        exports.close()
    return _outcome(result)


def _plan_refresh(
    exports: WindowExport, tables: TablesConfig, run_id: str, request: RefreshPayload
) -> dict[str, Any]:
    """A full refresh's Plan step: a new plan (Aurora: key sample, bound) or the unfinished one; the
    items are the ranges still to export, `refresh` says how far it is."""
    table = tables.get(request.refresh)
    if table is None:  # parse_refresh checked it
        raise TerminalError(f"table {request.refresh!r} is not configured")
    planned = exports.refreshes.plan(table, request)
    items = [planned.plan.window(i).item() for i in planned.todo]
    summary = planned.summary()
    logger.info("exporter planned a refresh", extra={"run_id": run_id, "refresh": summary})
    return {"run_id": run_id, "items": items, "refresh": summary}


def _split(exports: WindowExport, run_id: str, window: ExportWindow, parts: int) -> dict[str, Any]:
    """Cut a window whose export timed out into `parts` items the state machine exports instead."""
    if window.start is not None and window.end is not None:
        start, end = window.start, window.end
    else:
        start, end = exports.split_bounds(window)
    items = [w.item() for w in split_window(window.table, start, end, parts)]
    logger.info("exporter split a window", extra={"run_id": run_id, "window": window.item(), "items": items})
    return {"run_id": run_id, "items": items}


def _outcome(result: RunResult) -> dict[str, Any]:
    body = result.as_dict()
    logger.info("exporter result", extra={"result": body})
    failed = result.failed
    if not failed:
        return body
    message = json.dumps(body, default=str)
    if all(t.retryable for t in failed):
        raise ExportRunRetryable(message)
    if all(t.timed_out for t in failed):
        raise ExportRunTimedOut(message)
    raise ExportRunFailed(message)
