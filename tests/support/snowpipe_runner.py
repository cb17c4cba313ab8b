"""Local stand-in for Snowpipe + the merge task, since fakesnow has no pipes, streams or tasks.

What it stands in for, exactly:
- Snowpipe: lists new `.csv` objects under each table's prefix (never `_manifests/` or
  `_incoming/`), loads each file at most once into STAGING with the load metadata the pipe adds
  (file name, row number, load time). It parses the CSV in Python (PostgreSQL quoting, NULL =
  unquoted empty field) and inserts with bound values, because fakesnow 0.12 cannot run the pipe's
  COPY: no `$n`/`METADATA$` columns, no S3 stage with duckdb 2.0 offline, and a quoted "" loads as
  NULL there (Snowflake keeps ''). Each field is then checked the way the pipe's COPY reads it
  (tests/support/snowflake_load.py): dates, times and timestamps with the file format's pinned
  DATE/TIME/TIMESTAMP_FORMAT translated to Python, NUMBER digits, FLOAT special values, JSON
  without duplicate keys. A file whose column count differs from the table's, that does not
  parse, or with one field Snowflake would refuse, fails the way Snowpipe's default
  ON_ERROR = SKIP_FILE does: nothing loaded, status "Load failed" with the first error.
- COPY_HISTORY / SYSTEM$PIPE_STATUS: rows in LOCAL_HISTORY tables shaped like Snowflake's
  (tests/support/local_history.py), which the reconciler reads. A paused pipe loads nothing and
  reports its pending files, as `ALTER PIPE ... SET PIPE_EXECUTION_PAUSED = TRUE` does.
- The stream: a plain table with the stream's name that receives the same rows (copied from STAGING
  after each load, as the append-only stream captures them), emptied after the MERGE, as consuming
  a stream does.
- The task: runs the MERGE rendered from the same template production uses (source = the
  stream's name), writes the MERGE_AUDIT row the production task body writes (here from the
  MERGE's own result row, with bound values, since fakesnow has no RESULT_SCAN nor Snowflake
  Scripting; a soft-mode table's mark count runs first, rendered from mark_count.sql without its
  `INTO :marked_rows`), runs the task's
  retention DELETE as rendered (staged rows older than the retention), and records
  a TASK_HISTORY row (SUCCEEDED, or FAILED with the error). Unlike the task's transaction, these
  statements autocommit one by one here.
- What the loads and merges cost, as Snowflake's ACCOUNT_USAGE records it (the reconciler's `cost`
  check): per file loaded, a PIPE_USAGE_HISTORY row of the file's bytes at Snowpipe's per-GB price
  (text files are billed at their uncompressed size; a failed file records nothing); per task run,
  succeeded or failed, a QUERY_ATTRIBUTION_HISTORY row with the task's QUERY_TAG (rendered from
  task.sql, as Terraform sets it) priced as Snowflake attributes a query that has the warehouse to
  itself: its execution time at the warehouse size's credits per hour.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aurora_sync.identifiers import quote_sf
from aurora_sync.snowflake_sql import JSON_TYPES, SnowflakeTable, render
from aurora_sync.tables import TableConfig
from tests.support.local_history import DDL, SCHEMA
from tests.support.pipeline import parse_pg_csv
from tests.support.snowflake_load import Rejected, converter

BATCH_ROWS = 200
# Snowpipe bills a fixed amount of credits per GB loaded ("Snowpipe costs"; the amount is the Service
# Consumption Table's, 0.0037 when this was written). GB: 10^9 bytes here.
SNOWPIPE_CREDITS_PER_GB = 0.0037
# A running warehouse's credits per hour by size ("Overview of warehouses"): X-Small 1, doubling.
WAREHOUSE_CREDITS_PER_HOUR = {
    size: 2.0**i
    for i, size in enumerate(
        ("X-Small", "Small", "Medium", "Large", "X-Large", "2X-Large", "3X-Large", "4X-Large", "5X-Large",
         "6X-Large")
    )
}  # fmt: skip


@dataclass(frozen=True)
class TaskOutcome:
    state: str
    error_message: str | None
    rows_inserted: int
    rows_updated: int
    rows_deleted: int = 0
    rows_marked: int = 0


@dataclass(frozen=True)
class LoadRecord:
    """One row of the stand-in's COPY_HISTORY, with the file named by its key in the bucket."""

    key: str
    status: str  # "Loaded" or "Load failed", as COPY_HISTORY spells them
    rows: int
    first_error: str | None


