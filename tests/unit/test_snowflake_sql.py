"""The Snowflake SQL templates, rendered for the dev `public.orders` entry, pinned as text."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from aurora_sync.config import parse_tables
from aurora_sync.snowflake_sql import TEMPLATES_DIR, SnowflakeTable, render

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = Path(__file__).parent / "expected_sql"
ORDERS = parse_tables((ROOT / "terraform/envs/dev/tables.json").read_text(), "tables.json").tables[0]
STATEMENTS = SnowflakeTable(ORDERS).statements(stage_url="s3://exports-bucket/public.orders/")


@pytest.mark.parametrize("name", sorted(STATEMENTS))
def test_rendered_sql_matches_the_reviewed_text(name: str) -> None:
    # GIVEN the dev tables.json WHEN a template is rendered THEN it is exactly the reviewed SQL
    assert STATEMENTS[name] + "\n" == (EXPECTED / f"orders.{name}.sql").read_text()


def test_every_placeholder_of_every_template_has_a_value() -> None:
    values = SnowflakeTable(ORDERS).values(stage_url="s3://exports-bucket/public.orders/")
    for template in TEMPLATES_DIR.glob("*.sql"):
        used = set(re.findall(r"\$\{([a-z_][a-z0-9_]*)\}", template.read_text()))
        assert used <= set(values), f"{template.name}: {used - set(values)} have no value"


def test_snowflake_dollar_names_are_not_placeholders() -> None:
    copy = render("copy", SnowflakeTable(ORDERS).values())
    assert "METADATA$FILENAME" in copy and "$1, $2" in copy and "${" not in copy


def test_merge_deduplicates_and_never_rolls_a_row_back() -> None:
    merge = STATEMENTS["task"]
    assert "QUALIFY ROW_NUMBER() OVER" in merge and 'PARTITION BY "ID"' in merge
    assert 's."UPDATED_AT" >= t."UPDATED_AT"' in merge
    assert 'FROM "STAGING"."ORDERS_STREAM"' in merge  # the task consumes the stream


def test_pipe_copy_has_an_explicit_column_list_and_no_current_timestamp() -> None:
    pipe = STATEMENTS["pipe"]
    assert 'COPY INTO "STAGING"."ORDERS" ("ID", "CUSTOMER_ID"' in pipe
    assert "CURRENT_TIMESTAMP" not in pipe and "METADATA$START_SCAN_TIME" in pipe


# CREATE PIPE's usage notes: every COPY option is supported except these.
PIPE_REJECTED_OPTIONS = (
    "FILES",
    "ON_ERROR = ABORT_STATEMENT",
    "SIZE_LIMIT",
    "PURGE",
    "FORCE",
    "RETURN_FAILED_ONLY",
    "VALIDATION_MODE",
)


def test_pipe_copy_uses_only_options_a_pipe_accepts_and_skips_a_bad_file() -> None:
    # GIVEN the pipe's COPY WHEN checked against the options CREATE PIPE rejects
    copy = render("copy", SnowflakeTable(ORDERS).values())
    # THEN none is present, and a bad file is skipped whole (Snowpipe's default, what the
    # reconciler's "load failed" check and Snowpipe error notifications expect)
    spaced = [o.replace(" = ", r"\s*=\s*") for o in PIPE_REJECTED_OPTIONS]
    assert [o for o in spaced if re.search(rf"\b{o}\b", copy, re.IGNORECASE)] == []
    assert copy.endswith("ON_ERROR = SKIP_FILE")


def test_task_purges_only_rows_older_than_the_retention_after_the_merge() -> None:
    # GIVEN a 30-day retention WHEN the task is rendered
    task = SnowflakeTable(ORDERS).statements(staging_retention_days=30)["task"]
    # THEN after the MERGE and its audit row, inside the same transaction, this table's STAGING rows
    # loaded more than 30 days ago are deleted, and nothing else (no DELETE on the shared MERGE_AUDIT)
    merge_at, audit_at = task.index("MERGE INTO"), task.index('INSERT INTO "STAGING"."MERGE_AUDIT"')
    purge_at, commit_at = task.index('DELETE FROM "STAGING"."ORDERS"'), task.index("COMMIT;")
    assert task.index("BEGIN TRANSACTION;") < merge_at < audit_at < purge_at < commit_at
    assert task.count("DATEADD(DAY, -30, CURRENT_TIMESTAMP())") == 1 and task.count("DELETE FROM") == 1


def test_json_columns_are_parsed_on_load() -> None:
    typed = parse_tables(
        '[{"table_name": "public.t", "watermark_col": "u", "primary_keys": ["id"], "columns": ['
        '{"name": "id", "type": "NUMBER"}, {"name": "doc", "type": "VARIANT"},'
        ' {"name": "u", "type": "TIMESTAMP_TZ"}]}]',
        "p",
    ).tables[0]
    assert "SELECT $1, PARSE_JSON($2), $3," in render("copy", SnowflakeTable(typed).values())


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"schedule": "5 MINUTE'; DROP TABLE x; --"}, "schedule"),
        ({"stage_url": "s3://bucket/x' OR 1=1"}, "stage_url"),
        ({"warehouse": 'WH"; DROP'}, "identifier"),
        ({"staging_retention_days": "14); DROP TABLE x; --"}, "staging_retention_days"),
        ({"staging_retention_days": 6}, "staging_retention_days"),
        ({"staging_retention_days": 366}, "staging_retention_days"),
        ({"staging_retention_days": True}, "staging_retention_days"),
        ({"staging_retention_days": 14.5}, "staging_retention_days"),
    ],
)
def test_unsafe_template_inputs_are_rejected(kwargs: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        SnowflakeTable(ORDERS).values(**kwargs)


def test_missing_value_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(KeyError):
        render("merge", {"final": '"FINAL"."X"'})
