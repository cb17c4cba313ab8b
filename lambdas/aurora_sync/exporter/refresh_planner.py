"""Planning a table's full refresh in key ranges (exporter/refresh.py holds the plan, the ledger of
its objects and the sampling arithmetic): a new refresh, claimed so that two plans at once make one;
or the table's unfinished refresh and the ranges left of it; or a fresh start when its plan expired.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aurora_sync.errors import PayloadError, TerminalError, TransientError
from aurora_sync.exporter.payloads import RefreshPayload
from aurora_sync.exporter.ports import AuroraSource
from aurora_sync.exporter.refresh import (
    ID_FORMAT,
    PlanGone,
    Progress,
    RefreshLedger,
    RefreshPlan,
    choose_boundaries,
    max_ranges,
    sizing,
)
from aurora_sync.observability import logger
from aurora_sync.settings import ExporterSettings
from aurora_sync.tables import TableConfig
from aurora_sync.timeutil import iso


@dataclass(frozen=True)
class PlannedRefresh:
    """The plan action's answer: the ranges still to export (all of them for a new refresh)."""

    plan: RefreshPlan
    todo: list[int]
    resumed: bool
    joined: bool = False  # another planner's refresh, claimed while this one was planning

    def summary(self) -> dict[str, object]:
        return {
            "id": self.plan.refresh_id,
            "table": self.plan.table,
            "ranges": self.plan.ranges,
            "done": self.plan.ranges - len(self.todo),
            "rows_estimate": self.plan.rows_estimate,
            "upper": self.plan.upper,
            "resumed": self.resumed,
            "joined": self.joined,
        }


