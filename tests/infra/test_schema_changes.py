"""Schema changes as Terraform applies them (docs/runbook.md, "Schema changes").

- Adding a column: the tables' columns, the pipe's COPY and the task's MERGE are created or changed
  before the SSM table config the exporter reads, so a run that exports the new column list finds
  Snowflake taking it. Proved on the dev root's `terraform graph`, with the Snowflake resources
  replaced by provider-free `terraform_data` that keep every reference of the real blocks
  (tests/support/terraform.py keep_snowflake_dependencies): the snowflake provider is not mirrored here.
- A dropped column is retired in place (`"retired": true`): STAGING and FINAL keep it, exactly as
  before (the provider's UpdateTable would run ALTER TABLE ... DROP COLUMN for a column that leaves
  the list), while the COPY and the MERGE stop naming it.
- tables.json refuses `full_refresh` at plan time, saying what replaces it.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from aurora_sync.snowflake_sql import SnowflakeTable
from aurora_sync.tables import parse_tables
from tests.support.terraform import (
    BUCKET,
    ENVS_DIR,
    PLUGIN_DIR,
    REPO,
    TERRAFORM_DIR,
    Terraform,
    TerraformError,
    keep_snowflake_dependencies,
    mirrored_providers,
    stub_snowflake,
    terraform_bin,
    terraform_view,
)

pytestmark = pytest.mark.skipif(terraform_bin() is None, reason="terraform is not installed here")

NODE = "[root] module.system.{} (expand)"
SSM_TABLE = NODE.format("aws_ssm_parameter.table")
SNOWFLAKE_DDL = [
    NODE.format(f"module.snowflake_table.terraform_data.{name}")
    for name in (
        "snowflake_table__staging",
        "snowflake_table__final",
        "snowflake_pipe__load",
        "snowflake_task__merge",
    )
]
EDGE = re.compile(r'^\s*"([^"]+)" -> "([^"]+)"', re.MULTILINE)
DATABASE = "AURORA_SYNC_TEST"
PARAMETER = "/aurora-snowflake-sync/test/tables"


def dependencies(dot: str) -> dict[str, set[str]]:
    """node -> every node it waits for (transitively), from `terraform graph` output."""
    direct: dict[str, set[str]] = {}
    for node, needs in EDGE.findall(dot):
        direct.setdefault(node, set()).add(needs)
    closure: dict[str, set[str]] = {}

    def walk(node: str) -> set[str]:
        if node not in closure:
            closure[node] = set()
            for needed in direct.get(node, ()):
                closure[node] |= {needed, *walk(needed)}
        return closure[node]

    for node in list(direct):
        walk(node)
    return closure


@pytest.mark.skipif("hashicorp/aws" not in mirrored_providers(), reason=f"hashicorp/aws not in {PLUGIN_DIR}")
def test_the_ssm_table_config_is_written_after_every_tables_snowflake_ddl(tmp_path: Path) -> None:
    """GIVEN the dev root, the Snowflake resources kept as provider-free nodes with their references
    WHEN Terraform builds its plan graph
    THEN each table's SSM parameter waits for STAGING, FINAL, the pipe and the task, and none of them
    waits for it; without the system's depends_on nothing would order them."""
    tree = tmp_path / "terraform"
    shutil.copytree(TERRAFORM_DIR, tree, ignore=shutil.ignore_patterns(".terraform*"))
    shutil.copytree(
        REPO / "layers", tmp_path / "layers", ignore=shutil.ignore_patterns("__pycache__", "*.py")
    )
    root = stub_snowflake(tree, ENVS_DIR / "dev")
    keep_snowflake_dependencies(tree)
    (root / "zz_local_backend_override.tf").write_text(
        f'terraform {{\n  backend "local" {{\n    path = "{tmp_path / "state"}"\n  }}\n}}\n'
    )
    tf = Terraform(root, tmp_path / "work")
    tf.run("init", "-input=false", f"-plugin-dir={PLUGIN_DIR}")

    graph = dependencies(tf.run("graph", "-type=plan"))
    assert set(SNOWFLAKE_DDL) <= graph[SSM_TABLE]
    for ddl in SNOWFLAKE_DDL:
        assert SSM_TABLE not in graph.get(ddl, set()), ddl

    # Today's order is the depends_on's alone: the parameters reference no Snowflake object.
    system = tree / "system" / "main.tf"
    text = system.read_text()
    assert text.count("depends_on = [module.snowflake_table]") == 1
    system.write_text(text.replace("depends_on = [module.snowflake_table]", ""))
    assert not set(SNOWFLAKE_DDL) & dependencies(tf.run("graph", "-type=plan"))[SSM_TABLE]


