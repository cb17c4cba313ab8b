"""Load and merge history for the reconciler: COPY_HISTORY, TASK_HISTORY, SYSTEM$PIPE_STATUS, the
MERGE audit rows the task writes, and each table's credits of a day.

The production SQL uses the INFORMATION_SCHEMA table functions (real time, unlike the ACCOUNT_USAGE
views, which lag by up to two hours), except for credits: those come from two ACCOUNT_USAGE views,
read for a day old enough that their latency has passed (reconciler/cost.py, docs/decisions.md).
fakesnow has none of them, so the local stack passes its own
`HistoryQueries` (tests/support/local_history.py) returning the same columns in the same order:
the seam is the SQL text alone; parsing and every check run unchanged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aurora_sync.adapters.snowflake import Snowflake
from aurora_sync.errors import TerminalError
from aurora_sync.timeutil import as_utc, iso

QUOTED_THREE_PART = re.compile(r'"[A-Z_][A-Z0-9_$]*"(\."[A-Z_][A-Z0-9_$]*"){2}')

# How far back the INFORMATION_SCHEMA functions answer; a range starting earlier is an error, not
# fewer rows (TASK_HISTORY: "within the last 7 days"; COPY_HISTORY: "within the last 14 days").
TASK_HISTORY_REACH = timedelta(days=7)
COPY_HISTORY_REACH = timedelta(days=14)
# Snowflake measures the reach at query time, a moment after our clock read `now`, and its clock is
# not ours: start this much inside it.
REACH_MARGIN = timedelta(minutes=10)
# TASK_HISTORY states that mean the MERGE did not commit. A run that fails the
# SUSPEND_TASK_AFTER_NUM_FAILURES-th time in a row is FAILED_AND_AUTO_SUSPENDED, not FAILED
# (release notes: 2023_01 bundle for the ACCOUNT_USAGE view, 2023_03 for this function).
FAILED_STATES = frozenset({"FAILED", "FAILED_AND_AUTO_SUSPENDED"})


def within_reach(since: datetime, now: datetime, reach: timedelta) -> datetime:
    """The latest of `since` and the oldest start the history function accepts at `now`."""
    return max(since, now - reach + REACH_MARGIN)


# TASK_HISTORY returns at most this many rows, the newest (Snowflake's maximum RESULT_LIMIT); the
# reader pages back while a page comes back full, so the SQL and the paging share this one number.
TASK_HISTORY_RESULT_LIMIT = 10000


@dataclass(frozen=True)
class HistoryQueries:
    """SQL with positional binds: copy (DATABASE.SCHEMA.TABLE, start), task (start, end, database,
    schema), pipe (the quoted "DATABASE"."SCHEMA"."PIPE"), audit (start). Column order is part of the
    contract (see the parse_* functions). `{audit_table}` in the audit query is replaced by the
    validated, quoted, database-qualified MERGE_AUDIT name (an identifier cannot be bound).

    One statement per table where Snowflake needs one (COPY_HISTORY's TABLE_NAME is a required
    argument; SYSTEM$PIPE_STATUS takes one pipe), one per run for every table where one can serve
    all: TASK_HISTORY without TASK_NAME returns the runs of every task the role may see, filtered
    here on the bound DATABASE_NAME and SCHEMA_NAME (the role needs USAGE on both, or Snowflake
    reports them as NULL) and, in Python, on the tasks being checked; MERGE_AUDIT holds every
    table's merges. TASK_HISTORY returns at most RESULT_LIMIT (`task_history_limit`) rows, the most
    recent when more match ("RESULT_LIMIT", TASK_HISTORY reference), so each page also returns how
    many rows the function gave and the oldest one's SCHEDULED_TIME (computed over its output before
    the filter, and that oldest row is always returned): a full page is followed by the page that
    ends there (SnowflakeHistory.task_runs). The INFORMATION_SCHEMA the functions are called through
    is the session's, whose current database is SNOWFLAKE_DATABASE (the connection's `database`).

    Credits, one statement each for every table of a day [start, end): pipe_credits (start, end,
    database, schema) -> PIPE_NAME, CREDITS, BYTES per pipe of that schema; merge_credits (start, end,
    tag prefix) -> QUERY_TAG, CREDITS, QUERIES per MERGE task tag of that database."""

    copy_history: str
    task_history: str
    pipe_status: str
    merge_audit: str
    pipe_credits: str
    merge_credits: str
    task_history_limit: int = TASK_HISTORY_RESULT_LIMIT


PRODUCTION_QUERIES = HistoryQueries(
    copy_history=(
        "SELECT FILE_NAME, STAGE_LOCATION, LAST_LOAD_TIME, ROW_COUNT, ROW_PARSED, ERROR_COUNT,"
        " FIRST_ERROR_MESSAGE, STATUS"
        " FROM TABLE(INFORMATION_SCHEMA.COPY_HISTORY("
        "TABLE_NAME => %s, START_TIME => %s::TIMESTAMP_LTZ))"
        " ORDER BY LAST_LOAD_TIME"
    ),
    task_history=(
        "SELECT NAME, STATE, SCHEDULED_TIME, QUERY_START_TIME, COMPLETED_TIME, ERROR_CODE, ERROR_MESSAGE,"
        " QUERY_ID, DATABASE_NAME, SCHEMA_NAME, PAGE_ROWS, PAGE_START"
        " FROM (SELECT *, COUNT(*) OVER () AS PAGE_ROWS, MIN(SCHEDULED_TIME) OVER () AS PAGE_START,"
        " ROW_NUMBER() OVER (ORDER BY SCHEDULED_TIME) AS PAGE_ROW"
        " FROM TABLE(INFORMATION_SCHEMA.TASK_HISTORY("
        "SCHEDULED_TIME_RANGE_START => %s::TIMESTAMP_LTZ, SCHEDULED_TIME_RANGE_END => %s::TIMESTAMP_LTZ,"
        f" RESULT_LIMIT => {TASK_HISTORY_RESULT_LIMIT})))"
        " WHERE (DATABASE_NAME = %s AND SCHEMA_NAME = %s AND QUERY_ID IS NOT NULL) OR PAGE_ROW = 1"
        " ORDER BY SCHEDULED_TIME"
    ),
    pipe_status="SELECT SYSTEM$PIPE_STATUS(%s)",
    merge_audit=(
        "SELECT TABLE_NAME, QUERY_ID, ROWS_INSERTED, ROWS_UPDATED, ROWS_DELETED, ROWS_MARKED, MERGED_AT"
        " FROM {audit_table}"
        " WHERE MERGED_AT >= %s::TIMESTAMP_LTZ ORDER BY MERGED_AT"
    ),
    # Snowpipe's credits per pipe (the view's PIPE_NAME is the pipe's name alone: PIPES, joined on
    # PIPE_ID, tells which database and schema; a pipe replaced with its stage keeps its name, not
    # its id, and PIPES keeps dropped pipes). Latency: up to 3 hours. Needs USAGE_VIEWER (the usage
    # view) and OBJECT_VIEWER (PIPES), database roles of SNOWFLAKE.
    pipe_credits=(
        "SELECT p.PIPE_NAME, SUM(h.CREDITS_USED) AS CREDITS, SUM(h.BYTES_INSERTED) AS BYTES"
        " FROM SNOWFLAKE.ACCOUNT_USAGE.PIPE_USAGE_HISTORY h"
        " JOIN SNOWFLAKE.ACCOUNT_USAGE.PIPES p ON p.PIPE_ID = h.PIPE_ID"
        " WHERE h.START_TIME >= %s::TIMESTAMP_LTZ AND h.START_TIME < %s::TIMESTAMP_LTZ"
        " AND p.PIPE_CATALOG = %s AND p.PIPE_SCHEMA = %s"
        " GROUP BY p.PIPE_NAME ORDER BY p.PIPE_NAME"
    ),
    # The warehouse credits Snowflake attributes to each query (execution only: no idle time, no
    # cloud services; queries of ~100 ms or less are not attributed), summed per MERGE task tag: the
    # task's EXECUTE IMMEDIATE block and each of its statements carry the tag, each with its own
    # share. Latency: up to 6 hours (8 in earlier versions of the page). Needs USAGE_VIEWER.
    merge_credits=(
        "SELECT QUERY_TAG, SUM(CREDITS_ATTRIBUTED_COMPUTE + COALESCE(CREDITS_USED_QUERY_ACCELERATION, 0))"
        " AS CREDITS, COUNT(*) AS QUERIES"
        " FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_ATTRIBUTION_HISTORY"
        " WHERE START_TIME >= %s::TIMESTAMP_LTZ AND START_TIME < %s::TIMESTAMP_LTZ"
        " AND STARTSWITH(QUERY_TAG, %s)"
        " GROUP BY QUERY_TAG ORDER BY QUERY_TAG"
    ),
)
# Pages of TASK_HISTORY one run reads at most (10,000 runs each); past them, older loads go unjudged.
MAX_TASK_HISTORY_PAGES = 20


@dataclass(frozen=True)
class CopyRecord:
    file_name: str
    stage_location: str
    last_load_time: datetime | None
    row_count: int
    row_parsed: int | None
    error_count: int
    first_error_message: str | None
    status: str  # lower-case with spaces: "loaded", "load failed", "partially loaded", "load in progress"

    @property
    def url(self) -> str:
        """Full s3:// URL of the file (FILE_NAME is relative to the stage location)."""
        if self.file_name.startswith("s3://"):
            return self.file_name
        return self.stage_location.rstrip("/") + "/" + self.file_name.lstrip("/")


