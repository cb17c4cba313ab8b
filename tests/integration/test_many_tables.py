"""Hundreds of tables: 300 tables of 40 columns deploy, load and plan (docs/deploy.md, "Hundreds of
tables").

The SSM values are the ones Terraform computes (module.tables, applied offline through
tests/infra/tf_render), checked against Parameter Store's value limits (PutParameter API reference:
Standard 4 KB, Advanced 8 KB), written to moto as an apply writes them, then read by the Lambdas'
own adapter with every SSM request counted (GetParametersByPath returns at most 10 a page).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from aurora_sync import aws
from aurora_sync.adapters.ssm import PAGE_SIZE, ParameterStore
from aurora_sync.exporter.run import run_exporter
from aurora_sync.table_index import (
    ADVANCED_TIER_LIMIT,
    INDEX_PART_SIZE,
    STANDARD_TIER_LIMIT,
    render_parameters,
)
from tests.support.lambda_context import LambdaContext
from tests.support.terraform import TerraformError, terraform_bin, terraform_view

pytestmark = pytest.mark.skipif(terraform_bin() is None, reason="terraform is not installed here")

TABLES = 300
COLUMNS = 40
# Step Functions: "Maximum input or output size for a task, state, or execution: 256 KiB".
STATE_LIMIT = 256 * 1024
TYPES = ("NUMBER(38,0)", "VARCHAR", "NUMBER(12,2)", "BOOLEAN", "TIMESTAMP_TZ(6)", "DATE", "VARIANT", "FLOAT")
SCHEMAS = ("public", "billing", "inventory")


def generated_tables(count: int = TABLES, columns: int = COLUMNS) -> list[dict[str, Any]]:
    """`count` tables.json entries as onboarding writes them: table names of 19-21 characters
    (`customer_order_17`-like), column names of 12-17, the usual mix of types."""
    words = ("customer", "order", "invoice", "shipment", "payment", "product", "supplier", "ledger")
    entries = []
    for i in range(count):
        name = f"{words[i % 8]}_{words[(i // 8) % 8]}_line_{i:03d}"
        cols = [{"name": "id", "type": "NUMBER(38,0)"}, {"name": "updated_at", "type": "TIMESTAMP_TZ(6)"}]
        cols += [
            {"name": f"{words[j % 8]}_attr_{j:02d}", "type": TYPES[j % len(TYPES)]}
            for j in range(columns - 3)
        ]
        cols.append({"name": "is_deleted", "type": "BOOLEAN"})
        entries.append(
            {
                "table_name": f"{SCHEMAS[i % 3]}.{name}",
                "watermark_col": "updated_at",
                "primary_keys": ["id"],
                "columns": cols,
                "soft_delete_col": "is_deleted",
                "lookback_seconds": 300,
                "freshness_sla_minutes": 120,
            }
        )
    return entries


def rendered_by_terraform(entries: list[dict[str, Any]], tmp: Path, parameter: str) -> dict[str, str]:
    tmp.mkdir(parents=True, exist_ok=True)
    tables_file = tmp / "tables.json"
    tables_file.write_text(json.dumps(entries, indent=2))
    view = terraform_view(tables_file, tables_parameter=parameter, render_sql=False)
    return view["ssm_parameters"] | {parameter: view["ssm_index"]}


@pytest.fixture(scope="module")
def parameter() -> str:
    return f"/t{uuid.uuid4().hex[:10]}/tables"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory, parameter: str) -> dict[str, str]:
    return rendered_by_terraform(generated_tables(), tmp_path_factory.mktemp("many"), parameter)


@pytest.fixture(scope="module")
def deployed(moto: Any, rendered: dict[str, str], parameter: str) -> dict[str, str]:
    """As the apply writes them: every table's parameter, then the index."""
    ssm = moto.client("ssm")
    for name in [*sorted(n for n in rendered if n != parameter), parameter]:
        ssm.put_parameter(Name=name, Value=rendered[name], Type="String", Tier="Intelligent-Tiering")
    return rendered


def index_parameters(rendered: dict[str, str], parameter: str) -> dict[str, str]:
    return {n: v for n, v in rendered.items() if n == parameter or n.startswith(f"{parameter}/index-")}


