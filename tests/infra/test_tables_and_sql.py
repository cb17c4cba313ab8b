"""tables.json is the one source of truth: what Terraform derives from it (the SSM parameter, the
S3 notification prefixes, every per-table Snowflake statement) is what the Python code accepts and
renders. Terraform's side is evaluated for real, offline, by applying the provider-free root
tests/infra/tf_render (which uses the same modules the environments use) on local state.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aurora_sync.layout import data_key
from aurora_sync.snowflake_sql import TEMPLATES_DIR, SnowflakeTable
from aurora_sync.table_index import entry_parameter, parse_index, render_parameters
from aurora_sync.tables import parse_entry, parse_tables
from tests.support.terraform import (
    BUCKET,
    ENVS_DIR,
    MODULES_DIR,
    blocks,
    env_snowflake_database,
    env_tables_parameter,
    hcl_load,
    one,
    terraform_bin,
    terraform_view,
)

ENV_TABLES = sorted(ENVS_DIR.glob("*/tables.json"))

pytestmark = pytest.mark.skipif(terraform_bin() is None, reason="terraform is not installed here")


def env_id(path: Path) -> str:
    return path.parent.name


@pytest.mark.parametrize("tables_file", ENV_TABLES, ids=env_id)
def test_ssm_parameters_are_the_exporters_config(tables_file: Path) -> None:
    """GIVEN an environment's tables.json
    WHEN Terraform computes the SSM parameters (index + one per table) and the exporter parses them
    THEN they are character for character what aurora_sync.table_index renders, each entry validates
    and the whole is exactly the file's table list (nothing dropped or added)."""
    from_file = parse_tables(tables_file.read_text(), str(tables_file))
    parameter = env_tables_parameter(tables_file.parent)
    view = terraform_view(tables_file)
    terraform = view["ssm_parameters"] | {parameter: view["ssm_index"]}

    assert terraform == render_parameters(json.loads(tables_file.read_text()), parameter)
    index = parse_index(terraform[parameter], parameter)
    assert index.count == len(index.tables) == len(from_file.tables) and index.parts == 1
    entries = [parse_entry(terraform[entry_parameter(parameter, t)], "ssm", t) for t in index.tables]
    assert sorted(entries, key=lambda t: t.table_name) == sorted(from_file.tables, key=lambda t: t.table_name)
    for table in from_file.tables:
        value = json.loads(terraform[entry_parameter(parameter, table.table_name)])
        assert value == next(
            e for e in json.loads(tables_file.read_text()) if e["table_name"] == table.table_name
        )


@pytest.mark.parametrize("tables_file", ENV_TABLES, ids=env_id)
def test_s3_notification_prefixes_match_the_exporters_keys(tables_file: Path) -> None:
    """GIVEN the per-table prefixes Terraform filters S3 notifications and stage URLs on
    WHEN the exporter names a data file
    THEN the key is under that table's prefix and no other table's."""
    prefixes = terraform_view(tables_file)["s3_prefixes"]
    tables = parse_tables(tables_file.read_text(), "tables.json")
    assert sorted(prefixes) == sorted(tables.names)

    for name in tables.names:
        key = data_key(name, datetime(2026, 11, 20, 6, tzinfo=UTC), "abc")
        owners = [t for t, prefix in prefixes.items() if key.startswith(prefix)]
        assert owners == [name], key
        assert key.endswith(".csv")


@pytest.mark.parametrize("tables_file", ENV_TABLES, ids=env_id)
def test_terraform_renders_the_same_sql_as_python(tables_file: Path) -> None:
    """GIVEN every table of an environment
    WHEN Terraform (templatefile + HCL locals) and aurora_sync.snowflake_sql render the templates
    THEN every statement and every placeholder value is identical, character for character."""
    rendered = terraform_view(tables_file)["render"]
    tables = parse_tables(tables_file.read_text(), "tables.json")
    assert sorted(rendered) == sorted(tables.names)

    database = env_snowflake_database(tables_file.parent)
    for table in tables.tables:
        python = SnowflakeTable(table, database)
        stage_url = f"s3://{BUCKET}/{table.table_name}/"
        hcl = rendered[table.table_name]

        assert hcl["statements"] == python.statements(stage_url=stage_url), table.table_name
        assert hcl["values"] == python.values(stage_url=stage_url), table.table_name
        assert list(hcl["statements"]) == sorted(python.statements(stage_url=stage_url))