class RefreshPlanner:
    """Plans a table's refresh, or finds the unfinished one and what is left of it."""

    def __init__(
        self,
        *,
        settings: ExporterSettings,
        ledger: RefreshLedger,
        aurora: Callable[[], AuroraSource],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._ledger = ledger
        self._aurora = aurora
        self._clock = clock

    def plan(self, table: TableConfig, request: RefreshPayload) -> PlannedRefresh:
        name = table.table_name
        current = self._ledger.pointer(name)
        refreshes = self._ledger.progress(name)  # one listing serves both choices below
        open_one = next((p for p in reversed(refreshes) if p.ended is None), None)
        if current is not None:
            named = next((p for p in refreshes if p.refresh_id == current[0]), Progress(current[0]))
            if named.ended is None:
                open_one = named  # the claimed refresh is the table's, whatever else was written
        found: RefreshPlan | None = None
        if open_one is not None:
            try:
                found = self._ledger.plan(name, open_one.refresh_id)
            except PlanGone as gone:
                self._abandon(table, open_one, "its plan is gone: it cannot be resumed", str(gone))
                open_one = None
        if open_one is not None and request.restart:
            self._abandon(table, open_one, "restart requested")
            open_one = found = None
        if open_one is None or found is None:
            return self._claim_new(table, request, current)
        plan = found
        if request.rows_per_range is not None and request.rows_per_range != plan.rows_per_range:
            raise PayloadError(
                "rows_per_range",
                f"refresh {plan.refresh_id} of {name} is unfinished and was planned with "
                f"{plan.rows_per_range}; resume it without rows_per_range, or plan anew with "
                '"restart": true',
            )
        # Planned before the pointer existed, or its planner stopped before claiming: claim it.
        unclaimed = current is None or current[0] != plan.refresh_id
        if unclaimed and not self._ledger.claim(plan, None if current is None else current[1]):
            raise TransientError(f"another plan of {name} claimed a refresh meanwhile; plan again")
        todo = open_one.left(plan.ranges)
        if not todo:  # every range exported, the end marker lost: the refresh is complete
            self.complete(plan, rows=None)
        else:  # written again: the plan's lifecycle clock restarts, so a resumed refresh keeps it
            self._ledger.save(plan)
        logger.info(
            "refresh resumed", extra={"table": name, "refresh_id": plan.refresh_id, "todo": len(todo)}
        )
        return PlannedRefresh(plan, todo, resumed=True)

    def _claim_new(
        self, table: TableConfig, request: RefreshPayload, current: tuple[str, str] | None
    ) -> PlannedRefresh:
        """A new refresh, claimed by a conditional write of the pointer as it was read (`current`):
        only one claim on a pointer version succeeds, so two plans started together make one
        refresh. The loser marks its own plan abandoned and joins the winner's refresh."""
        name = table.table_name
        plan = self._new(table, request)
        if self._ledger.claim(plan, None if current is None else current[1]):
            return PlannedRefresh(plan, list(range(plan.ranges)), resumed=False)
        winner = self._ledger.pointer(name)
        if winner is not None and winner[0] == plan.refresh_id:  # another planner claimed this one
            mine = self._joinable(name, plan.refresh_id)
            if mine is not None:
                return mine
        why = f"another plan claimed the table first ({winner[0] if winner else 'gone'}); joined it"
        self._abandon(table, Progress(plan.refresh_id), why)
        joined = None if winner is None else self._joinable(name, winner[0])
        if joined is None:
            raise TransientError(f"another plan of {name} claimed a refresh and ended it; plan again")
        return joined

    def _joinable(self, name: str, refresh_id: str) -> PlannedRefresh | None:
        """The ranges left of an unfinished refresh whose plan is readable, else None."""
        progress = self._ledger.one(name, refresh_id)
        if progress.ended is not None:
            return None
        try:
            plan = self._ledger.plan(name, refresh_id)
        except PlanGone:
            return None
        todo = progress.left(plan.ranges)
        logger.info("refresh joined", extra={"table": name, "refresh_id": refresh_id, "todo": len(todo)})
        return PlannedRefresh(plan, todo, resumed=True, joined=True)

    def _abandon(self, table: TableConfig, open_one: Progress, why: str, detail: str = "") -> None:
        """Ends an unfinished refresh for a new one; its checkpoints stay until they expire."""
        at = iso(self._clock())
        done = len(open_one.done)
        self._ledger.end_by_id(
            table.table_name, open_one.refresh_id, "abandoned", {"at": at, "done": done, "why": why}
        )
        logger.warning(
            "unfinished refresh abandoned for a new one",
            extra={
                "table": table.table_name,
                "refresh_id": open_one.refresh_id,
                "why": why,
                "detail": detail,
            },
        )

    def complete(self, plan: RefreshPlan, rows: int | None) -> None:
        """The hook where a completed refresh ends: the marker status and the delete mechanism read."""
        self._ledger.end(plan, "complete", {"at": iso(self._clock()), "ranges": plan.ranges, "rows": rows})
        logger.info(
            "refresh complete: every range exported",
            extra={"table": plan.table, "refresh_id": plan.refresh_id, "ranges": plan.ranges},
        )

    def _new(self, table: TableConfig, request: RefreshPayload) -> RefreshPlan:
        aurora = self._aurora()
        aurora.limit_statements(self._settings.refresh_statement_seconds * 1000)
        nullable = aurora.nullable(table.schema_name, table.relation, list(table.primary_keys))
        if nullable:
            raise TerminalError(
                f"{table.table_name}: primary key column(s) {', '.join(nullable)} may be NULL in Aurora; "
                "a key range never selects a NULL key, so a refresh in ranges would miss such rows"
            )
        upper = aurora.safe_bound().upper  # first: no range exports past what is committed-safe now
        rows_per_range = request.rows_per_range or self._settings.refresh_rows_per_range
        estimate = aurora.row_estimate(table.schema_name, table.relation)
        size = sizing(estimate, rows_per_range, max_ranges(table.table_name))
        sample = aurora.key_sample(table, size.percent) if size.ranges > 1 else []
        plan = RefreshPlan(
            refresh_id=self._clock().strftime(ID_FORMAT),
            table=table.table_name,
            keys=list(table.primary_keys),
            boundaries=[list(b) for b in choose_boundaries(sample, size.ranges)],
            upper=iso(upper),
            created_at=iso(self._clock()),
            rows_estimate=estimate,
            rows_per_range=rows_per_range,
            sampled=len(sample),
        )
        if not self._ledger.create(plan):  # two plans within one second
            raise TransientError(
                f"refresh {plan.refresh_id} of {table.table_name} exists already; plan again"
            )
        logger.info(
            "refresh planned",
            extra={
                "table": table.table_name,
                "refresh_id": plan.refresh_id,
                "ranges": plan.ranges,
                "rows_estimate": estimate,
                "sampled": len(sample),
                "sample_percent": round(size.percent, 4),
                "upper": plan.upper,
            },
        )
        return plan
