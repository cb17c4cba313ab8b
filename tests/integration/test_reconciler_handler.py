"""The reconciler's Lambda entry point, as the Lambda runtime calls it (Powertools decorators on)."""

from __future__ import annotations

from typing import Any

import pytest

from aurora_sync.errors import ConfigError, PayloadError
from tests.support.lambda_context import LambdaContext
from tests.support.pipeline import Pipeline


@pytest.fixture
def pipeline(pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any) -> Pipeline:
    return Pipeline(pg_server, moto, bao, fakesnow_server)


def invoke(pipeline: Pipeline, event: Any, **env: str) -> Any:
    import os

    from reconciler.handler import handler

    saved = dict(os.environ)
    os.environ.update(pipeline.env(**env))
    try:
        return handler(event, LambdaContext())
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_handler_rejects_a_malformed_event_before_touching_snowflake(pipeline: Pipeline) -> None:
    # GIVEN Snowflake is unreachable, so any history query would fail differently
    with pytest.raises(PayloadError) as caught:
        invoke(pipeline, {"tables": ["public.nope"]}, SNOWFLAKE_PORT="1")
    assert caught.value.field == "tables"


def test_handler_names_a_missing_setting(pipeline: Pipeline) -> None:
    with pytest.raises(ConfigError) as caught:
        invoke(pipeline, {}, ALERT_STATE_TABLE="")
    assert caught.value.field == "ALERT_STATE_TABLE"