@pytest.mark.parametrize("tables_file", ENV_TABLES, ids=env_id)
def test_every_template_is_rendered_by_terraform(tables_file: Path) -> None:
    """GIVEN the templates directory
    WHEN a template is added (e.g. a new object) or composed into another one
    THEN Terraform renders it too: each file is a statement or a composed value."""
    hcl = next(iter(terraform_view(tables_file)["render"].values()))
    rendered_names = set(hcl["statements"]) | set(hcl["values"])

    for template in sorted(TEMPLATES_DIR.glob("*.sql")):
        assert template.stem in rendered_names, f"{template.name} is not rendered by the render module"


@pytest.mark.parametrize("tables_file", ENV_TABLES, ids=env_id)
def test_task_body_condition_and_query_tag_come_from_the_rendered_task(tables_file: Path) -> None:
    """GIVEN the snowflake_task resource takes a body, a WHEN condition and a QUERY_TAG, not CREATE
    TASK text
    WHEN Terraform cuts them out of the rendered task.sql
    THEN putting them back into the statement's shape gives the statement Python renders, and the
    tag is the table's own: the one the reconciler's cost check sums QUERY_ATTRIBUTION_HISTORY by."""
    tables = parse_tables(tables_file.read_text(), "tables.json")
    database = env_snowflake_database(tables_file.parent)
    tags = set()
    for table in tables.tables:
        task = terraform_view(tables_file)["render"][table.table_name]["task"]
        sf = SnowflakeTable(table, database)
        statement = sf.statements(stage_url=f"s3://{BUCKET}/{table.table_name}/")["task"]

        assert statement.endswith("\nAS\n" + task["body"])
        assert f"\n  WHEN {task['when']}\n" in statement
        assert re.fullmatch(r"SYSTEM\$STREAM_HAS_DATA\('[^']+'\)", task["when"])
        assert f"\n  QUERY_TAG = '{task['query_tag']}'\n" in statement
        assert (
            task["query_tag"]
            == sf.merge_query_tag
            == (f"aurora-snowflake-sync:merge:{database.upper()}:{table.table_name}")
        )
        assert task["query_tag"].startswith(sf.merge_query_tag_prefix)
        tags.add(task["query_tag"])
    assert len(tags) == len(tables.tables)


def test_the_merge_task_resource_sets_the_rendered_query_tag() -> None:
    """GIVEN modules/snowflake_table WHEN its snowflake_task is read THEN its QUERY_TAG session
    parameter is the render module's (v2 of the provider takes session parameters as arguments)."""
    task = blocks(hcl_load(MODULES_DIR / "snowflake_table" / "main.tf"), "resource", "snowflake_task")[
        "merge"
    ]
    assert one(task["query_tag"]) == "${module.render.task.query_tag}"
    assert one(task["sql_statement"]) == "${module.render.task.body}"


COLUMN_LINE = re.compile(r'^\s*"(?P<name>[^"]+)" (?P<type>.+?)(?P<not_null> NOT NULL)?,?$')


def sql_columns(statement: str) -> list[dict[str, object]]:
    """(name, type, nullable) of a CREATE TABLE statement, as the templates write them; a PRIMARY KEY
    makes its columns NOT NULL, as it does in Snowflake."""
    columns = []
    keys: list[str] = []
    for line in statement.splitlines()[1:]:
        if line.strip().startswith("PRIMARY KEY"):
            keys = re.findall(r'"([^"]+)"', line)
        elif match := COLUMN_LINE.match(line):
            columns.append({"name": match["name"], "type": match["type"], "nullable": not match["not_null"]})
    return [c | {"nullable": False} if c["name"] in keys else c for c in columns]


