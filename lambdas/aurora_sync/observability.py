"""Logger, Metrics and Tracer in one place, so both functions log and measure the same way.

Created at import (Powertools' intended use); none of them opens a connection until used.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "aurora-snowflake-sync")
METRICS_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "AuroraSnowflakeSync")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)


def put_metric(name: str, unit: MetricUnit, value: float, **dimensions: str) -> None:
    """One metric with its own dimensions (e.g. per table), flushed at once: the invocation's
    `metrics` object carries only run-wide dimensions, so per-table values go out one by one.

    POWERTOOLS_METRICS_DISABLED (or POWERTOOLS_DEV) turns it off, as it turns off `metrics`: Powertools
    3.37's `single_metric` prints its EMF line whatever that switch says, so the check is made here
    (never set in the Lambdas; `make demo` sets it so its output is not half metric JSON)."""
    if is_metrics_disabled():
        return
    with single_metric(name=name, unit=unit, value=value, namespace=METRICS_NAMESPACE) as metric:
        for dimension, dimension_value in dimensions.items():
            metric.add_dimension(name=dimension, value=dimension_value)
