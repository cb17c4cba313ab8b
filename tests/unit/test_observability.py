"""put_metric honours Powertools' own metrics switch, as the shared `metrics` object does.

Powertools 3.37's `single_metric` prints its EMF line even with POWERTOOLS_METRICS_DISABLED set; the
Lambdas never set it, `make demo` does, and its output must not be half metric JSON.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.metrics import MetricUnit

from aurora_sync.observability import METRICS_NAMESPACE, put_metric


def emf_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def test_a_metric_is_one_emf_line_with_its_dimensions(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN neither switch set (as in the Lambdas)
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    # WHEN a per-table metric is put
    put_metric("ExportedRows", MetricUnit.Count, 3, table="public.orders")
    # THEN one EMF line in the namespace, with the table dimension
    [line] = emf_lines(capsys.readouterr().out)
    assert line["table"] == "public.orders" and line["ExportedRows"] == [3.0]
    [declared] = line["_aws"]["CloudWatchMetrics"]
    assert declared["Namespace"] == METRICS_NAMESPACE and declared["Dimensions"] == [["table"]]


@pytest.mark.parametrize(
    "switch", [{"POWERTOOLS_METRICS_DISABLED": "true"}, {"POWERTOOLS_DEV": "true"}], ids=["disabled", "dev"]
)
def test_the_powertools_switch_stops_it(
    switch: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN Powertools' switch set (POWERTOOLS_DEV alone disables metrics too, as Powertools documents)
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    for name, value in switch.items():
        monkeypatch.setenv(name, value)
    # WHEN a metric is put
    put_metric("ExportedRows", MetricUnit.Count, 3, table="public.orders")
    # THEN nothing is printed
    assert emf_lines(capsys.readouterr().out) == []