class LoadFailed(Exception):
    """The file cannot be loaded; the message is what COPY_HISTORY's FIRST_ERROR_MESSAGE shows."""


@dataclass
class LocalLoadRunner:
    connect: Callable[[], Any]  # a snowflake connection to the pipeline's database
    s3: Any
    bucket: str
    tables: list[TableConfig]
    database: str  # SNOWFLAKE_DATABASE: every object is named with it, as in production
    warehouse: str = "SYNC_WH"  # the task's warehouse and its size, for QUERY_ATTRIBUTION_HISTORY
    warehouse_size: str = "X-Small"
    # The connection `session()` holds open, which `_cursor()` then reuses (None: one per statement).
    _held: Any = field(default=None, init=False, repr=False, compare=False)

    def objects(self, table: TableConfig) -> SnowflakeTable:
        return SnowflakeTable(table, self.database)

    # -- setup -------------------------------------------------------------------------------------
    def create_objects(self) -> None:
        """STAGING, FINAL, MERGE_AUDIT and the stream stand-in from the production templates, the
        history tables, and every pipe RUNNING."""
        with self.session(), self._cursor() as cur:
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_sf(self.database, 'STAGING')}")
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_sf(self.database, 'FINAL')}")
            for statement in DDL:
                cur.execute(statement)
            for table in self.tables:
                sf = self.objects(table)
                values = sf.values(source=sf.stream)
                cur.execute(render("staging_table", values))
                cur.execute(render("final_table", values))
                cur.execute(render("merge_audit_table", values))
                cur.execute(render("staging_table", {**values, "staging": sf.stream}))
            for table in self.tables:
                self.set_pipe_state(table, "RUNNING")
                self._write_task_state(table, "started")

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Run every statement inside on one connection (each still autocommits, as before).

        Why: each connection is a login to fakesnow, which on the server looks the database up in
        information_schema three times, a cost that grows with every database the session has
        attached (one per Pipeline); a cycle() ran about a dozen logins per table. Re-entrant: an
        inner session() uses the outer one's connection."""
        if self._held is not None:
            yield
            return
        conn = self.connect()
        self._held = conn
        try:
            yield
        finally:
            self._held = None
            conn.close()

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[Any]:
        if self._held is not None:
            yield self._held.cursor()
            return
        conn = self.connect()
        try:
            yield conn.cursor()
        finally:
            conn.close()

    # -- the pipe ----------------------------------------------------------------------------------
    def cycle(self) -> dict[str, TaskOutcome]:
        """One pass: load every new file, then merge each table that received rows (unless its task
        is suspended: `ALTER TASK ... SUSPEND`, the rows wait in the stream). Returns the MERGE
        outcome of each table merged; what each file's load did is in copy_history()."""
        merged: dict[str, TaskOutcome] = {}
        with self.session():
            for table in self.tables:
                if self.load_new_files(table) and self.task_state(table) == "started":
                    merged[table.table_name] = self.merge(table)
        return merged

    def task_state(self, table: TableConfig) -> str:
        with self._cursor() as cur:
            cur.execute(
                f'SELECT "STATE" FROM {SCHEMA}."TASK_STATE" WHERE "TASK" = %s', (self.objects(table).task,)
            )
            row = cur.fetchone()
        return str(row[0]) if row else "started"

    def _write_task_state(self, table: TableConfig, state: str) -> None:
        sf = self.objects(table)
        with self._cursor() as cur:
            cur.execute(f'DELETE FROM {SCHEMA}."TASK_STATE" WHERE "TASK" = %s', (sf.task,))
            cur.execute(
                f'INSERT INTO {SCHEMA}."TASK_STATE" VALUES (%s, %s, %s)', (sf.task, sf.task_name, state)
            )

    def set_pipe_state(self, table: TableConfig, state: str) -> None:
        """RUNNING or PAUSED (ALTER PIPE ... SET PIPE_EXECUTION_PAUSED); pending files are reported."""
        self._write_pipe_status(table, state, pending=[])

    def pipe_state(self, table: TableConfig) -> str:
        with self._cursor() as cur:
            cur.execute(
                f'SELECT "STATUS_JSON" FROM {SCHEMA}."PIPE_STATUS" WHERE "PIPE_NAME" = %s',
                (self.objects(table).pipe,),
            )
            row = cur.fetchone()
        return str(json.loads(row[0])["executionState"]) if row else "RUNNING"

    def _write_pipe_status(self, table: TableConfig, state: str, pending: list[tuple[str, datetime]]) -> None:
        status: dict[str, Any] = {"executionState": state, "pendingFileCount": len(pending)}
        if pending:
            key, at = min(pending, key=lambda p: p[1])
            status["oldestPendingFilePath"] = key
            status["oldestFileTimestamp"] = at.isoformat()
        pipe = self.objects(table).pipe
        with self._cursor() as cur:
            cur.execute(f'DELETE FROM {SCHEMA}."PIPE_STATUS" WHERE "PIPE_NAME" = %s', (pipe,))
            cur.execute(f'INSERT INTO {SCHEMA}."PIPE_STATUS" VALUES (%s, %s)', (pipe, json.dumps(status)))

    def loaded_keys(self, table: TableConfig) -> set[str]:
        """Files the pipe has already attempted (Snowpipe never loads a file twice by itself)."""
        return {load.key for load in self.copy_history(table)}

    def copy_history(self, table: TableConfig) -> list[LoadRecord]:
        """Every load the pipe attempted for the table, oldest first: what the runbook's COPY_HISTORY
        query shows on-call (file, status, rows, first error)."""
        with self._cursor() as cur:
            cur.execute(
                f'SELECT "STAGE_LOCATION", "FILE_NAME", "STATUS", "ROW_COUNT", "FIRST_ERROR_MESSAGE" '
                f'FROM {SCHEMA}."COPY_HISTORY" WHERE "TABLE_NAME" = %s ORDER BY "LAST_LOAD_TIME"',
                (self.objects(table).bare("STAGING"),),
            )
            rows = cur.fetchall()
        prefix = f"s3://{self.bucket}/"
        return [
            LoadRecord(
                key=(str(stage) + str(name)).removeprefix(prefix),
                status=str(status),
                rows=int(count),
                first_error=None if error is None else str(error),
            )
            for stage, name, status, count, error in rows
        ]

    def load_new_files(self, table: TableConfig) -> int:
        objects = {
            item["Key"]: item["LastModified"]
            for page in self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=f"{table.table_name}/"
            )
            for item in page.get("Contents", [])
            if item["Key"].endswith(".csv")
        }
        with self.session():
            done = self.loaded_keys(table)
            new = sorted(k for k in objects if k not in done)
            state = self.pipe_state(table)
            if state != "RUNNING":
                self._write_pipe_status(table, state, [(k, objects[k]) for k in new])
                return 0
            loaded = sum(self.load_file(table, key) for key in new)
            self._write_pipe_status(table, state, pending=[])  # what waited while paused is loaded now
            return loaded

    def load_file(self, table: TableConfig, key: str) -> int:
        """Load one file (also what a manual `COPY INTO ... FILES = (...)` reload does)."""
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        now = datetime.now(UTC)
        try:
            rows = self._parse(table, body)
        except LoadFailed as exc:
            self._history(
                table, key, rows=0, parsed=0, errors=1, status="Load failed", error=str(exc), at=now
            )
            return 0
        sf = self.objects(table)
        with self._cursor() as cur:
            for start in range(0, len(rows), BATCH_ROWS):
                self._insert(
                    cur,
                    target=sf.staging,
                    table=table,
                    key=key,
                    rows=rows[start : start + BATCH_ROWS],
                    offset=start,
                    now=now,
                )
            if rows:
                # The append-only stream on STAGING: exactly the rows this load inserted, copied
                # inside DuckDB rather than sent and parsed a second time (the parse is most of a
                # load's cost on fakesnow).
                columns = self._columns(table)
                cur.execute(
                    f"INSERT INTO {sf.stream} ({columns}) SELECT {columns} FROM {sf.staging} "
                    'WHERE "_SOURCE_FILE" = %s AND "_LOADED_AT" = %s',
                    (key, now.isoformat()),
                )
        self._history(
            table, key, rows=len(rows), parsed=len(rows), errors=0, status="Loaded", error=None, at=now
        )
        self._pipe_usage(table, size=len(body), at=now)
        return len(rows)

    def _pipe_usage(self, table: TableConfig, *, size: int, at: datetime) -> None:
        """PIPE_USAGE_HISTORY's row for one file loaded by the table's pipe."""
        sf = self.objects(table)
        with self._cursor() as cur:
            cur.execute(
                f'INSERT INTO {SCHEMA}."PIPE_USAGE_HISTORY" VALUES (%s, %s, %s, %s, %s, %s, %s, %s)',
                (
                    sf.bare_database,
                    "STAGING",
                    sf.pipe_name,
                    at.isoformat(),
                    at.isoformat(),
                    SNOWPIPE_CREDITS_PER_GB * size / 1e9,
                    size,
                    1,
                ),
            )

    def backdate_usage(self, to: datetime) -> None:
        """Test hook: every usage row recorded so far now says it happened at `to`, as if the loads and
        merges had run then (the cost check reads a day whose ACCOUNT_USAGE latency has passed)."""
        with self._cursor() as cur:
            for view in ("PIPE_USAGE_HISTORY", "QUERY_ATTRIBUTION_HISTORY"):
                cur.execute(
                    f'UPDATE {SCHEMA}."{view}" SET "START_TIME" = %s, "END_TIME" = %s',
                    (to.isoformat(), to.isoformat()),
                )

    @staticmethod
    def _parse(table: TableConfig, body: bytes) -> list[dict[str, str | None]]:
        header = body.split(b"\n", 1)[0].decode(errors="replace").split(",")
        loaded = len(table.active_columns)  # the pipe's COPY column list
        if len(header) != loaded:
            raise LoadFailed(
                f"Number of columns in file ({len(header)}) does not match that of the corresponding "
                f"table ({loaded}), use file format option error_on_column_count_mismatch=false "
                "to ignore this error"
            )
        try:
            rows = parse_pg_csv(body)
        except Exception as exc:  # csv.Error, ragged rows, bad UTF-8: all a failed file
            raise LoadFailed(f"Error parsing CSV: {exc}") from exc
        convert = {c.name: converter(c.type) for c in table.active_columns}
        try:
            return [
                {n: v if v is None or n not in convert else convert[n](v) for n, v in row.items()}
                for row in rows
            ]
        except Rejected as exc:  # one field Snowflake refuses skips the whole file
            raise LoadFailed(str(exc)) from exc

    def _insert(
        self,
        cur: Any,
        *,
        target: str,
        table: TableConfig,
        key: str,
        rows: list[dict[str, str | None]],
        offset: int,
        now: datetime,
    ) -> None:
        names = table.column_names
        json_columns = {c.name for c in table.active_columns if c.type.split("(")[0] in JSON_TYPES}
        exprs = ["PARSE_JSON(%s)" if n in json_columns else "%s" for n in names]
        select = "SELECT " + ", ".join([*exprs, "%s", "%s", "%s"])
        columns = self._columns(table)
        params: list[Any] = []
        for i, row in enumerate(rows, start=offset + 1):
            params.extend([*(row.get(n) for n in names), key, i, now.isoformat()])
        sql = f"INSERT INTO {target} ({columns}) " + " UNION ALL ".join([select] * len(rows))
        cur.execute(sql, params)

    @staticmethod
    def _columns(table: TableConfig) -> str:
        """STAGING's (and the stream's) column list: the table's columns, then the pipe's metadata."""
        names = [*table.column_names, "_SOURCE_FILE", "_SOURCE_ROW", "_LOADED_AT"]
        return ", ".join(f'"{n.upper()}"' for n in names)

    def _history(
        self,
        table: TableConfig,
        key: str,
        *,
        rows: int,
        parsed: int,
        errors: int,
        status: str,
        error: str | None,
        at: datetime,
    ) -> None:
        stage = f"s3://{self.bucket}/{table.table_name}/"
        with self._cursor() as cur:
            cur.execute(
                f'INSERT INTO {SCHEMA}."COPY_HISTORY" VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)',
                (
                    key.removeprefix(f"{table.table_name}/"),
                    stage,
                    self.objects(table).bare("STAGING"),
                    at.isoformat(),
                    rows,
                    parsed,
                    errors,
                    error,
                    status,
                ),
            )

    # -- the task ----------------------------------------------------------------------------------
    def merge(self, table: TableConfig) -> TaskOutcome:
        sf = self.objects(table)
        values = sf.values(source=sf.stream)
        scheduled = datetime.now(UTC)
        query_id = str(uuid.uuid4())
        with self._cursor() as cur:
            started = datetime.now(UTC)  # QUERY_START_TIME: before the MERGE reads the stream
            try:
                marked = 0
                if values["mark_count"]:  # soft: the task's count before the MERGE, without INTO
                    cur.execute(render("mark_count", values | {"mark_into": ""}))
                    marked = int(cur.fetchone()[0])
                cur.execute(values["merge"])
                # Snowflake's MERGE result: rows inserted, updated, and (with a DELETE clause) deleted;
                # MERGE_AUDIT records them as audit_insert.sql's $1, ${audit_updated},
                # ${audit_deleted}, ${audit_marked} do (a soft mark is one of the updates).
                result = [int(v) for v in cur.fetchone()]
                inserted, updated = result[0], result[1] - marked
                deleted = result[2] if values["audit_deleted"] == "$3" else 0
                cur.execute(
                    f"INSERT INTO {sf.audit_table} VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    (
                        table.table_name,
                        query_id,
                        inserted,
                        updated,
                        deleted,
                        marked,
                        datetime.now(UTC).isoformat(),
                    ),
                )
                cur.execute(values["purge_staging"])
                cur.execute(f"DELETE FROM {sf.stream}")  # consuming the stream
                outcome = TaskOutcome("SUCCEEDED", None, inserted, updated, deleted, marked)
            except Exception as exc:
                outcome = TaskOutcome("FAILED", str(exc), 0, 0)
            completed = datetime.now(UTC)
            self._attribute(cur, sf, query_id, started, completed)
            cur.execute(
                f'INSERT INTO {SCHEMA}."TASK_HISTORY" VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)',
                (
                    sf.task_name,
                    sf.bare_database,
                    "STAGING",
                    outcome.state,
                    scheduled.isoformat(),
                    started.isoformat(),
                    completed.isoformat(),
                    None if outcome.state == "SUCCEEDED" else "100183",
                    outcome.error_message,
                    query_id,
                ),
            )
        return outcome

    def _attribute(
        self, cur: Any, sf: SnowflakeTable, query_id: str, started: datetime, completed: datetime
    ) -> None:
        """QUERY_ATTRIBUTION_HISTORY's row for one task run: its execution time priced at the
        warehouse size's credits per hour, tagged with the QUERY_TAG the task runs with."""
        seconds = (completed - started).total_seconds()
        cur.execute(
            f'INSERT INTO {SCHEMA}."QUERY_ATTRIBUTION_HISTORY" VALUES (%s, %s, %s, %s, %s, %s, %s, %s)',
            (
                query_id,
                sf.values(source=sf.stream)["query_tag"],
                self.warehouse,
                self.warehouse_size,
                started.isoformat(),
                completed.isoformat(),
                seconds * WAREHOUSE_CREDITS_PER_HOUR[self.warehouse_size] / 3600,
                None,
            ),
        )
