"""The reconciler's production Snowflake SQL, pinned, and the parsing of rows shaped exactly like
Snowflake returns them (column order of the SELECT, TIMESTAMP_LTZ as aware datetimes, NUMBER as
int or Decimal, COPY_HISTORY's mixed-case statuses, SYSTEM$PIPE_STATUS as a JSON string)."""

from __future__ import annotations

import json
from dataclasses import replace
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
    MergeCredits,
    PipeCredits,
    SnowflakeHistory,
    normalize_status,
    parse_audit_row,
    parse_copy_row,
    parse_pipe_status,
    parse_task_row,
    within_reach,
)
from aurora_sync.errors import TerminalError
from aurora_sync.tables import parse_tables
from aurora_sync.timeutil import iso

PST = timezone(timedelta(hours=-8))


def test_production_sql_is_the_reviewed_text() -> None:
    assert PRODUCTION_QUERIES.copy_history == (
        "SELECT FILE_NAME, STAGE_LOCATION, LAST_LOAD_TIME, ROW_COUNT, ROW_PARSED, ERROR_COUNT,"
        " FIRST_ERROR_MESSAGE, STATUS"
        " FROM TABLE(INFORMATION_SCHEMA.COPY_HISTORY(TABLE_NAME => %s, START_TIME => %s::TIMESTAMP_LTZ))"
        " ORDER BY LAST_LOAD_TIME"
    )
    # One statement for every task: no TASK_NAME; the page's size and oldest run come along
    assert PRODUCTION_QUERIES.task_history == (
        "SELECT NAME, STATE, SCHEDULED_TIME, QUERY_START_TIME, COMPLETED_TIME, ERROR_CODE, ERROR_MESSAGE,"
        " QUERY_ID, DATABASE_NAME, SCHEMA_NAME, PAGE_ROWS, PAGE_START"
        " FROM (SELECT *, COUNT(*) OVER () AS PAGE_ROWS, MIN(SCHEDULED_TIME) OVER () AS PAGE_START,"
        " ROW_NUMBER() OVER (ORDER BY SCHEDULED_TIME) AS PAGE_ROW"
        " FROM TABLE(INFORMATION_SCHEMA.TASK_HISTORY(SCHEDULED_TIME_RANGE_START => %s::TIMESTAMP_LTZ,"
        " SCHEDULED_TIME_RANGE_END => %s::TIMESTAMP_LTZ, RESULT_LIMIT => 10000)))"
        " WHERE (DATABASE_NAME = %s AND SCHEMA_NAME = %s AND QUERY_ID IS NOT NULL) OR PAGE_ROW = 1"
        " ORDER BY SCHEDULED_TIME"
    )
    assert PRODUCTION_QUERIES.task_history_limit == 10000
    assert PRODUCTION_QUERIES.pipe_status == "SELECT SYSTEM$PIPE_STATUS(%s)"
    # One statement for every table's merges
    assert PRODUCTION_QUERIES.merge_audit == (
        "SELECT TABLE_NAME, QUERY_ID, ROWS_INSERTED, ROWS_UPDATED, ROWS_DELETED, ROWS_MARKED, MERGED_AT"
        " FROM {audit_table} WHERE MERGED_AT >= %s::TIMESTAMP_LTZ ORDER BY MERGED_AT"
    )
    # One statement each for every table's credits of a day: pipes by name within our database and
    # schema (PIPES tells them apart from another environment's), MERGE tasks by their tag's prefix
    assert PRODUCTION_QUERIES.pipe_credits == (
        "SELECT p.PIPE_NAME, SUM(h.CREDITS_USED) AS CREDITS, SUM(h.BYTES_INSERTED) AS BYTES"
        " FROM SNOWFLAKE.ACCOUNT_USAGE.PIPE_USAGE_HISTORY h"
        " JOIN SNOWFLAKE.ACCOUNT_USAGE.PIPES p ON p.PIPE_ID = h.PIPE_ID"
        " WHERE h.START_TIME >= %s::TIMESTAMP_LTZ AND h.START_TIME < %s::TIMESTAMP_LTZ"
        " AND p.PIPE_CATALOG = %s AND p.PIPE_SCHEMA = %s"
        " GROUP BY p.PIPE_NAME ORDER BY p.PIPE_NAME"
    )
    assert PRODUCTION_QUERIES.merge_credits == (
        "SELECT QUERY_TAG, SUM(CREDITS_ATTRIBUTED_COMPUTE + COALESCE(CREDITS_USED_QUERY_ACCELERATION, 0))"
        " AS CREDITS, COUNT(*) AS QUERIES"
        " FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_ATTRIBUTION_HISTORY"
        " WHERE START_TIME >= %s::TIMESTAMP_LTZ AND START_TIME < %s::TIMESTAMP_LTZ"
        " AND STARTSWITH(QUERY_TAG, %s)"
        " GROUP BY QUERY_TAG ORDER BY QUERY_TAG"
    )


