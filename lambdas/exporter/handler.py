"""Exporter Lambda entry point: scheduled run, manual time range, or one Step Functions chunk.

See docs/architecture.md and events/ for the payloads; the work happens in aurora_sync.exporter.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aurora_sync.exporter.run import run_exporter
from aurora_sync.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_exporter(event, context)