def test_300_tables_of_40_columns_fit_parameter_store(rendered: dict[str, str], parameter: str) -> None:
    """GIVEN 300 tables of 40 columns WHEN Terraform renders their SSM parameters THEN every table's
    parameter, and each of the index's 5 parameters (60 names each), fits the Standard tier (4 KB,
    free; Advanced allows 8 KB); the values are what the code's renderer writes."""
    index = index_parameters(rendered, parameter)
    entries = {n: v for n, v in rendered.items() if n not in index}
    sizes = sorted(len(v.encode()) for v in entries.values())
    index_sizes = sorted(len(v.encode()) for v in index.values())
    print(
        f"\n{TABLES} tables x {COLUMNS} columns: entries {sizes[0]}..{sizes[-1]} bytes, "
        f"index {len(index)} parameters of {index_sizes[0]}..{index_sizes[-1]} bytes"
    )

    assert len(entries) == TABLES
    assert sizes[-1] <= STANDARD_TIER_LIMIT
    assert len(index) == -(-TABLES // INDEX_PART_SIZE) and index_sizes[-1] <= STANDARD_TIER_LIMIT
    assert rendered == render_parameters(generated_tables(), parameter)


def test_index_parameters_fit_whatever_the_table_names(tmp_path: Path) -> None:
    """GIVEN 300 tables whose schema and table names are as long as identifiers go (63 + 63)
    WHEN Terraform renders the index THEN each of its parameters still fits 8 KB (60 names each)."""
    longest = [
        {**e, "table_name": f"s{i % 3:062d}.{'t' * 59}{i:04d}", "columns": e["columns"][:2]}
        for i, e in enumerate(generated_tables())
    ]
    parameter = "/t/longest/tables"
    index = index_parameters(rendered_by_terraform(longest, tmp_path / "longest", parameter), parameter)
    assert len(index) == 5 and max(len(v.encode()) for v in index.values()) <= ADVANCED_TIER_LIMIT


def test_300_tables_load_in_one_cold_start_with_few_requests(
    moto: Any, deployed: dict[str, str], parameter: str
) -> None:
    """GIVEN the 300 tables' parameters in Parameter Store WHEN a cold Lambda loads the list THEN it
    gets all 300, validated, with 1 GetParameter and ceil(300 / 10) GetParametersByPath pages."""
    ssm = moto.client("ssm")
    calls: list[str] = []
    ssm.meta.events.register("before-send.ssm.*", lambda request, **_: calls.append("x"))
    started = time.monotonic()

    tables = ParameterStore(ssm, parameter, "/unused/").load_tables()

    elapsed = time.monotonic() - started
    print(f"\nload_tables: {len(tables.tables)} tables, {len(calls)} SSM requests, {elapsed:.2f} s on moto")
    assert len(tables.tables) == TABLES
    assert len(calls) <= TABLES // PAGE_SIZE + 2


def test_the_hourly_plan_of_300_tables(moto: Any, deployed: dict[str, str], parameter: str) -> None:
    """GIVEN 300 tables WHEN the state machine's Plan invokes the exporter with the scheduled input
    THEN it returns one item per table, without touching a database, in a payload far below Step
    Functions' 256 KiB, and each Map item then reads two SSM parameters, not the whole list."""
    env = {
        **moto.env,
        "TABLES_PARAMETER": parameter,
        "OVERRIDES_PATH": "/unused/overrides/",
        "EXPORT_BUCKET": "unused",
        "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:unused",
        "RUNBOOK_URL": "https://git.example/aurora-snowflake-sync/blob/main/docs/runbook.md",
        "EXPORT_LEASE_TABLE": "unused",
        "DB_HOST": "unused.invalid",
        "DB_NAME": "unused",
        "DB_SSL_CA_BUNDLE_PARAMETER": "/unused/ca",
        "VAULT_ADDR": "http://unused.invalid",
        "SNOWFLAKE_ACCOUNT": "unused",
        "SNOWFLAKE_DATABASE": "UNUSED",
    }
    saved = dict(os.environ)
    os.environ.update(env)
    client = aws.client("ssm", "us-east-1")
    calls: list[str] = []

    def count(request: Any, **_: Any) -> None:
        calls.append(request.headers["X-Amz-Target"].decode().rsplit(".", 1)[-1])

    client.meta.events.register("before-send.ssm.*", count)
    try:
        plan = run_exporter({"action": "plan"}, LambdaContext())
        plan_calls = list(calls)
        calls.clear()
        parameters = ParameterStore(client, parameter, "/unused/")
        item_tables = parameters.load_tables(only=plan["items"][0]["table"])
    finally:
        client.meta.events.unregister("before-send.ssm.*", count)
        os.environ.clear()
        os.environ.update(saved)

    size = len(json.dumps(plan).encode())
    print(f"\nplan: {len(plan['items'])} items, {size} bytes, {len(plan_calls)} SSM requests")
    assert sorted(i["table"] for i in plan["items"]) == sorted(e["table_name"] for e in generated_tables())
    assert size < STATE_LIMIT // 10
    assert len(plan_calls) <= TABLES // PAGE_SIZE + 2
    assert item_tables.names == [plan["items"][0]["table"]] and calls == ["GetParameter", "GetParameter"]


def test_terraform_refuses_a_table_too_wide_for_one_parameter(tmp_path: Path) -> None:
    """GIVEN a table of 200 columns WHEN Terraform renders its parameter THEN the plan fails naming
    the table and Parameter Store's 8 KB (nothing is applied)."""
    wide = generated_tables(1, columns=200)
    with pytest.raises(TerraformError) as caught:
        rendered_by_terraform(wide, tmp_path / "wide", "/t/wide/tables")
    assert f"/t/wide/tables/{wide[0]['table_name']} (" in str(caught.value) and "8 KB" in str(caught.value)
