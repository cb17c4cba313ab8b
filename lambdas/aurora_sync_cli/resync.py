"""The full refresh's reads (runbook "full-reload"), each one step of `aurora-sync resync`: the table's
unfinished refresh and its progress (the checkpoints under `_refresh/<table>/`, exporter/refresh.py),
the execution already exporting it, and the row counts beside the result.

Why key ranges through the state machine, not the override: each range is one Map item, so no single
export has to fit one Lambda; each completed range is checkpointed, so a failed, timed-out or stopped
execution is resumed by running the command again, not started over; FINAL is never truncated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aurora_sync.exporter.refresh import Progress, RefreshLedger, RefreshPlan
from aurora_sync.tables import TableConfig

if TYPE_CHECKING:
    from aurora_sync_cli.executions import SyncMachine
    from aurora_sync_cli.session import Session

WHAT_IT_FIXES = (
    "A full refresh exports every row of the table (NULL watermarks included) in primary-key ranges and "
    "the MERGE updates or inserts each by primary key: rows FINAL lacks, or holds with older values, are "
    "fixed, and FINAL stays readable throughout (no truncate). It removes nothing by itself: rows deleted "
    "from Aurora stay in FINAL unless the table has delete_detection (its hourly pass deletes or "
    "marks them) or a soft_delete_col. A stopped or failed refresh resumes from its unfinished ranges "
    "when the command runs again. It reads the whole table, one range at a time: watch Aurora's CPU."
)


@dataclass(frozen=True)
class Counts:
    aurora_estimate: str
    final: str


class FullRefresh:
    def __init__(self, session: Session, table: TableConfig) -> None:
        self._session = session
        self.table = table
        self._ledger = RefreshLedger(session.runtime.store())

    def unfinished(self) -> tuple[RefreshPlan, Progress] | None:
        """The table's refresh that a new request would resume, with its checkpoints."""
        progress = self._ledger.unfinished(self.table.table_name)
        if progress is None:
            return None
        return self._ledger.plan(self.table.table_name, progress.refresh_id), progress

    def progress_of(self, refresh_id: str) -> Progress:
        return self._ledger.one(self.table.table_name, refresh_id)

    def running_execution(self, machine: SyncMachine) -> str | None:
        """An open execution of the sync state machine refreshing this table (its input names it), so
        running the command twice follows the one refresh instead of exporting ranges twice."""
        for arn, payload in machine.running_inputs():
            if isinstance(payload, dict) and payload.get("refresh") == self.table.table_name:
                return arn
        return None

    # -- counts, each cheap: the planner's estimate, Snowflake's metadata count -------------------
    def counts(self) -> Counts:
        return Counts(self._aurora_estimate(), self._final_count())

    def _aurora_estimate(self) -> str:
        aurora = None
        try:
            aurora = self._session.runtime.open_aurora()
            estimate = aurora.row_estimate(self.table.schema_name, self.table.relation)
        except Exception as exc:  # a count is information, never a reason to fail the refresh
            return f"unknown ({exc})"
        finally:
            if aurora is not None:
                aurora.close()
        return f"about {estimate:,} (planner estimate)"

    def _final_count(self) -> str:
        objects = self._session.objects(self.table)
        try:
            rows: list[Any] = self._session.snowflake.query(
                f"SELECT COUNT(*) FROM {objects.final}", f"count {objects.final}"
            )
        except Exception as exc:  # as above
            return f"unknown ({exc})"
        return f"{int(rows[0][0]):,}"
