"""Composition root of the exporter: settings -> adapters -> ExportService, and the run's outcome.

Kept apart from handler.py so the handler stays one screen and tests can run a whole invocation
in-process against the local stack.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from aurora_sync import aws
from aurora_sync.adapters.dynamodb import LeaseTable
from aurora_sync.adapters.s3 import ObjectStore
from aurora_sync.adapters.ssm import ParameterStore
from aurora_sync.alert_routing import alert_router
from aurora_sync.connections import open_aurora, open_snowflake
from aurora_sync.credentials import CredentialProvider, fallback_alert, settle_fallback_alert
from aurora_sync.errors import TerminalError, TransientError
from aurora_sync.events import ExportWindow, item_table, parse_request, split_window
from aurora_sync.exporter import ExportService, RunResult
from aurora_sync.lease import TableLeases
from aurora_sync.observability import logger, metrics
from aurora_sync.settings import load_exporter_settings


class ExportRunFailed(TerminalError):
    """At least one table failed terminally; the message is the run result (JSON)."""


class ExportRunRetryable(TransientError):
    """Every failed table failed transiently; Step Functions retries this error type."""


class ExportRunTimedOut(TerminalError):
    """Every failed table hit the statement timeout: the same window would again, so Step Functions
    splits the chunk instead of retrying it, as it does when the Lambda itself times out."""


def run_exporter(event: Any, context: Any) -> dict[str, Any]:
    settings = load_exporter_settings()
    run_id = str(uuid.uuid4())
    logger.set_correlation_id(run_id)
    region = settings.aws_region
    parameters = ParameterStore(aws.client("ssm", region), settings.tables_parameter, settings.overrides_path)
    tables = parameters.load_tables(only=item_table(event))
    request = parse_request(event, tables, timedelta(hours=settings.max_range_hours))
    windows = request.windows
    if request.action == "plan":  # before the state machine's Map: validate and chunk, no database
        items = [w.item() for w in windows]
        logger.info("exporter planned", extra={"run_id": run_id, "items": items})
        return {"run_id": run_id, "items": items}
    logger.info("exporter invoked", extra={"run_id": run_id, "windows": [w.payload() for w in windows]})

    alerts = alert_router(settings)

    def on_fallback(kind: str, reason: str) -> None:
        metrics.add_metric(name="CredentialsFallback", unit=MetricUnit.Count, value=1)
        alerts.raise_alert(fallback_alert(kind, reason, run_id))

    credentials = CredentialProvider(settings, on_fallback=on_fallback)
    service = ExportService(
        settings=settings,
        tables=tables,
        parameters=parameters,
        store=ObjectStore(aws.client("s3", region), settings.export_bucket),
        open_aurora=lambda: open_aurora(
            settings,
            credentials,
            "exporter",
            run_id,
            parameters=parameters,
            remaining_ms=context.get_remaining_time_in_millis,
        ),
        open_snowflake=lambda: open_snowflake(settings, credentials, "exporter", run_id),
        alerts=alerts,
        leases=TableLeases(LeaseTable(aws.client("dynamodb", region), settings.export_lease_table)),
        remaining_ms=context.get_remaining_time_in_millis,
        run_id=run_id,
    )
    try:
        if request.action == "split":
            return _split(service, windows[0], request.parts)
        result = service.run(windows)
        settle_fallback_alert(alerts, credentials, run_id)
    finally:
        service.close()
    return _outcome(result)


def _split(service: ExportService, window: ExportWindow, parts: int) -> dict[str, Any]:
    """Cut a window whose export timed out into `parts` items the state machine exports instead."""
    if window.start is not None and window.end is not None:
        start, end = window.start, window.end
    else:
        start, end = service.resolve(window)
    items = [w.item() for w in split_window(window.table, start, end, parts)]
    logger.info(
        "exporter split a window", extra={"run_id": service.run_id, "window": window.item(), "items": items}
    )
    return {"run_id": service.run_id, "items": items}


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
