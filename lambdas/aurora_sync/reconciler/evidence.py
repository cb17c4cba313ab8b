"""The look-back every check reads from, and the evidence one statement reads for every table of a
run: TASK_HISTORY (all tasks of the STAGING schema, paged) and MERGE_AUDIT (all tables).

Per table, Snowflake needs its own COPY_HISTORY (TABLE_NAME is required), SYSTEM$PIPE_STATUS,
MAX(watermark) and sample lookup (reconciler/table_checks.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from aurora_sync.adapters.snowflake_history import (
    TASK_HISTORY_REACH,
    MergeAudit,
    TaskRun,
    TaskRuns,
    within_reach,
)
from aurora_sync.reconciler.sources import Sources
from aurora_sync.snowflake_sql import SnowflakeTable
from aurora_sync.tables import TableConfig


def look_back_start(now: datetime, lookback_hours: int) -> datetime:
    """Start of the look-back: the manifests' first hour."""
    return (now - timedelta(hours=lookback_hours)).replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class SharedEvidence:
    """Evidence read once per run for every table; None with the error when it could not be."""

    runs: TaskRuns | None
    runs_error: str | None
    audits: dict[str, list[MergeAudit]] | None
    audit_error: str | None

    def runs_of(self, task: str) -> list[TaskRun] | None:
        return None if self.runs is None else self.runs.by_task.get(task, [])

    @property
    def runs_since(self) -> datetime | None:
        """Where the runs are complete from: a history too long for its pages starts later than asked."""
        return None if self.runs is None else self.runs.since

    def audits_of(self, table: str) -> list[MergeAudit] | None:
        return None if self.audits is None else self.audits.get(table, [])


def read_shared_evidence(
    sources: Sources, tables: list[TableConfig], database: str, *, now: datetime, lookback_hours: int
) -> SharedEvidence:
    if not tables:
        return SharedEvidence(None, "no table", None, "no table")
    sf = SnowflakeTable(tables[0], database)
    tasks = {SnowflakeTable(t, database).task_name for t in tables}
    since = look_back_start(now, lookback_hours)
    # The manifests' hours start at `since`; TASK_HISTORY refuses a range that starts beyond its
    # reach (168 look-back hours floored to the hour are more than 7 days).
    task_since = within_reach(since, now, TASK_HISTORY_REACH)
    runs, runs_error = sources.gather(
        "TASK_HISTORY",
        lambda: sources.history().task_runs(
            sf.bare_database, sf.staging_schema.upper(), tasks, task_since, now
        ),
    )
    audits, audit_error = sources.gather(
        "MERGE_AUDIT", lambda: sources.history().merge_audits(sf.audit_table, since)
    )
    return SharedEvidence(runs, runs_error, audits, audit_error)
