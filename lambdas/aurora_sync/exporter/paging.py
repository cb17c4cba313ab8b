"""The exporter's alerts: a failure to alert is logged, never allowed to lose the export."""

from __future__ import annotations

from aurora_sync.alerts import Alert
from aurora_sync.errors import SyncError
from aurora_sync.observability import logger
from aurora_sync.ports import Alerts


class Paging:
    def __init__(self, alerts: Alerts, run_id: str) -> None:
        self._alerts = alerts
        self._run_id = run_id

    def raise_alert(self, alert: Alert, escalate_after: int | None = None) -> None:
        try:
            self._alerts.raise_alert(alert, escalate_after)
        except SyncError as exc:
            logger.error("alert could not be sent", extra={"dedup_key": alert.dedup_key, "error": str(exc)})

    def resolve(self, check: str, table: str, evidence: str) -> None:
        try:
            self._alerts.resolve(check, table, self._run_id, evidence)
        except SyncError as exc:
            logger.error(
                "resolve could not be sent", extra={"check": check, "table": table, "error": str(exc)}
            )
