"""Local stand-in for Snowpipe + the merge task, since fakesnow has no pipes, streams or tasks.

What it stands in for, exactly:
- Snowpipe: lists new `.csv` objects under each table's prefix (never `_manifests/` or
  `_incoming/`), loads each file at most once into STAGING with the load metadata the pipe adds
  (file name, row number, load time), and records a COPY_HISTORY-shaped row per file. It parses
  the CSV in Python (PostgreSQL quoting, NULL = unquoted empty field) and inserts with bound
  values, because fakesnow 0.12 cannot run the pipe's COPY: no `$n`/`METADATA$` columns, no S3
  stage with duckdb 2.0 offline, and a quoted "" loads as NULL there (Snowflake keeps '').
- The stream: a plain table with the stream's name that receives the same rows, emptied in the
  same transaction as the MERGE, as consuming a stream does.
- The task: runs the MERGE rendered from the same template production uses (source = the
  stream's name), records a TASK_HISTORY-shaped row with the rows inserted/updated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aurora_sync.config import TableConfig
from aurora_sync.snowflake_sql import JSON_TYPES, SnowflakeTable, render
from tests.support.pipeline import parse_pg_csv

BATCH_ROWS = 200


@dataclass
class CopyHistoryRow:
    file_name: str
    table_name: str
    row_count: int
    row_parsed: int
    status: str
    first_error_message: str | None
    last_load_time: datetime


@dataclass
class TaskHistoryRow:
    name: str
    state: str
    error_message: str | None
    rows_inserted: int
    rows_updated: int
    completed_time: datetime


@dataclass
class LocalLoadRunner:
    connect: Callable[[], Any]  # a snowflake connection to the pipeline's database
    s3: Any
    bucket: str
    tables: list[TableConfig]
    loaded: set[str] = field(default_factory=set)
    copy_history: list[CopyHistoryRow] = field(default_factory=list)
    task_history: list[TaskHistoryRow] = field(default_factory=list)

    def create_objects(self) -> None:
        """STAGING, FINAL and the stream stand-in, from the production templates."""
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute('CREATE SCHEMA IF NOT EXISTS "STAGING"')
            cur.execute('CREATE SCHEMA IF NOT EXISTS "FINAL"')
            for table in self.tables:
                sf = SnowflakeTable(table)
                values = sf.values(source=sf.stream)
                cur.execute(render("staging_table", values))
                cur.execute(render("final_table", values))
                cur.execute(render("staging_table", {**values, "staging": sf.stream}))
        finally:
            conn.close()

    def cycle(self) -> None:
        """One pass: load every new file, then merge each table that received rows."""
        for table in self.tables:
            if self.load_new_files(table):
                self.merge(table)

    def load_new_files(self, table: TableConfig) -> int:
        keys = sorted(
            item["Key"]
            for page in self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=f"{table.table_name}/"
            )
            for item in page.get("Contents", [])
            if item["Key"].endswith(".csv")
        )
        loaded = 0
        for key in keys:
            if key in self.loaded:
                continue
            loaded += self.load_file(table, key)
        return loaded

    def load_file(self, table: TableConfig, key: str) -> int:
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        now = datetime.now(UTC)
        try:
            rows = parse_pg_csv(body)
        except Exception as exc:  # recorded like Snowflake's LOAD_FAILED, with the first error
            self._history(table, key, rows=0, status="LOAD_FAILED", error=str(exc), at=now)
            self.loaded.add(key)
            return 0
        sf = SnowflakeTable(table)
        conn = self.connect()
        try:
            cur = conn.cursor()
            for target in (sf.staging, sf.stream):
                for start in range(0, len(rows), BATCH_ROWS):
                    self._insert(
                        cur,
                        target=target,
                        table=table,
                        key=key,
                        rows=rows[start : start + BATCH_ROWS],
                        offset=start,
                        now=now,
                    )
        finally:
            conn.close()
        self.loaded.add(key)
        self._history(table, key, rows=len(rows), status="LOADED", error=None, at=now)
        return len(rows)

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
        names = [c.name for c in table.columns]
        exprs = ["PARSE_JSON(%s)" if c.type.split("(")[0] in JSON_TYPES else "%s" for c in table.columns]
        select = "SELECT " + ", ".join([*exprs, "%s", "%s", "%s"])
        columns = ", ".join(f'"{n.upper()}"' for n in [*names, "_SOURCE_FILE", "_SOURCE_ROW", "_LOADED_AT"])
        params: list[Any] = []
        for i, row in enumerate(rows, start=offset + 1):
            params.extend([*(row[n] for n in names), key, i, now.isoformat()])
        sql = f"INSERT INTO {target} ({columns}) " + " UNION ALL ".join([select] * len(rows))
        cur.execute(sql, params)

    def merge(self, table: TableConfig) -> TaskHistoryRow:
        sf = SnowflakeTable(table)
        merge_sql = render("merge", sf.values(source=sf.stream))
        conn = self.connect()
        try:
            cur = conn.cursor()
            try:
                cur.execute(merge_sql)
                inserted, updated = (int(v) for v in cur.fetchone())
                cur.execute(f"DELETE FROM {sf.stream}")  # consuming the stream
                entry = TaskHistoryRow(sf.task, "SUCCEEDED", None, inserted, updated, datetime.now(UTC))
            except Exception as exc:
                entry = TaskHistoryRow(sf.task, "FAILED", str(exc), 0, 0, datetime.now(UTC))
        finally:
            conn.close()
        self.task_history.append(entry)
        return entry

    def _history(
        self, table: TableConfig, key: str, *, rows: int, status: str, error: str | None, at: datetime
    ) -> None:
        self.copy_history.append(
            CopyHistoryRow(key, SnowflakeTable(table).staging, rows, rows, status, error, at)
        )