ORDERS: dict[str, Any] = {
    "table_name": "public.orders",
    "watermark_col": "updated_at",
    "primary_keys": ["id"],
    "columns": [
        {"name": "id", "type": "NUMBER(38,0)"},
        {"name": "note", "type": "VARCHAR"},
        {"name": "payload", "type": "VARIANT"},
        {"name": "updated_at", "type": "TIMESTAMP_TZ"},
    ],
}


def view(tmp_path: Path, name: str, entry: dict[str, Any]) -> dict[str, Any]:
    tables_file = tmp_path / f"{name}.json"
    tables_file.write_text(json.dumps([entry]))
    return terraform_view(tables_file, tables_parameter=PARAMETER, database=DATABASE)


def retired(entry: dict[str, Any], *names: str) -> dict[str, Any]:
    changed = copy.deepcopy(entry)
    for column in changed["columns"]:
        if column["name"] in names:
            column["retired"] = True
    return changed


def test_retiring_a_column_changes_neither_table_and_drops_it_from_copy_and_merge(tmp_path: Path) -> None:
    """GIVEN a table whose column `note` Aurora dropped
    WHEN the column is retired in tables.json and Terraform renders the table's Snowflake objects
    THEN STAGING's and FINAL's columns (what the snowflake_table resources get) and DDL are exactly
    those of before: no column leaves a table, so the provider runs no DROP COLUMN;
    AND the pipe's COPY and the task's MERGE no longer name it (FINAL keeps each row's last value)
    AND Python renders the same, character for character."""
    before = view(tmp_path, "before", ORDERS)["render"]["public.orders"]
    after_entry = retired(ORDERS, "note")
    after = view(tmp_path, "after", after_entry)["render"]["public.orders"]

    for tables in ("staging_columns", "final_columns"):
        assert after[tables] == before[tables]
        assert "NOTE" in [c["name"] for c in after[tables]]
    for ddl in ("staging_table", "final_table"):
        assert after["statements"][ddl] == before["statements"][ddl]
    assert '"NOTE"' in before["values"]["copy"] and '"NOTE"' not in after["values"]["copy"]
    assert '"NOTE"' in before["values"]["merge"] and '"NOTE"' not in after["values"]["merge"]
    # the COPY reads the file's fields in order: payload is now the second one
    assert "SELECT $1, PARSE_JSON($2), $3, METADATA$FILENAME" in after["values"]["copy"]

    table = parse_tables(json.dumps([after_entry]), "tables.json").tables[0]
    python = SnowflakeTable(table, DATABASE)
    stage_url = f"s3://{BUCKET}/public.orders/"
    assert after["statements"] == python.statements(stage_url=stage_url)
    assert after["values"] == python.values(stage_url=stage_url)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {**ORDERS, "full_refresh": True},
            r"full_refresh is no longer a tables.json key .* remove it from public.orders\. For one full "
            r"export set the override /aurora-snowflake-sync/<env>/overrides/<schema.table> to "
            r'\{"full_refresh": true\}.*aurora-sync resync',
        ),
        (
            {**ORDERS, "columns": [*ORDERS["columns"][:3], {**ORDERS["columns"][3], "retire": True}]},
            r"A tables.json column has an unknown key \(allowed: name, type, retired\)",
        ),
    ],
    ids=["full_refresh", "column-key"],
)
def test_tables_json_refuses_at_plan_time(tmp_path: Path, entry: dict[str, Any], message: str) -> None:
    """GIVEN a tables.json entry with full_refresh (one full export is the override's job) or a
    misspelt column key WHEN Terraform evaluates it THEN the plan fails saying what to do instead."""
    with pytest.raises(TerraformError) as caught:
        view(tmp_path, "bad", entry)
    assert re.search(message, " ".join(str(caught.value).split())), str(caught.value)