@pytest.mark.parametrize("tables_file", ENV_TABLES, ids=env_id)
def test_snowflake_table_resources_have_the_templates_columns(tables_file: Path) -> None:
    """GIVEN the STAGING and FINAL tables are snowflake_table resources fed by the render module
    WHEN their column lists are compared with staging_table.sql / final_table.sql as rendered
    THEN names, types, order and NOT NULL are the same."""
    tables = parse_tables(tables_file.read_text(), "tables.json")
    for table in tables.tables:
        hcl = terraform_view(tables_file)["render"][table.table_name]
        statements = SnowflakeTable(table, env_snowflake_database(tables_file.parent)).statements(
            stage_url=f"s3://{BUCKET}/{table.table_name}/"
        )

        assert hcl["staging_columns"] == sql_columns(statements["staging_table"])
        assert hcl["final_columns"] == sql_columns(statements["final_table"])


def test_low_volume_is_accepted_by_terraform_as_python_reads_it_and_a_misspelt_key_is_refused(
    tmp_path: Path,
) -> None:
    """GIVEN a tables.json entry with `low_volume` (an optional object)
    WHEN Terraform writes its SSM parameter and the reconciler parses it
    THEN the parameter carries it unchanged and parses to the same settings; a misspelt key inside
    it fails Terraform's validation at plan time, naming the allowed keys, as Python refuses it."""
    from aurora_sync.errors import ConfigError
    from aurora_sync.tables import LowVolume

    entry = json.loads((ENVS_DIR / "dev/tables.json").read_text())[0]
    parameter = "/low-volume-test/tables"
    good = tmp_path / "good" / "tables.json"
    good.parent.mkdir()
    good.write_text(json.dumps([{**entry, "low_volume": {"hours": 4, "below_fraction": 0.1}}]))
    view = terraform_view(good, tables_parameter=parameter, render_sql=False)
    value = view["ssm_parameters"][entry_parameter(parameter, entry["table_name"])]
    assert parse_entry(value, "ssm", entry["table_name"]).low_volume == LowVolume(hours=4, below_fraction=0.1)

    bad = tmp_path / "bad" / "tables.json"
    bad.parent.mkdir()
    bad.write_text(json.dumps([{**entry, "low_volume": {"hour": 4}}]))
    with pytest.raises(Exception, match="low_volume has an unknown key"):
        terraform_view(bad, tables_parameter=parameter, render_sql=False)
    with pytest.raises(ConfigError, match=r"low_volume\.hour"):
        parse_tables(bad.read_text(), "tables.json")


@pytest.mark.parametrize("bad", ["5", True, 0, -1.5, [1]], ids=["string", "bool", "zero", "negative", "list"])
def test_daily_credit_budget_is_accepted_by_terraform_as_python_reads_it_and_a_bad_one_refused(
    tmp_path: Path, bad: object
) -> None:
    """GIVEN a tables.json entry with `daily_credit_budget` (an optional positive number)
    WHEN Terraform writes its SSM parameter and the reconciler parses it
    THEN the parameter carries it unchanged and parses to the same number; a value that is not a
    JSON number above 0 fails Terraform's validation at plan time naming the field and the table,
    as Python refuses it naming the field."""
    from aurora_sync.errors import ConfigError

    entry = json.loads((ENVS_DIR / "dev/tables.json").read_text())[0]
    parameter = "/credit-budget-test/tables"
    good = tmp_path / "good" / "tables.json"
    good.parent.mkdir()
    good.write_text(json.dumps([{**entry, "daily_credit_budget": 2.5}]))
    view = terraform_view(good, tables_parameter=parameter, render_sql=False)
    value = view["ssm_parameters"][entry_parameter(parameter, entry["table_name"])]
    assert parse_entry(value, "ssm", entry["table_name"]).daily_credit_budget == 2.5

    wrong = tmp_path / "bad" / "tables.json"
    wrong.parent.mkdir()
    wrong.write_text(json.dumps([{**entry, "daily_credit_budget": bad}]))
    with pytest.raises(
        Exception, match=rf"(?s)daily_credit_budget is not a number above 0.*{entry['table_name']}"
    ):
        terraform_view(wrong, tables_parameter=parameter, render_sql=False)
    with pytest.raises(ConfigError, match=r"daily_credit_budget"):
        parse_tables(wrong.read_text(), "tables.json")


