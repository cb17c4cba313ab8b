"""The reconciler's run: each table's evidence and checks (table_checks.py), then the alerts they
raise or resolve (routing.py).

A check whose evidence cannot be read is UNKNOWN, never OK: it leaves any open alert open and
raises one alert about the reconciler itself, which escalates to P1 when it keeps happening.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from aurora_sync.observability import logger
from aurora_sync.ports import Alerts
from aurora_sync.reconciler.checks import CheckResult, Status, unknown
from aurora_sync.reconciler.evidence import SharedEvidence, read_shared_evidence
from aurora_sync.reconciler.ports import AuroraReader, BucketReader, HistoryReader, SnowflakeReader
from aurora_sync.reconciler.routing import Routing
from aurora_sync.reconciler.sources import Sources
from aurora_sync.reconciler.table_checks import TableChecks
from aurora_sync.settings import ReconcilerSettings
from aurora_sync.tables import TableConfig, TablesConfig

S = TypeVar("S", bound=SnowflakeReader)
CHECKS = ("manifests", "loads", "merge", "pipe", "freshness", "sample", "pins", "volume", "cost")
# No table is started with less than this left before the Lambda's timeout: a run cut off by its
# timeout returns nothing (the state machine pages P1, every check is lost); one that stops here
# reports the tables it could not reach as unknown, and its self-alert says to give it more time.
STOP_BEFORE_TIMEOUT_MS = 60_000
OUT_OF_TIME = (
    "the reconciler stopped {seconds} s before its timeout without checking this table: give it more "
    "time (reconciler.timeout_seconds; docs/deploy.md, Hundreds of tables)"
)


@dataclass
class ReconcileResult:
    run_id: str
    tables: list[str]
    export_run_ids: list[str]
    checks: list[CheckResult] = field(default_factory=list)
    alerts: dict[str, list[str]] = field(
        default_factory=lambda: {"notified": [], "escalated": [], "suppressed": [], "resolved": []}
    )

    @property
    def status(self) -> str:
        if any(c.status == Status.PROBLEM for c in self.checks):
            return "problems"
        if any(c.status == Status.UNKNOWN for c in self.checks):
            return "unknown"
        return "ok"

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "tables": self.tables,
            "export_run_ids": self.export_run_ids,
            "checks": [c.as_dict() for c in self.checks],
            "alerts": self.alerts,
        }


class ReconcileService:
    def __init__(
        self,
        *,
        settings: ReconcilerSettings,
        tables: TablesConfig,
        store: BucketReader,
        open_aurora: Callable[[], AuroraReader],
        open_snowflake: Callable[[], S],
        read_history: Callable[[S], HistoryReader],
        router: Alerts,
        run_id: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        remaining_ms: Callable[[], int] | None = None,
    ) -> None:
        self._settings = settings
        self._tables = tables
        self._sources = Sources(open_aurora, open_snowflake, read_history)
        self._table_checks = TableChecks(settings, store, self._sources)
        self._routing = Routing(router, run_id, settings.self_alert_p1_after)
        self._clock = clock
        self._remaining_ms = remaining_ms
        self.run_id = run_id

    def close(self) -> None:
        self._sources.close()

    def run(self, names: list[str], export_run_ids: list[str]) -> ReconcileResult:
        """Check `names`; `export_run_ids` (the state machine's exports) are reported as evidence."""
        result = ReconcileResult(self.run_id, names, export_run_ids)
        tables = [t for t in (self._tables.get(name) for name in names) if t is not None]
        assert len(tables) == len(names)  # parse_reconcile_event rejected unknown names
        shared = read_shared_evidence(
            self._sources,
            tables,
            self._settings.snowflake.database,
            now=self._clock(),
            lookback_hours=self._settings.lookback_hours,
        )
        for table in tables:
            checks = self._checks(table, shared)
            result.checks.extend(checks)
            for check in checks:
                self._routing.report(check, result.alerts)
        self._routing.self_alert(result.checks, result.alerts)
        logger.info("reconciler result", extra={"result": result.as_dict()})
        return result

    def _checks(self, table: TableConfig, shared: SharedEvidence) -> list[CheckResult]:
        """Every check of the table; UNKNOWN ones when time is short or checking it failed."""
        name = table.table_name
        if self._remaining_ms is not None and self._remaining_ms() < STOP_BEFORE_TIMEOUT_MS:
            reason = OUT_OF_TIME.format(seconds=STOP_BEFORE_TIMEOUT_MS // 1000)
            return [unknown(c, name, reason) for c in CHECKS]
        try:
            return self._table_checks.check(table, shared, self._clock())
        except Exception as exc:  # a bug must cost one table's checks (as unknown), not the run
            logger.exception("reconciling a table failed", extra={"table": name})
            return [unknown(c, name, f"{type(exc).__name__}: {exc}") for c in CHECKS]
