"""Load and merge history for the reconciler: COPY_HISTORY, TASK_HISTORY, SYSTEM$PIPE_STATUS and
the MERGE audit rows the task writes.

The production SQL uses the INFORMATION_SCHEMA table functions (real time, unlike the ACCOUNT_USAGE
views, which lag by up to two hours). fakesnow has none of them, so the local stack passes its own
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


@dataclass(frozen=True)
class HistoryQueries:
    """SQL with positional binds: copy (DATABASE.SCHEMA.TABLE, start), task (task, start, database,
    schema), pipe (the quoted "DATABASE"."SCHEMA"."PIPE"), audit (table, start). Column order is
    part of the contract (see the parse_* functions). `{audit_table}` in the audit query is replaced
    by the validated, quoted, database-qualified MERGE_AUDIT name (an identifier cannot be bound).

    Every object is named with its database, so no result depends on the session's current
    database: COPY_HISTORY gets a three-part TABLE_NAME; TASK_HISTORY takes only an unqualified
    TASK_NAME and reports every database's tasks of that name, so its rows are filtered on the
    bound DATABASE_NAME and SCHEMA_NAME (the role needs USAGE on both, or Snowflake reports them as
    NULL). The INFORMATION_SCHEMA the functions are called through is the session's, whose current
    database is SNOWFLAKE_DATABASE too (the connection's `database`)."""

    copy_history: str
    task_history: str
    pipe_status: str
    merge_audit: str


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
        " QUERY_ID"
        " FROM TABLE(INFORMATION_SCHEMA.TASK_HISTORY("
        "TASK_NAME => %s, SCHEDULED_TIME_RANGE_START => %s::TIMESTAMP_LTZ, RESULT_LIMIT => 10000))"
        " WHERE DATABASE_NAME = %s AND SCHEMA_NAME = %s AND QUERY_ID IS NOT NULL"
        " ORDER BY SCHEDULED_TIME"
    ),
    pipe_status="SELECT SYSTEM$PIPE_STATUS(%s)",
    merge_audit=(
        "SELECT QUERY_ID, ROWS_INSERTED, ROWS_UPDATED, MERGED_AT FROM {audit_table}"
        " WHERE TABLE_NAME = %s AND MERGED_AT >= %s::TIMESTAMP_LTZ ORDER BY MERGED_AT"
    ),
)


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
    query_id: str
    rows_inserted: int
    rows_updated: int
    merged_at: datetime


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


def parse_audit_row(row: tuple[Any, ...]) -> MergeAudit:
    query_id, inserted, updated, merged_at = row
    merged = _time(merged_at)
    if merged is None:
        raise TerminalError(f"MERGE_AUDIT row {query_id} has no MERGED_AT")
    return MergeAudit(str(query_id), _int(inserted), _int(updated), merged)


class SnowflakeHistory:
    def __init__(self, snowflake: Snowflake, queries: HistoryQueries = PRODUCTION_QUERIES) -> None:
        self._sf = snowflake
        self._q = queries

    def copy_history(self, staging_table: str, since: datetime) -> list[CopyRecord]:
        rows = self._sf.query(
            self._q.copy_history, f"COPY_HISTORY of {staging_table}", (staging_table, iso(since))
        )
        return [parse_copy_row(r) for r in rows]

    def task_history(self, database: str, schema: str, task: str, since: datetime) -> list[TaskRun]:
        """`since` must be within TASK_HISTORY_REACH of now (see within_reach): Snowflake fails
        the whole query otherwise."""
        rows = self._sf.query(
            self._q.task_history,
            f"TASK_HISTORY of {database}.{schema}.{task}",
            (task, iso(since), database, schema),
        )
        return [parse_task_row(r) for r in rows]

    def pipe_status(self, pipe: str) -> PipeStatus:
        rows = self._sf.query(self._q.pipe_status, f"SYSTEM$PIPE_STATUS({pipe})", (pipe,))
        if not rows:
            raise TerminalError(f"SYSTEM$PIPE_STATUS({pipe}) returned no row")
        return parse_pipe_status(rows[0][0])

    def merge_audit(self, audit_table: str, table: str, since: datetime) -> list[MergeAudit]:
        """`audit_table` is SnowflakeTable.audit_table: validated and quoted, never user text."""
        if not QUOTED_THREE_PART.fullmatch(audit_table):
            raise ValueError(f'audit_table {audit_table!r} must be a quoted "DATABASE"."SCHEMA"."TABLE"')
        sql = self._q.merge_audit.format(audit_table=audit_table)
        rows = self._sf.query(sql, f"MERGE_AUDIT of {table}", (table, iso(since)))
        return [parse_audit_row(r) for r in rows]
