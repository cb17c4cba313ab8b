"""Composition root of the reconciler: settings -> adapters -> ReconcileService -> result.

The reconciler raises only when it cannot run at all (settings, table list, event, alert state):
then the Lambda fails, its errors alarm fires, and the state machine takes its P1 path. Anything
it cannot *check* is reported as unknown and alerted on from inside the run.
"""

from __future__ import annotations

from typing import Any

from aurora_sync import aws
from aurora_sync.adapters.snowflake_history import PRODUCTION_QUERIES, HistoryQueries, SnowflakeHistory
from aurora_sync.alert_routing import alert_router
from aurora_sync.observability import logger
from aurora_sync.reconciler.execution_alerts import handle_status_change, is_status_change
from aurora_sync.reconciler.payloads import parse_reconcile_event
from aurora_sync.reconciler.service import ReconcileService
from aurora_sync.runtime import Runtime
from aurora_sync.settings import ReconcilerSettings, load_reconciler_settings


def run_reconciler(
    event: Any, context: Any, history_queries: HistoryQueries = PRODUCTION_QUERIES
) -> dict[str, Any]:
    """`history_queries` is the local stack's seam (fakesnow has no INFORMATION_SCHEMA history)."""
    settings = load_reconciler_settings()
    if is_status_change(event):  # EventBridge: a sync execution ended (execution_alerts.py)
        return page_sync_execution(event, settings)
    runtime = Runtime(settings, "reconciler", context.get_remaining_time_in_millis)
    tables = runtime.parameters.load_tables()
    request = parse_reconcile_event(event, tables)
    logger.info("reconciler invoked", extra={"run_id": runtime.run_id, "tables": request.tables})

    service = ReconcileService(
        settings=settings,
        tables=tables,
        store=runtime.store(),
        open_aurora=runtime.open_aurora,
        open_snowflake=lambda: runtime.open_snowflake(bounded=False),
        read_history=lambda snowflake: SnowflakeHistory(snowflake, history_queries),
        router=runtime.router,
        run_id=runtime.run_id,
        remaining_ms=runtime.remaining_ms,
    )
    try:
        result = service.run(request.tables, request.export_run_ids)
        runtime.settle_fallback_alert()
    finally:
        service.close()
    return result.as_dict()


def page_sync_execution(event: dict[str, Any], settings: ReconcilerSettings) -> dict[str, Any]:
    """Page once per open problem for a sync execution that failed, timed out or was aborted."""
    sfn = aws.client("stepfunctions", settings.aws_region)
    outcome = handle_status_change(
        event, alert_router(settings), lambda arn: sfn.describe_execution(executionArn=arn)
    )
    logger.info("sync execution status change", extra=outcome)
    return outcome