@dataclass(frozen=True)
class TaskRun:
    name: str
    # upper-case: SUCCEEDED, FAILED, FAILED_AND_AUTO_SUSPENDED, CANCELLED, SKIPPED, EXECUTING, SCHEDULED
    state: str
    scheduled_time: datetime | None
    # When the task's statement started: its transaction, and so the stream it reads, begins after
    # this; rows loaded later are left for the next run, whenever this one completes.
    query_start_time: datetime | None
    completed_time: datetime | None
    error_code: str | None
    error_message: str | None
    query_id: str | None


@dataclass(frozen=True)
class PipeStatus:
    execution_state: str
    pending_file_count: int
    oldest_file_timestamp: datetime | None
    raw: dict[str, Any]


@dataclass(frozen=True)
class MergeAudit:
    """One MERGE_AUDIT row. inserted + updated are data rows merged; deleted (hard) and marked
    (soft) are what the MERGE's tombstones did, never counted as data rows. Rows written before the
    two columns existed read 0."""

    query_id: str
    rows_inserted: int
    rows_updated: int
    merged_at: datetime
    rows_deleted: int = 0
    rows_marked: int = 0


@dataclass(frozen=True)
class PipeCredits:
    """One pipe's Snowpipe credits and bytes loaded over the range asked for."""

    credits: float
    bytes_inserted: int


