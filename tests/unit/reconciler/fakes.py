"""In-memory stand-ins for the reconciler's ports (aurora_sync.reconciler.ports), for unit tests of
ReconcileService's decisions. Each records the calls it received, and `fail_on` makes the named
method raise, to show what the service does when that read fails. Their method signatures are the
real adapters' (tests/unit/reconciler/test_service.py checks them), so they cannot drift.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aurora_sync.adapters.snowflake_history import (
    CopyRecord,
    MergeAudit,
    MergeCredits,
    PipeCredits,
    PipeStatus,
    TaskRun,
    TaskRuns,
)
from aurora_sync.tables import TableConfig


@dataclass
class _Recorded:
    fail_on: dict[str, Exception] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)

    def _call(self, method: str) -> None:
        self.calls[method] += 1
        if method in self.fail_on:
            raise self.fail_on[method]


@dataclass
class _Session(_Recorded):
    closed: bool = False

    def connect(self) -> None:
        self._call("connect")

    def close(self) -> None:
        self.closed = True


@dataclass
class FakeAurora(_Session):
    """`newest`: MAX(watermark) per "schema.table"; `rows`: (key, watermark) per "schema.table",
    newest first, as recent_versions returns them."""

    newest: dict[str, datetime | None] = field(default_factory=dict)
    rows: dict[str, list[tuple[tuple[Any, ...], datetime]]] = field(default_factory=dict)
    sampled_below: list[datetime] = field(default_factory=list)

    def max_watermark(self, schema: str, table: str, column: str) -> datetime | None:
        self._call("max_watermark")
        return self.newest.get(f"{schema}.{table}")

    def recent_versions(
        self, table: TableConfig, upper: datetime, limit: int
    ) -> list[tuple[tuple[Any, ...], datetime]]:
        self._call("recent_versions")
        self.sampled_below.append(upper)
        return [(key, at) for key, at in self.rows.get(table.table_name, []) if at <= upper][:limit]


@dataclass
class FakeSnowflake(_Session):
    """`newest`: MAX(watermark) per "SCHEMA.TABLE"; `rows`: watermark per key, per "SCHEMA.TABLE"."""

    newest: dict[str, datetime | None] = field(default_factory=dict)
    rows: dict[str, dict[tuple[Any, ...], datetime | None]] = field(default_factory=dict)

    def max_watermark(self, schema: str, table: str, column: str) -> datetime | None:
        self._call("max_watermark")
        return self.newest.get(f"{schema}.{table}")

    def versions(
        self, schema: str, table: TableConfig, wanted: list[tuple[Any, ...]]
    ) -> dict[tuple[Any, ...], datetime | None]:
        self._call("versions")
        stored = self.rows.get(f"{schema}.{table.snowflake_table}", {})
        return {key: stored[key] for key in wanted if key in stored}


@dataclass
class FakeHistory(_Recorded):
    """`loads` per staging table (DATABASE.STAGING.TABLE); `runs` per task name, complete from
    `runs_since` (None: from where they were asked for); `pipes` per quoted pipe name (RUNNING with
    nothing pending when absent); `audits` per schema.table; `pipe_usage` per pipe name and
    `merge_usage` per MERGE QUERY_TAG, the day's credits whatever day is asked (`credit_days` records
    the days asked for)."""

    loads: dict[str, list[CopyRecord]] = field(default_factory=dict)
    runs: dict[str, list[TaskRun]] = field(default_factory=dict)
    runs_since: datetime | None = None
    pipes: dict[str, PipeStatus] = field(default_factory=dict)
    audits: dict[str, list[MergeAudit]] = field(default_factory=dict)
    tasks_asked: list[set[str]] = field(default_factory=list)
    pipe_usage: dict[str, PipeCredits] = field(default_factory=dict)
    merge_usage: dict[str, MergeCredits] = field(default_factory=dict)
    credit_days: list[tuple[datetime, datetime]] = field(default_factory=list)

    def copy_history(self, staging_table: str, since: datetime) -> list[CopyRecord]:
        self._call("copy_history")
        return list(self.loads.get(staging_table, []))

    def task_runs(
        self, database: str, schema: str, tasks: set[str], since: datetime, until: datetime
    ) -> TaskRuns:
        self._call("task_runs")
        self.tasks_asked.append(tasks)
        by_task = {task: list(self.runs.get(task, [])) for task in tasks}
        return TaskRuns(by_task, self.runs_since or since, 1)

    def pipe_status(self, pipe: str) -> PipeStatus:
        self._call("pipe_status")
        running = PipeStatus("RUNNING", 0, None, {"executionState": "RUNNING", "pendingFileCount": 0})
        return self.pipes.get(pipe, running)

    def merge_audits(self, audit_table: str, since: datetime) -> dict[str, list[MergeAudit]]:
        self._call("merge_audits")
        return {table: list(rows) for table, rows in self.audits.items()}

    def pipe_credits(
        self, database: str, schema: str, start: datetime, end: datetime
    ) -> dict[str, PipeCredits]:
        self._call("pipe_credits")
        self.credit_days.append((start, end))
        return dict(self.pipe_usage)

    def merge_credits(self, tag_prefix: str, start: datetime, end: datetime) -> dict[str, MergeCredits]:
        self._call("merge_credits")
        return {tag: usage for tag, usage in self.merge_usage.items() if tag.startswith(tag_prefix)}
