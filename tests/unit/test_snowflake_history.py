"""The reconciler's production Snowflake SQL, pinned, and the parsing of rows shaped exactly like
Snowflake returns them (column order of the SELECT, TIMESTAMP_LTZ as aware datetimes, NUMBER as
int or Decimal, COPY_HISTORY's mixed-case statuses, SYSTEM$PIPE_STATUS as a JSON string)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from aurora_sync.adapters.snowflake import Snowflake
from aurora_sync.adapters.snowflake_history import (
    COPY_HISTORY_REACH,
    PRODUCTION_QUERIES,
    REACH_MARGIN,
    TASK_HISTORY_REACH,
    SnowflakeHistory,
    normalize_status,
    parse_audit_row,
    parse_copy_row,
    parse_pipe_status,
    parse_task_row,
    within_reach,
)
from aurora_sync.config import parse_tables
from aurora_sync.errors import TerminalError

PST = timezone(timedelta(hours=-8))


def test_production_sql_is_the_reviewed_text() -> None:
    assert PRODUCTION_QUERIES.copy_history == (
        "SELECT FILE_NAME, STAGE_LOCATION, LAST_LOAD_TIME, ROW_COUNT, ROW_PARSED, ERROR_COUNT,"
        " FIRST_ERROR_MESSAGE, STATUS"
        " FROM TABLE(INFORMATION_SCHEMA.COPY_HISTORY(TABLE_NAME => %s, START_TIME => %s::TIMESTAMP_LTZ))"
        " ORDER BY LAST_LOAD_TIME"
    )
    assert PRODUCTION_QUERIES.task_history == (
        "SELECT NAME, STATE, SCHEDULED_TIME, QUERY_START_TIME, COMPLETED_TIME, ERROR_CODE, ERROR_MESSAGE,"
        " QUERY_ID"
        " FROM TABLE(INFORMATION_SCHEMA.TASK_HISTORY(TASK_NAME => %s,"
        " SCHEDULED_TIME_RANGE_START => %s::TIMESTAMP_LTZ, RESULT_LIMIT => 10000))"
        " WHERE DATABASE_NAME = %s AND SCHEMA_NAME = %s AND QUERY_ID IS NOT NULL"
        " ORDER BY SCHEDULED_TIME"
    )
    assert PRODUCTION_QUERIES.pipe_status == "SELECT SYSTEM$PIPE_STATUS(%s)"
    assert PRODUCTION_QUERIES.merge_audit == (
        "SELECT QUERY_ID, ROWS_INSERTED, ROWS_UPDATED, MERGED_AT FROM {audit_table}"
        " WHERE TABLE_NAME = %s AND MERGED_AT >= %s::TIMESTAMP_LTZ ORDER BY MERGED_AT"
    )


def test_the_audit_table_the_sql_reads_is_the_one_the_task_writes() -> None:
    sql_dir = Path(__file__).resolve().parents[2] / "terraform/modules/snowflake_table/sql"
    insert = (sql_dir / "audit_insert.sql").read_text()
    assert '"TABLE_NAME", "QUERY_ID", "ROWS_INSERTED", "ROWS_UPDATED", "MERGED_AT"' in insert
    assert "${audit_insert}" in (sql_dir / "task.sql").read_text()


def test_history_ranges_start_inside_what_snowflake_answers() -> None:
    # GIVEN the longest look-back (168 h) floored to the hour: up to 7 days and 59 minutes ago
    now = datetime(2026, 11, 22, 8, 59, 30, tzinfo=UTC)
    since = (now - timedelta(hours=168)).replace(minute=0, second=0, microsecond=0)
    # WHEN the TASK_HISTORY and COPY_HISTORY starts are computed
    task_start = within_reach(since, now, TASK_HISTORY_REACH)
    copy_start = within_reach(since, now, COPY_HISTORY_REACH)
    # THEN TASK_HISTORY starts inside its 7 days, with a margin for the query's own later clock;
    # COPY_HISTORY (14 days) keeps the manifests' start, so no manifest's load is cut off
    assert now - task_start == timedelta(days=7) - REACH_MARGIN
    assert copy_start == since
    # AND a short look-back is never moved
    recent = now - timedelta(hours=24)
    assert within_reach(recent, now, TASK_HISTORY_REACH) == recent


def test_copy_history_row_parses_and_builds_the_file_url() -> None:
    row = (
        "2026/11/22/08/run-1.csv",
        "s3://exports/public.orders/",
        datetime(2026, 11, 22, 0, 5, tzinfo=PST),
        Decimal(120),
        Decimal(120),
        Decimal(0),
        None,
        "Loaded",
    )
    record = parse_copy_row(row)
    assert record.url == "s3://exports/public.orders/2026/11/22/08/run-1.csv"
    assert record.last_load_time == datetime(2026, 11, 22, 8, 5, tzinfo=UTC)
    assert (record.row_count, record.status) == (120, "loaded")


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Load failed", "load failed"),
        ("LOAD_FAILED", "load failed"),
        ("Partially loaded", "partially loaded"),
    ],
)
def test_statuses_compare_case_insensitively(raw: str, normalized: str) -> None:
    assert normalize_status(raw) == normalized


def test_task_row_and_audit_row_parse() -> None:
    at = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    started = datetime(2026, 11, 22, 0, 1, tzinfo=PST)
    run = parse_task_row(("ORDERS_MERGE", "failed", at, started, at, 100183, "boom", "01b2"))
    assert (run.state, run.error_code, run.error_message) == ("FAILED", "100183", "boom")
    assert run.query_start_time == datetime(2026, 11, 22, 8, 1, tzinfo=UTC)
    audit = parse_audit_row(("01b2", Decimal(3), 4, at))
    assert (audit.rows_inserted, audit.rows_updated, audit.merged_at) == (3, 4, at)


def test_pipe_status_json_parses_and_garbage_is_a_terminal_error() -> None:
    status = parse_pipe_status(
        json.dumps(
            {
                "executionState": "RUNNING",
                "pendingFileCount": 2,
                "oldestFileTimestamp": "2026-11-22T07:00:00Z",
            }
        )
    )
    assert (status.execution_state, status.pending_file_count) == ("RUNNING", 2)
    assert status.oldest_file_timestamp == datetime(2026, 11, 22, 7, tzinfo=UTC)
    with pytest.raises(TerminalError, match="not JSON"):
        parse_pipe_status("<html>")


class RecordingSnowflake:
    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows
        self.calls: list[tuple[str, tuple[Any, ...] | None]] = []

    def query(self, sql: str, action: str, params: tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
        self.calls.append((sql, params))
        return self.rows


def test_adapter_binds_names_and_times_in_the_documented_order() -> None:
    sf = RecordingSnowflake([])
    history = SnowflakeHistory(sf)  # type: ignore[arg-type]
    since = datetime(2026, 11, 21, 8, tzinfo=UTC)
    history.copy_history("SYNC.STAGING.ORDERS", since)
    history.task_history("SYNC", "STAGING", "ORDERS_MERGE", since)
    history.merge_audit('"SYNC"."STAGING"."MERGE_AUDIT"', "public.orders", since)
    assert [params for _, params in sf.calls] == [
        ("SYNC.STAGING.ORDERS", "2026-11-21T08:00:00.000000Z"),
        ("ORDERS_MERGE", "2026-11-21T08:00:00.000000Z", "SYNC", "STAGING"),
        ("public.orders", "2026-11-21T08:00:00.000000Z"),
    ]
    # GIVEN the audit table's quoted three-part name WHEN the audit query is built THEN it is named
    assert 'FROM "SYNC"."STAGING"."MERGE_AUDIT" WHERE' in sf.calls[2][0]


@pytest.mark.parametrize(
    "audit_table", ['"STAGING"."MERGE_AUDIT"', "SYNC.STAGING.MERGE_AUDIT", '"A"."B"."C" x']
)
def test_audit_table_must_be_a_quoted_three_part_name(audit_table: str) -> None:
    with pytest.raises(ValueError, match="audit_table"):
        SnowflakeHistory(RecordingSnowflake([])).merge_audit(audit_table, "public.orders", datetime.now(UTC))  # type: ignore[arg-type]


class QueryRecordingAdapter(Snowflake):
    """The real adapter with the connection replaced by a recorder: the SQL it builds is the subject."""

    def __init__(self, database: str) -> None:
        super().__init__({"account": "acme", "database": database})
        self.calls: list[tuple[str, tuple[Any, ...] | None]] = []

    def query(self, sql: str, action: str, params: tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
        self.calls.append((sql, params))
        return []


def test_watermark_and_sample_lookups_name_the_database() -> None:
    # GIVEN the adapter of a session whose database is SYNC
    sf = QueryRecordingAdapter("sync")
    table = parse_tables(
        '[{"table_name": "public.orders", "watermark_col": "updated_at", "primary_keys": ["id"],'
        ' "columns": [{"name": "id", "type": "NUMBER"}, {"name": "updated_at", "type": "TIMESTAMP_TZ"}]}]',
        "p",
    ).tables[0]
    # WHEN the exporter's lower bound and the reconciler's sample lookup query FINAL
    sf.max_watermark("FINAL", "ORDERS", "updated_at")
    sf.versions("FINAL", table, [(1,)])
    # THEN both name "SYNC"."FINAL"."ORDERS": the session's current database does not matter
    assert sf.calls[0][0] == 'SELECT MAX("UPDATED_AT") FROM "SYNC"."FINAL"."ORDERS"'
    assert 'FROM "SYNC"."FINAL"."ORDERS" WHERE' in sf.calls[1][0]
