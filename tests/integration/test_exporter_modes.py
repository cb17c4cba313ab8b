"""Exporter behaviours beyond one plain export: split aurora_s3 exports, the time budget, the
full_refresh override, and credentials falling back when Vault is unreachable."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from aurora_sync.credentials import clear_credential_cache
from tests.support.aws_s3_fake import grant_export, install_aws_s3_fake, set_empty_result
from tests.support.lambda_context import LambdaContext
from tests.support.pipeline import Pipeline, parse_pg_csv
from tests.support.stack import free_port

HEADER = b"id,customer_id,status,amount,is_deleted,updated_at\n"


@pytest.fixture
def pipeline(pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any) -> Pipeline:
    p = Pipeline(pg_server, moto, bao, fakesnow_server)
    for table in p.tables:
        table["lookback_seconds"] = 0  # so "nothing new" really is an empty window
    p.put_tables()
    admin = p.admin()
    admin.run(
        "INSERT INTO public.orders (id, status, amount, updated_at) "
        "SELECT g, repeat('s', g % 50), g / 7.0, "
        "'2026-11-20T00:00:00Z'::timestamptz + g * interval '1 second' "
        "FROM generate_series(1, 3000) g"
    )
    admin.close()
    return p


@pytest.mark.parametrize("header_on_parts", ["first", "all"])
def test_split_aurora_export_publishes_every_part_with_a_header(
    pipeline: Pipeline, header_on_parts: str
) -> None:
    # GIVEN Aurora splits the export into several files (tiny split size), with or without headers
    admin = pipeline.admin()
    install_aws_s3_fake(
        admin, endpoint_url=pipeline.moto.endpoint_url, max_file_bytes=20_000, header_on_parts=header_on_parts
    )
    grant_export(admin, pipeline.db_user)
    admin.close()
    pipeline.export_mode = "aurora_s3"

    # WHEN the exporter runs in aurora_s3 mode
    result = pipeline.run({"tables": ["public.orders"]})

    # THEN every part is under the table prefix, named _partN.csv, and starts with the header
    [table] = result["tables"]
    assert table["status"] == "exported" and table["rows"] == 3000
    files = table["files"]
    assert len(files) >= 3
    assert files[1].endswith("_part2.csv") and all(f.endswith(".csv") for f in files)
    for key in files:
        assert pipeline.read(key).startswith(HEADER)
    # AND together they hold every row exactly once, and the manifest sums to the total
    ids = [r["id"] for key in files for r in parse_pg_csv(pipeline.read(key))]
    assert sorted(int(str(i)) for i in ids) == list(range(1, 3001))
    [manifest] = pipeline.manifests("public.orders")
    assert manifest["rows"] == 3000 and [f["key"] for f in manifest["files"]] == files
    assert [f["bytes"] for f in manifest["files"]] == [len(pipeline.read(k)) for k in files]
    # AND nothing is left in the temporary prefix no pipe watches
    assert pipeline.object_keys("_incoming/") == []


def test_empty_aurora_export_publishes_nothing_either_way(pipeline: Pipeline) -> None:
    admin = pipeline.admin()
    install_aws_s3_fake(admin, endpoint_url=pipeline.moto.endpoint_url, max_file_bytes=10**9)
    grant_export(admin, pipeline.db_user)
    set_empty_result(admin, "one_file")
    admin.close()
    pipeline.export_mode = "aurora_s3"
    result = pipeline.run(
        {"tables": ["public.orders"], "start": "2020-01-01T00:00:00Z", "end": "2020-01-02T00:00:00Z"}
    )
    assert result["tables"][0]["status"] == "empty"
    assert [k for k in pipeline.object_keys() if not k.startswith("_manifests/")] == []


def test_time_budget_stops_new_chunks_and_reports_the_rest(pipeline: Pipeline) -> None:
    # GIVEN only a little Lambda time is left (below MIN_REMAINING_SECONDS)
    context = LambdaContext(timeout_ms=3_000)
    # WHEN a chunked manual range is requested
    result = pipeline.run(
        {
            "tables": ["public.orders"],
            "start": "2026-11-20T00:00:00Z",
            "end": "2026-11-20T03:00:00Z",
            "chunk_minutes": 60,
        },
        context,
    )
    # THEN no chunk starts, and every chunk comes back as a payload that re-runs it
    assert result["tables"] == []
    assert [r["start"] for r in result["remaining"]] == [
        "2026-11-20T00:00:00.000000Z",
        "2026-11-20T01:00:00.000000Z",
        "2026-11-20T02:00:00.000000Z",
    ]
    rerun = pipeline.run(result["remaining"][0])
    assert rerun["tables"][0]["status"] == "exported"


def test_split_of_a_timed_out_incremental_item_covers_its_window_exactly(pipeline: Pipeline) -> None:
    # GIVEN FINAL holds the first 1000 rows, so the incremental window starts at row 1000's stamp
    pipeline.run(
        {"tables": ["public.orders"], "start": "2026-11-19T00:00:00Z", "end": "2026-11-20T00:16:40Z"}
    )
    pipeline.merge_into_final("public.orders")

    # WHEN the state machine asks to split the incremental item that timed out into 3 parts
    split = pipeline.run({"action": "split", "table": "public.orders", "parts": 3})

    # THEN it gets 3 contiguous bounded items starting at FINAL's watermark (lookback 0 here)
    items = split["items"]
    assert len(items) == 3 and items[0]["start"] == "2026-11-20T00:16:40.000000Z"
    assert [a["end"] for a in items[:-1]] == [b["start"] for b in items[1:]]
    # AND exporting each part exports rows 1001..3000 exactly once, and the split itself wrote nothing
    assert pipeline.manifests("public.orders") and len(pipeline.manifests("public.orders")) == 1
    ids = []
    for item in items:
        [table] = pipeline.run(item)["tables"]
        ids += [int(str(r["id"])) for key in table.get("files", []) for r in parse_pg_csv(pipeline.read(key))]
    assert sorted(ids) == list(range(1001, 3001))


def test_plan_validates_and_chunks_without_touching_the_database(pipeline: Pipeline) -> None:
    # GIVEN Aurora, Vault and Snowflake addresses point nowhere, so any access would fail
    nowhere = str(free_port())
    # WHEN the state machine plans a chunked range THEN the items come back anyway
    plan = pipeline.run(
        {
            "action": "plan",
            "start": "2026-11-20T00:00:00Z",
            "end": "2026-11-20T02:00:00Z",
            "chunk_minutes": 60,
        },
        DB_PORT=nowhere,
        VAULT_ADDR=f"http://127.0.0.1:{nowhere}",
        SNOWFLAKE_PORT=nowhere,
    )
    assert [i["table"] for i in plan["items"]] == ["public.orders"] * 2 + ["public.customers"] * 2
    assert pipeline.object_keys() == []


def test_full_refresh_override_exports_everything_once_then_reverts(pipeline: Pipeline) -> None:
    # GIVEN FINAL already past every row, and on-call sets the full_refresh override
    pipeline.run({"tables": ["public.orders"]})
    pipeline.merge_into_final("public.orders")
    assert pipeline.run({"tables": ["public.orders"]})["tables"][0]["status"] == "empty"
    name = f"{pipeline.overrides_path}public.orders"
    pipeline.ssm.put_parameter(Name=name, Value='{"full_refresh": true}', Type="String")

    # WHEN the next run exports THEN it has no lower bound, exports every row, deletes the override
    refreshed = pipeline.run({"tables": ["public.orders"]})["tables"][0]
    assert refreshed["status"] == "exported" and refreshed["rows"] == 3000 and "lower" not in refreshed
    assert [m["full_refresh"] for m in pipeline.manifests("public.orders")].count(True) == 1
    with pytest.raises(pipeline.ssm.exceptions.ParameterNotFound):
        pipeline.ssm.get_parameter(Name=name)
    # AND the run after that is incremental again
    pipeline.merge_into_final("public.orders")
    assert pipeline.run({"tables": ["public.orders"]})["tables"][0]["status"] == "empty"


def test_vault_unreachable_falls_back_to_kms_and_pages_p3(pipeline: Pipeline) -> None:
    # GIVEN Vault is down and the KMS-encrypted fallback variables are set
    kms = pipeline.moto.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    context = {"LambdaFunctionName": "aurora-snowflake-sync-exporter"}

    def encrypt(value: str) -> str:
        blob = kms.encrypt(KeyId=key_id, Plaintext=value.encode(), EncryptionContext=context)[
            "CiphertextBlob"
        ]
        return base64.b64encode(blob).decode()

    clear_credential_cache()
    # WHEN the exporter runs
    result = pipeline.run(
        {"tables": ["public.orders"]},
        VAULT_ADDR=f"http://127.0.0.1:{free_port()}",
        VAULT_TIMEOUT_SECONDS="1",
        DB_USER=pipeline.db_user,
        DB_PASSWORD_ENCRYPTED=encrypt(pipeline.db_password),
        SNOWFLAKE_USER="exporter",
        SNOWFLAKE_PASSWORD_ENCRYPTED=encrypt(pipeline.snowflake_password),
    )
    clear_credential_cache()
    # THEN the export succeeds on fallback credentials and on-call gets P3 alerts saying so
    assert result["tables"][0]["status"] == "exported"
    alerts = [a for a in pipeline.alerts() if a["check"] == "credentials_fallback"]
    assert alerts and all(a["severity"] == "P3" for a in alerts)
    assert pipeline.db_password not in str(alerts)