def test_delete_detection_reaches_the_exporter_unchanged_and_a_bad_mode_stops_the_plan(
    tmp_path: Path,
) -> None:
    """GIVEN a tables.json entry with `delete_detection` and `max_delete_fraction`
    WHEN Terraform writes its SSM parameter and the exporter parses it
    THEN both arrive unchanged; a mode other than off/soft/hard, or a fraction without detection,
    fails Terraform's validation at plan time as Python refuses it, naming the field."""
    from aurora_sync.errors import ConfigError

    entry = json.loads((ENVS_DIR / "dev/tables.json").read_text())[0]
    parameter = "/delete-detection-test/tables"
    good = tmp_path / "good" / "tables.json"
    good.parent.mkdir()
    good.write_text(json.dumps([{**entry, "delete_detection": "hard", "max_delete_fraction": 0.05}]))
    view = terraform_view(good, tables_parameter=parameter, render_sql=False)
    table = parse_entry(
        view["ssm_parameters"][entry_parameter(parameter, entry["table_name"])], "ssm", entry["table_name"]
    )
    assert (table.delete_detection, table.delete_limit_fraction) == ("hard", 0.05)

    for bad_entry, terraform_says, python_says in [
        ({**entry, "delete_detection": "purge"}, "delete_detection must be", r"delete_detection"),
        ({**entry, "max_delete_fraction": 0.05}, "max_delete_fraction must be", "delete_detection is off"),
        (
            {**entry, "delete_detection": "soft", "max_delete_fraction": 2},
            "max_delete_fraction must be",
            "max_delete_fraction",
        ),
    ]:
        bad = tmp_path / bad_entry.get("delete_detection", "off") / "tables.json"
        bad.parent.mkdir(exist_ok=True)
        bad.write_text(json.dumps([bad_entry]))
        with pytest.raises(Exception, match=terraform_says):
            terraform_view(bad, tables_parameter=parameter, render_sql=False)
        with pytest.raises(ConfigError, match=python_says):
            parse_tables(bad.read_text(), "tables.json")


@pytest.mark.parametrize("mode", ["hard", "soft"])
def test_delete_detection_renders_the_same_merge_and_final_table_in_terraform_and_python(
    mode: str, tmp_path: Path
) -> None:
    """GIVEN every table of dev with `delete_detection` hard or soft
    WHEN Terraform and aurora_sync.snowflake_sql render the templates and FINAL's columns
    THEN they are identical character for character: the MERGE's tombstone branch, the soft mode's
    `_DELETED_AT` column (in final_table.sql and the snowflake_table resource alike)."""
    entries = [
        {**e, "delete_detection": mode} for e in json.loads((ENVS_DIR / "dev/tables.json").read_text())
    ]
    tables_file = tmp_path / "tables.json"
    tables_file.write_text(json.dumps(entries))
    database = env_snowflake_database(ENVS_DIR / "dev")
    rendered = terraform_view(
        tables_file, tables_parameter=env_tables_parameter(ENVS_DIR / "dev"), database=database
    )["render"]
    for table in parse_tables(tables_file.read_text(), "tables.json").tables:
        python = SnowflakeTable(table, database)
        stage_url = f"s3://{BUCKET}/{table.table_name}/"
        hcl = rendered[table.table_name]
        statements = python.statements(stage_url=stage_url)
        assert hcl["statements"] == statements, table.table_name
        assert hcl["values"] == python.values(stage_url=stage_url), table.table_name
        assert hcl["final_columns"] == sql_columns(statements["final_table"])
        assert ("_DELETED_AT" in statements["final_table"]) is (mode == "soft")
        assert ("THEN DELETE" in statements["task"]) is (mode == "hard")
