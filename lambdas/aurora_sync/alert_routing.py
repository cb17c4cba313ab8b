"""Deciding whether an alert pages: once per open problem, again on escalation or after the
re-notify interval, and one resolve message when the problem is gone (DESIGN.md §6). A table paused
by on-call (aurora_sync.pauses) has its P1/P2 alerts sent as P3 until the pause ends.

Publishing happens before the state write: if the write then fails, the worst case is a repeated
page next run, never a lost one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from aurora_sync import aws
from aurora_sync.adapters.dynamodb import AlertStateTable
from aurora_sync.adapters.sns import AlertPublisher
from aurora_sync.alerts import Alert, Severity
from aurora_sync.commands import cli_prefix
from aurora_sync.errors import StateConflict
from aurora_sync.observability import logger
from aurora_sync.pauses import NO_PAUSES, Pauses, PauseStore, demote
from aurora_sync.ports import VersionedItems
from aurora_sync.settings import ServiceSettings
from aurora_sync.timeutil import iso, parse_instant

RESOLVED_RETENTION = timedelta(days=30)
# A P4 (cost) is sent again at most this often, whatever RENOTIFY_MINUTES says: the cost check's
# figure is a day's and changes once a day, so repeating it every few hours is only noise in chat.
P4_RENOTIFY = timedelta(hours=23)
SEVERITY_RANK = {Severity.P1: 1, Severity.P2: 2, Severity.P3: 3, Severity.P4: 4}


class AlertRouter:
    def __init__(
        self,
        publisher: AlertPublisher,
        state: VersionedItems | None,
        renotify: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._publisher = publisher
        self._state = state
        self._renotify = renotify
        self._clock = clock
        self._pauses: Pauses | None = None

    def _paused(self) -> Pauses:
        """Read once per invocation. Unreadable pauses page as if there were none: a pause only ever
        quiets the pager, so doubt must not."""
        if self._pauses is None:
            try:
                self._pauses = NO_PAUSES if self._state is None else PauseStore(self._state).read()
            except Exception as exc:  # any failure: page normally, and say why
                logger.warning(
                    "on-call pauses unreadable: alerts keep their severity", extra={"error": str(exc)}
                )
                self._pauses = NO_PAUSES
        return self._pauses

    def raise_alert(self, alert: Alert, escalate_after: int | None = None) -> str:
        """Record an occurrence of the problem; returns "notified", "escalated" or "suppressed".

        With `escalate_after`, the occurrence that makes the count reach it is sent as P1: a
        problem that persists run after run is the pipeline being down, not a blip.
        """
        if self._state is None:
            self._publisher.publish(alert)
            return "notified"
        try:
            return self._raise_once(alert, escalate_after)
        except StateConflict:  # a concurrent writer: re-read and decide again, once
            return self._raise_once(alert, escalate_after)

    def _raise_once(self, alert: Alert, escalate_after: int | None) -> str:
        assert self._state is not None
        now = self._clock()
        item = self._state.get(alert.dedup_key)
        is_open = item is not None and item.get("status") == "open"
        occurrences = int(item["occurrences"]) + 1 if is_open and item else 1
        if escalate_after is not None and occurrences >= escalate_after:
            alert = replace(alert, severity=Severity.P1)
        pause = self._paused().active(alert.table, now) if alert.table else None
        if pause is not None:
            alert = demote(alert, pause)
        decision = "suppressed"
        if not is_open or item is None:
            decision = "notified"
        elif SEVERITY_RANK[alert.severity] < SEVERITY_RANK[Severity(item["severity"])]:
            decision = "escalated"
        elif now - parse_instant(item["last_notified"], "last_notified") >= self._renotify_after(alert):
            decision = "notified"
        details = {**alert.details, "occurrences": occurrences}
        if is_open and item is not None:
            details["open_since"] = item["first_seen"]
        notify = decision != "suppressed"
        if notify:
            self._publisher.publish(replace(alert, details=details))
        # The most severe level sent while this problem has been open: its resolve must reach every
        # route that heard it (a P2 paged, then re-notified as P3 during a pause, still needs the
        # pager's incident closed).
        loudest = [Severity(item.get("loudest", item["severity"]))] if is_open and item else []
        loudest += [alert.severity] if notify else []
        self._state.put(
            {
                "dedup_key": alert.dedup_key,
                "status": "open",
                "check": alert.check,
                "table": alert.table or "-",
                "severity": str(alert.severity)
                if decision != "suppressed" or item is None
                else item["severity"],
                "loudest": str(min(loudest, key=SEVERITY_RANK.__getitem__, default=alert.severity)),
                "summary": alert.summary,
                "occurrences": occurrences,
                "first_seen": item["first_seen"] if is_open and item else iso(now),
                "last_seen": iso(now),
                "last_notified": iso(now)
                if decision != "suppressed" or item is None
                else item["last_notified"],
                "version": (int(item["version"]) + 1) if item else 1,
            },
            None if item is None else int(item["version"]),
        )
        log = logger.warning if notify else logger.info
        log(
            f"alert {decision}",
            extra={"dedup_key": alert.dedup_key, "severity": str(alert.severity), "occurrences": occurrences},
        )
        return decision

    def _renotify_after(self, alert: Alert) -> timedelta:
        return max(self._renotify, P4_RENOTIFY) if alert.severity == Severity.P4 else self._renotify

    def resolve(self, check: str, table: str, run_id: str, evidence: str) -> bool:
        """Send one resolve for an open problem; True when one was sent."""
        if self._state is None:
            return False
        key = Alert(Severity.P4, check, table, "").dedup_key
        item = self._state.get(key)
        if item is None or item.get("status") != "open":
            return False
        now = self._clock()
        self._publisher.publish(
            Alert(
                Severity(item.get("loudest", item["severity"])),  # items written before `loudest`
                check,
                table,
                f"resolved: {item['summary']}"[:200],
                details={
                    "open_since": item["first_seen"],
                    "occurrences": item["occurrences"],
                    "evidence": evidence,
                },
                run_id=run_id,
                status="resolved",
            )
        )
        self._state.put(
            {
                **item,
                "status": "resolved",
                "resolved_at": iso(now),
                "version": int(item["version"]) + 1,
                "expires_at": int((now + RESOLVED_RETENTION).timestamp()),
            },
            int(item["version"]),
        )
        logger.info("alert resolved", extra={"dedup_key": key, "open_since": item["first_seen"]})
        return True


def alert_router(settings: ServiceSettings) -> AlertRouter:
    """Both Lambdas page through this: one open problem, one page (state in DynamoDB)."""
    publisher = AlertPublisher(
        aws.client("sns", settings.aws_region),
        settings.alert_topic_arn,
        settings.runbook_url,
        cli_prefix(settings.sync_environment),
    )
    state = None
    if settings.alert_state_table:
        state = AlertStateTable(aws.client("dynamodb", settings.aws_region), settings.alert_state_table)
    return AlertRouter(publisher, state, timedelta(minutes=settings.renotify_minutes))
