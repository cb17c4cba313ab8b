"""The Snowflake SQL templates, rendered for the dev `public.orders` entry, pinned as text."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from aurora_sync.snowflake_sql import TEMPLATES_DIR, SnowflakeTable, render
from aurora_sync.tables import DeleteDetection, parse_tables

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = Path(__file__).parent / "expected_sql"
ORDERS = parse_tables((ROOT / "terraform/envs/dev/tables.json").read_text(), "tables.json").tables[0]
DATABASE = "AURORA_SYNC_DEV"  # terraform/envs/dev: snowflake_connection.database
STATEMENTS = SnowflakeTable(ORDERS, DATABASE).statements(stage_url="s3://exports-bucket/public.orders/")


@pytest.mark.parametrize("name", sorted(STATEMENTS))
def test_rendered_sql_matches_the_reviewed_text(name: str) -> None:
    # GIVEN the dev tables.json WHEN a template is rendered THEN it is exactly the reviewed SQL
    assert STATEMENTS[name] + "\n" == (EXPECTED / f"orders.{name}.sql").read_text()


def test_every_placeholder_of_every_template_has_a_value() -> None:
    values = SnowflakeTable(ORDERS, DATABASE).values(stage_url="s3://exports-bucket/public.orders/")
    for template in TEMPLATES_DIR.glob("*.sql"):
        used = set(re.findall(r"\$\{([a-z_][a-z0-9_]*)\}", template.read_text()))
        assert used <= set(values), f"{template.name}: {used - set(values)} have no value"


def test_snowflake_dollar_names_are_not_placeholders() -> None:
    copy = render("copy", SnowflakeTable(ORDERS, DATABASE).values())
    assert "METADATA$FILENAME" in copy and "$1, $2" in copy and "${" not in copy


def test_merge_deduplicates_and_never_rolls_a_row_back() -> None:
    merge = STATEMENTS["task"]
    assert "QUALIFY ROW_NUMBER() OVER" in merge and 'PARTITION BY "ID"' in merge
    assert 's."UPDATED_AT" >= t."UPDATED_AT"' in merge
    assert 'FROM "AURORA_SYNC_DEV"."STAGING"."ORDERS_STREAM"' in merge  # the task consumes the stream


def test_pipe_copy_has_an_explicit_column_list_and_no_current_timestamp() -> None:
    pipe = STATEMENTS["pipe"]
    assert 'COPY INTO "AURORA_SYNC_DEV"."STAGING"."ORDERS" ("ID", "CUSTOMER_ID"' in pipe
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
    copy = render("copy", SnowflakeTable(ORDERS, DATABASE).values())
    # THEN none is present, and a bad file is skipped whole (Snowpipe's default, what the
    # reconciler's "load failed" check and Snowpipe error notifications expect)
    spaced = [o.replace(" = ", r"\s*=\s*") for o in PIPE_REJECTED_OPTIONS]
    assert [o for o in spaced if re.search(rf"\b{o}\b", copy, re.IGNORECASE)] == []
    assert copy.endswith("ON_ERROR = SKIP_FILE")


def test_task_purges_only_rows_older_than_the_retention_after_the_merge() -> None:
    # GIVEN a 30-day retention WHEN the task is rendered
    task = SnowflakeTable(ORDERS, DATABASE).statements(staging_retention_days=30)["task"]
    # THEN after the MERGE and its audit row, inside the same transaction, this table's STAGING rows
    # loaded more than 30 days ago are deleted, and nothing else (no DELETE on the shared MERGE_AUDIT)
    merge_at, audit_at = (
        task.index("MERGE INTO"),
        task.index('INSERT INTO "AURORA_SYNC_DEV"."STAGING"."MERGE_AUDIT"'),
    )
    purge_at, commit_at = (
        task.index('DELETE FROM "AURORA_SYNC_DEV"."STAGING"."ORDERS"'),
        task.index("COMMIT;"),
    )
    assert task.index("BEGIN TRANSACTION;") < merge_at < audit_at < purge_at < commit_at
    assert task.count("DATEADD(DAY, -30, CURRENT_TIMESTAMP())") == 1 and task.count("DELETE FROM") == 1


def block_statements(task: str) -> list[str]:
    """The statements of the task's scripting block, in order (split on the `;` ending each line)."""
    body = task.split("EXECUTE IMMEDIATE $$\nBEGIN\n", 1)[1].rsplit("\nEND;\n$$", 1)[0]
    return [stmt.strip().removesuffix(";") for stmt in body.split(";\n") if stmt.strip()]


