"""Composition root of the reconciler: settings -> adapters -> ReconcileService -> result.

The reconciler raises only when it cannot run at all (settings, table list, event, alert state):
then the Lambda fails, its errors alarm fires, and the state machine takes its P1 path. Anything
it cannot *check* is reported as unknown and alerted on from inside the run.
"""

from __future__ import annotations

import uuid
from typing import Any

from aurora_sync import aws
from aurora_sync.adapters.s3 import ObjectStore
from aurora_sync.adapters.snowflake_history import PRODUCTION_QUERIES, HistoryQueries
from aurora_sync.adapters.ssm import ParameterStore
from aurora_sync.alert_routing import alert_router
from aurora_sync.connections import open_aurora, open_snowflake
from aurora_sync.credentials import CredentialProvider, fallback_alert, settle_fallback_alert
from aurora_sync.observability import logger
from aurora_sync.reconcile_events import parse_reconcile_event
from aurora_sync.reconciler import ReconcileService
from aurora_sync.settings import ReconcilerSettings, load_reconciler_settings
from aurora_sync.sync_alerts import handle_status_change, is_status_change


def run_reconciler(
    event: Any, context: Any, history_queries: HistoryQueries = PRODUCTION_QUERIES
) -> dict[str, Any]:
    """`history_queries` is the local stack's seam (fakesnow has no INFORMATION_SCHEMA history)."""
    settings = load_reconciler_settings()
    if is_status_change(event):  # EventBridge: a sync execution ended (aurora_sync.sync_alerts)
        return page_sync_execution(event, settings)
    run_id = str(uuid.uuid4())
    logger.set_correlation_id(run_id)
    region = settings.aws_region
    parameters = ParameterStore(aws.client("ssm", region), settings.tables_parameter, settings.overrides_path)
    tables = parameters.load_tables()
    request = parse_reconcile_event(event, tables)
    logger.info("reconciler invoked", extra={"run_id": run_id, "tables": request.tables})

    router = alert_router(settings)

    def on_fallback(kind: str, reason: str) -> None:
        router.raise_alert(fallback_alert(kind, reason, run_id))

    credentials = CredentialProvider(settings, on_fallback=on_fallback)
    service = ReconcileService(
        settings=settings,
        tables=tables,
        store=ObjectStore(aws.client("s3", region), settings.export_bucket),
        open_aurora=lambda: open_aurora(
            settings,
            credentials,
            "reconciler",
            run_id,
            parameters=parameters,
            remaining_ms=context.get_remaining_time_in_millis,
        ),
        open_snowflake=lambda: open_snowflake(settings, credentials, "reconciler", run_id),
        router=router,
        run_id=run_id,
        history_queries=history_queries,
        remaining_ms=context.get_remaining_time_in_millis,
    )
    try:
        result = service.run(request.tables, request.export_run_ids)
        settle_fallback_alert(router, credentials, run_id)
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