@dataclass(frozen=True)
class MergeCredits:
    """The credits attributed to one MERGE task's queries (its tag) over the range asked for."""

    credits: float
    queries: int


@dataclass(frozen=True)
class TaskRuns:
    """The runs of the tasks asked for, by task name, complete from `since` on (a history too large
    for MAX_TASK_HISTORY_PAGES pages starts later than asked), in `pages` statements."""

    by_task: dict[str, list[TaskRun]]
    since: datetime
    pages: int


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    return as_utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def _int(value: Any) -> int:
    return 0 if value is None else int(value)


def normalize_status(value: Any) -> str:
    """COPY_HISTORY says "Loaded" / "Load failed"; other sources say LOADED / LOAD_FAILED."""
    return " ".join(str(value or "").replace("_", " ").lower().split())


def parse_copy_row(row: tuple[Any, ...]) -> CopyRecord:
    file_name, stage, loaded_at, rows, parsed, errors, first_error, status = row
    return CopyRecord(
        file_name=str(file_name),
        stage_location=str(stage or ""),
        last_load_time=_time(loaded_at),
        row_count=_int(rows),
        row_parsed=None if parsed is None else int(parsed),
        error_count=_int(errors),
        first_error_message=None if first_error is None else str(first_error),
        status=normalize_status(status),
    )