def test_audit_row_takes_the_merge_query_id_from_sqlid() -> None:
    # GIVEN the task's scripting block
    statements = block_statements(STATEMENTS["task"])
    kinds = [stmt.split()[0] for stmt in statements]
    # WHEN the statement after the MERGE is read
    merge_at = kinds.index("MERGE")
    assert kinds == ["BEGIN", "MERGE", "LET", "INSERT", "DELETE", "COMMIT"]
    # THEN it captures the MERGE's own query id from SQLID (set by the statement just run), and the
    # audit row reads that query's result and records that id; LAST_QUERY_ID() counts every query
    # of the session, child statements of the block included, so it is not used at all
    assert statements[merge_at + 1] == "LET merge_query_id VARCHAR := SQLID"
    insert = statements[merge_at + 2]
    assert "SELECT 'public.orders', :merge_query_id, $1, $2, 0, 0, CURRENT_TIMESTAMP()" in insert
    assert insert.endswith("FROM TABLE(RESULT_SCAN(:merge_query_id))")
    assert "LAST_QUERY_ID" not in STATEMENTS["task"]


@pytest.mark.parametrize(
    ("mode", "kinds", "counts"),
    [
        ("hard", ["BEGIN", "MERGE", "LET", "INSERT", "DELETE", "COMMIT"], "$1, $2, $3, 0,"),
        (
            "soft",
            ["BEGIN", "LET", "SELECT", "MERGE", "LET", "INSERT", "DELETE", "COMMIT"],
            "$1, $2 - :marked_rows, 0, :marked_rows,",
        ),
    ],
)
def test_the_audit_row_counts_what_the_tombstones_did(mode: str, kinds: list[str], counts: str) -> None:
    # GIVEN orders with delete detection `mode`
    table = ORDERS.model_copy(update={"delete_detection": DeleteDetection(mode)})
    # WHEN its task is rendered
    task = SnowflakeTable(table, DATABASE).statements(stage_url="s3://exports-bucket/public.orders/")["task"]
    statements = block_statements(task)
    # THEN hard records the MERGE result's third column (rows deleted, present with a DELETE clause);
    # soft counts the marks before the MERGE, in its transaction, with the MERGE's own source and
    # tombstone condition, and moves them out of ROWS_UPDATED (a mark is an update in the result)
    assert [stmt.split()[0] for stmt in statements] == kinds
    insert = next(stmt for stmt in statements if stmt.startswith("INSERT"))
    assert f":merge_query_id, {counts} CURRENT_TIMESTAMP()" in insert
    if mode == "soft":
        merge = next(stmt for stmt in statements if stmt.startswith("MERGE"))
        count = next(stmt for stmt in statements if stmt.startswith("SELECT COUNT(*) INTO :marked_rows"))
        source = merge.split("USING (\n", 1)[1].split("\n) AS s", 1)[0].strip()
        condition = merge.split("WHEN MATCHED AND ", 1)[1].split(" THEN UPDATE SET", 1)[0]
        assert source in count and count.endswith(f"WHERE {condition}")


def test_json_columns_are_parsed_on_load() -> None:
    typed = parse_tables(
        '[{"table_name": "public.t", "watermark_col": "u", "primary_keys": ["id"], "columns": ['
        '{"name": "id", "type": "NUMBER"}, {"name": "doc", "type": "VARIANT"},'
        ' {"name": "u", "type": "TIMESTAMP_TZ"}]}]',
        "p",
    ).tables[0]
    assert "SELECT $1, PARSE_JSON($2), $3," in render("copy", SnowflakeTable(typed, DATABASE).values())


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
        SnowflakeTable(ORDERS, DATABASE).values(**kwargs)


