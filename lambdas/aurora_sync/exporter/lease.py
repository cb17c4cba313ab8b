"""Per-table export lease: two incremental exports of one table never run at the same time.

Several things can export a table at once: the hourly execution, a manual execution or invoke, and
a chunk Step Functions gave up on (a task or execution timeout does not stop a running Lambda).
Reserved concurrency caps how many run; it is not a mutex. Two incremental runs of one table read
the same lower bound from FINAL and export the same rows twice: twice the Aurora load, a full
refresh done twice, and a slow table piling up hour after hour. So an incremental window runs only
under its table's lease, a conditional write in DynamoDB (adapters/dynamodb.LeaseTable). A run that
finds the lease held skips the table: the holder is exporting that table's incremental window, and
what it does not reach the next run takes from FINAL. Nothing needs re-running.

Manual windows (start/end) take no lease: the caller asked for exactly that window, so skipping it
would lose it, and the state machine exports a backfill's chunks of one table in parallel on
purpose. `plan` and `split` export nothing. docs/decisions.md (12) has the reasoning.

A holder that is killed never releases its lease. Its expiry is its own Lambda deadline plus
LEASE_MARGIN, so by then it cannot still be running and the next run takes the lease over. Expiry
is checked in the write's condition: DynamoDB's TTL deletes expired items only eventually.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from aurora_sync.errors import SyncError, TerminalError, TransientError
from aurora_sync.observability import logger
from aurora_sync.timeutil import iso, parse_instant

# Beyond the holder's deadline: covers clock differences between Lambda hosts (the condition
# compares the writer's clock with the expiry the holder computed from its own).
LEASE_MARGIN = timedelta(seconds=60)
# Lambda's maximum timeout: no healthy holder holds a lease longer than this plus the margin.
LAMBDA_MAX_TIMEOUT = timedelta(minutes=15)


@dataclass(frozen=True)
class Lease:
    table: str
    holder: str  # the holder's run_id: `correlation_id` of every log line of that invocation
    acquired_at: datetime | None  # None: an item this code did not write (no readable time)
    expires_at: datetime | None

    def describe(self) -> str:
        since = "an unknown time" if self.acquired_at is None else iso(self.acquired_at)
        return f"held by {self.holder} since {since}"

    def held_for(self, now: datetime) -> timedelta | None:
        return None if self.acquired_at is None else now - self.acquired_at

    def overdue(self, now: datetime, limit: timedelta) -> bool:
        """Held longer than any healthy run holds one (or since an unknown time): the table is not
        exporting, and only on-call can tell why."""
        held = self.held_for(now)
        return held is None or held > limit

    def to_item(self) -> dict[str, Any]:
        assert self.acquired_at is not None and self.expires_at is not None
        return {
            "lease_key": self.table,
            "holder": self.holder,
            "acquired_at": iso(self.acquired_at),
            "expires_at": math.ceil(self.expires_at.timestamp()),  # epoch seconds: the TTL attribute
        }

    @classmethod
    def from_item(cls, table: str, item: dict[str, Any] | None) -> Lease | None:
        """Lenient: an item written by hand, without our fields, still names what blocks the table."""
        if item is None:
            return None
        acquired: datetime | None
        try:
            acquired = parse_instant(item.get("acquired_at"), "acquired_at")
        except ValueError:
            acquired = None
        expires = item.get("expires_at")
        return cls(
            table,
            str(item.get("holder") or "an unknown holder"),
            acquired,
            datetime.fromtimestamp(expires, UTC) if isinstance(expires, int) else None,
        )


@dataclass(frozen=True)
class Claim:
    lease: Lease  # ours when `acquired`, else the holder's
    acquired: bool
    replaced: Lease | None = None  # an expired lease this claim took over


class LeaseStore(Protocol):
    def put_if_free(self, item: dict[str, Any], now_epoch: int) -> tuple[bool, dict[str, Any] | None]: ...

    def delete_if_holder(self, key: str, holder: str) -> tuple[bool, dict[str, Any] | None]: ...


class TableLeases:
    def __init__(self, store: LeaseStore, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._store = store
        self._clock = clock

    def acquire(self, table: str, holder: str, remaining: timedelta) -> Claim:
        """Take `table`'s lease until the holder's deadline (`remaining` from now) plus the margin."""
        now = self._clock()
        lease = Lease(table, holder, now, now + remaining + LEASE_MARGIN)
        try:
            written, other = self._store.put_if_free(lease.to_item(), math.floor(now.timestamp()))
        except SyncError as exc:
            message = f"{table}: export lease not taken ({exc}); nothing was exported"
            raise (TransientError if exc.transient else TerminalError)(message) from exc
        previous = Lease.from_item(table, other)
        if not written:
            assert previous is not None  # the condition failed, so an item is there
            return Claim(previous, acquired=False)
        replaced = previous if previous is not None and previous.holder != holder else None
        if replaced is not None:
            logger.warning(
                "took over an expired export lease: its holder ended without releasing it "
                "(killed at its timeout, or its release failed)",
                extra={
                    "table": table,
                    "expired_holder": replaced.holder,
                    "expired": _when(replaced.expires_at),
                },
            )
        logger.info("export lease acquired", extra={"table": table, "expires": _when(lease.expires_at)})
        return Claim(lease, acquired=True, replaced=replaced)

    def release(self, lease: Lease) -> None:
        """Best effort: a lease not released expires at its holder's deadline plus the margin."""
        try:
            deleted, other = self._store.delete_if_holder(lease.table, lease.holder)
        except SyncError as exc:
            logger.warning(
                "export lease not released; it expires by itself, and runs of the table before then skip it",
                extra={"table": lease.table, "expires": _when(lease.expires_at), "error": str(exc)},
            )
            return
        if deleted:
            logger.info("export lease released", extra={"table": lease.table})
            return
        holder = Lease.from_item(lease.table, other)
        if holder is not None:  # cannot happen while our expiry is honest; say so loudly if it does
            logger.warning(
                "export lease was taken over before this run released it",
                extra={
                    "table": lease.table,
                    "now": holder.describe(),
                    "ours_expired": _when(lease.expires_at),
                },
            )


def _when(value: datetime | None) -> str | None:
    return None if value is None else iso(value)
