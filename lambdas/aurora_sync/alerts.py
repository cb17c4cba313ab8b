"""Alerts (DESIGN.md §6): severity, check, table, the evidence and the runbook section. Publishing them
to the one SNS topic, with the section as a link into the deployed runbook, is `adapters/sns.py`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    P1 = "P1"  # pipeline down
    P2 = "P2"  # data quality
    P3 = "P3"  # SLA breach / degraded (fallback credentials, schema drift)
    P4 = "P4"  # cost / info


@dataclass(frozen=True)
class Alert:
    severity: Severity
    check: str
    table: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    run_id: str = ""
    runbook_anchor: str = ""
    status: str = "open"  # "open" or "resolved"

    @property
    def dedup_key(self) -> str:
        return f"{self.check}:{self.table}"

    def runbook(self, runbook_url: str) -> str:
        """The link on-call opens: the deployed runbook (settings' RUNBOOK_URL) at this alert's section."""
        return f"{runbook_url}#{self.runbook_anchor}" if self.runbook_anchor else runbook_url

    def body(self, runbook_url: str) -> dict[str, Any]:
        data = asdict(self)
        data.pop("runbook_anchor")
        data["severity"] = str(self.severity)
        data["dedup_key"] = self.dedup_key
        data["runbook"] = self.runbook(runbook_url)
        return data