# Where a Snowflake statement names a schema object (table, stream, stage, file format, pipe, task).
OBJECT_POSITION = re.compile(
    r"(?:CREATE (?:FILE FORMAT|TABLE|STAGE|PIPE|STREAM|TASK) IF NOT EXISTS|ON TABLE"
    r"|(?:COPY|INSERT|MERGE) INTO|\bFROM|@|FORMAT_NAME =|FILE_FORMAT =|SYSTEM\$STREAM_HAS_DATA\()"
    r"\s*(?=(?P<next>\S+))"
)
QUOTED_CHAIN = re.compile(r'"[^"]*"(?:\."[^"]*")*')
# Account-level objects: one part is their full name.
ACCOUNT_OBJECT = re.compile(r"(?:WAREHOUSE|STORAGE_INTEGRATION) = (?P<name>\S+)")


def object_references(statement: str) -> list[str]:
    """Every schema-object name in the statement, as written; a subquery or TABLE(...) is not one."""
    found = []
    for match in OBJECT_POSITION.finditer(statement):
        token = match["next"].lstrip("@'")
        if token.startswith(("(", "TABLE(")):
            continue
        chain = QUOTED_CHAIN.match(token)
        found.append(chain.group(0) if chain and token[chain.end() :] in ("", "'", "')", ")") else token)
    return found


def parts(name: str) -> int:
    return len(name.split('"."')) if QUOTED_CHAIN.fullmatch(name) else 0


@pytest.mark.parametrize("database", [DATABASE, "other_db"])
def test_every_object_reference_is_database_qualified(database: str) -> None:
    # GIVEN every statement rendered for a table (the pipe's COPY, the task's MERGE, audit insert and
    # purge included), for the dev database and for another one
    statements = SnowflakeTable(ORDERS, database).statements(stage_url="s3://exports-bucket/public.orders/")
    for name, statement in statements.items():
        # WHEN each schema-object name and each dotted quoted name in it is read
        references = object_references(statement)
        dotted = [c for c in QUOTED_CHAIN.findall(statement) if parts(c) > 1]
        # THEN each has three quoted parts, the first the database (upper-cased, as Snowflake
        # resolves an unquoted name), so neither a session without a current database nor one with
        # a different default can change what it names
        assert references, f"{name}: no object reference found (the check would be vacuous)"
        assert [r for r in references if parts(r) != 3] == [], name
        assert [c for c in dotted if parts(c) != 3] == [], name
        assert {r.split(".")[0] for r in references + dotted} == {f'"{database.upper()}"'}, name
        # and account-level objects (warehouse, storage integration) keep their one-part names
        assert all(parts(m["name"]) == 1 for m in ACCOUNT_OBJECT.finditer(statement)), name
    task = statements["task"]
    assert "SYSTEM$STREAM_HAS_DATA('\"" in task and "FROM TABLE(RESULT_SCAN(" in task
    assert sum(len(object_references(s)) for s in statements.values()) >= 15


def test_the_object_reference_check_catches_two_part_and_unquoted_names() -> None:
    # GIVEN names as the code rendered them before (schema.object) or unquoted
    # WHEN read by the check THEN they are reported, so the test above can fail
    two_part = object_references('COPY INTO "STAGING"."ORDERS" (x) FROM @"STAGING"."S"')
    assert {'"STAGING"."ORDERS"', '"STAGING"."S"'} == set(two_part) and {parts(r) for r in two_part} == {2}
    assert object_references("DELETE FROM STAGING.ORDERS WHERE 1") == ["STAGING.ORDERS"]
    assert parts(object_references('FILE_FORMAT = (FORMAT_NAME = \'"STAGING"."F"\')')[0]) == 2


@pytest.mark.parametrize("database", ['DB"; DROP TABLE x; --', "my-db", "", "1DB"])
def test_database_must_be_an_identifier(database: str) -> None:
    with pytest.raises(ValueError, match="database"):
        SnowflakeTable(ORDERS, database)


def test_missing_value_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(KeyError):
        render("merge", {"final": '"FINAL"."X"'})