def parse_task_row(row: tuple[Any, ...]) -> TaskRun:
    name, state, scheduled, started, completed, code, message, query_id = row
    return TaskRun(
        name=str(name),
        state=str(state or "").upper(),
        scheduled_time=_time(scheduled),
        query_start_time=_time(started),
        completed_time=_time(completed),
        error_code=None if code is None else str(code),
        error_message=None if message is None else str(message),
        query_id=None if query_id is None else str(query_id),
    )


def parse_pipe_status(value: Any) -> PipeStatus:
    try:
        raw = json.loads(value) if isinstance(value, str) else dict(value)
    except (TypeError, ValueError) as exc:
        raise TerminalError(
            f"SYSTEM$PIPE_STATUS returned something that is not JSON: {value!r:.200}"
        ) from exc
    return PipeStatus(
        execution_state=str(raw.get("executionState", "")).upper(),
        pending_file_count=_int(raw.get("pendingFileCount")),
        oldest_file_timestamp=_time(raw.get("oldestFileTimestamp")),
        raw=raw,
    )


def parse_audit_row(row: tuple[Any, ...]) -> tuple[str, MergeAudit]:
    """(TABLE_NAME, the audit row)."""
    table, query_id, inserted, updated, deleted, marked, merged_at = row
    merged = _time(merged_at)
    if merged is None:
        raise TerminalError(f"MERGE_AUDIT row {query_id} has no MERGED_AT")
    return str(table), MergeAudit(
        str(query_id),
        _int(inserted),
        _int(updated),
        merged,
        rows_deleted=_int(deleted),
        rows_marked=_int(marked),
    )


