"""Tables paused by on-call (`aurora-sync pause`), so that a deliberate pause does not page.

A paused pipe, the files waiting for it and the lag that grows meanwhile are all real problems to the
checks; paged at P2 they would wake the person who paused the table, or their successor. While a
table's pause lasts, its P1/P2 alerts go out as P3 (chat only) with who paused it and why; once the
pause expires (`until`), or after `aurora-sync resume` removes it, the same open problem is escalated
back to its own severity and pages: a forgotten pause is found within an hour of its end.

The pauses of an environment are one item of the alert-state table (key `pauses`, which no
`check:table` dedup key can equal), written with the same version check as alert items, and read once
per invocation by the alert router.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from aurora_sync.alerts import Alert, Severity
from aurora_sync.errors import StateConflict
from aurora_sync.ports import VersionedItems
from aurora_sync.timeutil import iso, parse_instant

PAUSES_KEY = "pauses"
# Long enough for the schema procedures; short enough that a forgotten pause pages the same day. A
# pipe paused for 14 days goes stale (runbook: pipe-stalled), so no pause may come near that.
DEFAULT_PAUSE = timedelta(hours=4)
MAX_PAUSE = timedelta(days=7)
DEMOTED = frozenset({Severity.P1, Severity.P2})


@dataclass(frozen=True)
class Pause:
    table: str
    by: str
    at: datetime
    until: datetime
    reason: str = ""

    def describe(self) -> str:
        why = f" ({self.reason})" if self.reason else ""
        return f"paused by {self.by} until {iso(self.until)}{why}"

    def as_dict(self) -> dict[str, str]:
        return {"by": self.by, "at": iso(self.at), "until": iso(self.until), "reason": self.reason}


@dataclass(frozen=True)
class Pauses:
    """Every table's pause, expired ones included until the next write drops them."""

    by_table: Mapping[str, Pause]
    version: int | None = None  # of the stored item; None: no item yet

    def active(self, table: str, now: datetime) -> Pause | None:
        pause = self.by_table.get(table)
        return pause if pause is not None and now < pause.until else None

    def encode(self) -> str:
        return json.dumps({t: p.as_dict() for t, p in sorted(self.by_table.items())}, sort_keys=True)

    @classmethod
    def decode(cls, text: str, version: int | None) -> Pauses:
        """Strict: a marker that cannot be read is an error for the caller to handle, never a pause."""
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("pauses: not a JSON object")
        by_table = {}
        for table, fields in raw.items():
            if not isinstance(fields, dict):
                raise ValueError(f"pauses[{table!r}]: not a JSON object")
            by_table[table] = Pause(
                table=table,
                by=str(fields["by"]),
                at=parse_instant(fields["at"], f"pauses[{table!r}].at"),
                until=parse_instant(fields["until"], f"pauses[{table!r}].until"),
                reason=str(fields.get("reason", "")),
            )
        return cls(by_table, version)


NO_PAUSES = Pauses({})


def demote(alert: Alert, pause: Pause) -> Alert:
    """The alert as chat sees it while its table is paused: P3, saying so and until when."""
    if alert.severity not in DEMOTED or alert.status != "open":
        return alert
    return replace(
        alert,
        severity=Severity.P3,
        summary=f"[{pause.describe()}; would be {alert.severity}] {alert.summary}",
        details={**alert.details, "paused": {**pause.as_dict(), "severity": str(alert.severity)}},
    )


class PauseStore:
    def __init__(self, state: VersionedItems) -> None:
        self._state = state

    def read(self) -> Pauses:
        item = self._state.get(PAUSES_KEY)
        if item is None:
            return NO_PAUSES
        return Pauses.decode(str(item["pauses"]), int(item["version"]))

    def update(self, change: Mapping[str, Pause | None], now: datetime) -> Pauses:
        """Set (Pause) or remove (None) tables' pauses in one conditional write, dropping expired ones;
        re-read and write again once when another writer got there first (as alert_routing does)."""
        try:
            return self._write(change, now)
        except StateConflict:
            return self._write(change, now)

    def _write(self, change: Mapping[str, Pause | None], now: datetime) -> Pauses:
        current = self.read()
        kept = {t: p for t, p in current.by_table.items() if now < p.until}
        for table, pause in change.items():
            if pause is None:
                kept.pop(table, None)
            else:
                kept[table] = pause
        updated = Pauses(kept)
        version = current.version
        self._state.put(
            {
                "dedup_key": PAUSES_KEY,
                "pauses": updated.encode(),
                "version": 1 if version is None else version + 1,
            },
            version,
        )
        return updated