def test_the_audit_table_the_sql_reads_is_the_one_the_task_writes() -> None:
    sql_dir = Path(__file__).resolve().parents[3] / "terraform/modules/snowflake_table/sql"
    insert = (sql_dir / "audit_insert.sql").read_text()
    columns = '"TABLE_NAME", "QUERY_ID", "ROWS_INSERTED", "ROWS_UPDATED", "ROWS_DELETED", "ROWS_MARKED"'
    assert columns + ', "MERGED_AT"' in insert
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
    table, audit = parse_audit_row(("public.orders", "01b2", Decimal(3), 4, Decimal(2), 0, at))
    assert (table, audit.rows_inserted, audit.rows_updated, audit.merged_at) == ("public.orders", 3, 4, at)
    assert (audit.rows_deleted, audit.rows_marked) == (2, 0)
    # AND a row written before ROWS_DELETED / ROWS_MARKED existed (NULL there) reads 0 of each
    _, older = parse_audit_row(("public.orders", "01b1", 1, 0, None, None, at))
    assert (older.rows_deleted, older.rows_marked) == (0, 0)


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
    """Answers each statement with the next of `pages` (then nothing), recording SQL and binds."""

    def __init__(self, *pages: list[tuple[Any, ...]]) -> None:
        self.pages = list(pages)
        self.calls: list[tuple[str, tuple[Any, ...] | None]] = []

    def query(self, sql: str, action: str, params: tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
        self.calls.append((sql, params))
        return self.pages.pop(0) if self.pages else []


SINCE = datetime(2026, 11, 21, 8, tzinfo=UTC)
UNTIL = datetime(2026, 11, 22, 8, tzinfo=UTC)


def test_adapter_binds_names_and_times_in_the_documented_order() -> None:
    sf = RecordingSnowflake()
    history = SnowflakeHistory(sf)  # type: ignore[arg-type]
    history.copy_history("SYNC.STAGING.ORDERS", SINCE)
    history.task_runs("SYNC", "STAGING", {"ORDERS_MERGE"}, SINCE, UNTIL)
    history.merge_audits('"SYNC"."STAGING"."MERGE_AUDIT"', SINCE)
    history.pipe_credits("SYNC", "STAGING", SINCE, UNTIL)
    history.merge_credits("aurora-snowflake-sync:merge:SYNC:", SINCE, UNTIL)
    assert [params for _, params in sf.calls] == [
        ("SYNC.STAGING.ORDERS", "2026-11-21T08:00:00.000000Z"),
        ("2026-11-21T08:00:00.000000Z", "2026-11-22T08:00:00.000000Z", "SYNC", "STAGING"),
        ("2026-11-21T08:00:00.000000Z",),
        ("2026-11-21T08:00:00.000000Z", "2026-11-22T08:00:00.000000Z", "SYNC", "STAGING"),
        ("2026-11-21T08:00:00.000000Z", "2026-11-22T08:00:00.000000Z", "aurora-snowflake-sync:merge:SYNC:"),
    ]
    # GIVEN the audit table's quoted three-part name WHEN the audit query is built THEN it is named
    assert 'FROM "SYNC"."STAGING"."MERGE_AUDIT" WHERE' in sf.calls[2][0]


@pytest.mark.parametrize(
    "audit_table", ['"STAGING"."MERGE_AUDIT"', "SYNC.STAGING.MERGE_AUDIT", '"A"."B"."C" x']
)
def test_audit_table_must_be_a_quoted_three_part_name(audit_table: str) -> None:
    with pytest.raises(ValueError, match="audit_table"):
        SnowflakeHistory(RecordingSnowflake()).merge_audits(audit_table, datetime.now(UTC))  # type: ignore[arg-type]


def run_row(
    name: str, at: datetime, query_id: str | None, page: tuple[int, datetime], db: str = "SYNC"
) -> tuple[Any, ...]:
    return (name, "SUCCEEDED", at, at, at, None, None, query_id, db, "STAGING", *page)


def test_merge_audits_of_every_table_come_from_one_statement() -> None:
    at = datetime(2026, 11, 22, 7, tzinfo=UTC)
    sf = RecordingSnowflake(
        [
            ("public.orders", "q1", 1, 0, 0, 0, at),
            ("public.customers", "q2", 2, 0, 0, 0, at),
            ("public.orders", "q3", 0, 1, 1, 0, at),
        ]
    )
    audits = SnowflakeHistory(sf).merge_audits('"SYNC"."STAGING"."MERGE_AUDIT"', SINCE)  # type: ignore[arg-type]
    assert {t: [a.query_id for a in rows] for t, rows in audits.items()} == {
        "public.orders": ["q1", "q3"],
        "public.customers": ["q2"],
    }
    assert len(sf.calls) == 1


def test_credits_of_every_pipe_and_merge_task_come_keyed_by_pipe_name_and_query_tag() -> None:
    # GIVEN the views' aggregates as Snowflake returns them (NUMBER sums may come back as Decimal)
    tag = "aurora-snowflake-sync:merge:SYNC:public.orders"
    sf = RecordingSnowflake(
        [("ORDERS_PIPE", Decimal("0.0125"), Decimal("3400000000")), ("CUSTOMERS_PIPE", None, None)],
        [(tag, 1.5, 40)],
    )
    history = SnowflakeHistory(sf)  # type: ignore[arg-type]
    # WHEN read THEN each pipe's and each tag's figures, a NULL sum as nothing spent
    assert history.pipe_credits("SYNC", "STAGING", SINCE, UNTIL) == {
        "ORDERS_PIPE": PipeCredits(0.0125, 3_400_000_000),
        "CUSTOMERS_PIPE": PipeCredits(0.0, 0),
    }
    assert history.merge_credits("aurora-snowflake-sync:merge:SYNC:", SINCE, UNTIL) == {
        tag: MergeCredits(1.5, 40)
    }


def test_task_runs_of_every_task_come_from_one_statement_when_the_page_is_not_full() -> None:
    # GIVEN one page of 4 rows (limit 10000): ours, another database's, one not started, a stranger task
    t = [SINCE + timedelta(hours=h) for h in range(4)]
    page = (4, t[0])
    sf = RecordingSnowflake(
        [
            run_row("OTHER_MERGE", t[0], "q0", page, db="ELSEWHERE"),
            run_row("ORDERS_MERGE", t[1], "q1", page),
            run_row("CUSTOMERS_MERGE", t[2], "q2", page),
            run_row("ORDERS_MERGE", t[3], None, page),
        ]
    )
    # WHEN the runs of two tasks are read
    runs = SnowflakeHistory(sf).task_runs(
        "SYNC", "STAGING", {"ORDERS_MERGE", "CUSTOMERS_MERGE"}, SINCE, UNTIL
    )  # type: ignore[arg-type]
    # THEN one statement; only started runs of this database's tasks; complete from `since`
    assert {k: [r.query_id for r in v] for k, v in runs.by_task.items()} == {
        "ORDERS_MERGE": ["q1"],
        "CUSTOMERS_MERGE": ["q2"],
    }
    assert (runs.pages, runs.since) == (1, SINCE)


def test_a_full_page_is_followed_by_the_page_that_ends_at_its_oldest_run() -> None:
    # GIVEN RESULT_LIMIT 2: the newest page (2 rows, oldest at t2) then the rest (1 row at t1, and t2 again)
    queries = replace(PRODUCTION_QUERIES, task_history_limit=2)
    t1, t2, t3 = (SINCE + timedelta(hours=h) for h in (1, 2, 3))
    sf = RecordingSnowflake(
        [run_row("ORDERS_MERGE", t2, "q2", (2, t2)), run_row("ORDERS_MERGE", t3, "q3", (2, t2))],
        [run_row("ORDERS_MERGE", t1, "q1", (2, t1)), run_row("ORDERS_MERGE", t2, "q2", (2, t1))],
        [],
    )
    runs = SnowflakeHistory(sf, queries).task_runs("SYNC", "STAGING", {"ORDERS_MERGE"}, SINCE, UNTIL)  # type: ignore[arg-type]
    # THEN the second page ends just after the first one's oldest run, the third after the second's;
    # every run once, in order, complete from `since`
    ends = [params[1] for _, params in sf.calls if params]
    assert ends == [iso(UNTIL), iso(t2 + timedelta(microseconds=1)), iso(t1 + timedelta(microseconds=1))]
    assert [r.query_id for r in runs.by_task["ORDERS_MERGE"]] == ["q1", "q2", "q3"]
    assert (runs.pages, runs.since) == (3, SINCE)


def test_a_history_longer_than_its_pages_starts_where_they_end(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN pages that stay full, and at most 2 pages
    monkeypatch.setattr("aurora_sync.adapters.snowflake_history.MAX_TASK_HISTORY_PAGES", 2)
    queries = replace(PRODUCTION_QUERIES, task_history_limit=1)
    t1, t2 = (SINCE + timedelta(hours=h) for h in (5, 6))
    sf = RecordingSnowflake(
        [run_row("ORDERS_MERGE", t2, "q2", (1, t2))], [run_row("ORDERS_MERGE", t1, "q1", (1, t1))]
    )
    runs = SnowflakeHistory(sf, queries).task_runs("SYNC", "STAGING", {"ORDERS_MERGE"}, SINCE, UNTIL)  # type: ignore[arg-type]
    # THEN the runs are said complete only from the last page's oldest run: older loads go unjudged
    assert (runs.pages, runs.since) == (2, t1)
    # AND, however many pages are allowed, a page whose oldest run does not move back stops the paging
    monkeypatch.setattr("aurora_sync.adapters.snowflake_history.MAX_TASK_HISTORY_PAGES", 20)
    sf = RecordingSnowflake(
        [run_row("ORDERS_MERGE", t2, "q2", (1, t2))], [run_row("ORDERS_MERGE", t2, "q3", (1, t2))]
    )
    runs = SnowflakeHistory(sf, queries).task_runs("SYNC", "STAGING", {"ORDERS_MERGE"}, SINCE, UNTIL)  # type: ignore[arg-type]
    assert (runs.pages, runs.since) == (2, t2)


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