class SnowflakeHistory:
    def __init__(self, snowflake: Snowflake, queries: HistoryQueries = PRODUCTION_QUERIES) -> None:
        self._sf = snowflake
        self._q = queries

    def copy_history(self, staging_table: str, since: datetime) -> list[CopyRecord]:
        rows = self._sf.query(
            self._q.copy_history, f"COPY_HISTORY of {staging_table}", (staging_table, iso(since))
        )
        return [parse_copy_row(r) for r in rows]

    def task_runs(
        self, database: str, schema: str, tasks: set[str], since: datetime, until: datetime
    ) -> TaskRuns:
        """Every run of `tasks` in database.schema scheduled in since..until, one statement for all
        tasks (a page: RESULT_LIMIT rows of the whole account at most), paging back while pages
        come back full. `since` must be within TASK_HISTORY_REACH of now (see within_reach):
        Snowflake fails the whole query otherwise."""
        runs: dict[str, TaskRun] = {}
        end, complete_since, pages, previous = until, since, 0, None
        while True:
            pages += 1
            rows = self._sf.query(
                self._q.task_history,
                f"TASK_HISTORY of {database}.{schema} ({len(tasks)} tasks, page {pages})",
                (iso(since), iso(end), database, schema),
            )
            for row in rows:
                run = parse_task_row(row[:8])
                if (row[8], row[9]) == (database, schema) and run.query_id and run.name in tasks:
                    runs[run.query_id] = run
            page_rows, oldest = _page(rows)
            if page_rows < self._q.task_history_limit or oldest is None:
                complete_since = since
                break
            # A full page holds the newest runs: all of those after its oldest, maybe not every one
            # at that instant, so the next page ends just after it.
            complete_since = max(since, oldest)
            stuck = previous is not None and oldest >= previous
            if oldest <= since or stuck or pages == MAX_TASK_HISTORY_PAGES:
                break
            previous, end = oldest, oldest + timedelta(microseconds=1)
        by_task: dict[str, list[TaskRun]] = {task: [] for task in tasks}
        for run in sorted(runs.values(), key=lambda r: (r.scheduled_time or since, r.query_id or "")):
            by_task[run.name].append(run)
        return TaskRuns(by_task, complete_since, pages)

    def pipe_status(self, pipe: str) -> PipeStatus:
        rows = self._sf.query(self._q.pipe_status, f"SYSTEM$PIPE_STATUS({pipe})", (pipe,))
        if not rows:
            raise TerminalError(f"SYSTEM$PIPE_STATUS({pipe}) returned no row")
        return parse_pipe_status(rows[0][0])

    def merge_audits(self, audit_table: str, since: datetime) -> dict[str, list[MergeAudit]]:
        """Every table's MERGE_AUDIT rows since `since`, by TABLE_NAME (schema.table), oldest first.
        `audit_table` is SnowflakeTable.audit_table: validated and quoted, never user text."""
        if not QUOTED_THREE_PART.fullmatch(audit_table):
            raise ValueError(f'audit_table {audit_table!r} must be a quoted "DATABASE"."SCHEMA"."TABLE"')
        sql = self._q.merge_audit.format(audit_table=audit_table)
        audits: dict[str, list[MergeAudit]] = {}
        for row in self._sf.query(sql, "MERGE_AUDIT of every table", (iso(since),)):
            table, audit = parse_audit_row(row)
            audits.setdefault(table, []).append(audit)
        return audits

    def pipe_credits(
        self, database: str, schema: str, start: datetime, end: datetime
    ) -> dict[str, PipeCredits]:
        """Snowpipe credits of every pipe in database.schema (upper-case, unquoted) over [start, end),
        by pipe name; a pipe that loaded nothing is absent."""
        rows = self._sf.query(
            self._q.pipe_credits,
            f"PIPE_USAGE_HISTORY of every pipe in {database}.{schema}",
            (iso(start), iso(end), database, schema),
        )
        return dict(parse_pipe_credits_row(r) for r in rows)

    def merge_credits(self, tag_prefix: str, start: datetime, end: datetime) -> dict[str, MergeCredits]:
        """Credits attributed to the queries whose QUERY_TAG starts with `tag_prefix` over [start,
        end), by tag; a task that ran no query is absent."""
        rows = self._sf.query(
            self._q.merge_credits,
            "QUERY_ATTRIBUTION_HISTORY of every MERGE task",
            (iso(start), iso(end), tag_prefix),
        )
        return dict(parse_merge_credits_row(r) for r in rows)


def _float(value: Any) -> float:
    return 0.0 if value is None else float(value)


def parse_pipe_credits_row(row: tuple[Any, ...]) -> tuple[str, PipeCredits]:
    """(PIPE_NAME, its credits)."""
    pipe, credits, inserted = row
    return str(pipe), PipeCredits(_float(credits), _int(inserted))


def parse_merge_credits_row(row: tuple[Any, ...]) -> tuple[str, MergeCredits]:
    """(QUERY_TAG, its credits)."""
    tag, credits, queries = row
    return str(tag), MergeCredits(_float(credits), _int(queries))


def _page(rows: list[tuple[Any, ...]]) -> tuple[int, datetime | None]:
    """(rows the history function returned, the oldest one's SCHEDULED_TIME) of one page; a page
    without rows returns none (the local stand-in: one row of NULLs)."""
    for row in rows:
        if row[10] is not None:
            return _int(row[10]), _time(row[11])
    return 0, None
