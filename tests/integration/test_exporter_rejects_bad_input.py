"""Bad configuration, payloads and environment are rejected before any side effect."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from aurora_sync.errors import ConfigError, PayloadError
from aurora_sync.exporter.run import ExportRunFailed
from tests.support.logs import rendered_logs
from tests.support.pipeline import Pipeline


def one_order(pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any) -> Pipeline:
    p = Pipeline(pg_server, moto, bao, fakesnow_server)
    admin = p.admin()
    admin.run("INSERT INTO public.orders (id, status) VALUES (1, 'x')")
    admin.close()
    return p


@pytest.fixture
def pipeline(pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any) -> Pipeline:
    """GIVEN a pipeline of its own with one order in Aurora (for tests that change its state)."""
    return one_order(pg_server, moto, bao, fakesnow_server)


@pytest.fixture(scope="module")
def _refusing_pipeline(pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any) -> Pipeline:
    return one_order(pg_server, moto, bao, fakesnow_server)


@pytest.fixture
def refusing(_refusing_pipeline: Pipeline) -> Pipeline:
    """GIVEN the same state as `pipeline`, shared by the tests whose input is refused before any side
    effect (setting up a pipeline per case was most of their time). Sharing cannot hide a side effect:
    each such test asserts it left none (no object, alert or export session), so every test starts
    from the untouched state; the table parameters, which the malformed-configuration cases overwrite,
    are written back as Terraform wrote them before each test."""
    _refusing_pipeline.put_tables()
    return _refusing_pipeline


def export_sessions(p: Pipeline) -> int:
    admin = p.admin()
    try:
        return int(admin.run("SELECT count(*) FROM pg_stat_activity WHERE usename = :u", u=p.db_user)[0][0])
    finally:
        admin.close()


def assert_no_side_effects(p: Pipeline) -> None:
    assert p.object_keys() == [], "nothing may be written to S3"
    assert list(p.alerts()) == [], "nothing may be paged"
    assert export_sessions(p) == 0


def _entry(**changes: Any) -> dict[str, Any]:
    entry = {
        "table_name": "public.orders",
        "watermark_col": "updated_at",
        "primary_keys": ["id"],
        "columns": [{"name": "id", "type": "NUMBER"}, {"name": "updated_at", "type": "TIMESTAMP_TZ"}],
    }
    return {**entry, **changes}


@pytest.mark.parametrize(
    ("index", "field"),
    [
        ("[{broken", "(value)"),
        (json.dumps([_entry()]), "(value)"),  # the list as one parameter, before the index
        ('{"count": 1, "entries": "/x/", "parts": 1, "tables": ["public.orders"]}', "sha256"),
    ],
)
def test_malformed_table_index_fails_before_any_export(refusing: Pipeline, index: str, field: str) -> None:
    # GIVEN a malformed index at TABLES_PARAMETER WHEN the exporter runs THEN ConfigError names it
    refusing.ssm.put_parameter(Name=refusing.tables_parameter, Value=index, Type="String", Overwrite=True)
    with pytest.raises(ConfigError) as caught:
        refusing.run({})
    assert str(caught.value).startswith(f"{refusing.tables_parameter}: {field}"), caught.value
    assert_no_side_effects(refusing)


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        (_entry(watermark_col='updated_at"--'), "watermark_col"),
        (_entry(columns=[{"name": "id", "type": "NUMBER(99)"}]), "columns"),
        (_entry(primary_keys=[]), "primary_keys"),
    ],
)
def test_malformed_table_parameter_fails_before_any_export(
    refusing: Pipeline, entry: dict[str, Any], field: str
) -> None:
    # GIVEN one table's parameter that Terraform wrote (index and digest agree) but that does not
    # validate WHEN the exporter runs THEN ConfigError names that parameter and the field; no side effect
    refusing.put_tables([entry])
    with pytest.raises(ConfigError) as caught:
        refusing.run({})
    assert str(caught.value).startswith(f"{refusing.tables_parameter}/public.orders: {field}"), caught.value
    assert_no_side_effects(refusing)


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (
            {"tables": ["public.nope"], "start": "2026-11-20T00:00:00Z", "end": "2026-11-20T01:00:00Z"},
            "tables[0]",
        ),
        ({"tables": ["public.orders'; drop table x; --"]}, "tables[0]"),
        (
            {"tables": ["public.orders"], "start": "2026-11-20T01:00:00Z", "end": "2026-11-20T00:00:00Z"},
            "start",
        ),
        ({"tables": ["public.orders"], "start": "noon", "end": "2026-11-20T00:00:00Z"}, "start"),
        (
            {"tables": ["public.orders"], "start": "2025-01-01T00:00:00Z", "end": "2026-11-20T00:00:00Z"},
            "end",
        ),
    ],
)
def test_bad_payload_fails_before_any_export(refusing: Pipeline, event: dict[str, Any], field: str) -> None:
    with pytest.raises(PayloadError) as caught:
        refusing.run(event)
    assert caught.value.field == field
    assert_no_side_effects(refusing)


@pytest.mark.parametrize("missing", ["EXPORT_BUCKET", "DB_HOST", "VAULT_ADDR", "SNOWFLAKE_ACCOUNT"])
def test_missing_environment_variable_is_named(refusing: Pipeline, missing: str) -> None:
    with pytest.raises(ConfigError) as caught:
        refusing.run({}, **{missing: ""})
    assert missing in str(caught.value)
    assert_no_side_effects(refusing)


def test_configured_column_dropped_in_aurora_fails_only_that_table(pipeline: Pipeline) -> None:
    # GIVEN a configured column that Aurora no longer has
    admin = pipeline.admin()
    admin.run("ALTER TABLE public.customers DROP COLUMN email")
    admin.close()
    # WHEN the scheduled run exports THEN customers fails with a clear error, orders still exports
    with pytest.raises(ExportRunFailed) as caught:
        pipeline.run({})
    result = json.loads(str(caught.value))
    by_table = {t["table"]: t for t in result["tables"]}
    assert by_table["public.orders"]["status"] == "exported"
    assert by_table["public.customers"]["status"] == "failed"
    assert (
        "email" in by_table["public.customers"]["error"]
        and "no longer exist" in by_table["public.customers"]["error"]
    )
    assert not any(k.startswith("public.customers/") for k in pipeline.object_keys())


def test_a_table_failing_run_after_run_pages_once_then_p1_then_resolves(pipeline: Pipeline) -> None:
    # GIVEN customers fails every run (a configured column was dropped in Aurora)
    admin = pipeline.admin()
    admin.run("ALTER TABLE public.customers RENAME COLUMN email TO mail")
    admin.close()
    sent: list[list[dict[str, Any]]] = []
    # WHEN three scheduled runs fail it (EXPORT_FAILURES_P1_AFTER = 3)
    for _ in range(3):
        with pytest.raises(ExportRunFailed):
            pipeline.run({})
        sent.append([a for a in pipeline.alerts() if a["check"] == "export"])
    # THEN the first run pages P2 with the rerun payload, the second is quiet, the third pages P1
    assert [[a["severity"] for a in run] for run in sent] == [["P2"], [], ["P1"]]
    first = sent[0][0]
    assert first["table"] == "public.customers" and first["details"]["rerun"] == {
        "tables": ["public.customers"]
    }
    assert first["runbook"].endswith("#export-failed")
    # WHEN the column is back THEN the next run sends one resolve
    admin = pipeline.admin()
    admin.run("ALTER TABLE public.customers RENAME COLUMN mail TO email")
    admin.close()
    pipeline.run({})
    [resolved] = [a for a in pipeline.alerts() if a["check"] == "export"]
    assert (resolved["status"], resolved["severity"]) == ("resolved", "P1")


def test_extra_aurora_column_exports_configured_columns_and_alerts_p3(pipeline: Pipeline) -> None:
    # GIVEN Aurora gained a column that tables.json does not list
    admin = pipeline.admin()
    admin.run("ALTER TABLE public.orders ADD COLUMN coupon text DEFAULT 'X'")
    admin.close()
    # WHEN the exporter runs
    result = pipeline.run({})
    # THEN the configured columns are exported and one P3 schema-drift alert names the new column
    assert result["tables"][0]["status"] == "exported"
    header = pipeline.read(result["tables"][0]["files"][0]).split(b"\n", 1)[0]
    assert header == b"id,customer_id,status,amount,is_deleted,updated_at"
    alerts = [a for a in pipeline.alerts() if a["check"] == "schema_drift"]
    assert len(alerts) == 1 and alerts[0]["severity"] == "P3"
    assert alerts[0]["details"]["unexported_columns"] == ["coupon"]
    # AND the next run does not repeat it; once Aurora and tables.json match again, one resolve
    pipeline.run({})
    assert [a for a in pipeline.alerts() if a["check"] == "schema_drift"] == []
    admin = pipeline.admin()
    admin.run("ALTER TABLE public.orders DROP COLUMN coupon")
    admin.close()
    pipeline.run({})
    [resolved] = [a for a in pipeline.alerts() if a["check"] == "schema_drift"]
    assert resolved["status"] == "resolved"


def test_secrets_never_reach_logs(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a normal run and a failing one WHEN their logs are captured THEN no secret appears
    caplog.set_level(logging.DEBUG)
    pipeline.run({})
    with pytest.raises(Exception):  # noqa: B017 - any failure; we only inspect what was logged
        pipeline.run({}, DB_NAME="does_not_exist")
    logs = rendered_logs(caplog, capsys)
    assert "export query" in logs  # the logs we inspect are really there
    for secret in (
        pipeline.db_password,
        pipeline.bao.root_token,
        pipeline.snowflake_password,
        pipeline.pg.password,
    ):
        assert secret not in logs
