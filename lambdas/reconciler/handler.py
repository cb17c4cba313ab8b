"""Reconciler Lambda entry point: the hourly schedule, or the state machine after a sync.

See docs/architecture.md and events/reconciler/ for the payloads; the work happens in
aurora_sync.reconciler.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aurora_sync.observability import logger, metrics, tracer
from aurora_sync.reconciler.run import run_reconciler


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_reconciler(event, context)
