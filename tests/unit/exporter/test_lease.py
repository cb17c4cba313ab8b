"""The lease's decisions: expiry, who holds it, when holding it is overdue, what a failure means.

The conditional writes themselves run against moto's DynamoDB (tests/integration/test_export_lease.py);
here the store is a script of what DynamoDB answered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aurora_sync.errors import SyncError, TerminalError, TransientError
from aurora_sync.exporter.lease import LEASE_MARGIN, Lease, TableLeases

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
LIMIT = timedelta(minutes=20)


@dataclass
class ScriptedStore:
    """Answers what the test says DynamoDB answered; records what was asked."""

    put_answer: tuple[bool, dict[str, Any] | None] = (True, None)
    delete_answer: tuple[bool, dict[str, Any] | None] = (True, None)
    error: SyncError | None = None
    puts: list[tuple[dict[str, Any], int]] = field(default_factory=list)
    deletes: list[tuple[str, str]] = field(default_factory=list)

    def put_if_free(self, item: dict[str, Any], now_epoch: int) -> tuple[bool, dict[str, Any] | None]:
        self.puts.append((item, now_epoch))
        if self.error is not None:
            raise self.error
        return self.put_answer

    def delete_if_holder(self, key: str, holder: str) -> tuple[bool, dict[str, Any] | None]:
        self.deletes.append((key, holder))
        if self.error is not None:
            raise self.error
        return self.delete_answer


def item(holder: str, acquired: datetime, expires: datetime) -> dict[str, Any]:
    return {
        "lease_key": "public.orders",
        "holder": holder,
        "acquired_at": acquired.isoformat(),
        "expires_at": int(expires.timestamp()),
    }


def leases(store: ScriptedStore) -> TableLeases:
    return TableLeases(store, clock=lambda: NOW)


def test_a_lease_lasts_until_the_holders_deadline_plus_the_margin() -> None:
    # GIVEN a run with 14 minutes 30.5 seconds left WHEN it takes the lease
    store = ScriptedStore()
    claim = leases(store).acquire("public.orders", "run-a", timedelta(minutes=14, seconds=30.5))
    # THEN it expires after the run's deadline plus the margin (rounded up to DynamoDB's seconds)
    [(written, now_epoch)] = store.puts
    deadline = NOW + timedelta(minutes=14, seconds=30.5)
    assert written["expires_at"] == math.ceil((deadline + LEASE_MARGIN).timestamp())
    assert written["holder"] == "run-a" and written["lease_key"] == "public.orders"
    # AND the condition compares it with the writer's own clock, not with TTL's deletion
    assert now_epoch == int(NOW.timestamp())
    assert claim.acquired and claim.lease.expires_at == deadline + LEASE_MARGIN


def test_a_lease_someone_else_holds_is_reported_with_its_holder() -> None:
    # GIVEN DynamoDB refused the write because run-b's lease is there
    held = item("run-b", NOW - timedelta(minutes=3), NOW + timedelta(minutes=12))
    claim = leases(ScriptedStore(put_answer=(False, held))).acquire("public.orders", "run-a", LIMIT)
    # THEN the claim is run-b's lease, described for the skipped table's message
    assert not claim.acquired
    assert claim.lease.holder == "run-b"
    assert claim.lease.describe() == "held by run-b since 2026-11-22T02:57:00.000000Z"


def test_taking_over_an_expired_lease_names_it_but_retaking_ones_own_does_not() -> None:
    # GIVEN the write replaced run-dead's expired lease
    dead = item("run-dead", NOW - timedelta(minutes=17), NOW - timedelta(seconds=5))
    claim = leases(ScriptedStore(put_answer=(True, dead))).acquire("public.orders", "run-a", LIMIT)
    # THEN the claim says whose lease it replaced
    assert claim.acquired and claim.replaced is not None and claim.replaced.holder == "run-dead"
    # GIVEN the write replaced this run's own lease (a retried put) THEN nothing was taken over
    own = item("run-a", NOW, NOW + timedelta(minutes=16))
    again = leases(ScriptedStore(put_answer=(True, own))).acquire("public.orders", "run-a", LIMIT)
    assert again.acquired and again.replaced is None


@pytest.mark.parametrize(
    ("held", "overdue"),
    [
        (timedelta(minutes=16), False),  # the longest a healthy run holds one
        (timedelta(minutes=20), False),  # exactly the limit: not yet
        (timedelta(minutes=20, seconds=1), True),
        (timedelta(hours=5), True),
    ],
)
def test_a_lease_is_overdue_only_past_the_limit(held: timedelta, overdue: bool) -> None:
    lease = Lease("public.orders", "run-b", NOW - held, NOW + timedelta(minutes=1))
    assert lease.overdue(NOW, LIMIT) is overdue


def test_a_lease_written_by_hand_is_read_leniently_and_counts_as_overdue() -> None:
    # GIVEN an item with only its key (someone "paused" the table by hand)
    lease = Lease.from_item("public.orders", {"lease_key": "public.orders"})
    # THEN it still names what blocks the table, and pages at once: its age is unknown
    assert lease is not None
    assert lease.describe() == "held by an unknown holder since an unknown time"
    assert lease.overdue(NOW, LIMIT)
    assert Lease.from_item("public.orders", None) is None


@pytest.mark.parametrize("error", [TransientError("throttled"), TerminalError("AccessDeniedException")])
def test_a_failed_lease_write_keeps_its_kind_and_names_the_table(error: SyncError) -> None:
    # GIVEN DynamoDB failing the write WHEN a run tries to take the lease
    with pytest.raises(SyncError) as caught:
        leases(ScriptedStore(error=error)).acquire("public.orders", "run-a", LIMIT)
    # THEN the table fails with the same kind (a retry helps only a transient one), saying so
    assert caught.value.transient is error.transient
    assert str(caught.value).startswith("public.orders: export lease not taken")
    assert "nothing was exported" in str(caught.value)


def test_release_deletes_only_as_the_holder_and_a_failed_release_does_not_fail_the_export() -> None:
    store = ScriptedStore()
    lease = Lease("public.orders", "run-a", NOW, NOW + timedelta(minutes=16))
    # WHEN the holder releases THEN the delete is conditioned on that holder
    leases(store).release(lease)
    assert store.deletes == [("public.orders", "run-a")]
    # WHEN DynamoDB fails the delete THEN the release returns: the lease expires by itself
    leases(ScriptedStore(error=TransientError("throttled"))).release(lease)
