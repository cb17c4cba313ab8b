"""Paging policy: one page per open problem, again on escalation or after the re-notify interval,
P1 when a problem persists, and exactly one resolve."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aurora_sync.adapters.sns import AlertPublisher
from aurora_sync.alert_routing import AlertRouter
from aurora_sync.alerts import Alert, Severity
from aurora_sync.errors import StateConflict


class MemoryState:
    """DynamoDB's conditional put, in memory."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.conflicts = 0

    def get(self, dedup_key: str) -> dict[str, Any] | None:
        item = self.items.get(dedup_key)
        return None if item is None else dict(item)

    def put(self, item: dict[str, Any], expected_version: int | None) -> None:
        if self.conflicts:
            self.conflicts -= 1
            stored = self.items.get(item["dedup_key"])
            if stored is not None:
                stored["version"] += 1
            raise StateConflict("changed concurrently")
        current = self.items.get(item["dedup_key"])
        if (current is None) != (expected_version is None) or (
            current is not None and current["version"] != expected_version
        ):
            raise StateConflict("changed concurrently")
        self.items[item["dedup_key"]] = dict(item)


class Sns:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def publish(self, **kwargs: Any) -> dict[str, str]:
        import json

        self.sent.append(json.loads(kwargs["Message"]))
        return {"MessageId": str(len(self.sent))}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world() -> tuple[AlertRouter, Sns, MemoryState, Clock]:
    sns, state, clock = Sns(), MemoryState(), Clock()
    router = AlertRouter(
        AlertPublisher(sns, "arn:topic", "https://runbook.example"), state, timedelta(hours=4), clock
    )
    return router, sns, state, clock


def alert(severity: Severity = Severity.P2) -> Alert:
    return Alert(
        severity, "loads", "public.orders", "1 file not loaded", {"file": "k"}, "run", "load-missing"
    )


def test_open_problem_pages_once_then_is_suppressed(world: Any) -> None:
    router, sns, state, clock = world
    assert router.raise_alert(alert()) == "notified"
    clock.now += timedelta(hours=1)
    assert router.raise_alert(alert()) == "suppressed"
    assert len(sns.sent) == 1 and sns.sent[0]["details"]["occurrences"] == 1
    assert state.items["loads:public.orders"]["occurrences"] == 2


def test_escalation_and_the_renotify_interval_page_again(world: Any) -> None:
    router, sns, _, clock = world
    router.raise_alert(alert(Severity.P3))
    assert router.raise_alert(alert(Severity.P2)) == "escalated"
    assert router.raise_alert(alert(Severity.P3)) == "suppressed"  # a milder repeat is not news
    clock.now += timedelta(hours=4)
    assert router.raise_alert(alert(Severity.P3)) == "notified"
    assert [m["severity"] for m in sns.sent] == ["P3", "P2", "P3"]
    assert sns.sent[-1]["details"]["open_since"] == "2026-11-22T03:00:00.000000Z"


def test_a_p4_is_repeated_about_once_a_day_not_every_renotify_interval(world: Any) -> None:
    # GIVEN an open P4 (a table over its daily credit budget: the figure changes once a day)
    router, sns, _, clock = world
    assert router.raise_alert(alert(Severity.P4)) == "notified"
    # WHEN it is raised again every hour THEN RENOTIFY_MINUTES (4 h here) does not repeat it ...
    decisions = []
    for _ in range(23):
        clock.now += timedelta(hours=1)
        decisions.append(router.raise_alert(alert(Severity.P4)))
    # ... the 23rd hour does (P4_RENOTIFY), the next run after the next day's figure arrived
    assert decisions == ["suppressed"] * 22 + ["notified"]
    assert [m["severity"] for m in sns.sent] == ["P4", "P4"]


def test_persisting_problem_escalates_to_p1_at_the_threshold(world: Any) -> None:
    router, sns, _, _ = world
    decisions = [router.raise_alert(alert(Severity.P3), escalate_after=3) for _ in range(4)]
    assert decisions == ["notified", "suppressed", "escalated", "suppressed"]
    assert [m["severity"] for m in sns.sent] == ["P3", "P1"]


def test_resolve_sends_one_message_and_a_new_occurrence_pages_afresh(world: Any) -> None:
    router, sns, state, _ = world
    assert router.resolve("loads", "public.orders", "run", "ok") is False  # nothing open: silent
    router.raise_alert(alert())
    assert router.resolve("loads", "public.orders", "run2", "all files loaded") is True
    assert router.resolve("loads", "public.orders", "run3", "all files loaded") is False
    resolved = sns.sent[-1]
    assert (resolved["status"], resolved["severity"], resolved["dedup_key"]) == (
        "resolved",
        "P2",
        "loads:public.orders",
    )
    assert state.items["loads:public.orders"]["expires_at"] > 0
    assert router.raise_alert(alert()) == "notified"
    assert len(sns.sent) == 3


def test_a_concurrent_writer_is_re_read_not_double_paged(world: Any) -> None:
    router, sns, state, _ = world
    router.raise_alert(alert())
    state.conflicts = 1
    assert router.raise_alert(alert()) == "suppressed"
    assert len(sns.sent) == 1


def test_without_a_state_table_every_alert_is_published() -> None:
    sns = Sns()
    router = AlertRouter(
        AlertPublisher(sns, "arn:topic", "https://runbook.example"), None, timedelta(hours=4)
    )
    router.raise_alert(alert())
    router.raise_alert(alert())
    assert len(sns.sent) == 2
