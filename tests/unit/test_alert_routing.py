"""Paging policy: one page per open problem, again on escalation or after the re-notify interval,
P1 when a problem persists, and exactly one resolve; a table paused by on-call pages no one until the
pause ends."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aurora_sync.adapters.sns import AlertPublisher
from aurora_sync.alert_routing import AlertRouter
from aurora_sync.alerts import Alert, Severity
from aurora_sync.errors import StateConflict
from aurora_sync.pauses import Pause, PauseStore


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


def paused(state: MemoryState, clock: Clock, hours: int = 4, table: str = "public.orders") -> None:
    """On-call's `aurora-sync pause TABLE --for <hours>h --reason DDL`, as it writes the record."""
    pause = Pause(table, "oncall/ana", clock.now, clock.now + timedelta(hours=hours), "DDL")
    PauseStore(state).update({table: pause}, clock.now)


def fresh_router(sns: Sns, state: MemoryState, clock: Clock) -> AlertRouter:
    """The router of the next invocation: it reads the pauses once, at its first alert."""
    return AlertRouter(
        AlertPublisher(sns, "arn:topic", "https://runbook.example"), state, timedelta(hours=4), clock
    )


def test_a_paused_table_s_p2_goes_to_chat_as_p3_until_the_pause_ends(world: Any) -> None:
    _, sns, state, clock = world
    # GIVEN on-call paused public.orders for 4 hours
    paused(state, clock)
    # WHEN its pipe check raises a P2
    assert fresh_router(sns, state, clock).raise_alert(alert(Severity.P2)) == "notified"
    # THEN it goes out as P3 (chat only), saying who paused it, until when, and what it would be
    sent = sns.sent[-1]
    assert sent["severity"] == "P3"
    assert sent["summary"].startswith(
        "[paused by oncall/ana until 2026-11-22T07:00:00.000000Z (DDL); would be P2]"
    )
    assert sent["details"]["paused"]["severity"] == "P2"
    # AND another table's alert keeps its severity
    other = replace(alert(Severity.P2), table="public.customers")
    fresh_router(sns, state, clock).raise_alert(other)
    assert sns.sent[-1]["severity"] == "P2"
    # WHEN the problem is still there after the pause ended
    clock.now += timedelta(hours=4, minutes=1)
    # THEN it pages at its own severity (escalated from the P3 chat saw)
    assert fresh_router(sns, state, clock).raise_alert(alert(Severity.P2)) == "escalated"
    assert sns.sent[-1]["severity"] == "P2" and "paused" not in sns.sent[-1]["details"]


def test_resuming_removes_the_record_and_the_next_occurrence_pages(world: Any) -> None:
    _, sns, state, clock = world
    paused(state, clock)
    fresh_router(sns, state, clock).raise_alert(alert(Severity.P2))
    # WHEN on-call resumes the table (the record is removed) and the problem persists
    PauseStore(state).update({"public.orders": None}, clock.now)
    # THEN the next run pages P2
    assert fresh_router(sns, state, clock).raise_alert(alert(Severity.P2)) == "escalated"
    assert [m["severity"] for m in sns.sent] == ["P3", "P2"]
    assert PauseStore(state).read().by_table == {}


def test_a_page_re_notified_as_p3_during_a_pause_resolves_on_the_pager_too(world: Any) -> None:
    _, sns, state, clock = world
    # GIVEN a P2 that paged on-call
    assert fresh_router(sns, state, clock).raise_alert(alert(Severity.P2)) == "notified"
    # AND on-call then paused the table, and the problem was re-notified to chat as P3
    paused(state, clock, hours=6)
    clock.now += timedelta(hours=4, minutes=1)
    assert fresh_router(sns, state, clock).raise_alert(alert(Severity.P2)) == "notified"
    assert sns.sent[-1]["severity"] == "P3"
    # WHEN the problem is gone
    assert fresh_router(sns, state, clock).resolve("loads", "public.orders", "run", "ok") is True
    # THEN the resolve goes out at P2, so the pager's incident is closed as well as chat's thread
    assert (sns.sent[-1]["status"], sns.sent[-1]["severity"]) == ("resolved", "P2")


def test_unreadable_pauses_page_as_if_there_were_none(world: Any) -> None:
    _, sns, state, clock = world
    # GIVEN a pause record that cannot be parsed
    state.items["pauses"] = {"dedup_key": "pauses", "pauses": "{not json", "version": 1}
    # WHEN a P2 is raised THEN it pages at P2
    fresh_router(sns, state, clock).raise_alert(alert(Severity.P2))
    assert sns.sent[-1]["severity"] == "P2"


def test_a_pause_never_touches_p3_p4_or_resolves(world: Any) -> None:
    _, sns, state, clock = world
    paused(state, clock)
    router = fresh_router(sns, state, clock)
    router.raise_alert(replace(alert(Severity.P4), check="cost"))
    assert sns.sent[-1]["severity"] == "P4" and "paused" not in sns.sent[-1]["details"]
    router.raise_alert(alert(Severity.P2))
    assert router.resolve("loads", "public.orders", "run", "ok") is True
    assert (sns.sent[-1]["status"], sns.sent[-1]["severity"]) == ("resolved", "P3")


def test_pause_writes_keep_other_tables_and_drop_expired_ones(world: Any) -> None:
    _, _, state, clock = world
    paused(state, clock, hours=1, table="public.customers")
    paused(state, clock, hours=4)
    clock.now += timedelta(hours=2)
    # WHEN a later write happens (here: resuming public.orders)
    PauseStore(state).update({"public.orders": None}, clock.now)
    # THEN the expired pause of public.customers is gone too, and the version moved on each write
    stored = PauseStore(state).read()
    assert stored.by_table == {} and stored.version == 3


def test_a_concurrent_pause_is_re_read_not_lost(world: Any) -> None:
    _, _, state, clock = world
    paused(state, clock, table="public.customers")
    state.conflicts = 1  # another operator wrote between our read and our write
    paused(state, clock)
    assert set(PauseStore(state).read().by_table) == {"public.customers", "public.orders"}
