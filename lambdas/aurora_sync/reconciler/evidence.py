"""The look-back every check reads from, and the evidence one statement reads for every table of a
run: TASK_HISTORY (all tasks of the STAGING schema, paged), MERGE_AUDIT (all tables), and the day's
credits of every pipe and every MERGE task (ACCOUNT_USAGE, reconciler/cost.py).

Per table, Snowflake needs its own COPY_HISTORY (TABLE_NAME is required), SYSTEM$PIPE_STATUS,
MAX(watermark) and sample lookup (reconciler/table_checks.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from aurora_sync.adapters.snowflake_history import (
    TASK_HISTORY_REACH,
    MergeAudit,
    MergeCredits,
    PipeCredits,
    TaskRun,
    TaskRuns,
    within_reach,
)
from aurora_sync.reconciler.cost import DailyCredits, cost_day, daily_credits
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
    # The cost check's day and its credits, by pipe name and by MERGE task QUERY_TAG.
    credits_day: datetime | None = None
    pipe_credits: dict[str, PipeCredits] | None = None
    pipe_credits_error: str | None = "not read"
    merge_credits: dict[str, MergeCredits] | None = None
    merge_credits_error: str | None = "not read"

    def runs_of(self, task: str) -> list[TaskRun] | None:
        return None if self.runs is None else self.runs.by_task.get(task, [])

    @property
    def runs_since(self) -> datetime | None:
        """Where the runs are complete from: a history too long for its pages starts later than asked."""
        return None if self.runs is None else self.runs.since

    def audits_of(self, table: str) -> list[MergeAudit] | None:
        return None if self.audits is None else self.audits.get(table, [])

    def credits_of(self, sf: SnowflakeTable) -> DailyCredits | None:
        """The table's day (no row for its pipe or tag: it cost nothing); None when either could
        not be read (credits_error says why)."""
        if self.credits_day is None or self.pipe_credits is None or self.merge_credits is None:
            return None
        return daily_credits(
            self.credits_day, self.pipe_credits.get(sf.pipe_name), self.merge_credits.get(sf.merge_query_tag)
        )

    @property
    def credits_error(self) -> str | None:
        return self.pipe_credits_error or self.merge_credits_error


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
    start, end = cost_day(now)
    pipes, pipes_error = sources.gather(
        "PIPE_USAGE_HISTORY",
        lambda: sources.history().pipe_credits(sf.bare_database, sf.staging_schema.upper(), start, end),
    )
    merges, merges_error = sources.gather(
        "QUERY_ATTRIBUTION_HISTORY",
        lambda: sources.history().merge_credits(sf.merge_query_tag_prefix, start, end),
    )
    return SharedEvidence(
        runs, runs_error, audits, audit_error, start, pipes, pipes_error, merges, merges_error
    )
