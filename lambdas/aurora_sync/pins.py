"""Publish pins: the exporter's write-ahead record that rows of a window may be in FINAL only in part.

Why they exist: FINAL's `MAX(watermark)` is the next lower bound, and it can move past rows that
never reached S3 when a window becomes visible in pieces:
- an `aurora_s3` export that Aurora split into parts is published one server-side copy per part;
  Snowpipe may load part 1 (and the task merge it) before part 2 is copied, and parts are not in
  watermark order. If the publish stops there (a copy fails, the Lambda hits its timeout), the
  rows of the unpublished parts sit below FINAL's new watermark;
- a timed-out incremental window that the state machine splits into sub-windows: when one of
  them fails and a later one succeeds, the same happens.

So the exporter writes a pin with the window before the first copy of a split publish, and when
it splits an incremental window. A pin is immutable; what it still guards is computed from the
evidence: the parts of its window that no manifest covers (manifests are written only after their
data is complete). Incremental windows start no higher than the lowest such gap; a pin without
gaps is deleted. Pins are not written for manual windows: their caller (on-call, or the state
machine's failure path) sees the failure and the exact payload to re-run, and an old backfill must
not drag the hourly lower bound back by days.

PublishPins is the exporter's bookkeeping (write, hold a lower bound, drop); the reconciler's `pins`
check reads the same objects through read_pins.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from aurora_sync.errors import SyncError, TerminalError
from aurora_sync.layout import pending_key, pending_prefix
from aurora_sync.manifest import read_manifests
from aurora_sync.observability import logger
from aurora_sync.ports import ObjectReader
from aurora_sync.timeutil import iso, parse_instant

# (lower, upper]: rows with lower < watermark <= upper; lower None: no lower bound (a full
# refresh, which also holds rows whose watermark is NULL).
Window = tuple[datetime | None, datetime]


@dataclass(frozen=True)
class PublishPin:
    table: str
    export_id: str
    run_id: str
    lower: datetime | None
    upper: datetime
    created_at: datetime

    @property
    def window(self) -> Window:
        return (self.lower, self.upper)

    @property
    def key(self) -> str:
        return pending_key(self.table, self.export_id)

    def to_json(self) -> str:
        return json.dumps(
            {
                "table": self.table,
                "export_id": self.export_id,
                "run_id": self.run_id,
                "lower": None if self.lower is None else iso(self.lower),
                "upper": iso(self.upper),
                "created_at": iso(self.created_at),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, body: bytes, key: str) -> PublishPin:
        """A pin that cannot be read must stop the table's incremental export: its window is unknown."""
        try:
            raw = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise TerminalError(f"publish pin {key} is not JSON ({exc}); inspect and delete it") from None
        if not isinstance(raw, dict):
            raise TerminalError(f"publish pin {key}: expected a JSON object, got {type(raw).__name__}")
        try:
            for name in ("table", "export_id", "run_id"):
                if not isinstance(raw.get(name), str):
                    raise ValueError(f"{name}: expected a string")
            lower = raw.get("lower")
            return cls(
                table=raw["table"],
                export_id=raw["export_id"],
                run_id=raw["run_id"],
                lower=None if lower is None else parse_instant(lower, "lower"),
                upper=parse_instant(raw.get("upper"), "upper"),
                created_at=parse_instant(raw.get("created_at"), "created_at"),
            )
        except ValueError as exc:
            raise TerminalError(f"publish pin {key}: {exc}; inspect and delete it") from None


def read_pins(store: ObjectReader, table: str) -> tuple[list[PublishPin], list[str]]:
    """The table's pins, and the errors of those whose content is unreadable (each naming its key).
    A pin deleted between the listing and its read is skipped; a failed read raises."""
    pins: list[PublishPin] = []
    unreadable: list[str] = []
    for key in sorted(store.sizes(pending_prefix(table))):
        body = store.read_if_exists(key)
        if body is None:
            continue
        try:
            pins.append(PublishPin.from_json(body, key))
        except TerminalError as exc:
            unreadable.append(str(exc))
    return pins, unreadable


def _below(a: datetime | None, b: datetime | None) -> bool:
    """a < b, with None as minus infinity."""
    if a is None:
        return b is not None
    return b is not None and a < b


def gaps(window: Window, covered: list[Window]) -> list[Window]:
    """The parts of `window` that no window in `covered` contains, in order."""
    left: list[Window] = [window]
    for c_lower, c_upper in covered:
        next_left: list[Window] = []
        for g_lower, g_upper in left:
            overlaps = _below(c_lower, g_upper) and _below(g_lower, c_upper)
            if not overlaps:
                next_left.append((g_lower, g_upper))
                continue
            if _below(g_lower, c_lower):
                assert c_lower is not None  # something is below it
                next_left.append((g_lower, c_lower))
            if c_upper < g_upper:
                next_left.append((c_upper, g_upper))
        left = next_left
    return sorted(left, key=lambda w: (w[0] is not None, w[0] or w[1]))


def held_lower(
    lower: datetime | None, open_gaps: list[Window], lookback: timedelta = timedelta(0)
) -> datetime | None:
    """The lowest of `lower` and every gap's lower bound minus the table's lookback (the overlap
    that catches late commits applies below a gap as it does below FINAL's watermark); None (no
    bound) wins."""
    bounds = [lower, *(None if g[0] is None else g[0] - lookback for g in open_gaps)]
    if any(b is None for b in bounds):
        return None
    return min(b for b in bounds if b is not None)


class PinStore(ObjectReader, Protocol):
    """What the exporter's pin bookkeeping needs of the bucket beyond reading it."""

    def put_json(self, key: str, body: str) -> None: ...

    def delete(self, keys: list[str]) -> None: ...


class PublishPins:
    """The exporter's pins for one invocation: written before a window becomes visible in pieces,
    held against as long as a gap is open, deleted once manifests cover them."""

    def __init__(
        self, store: PinStore, run_id: str, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._store = store
        self._run_id = run_id
        self._clock = clock
        self._pinned: set[str] = set()  # tables with pinned gaps when this invocation began them

    def new(self, table: str, export_id: str, lower: datetime | None, upper: datetime) -> PublishPin:
        return PublishPin(table, export_id, self._run_id, lower, upper, self._clock())

    def write(self, pin: PublishPin) -> None:
        self._store.put_json(pin.key, pin.to_json())

    def hold(self, table: str, lower: datetime | None, lookback: timedelta) -> datetime | None:
        """`lower`, or lower still: the start of the lowest gap of the table's pins, less the lookback."""
        open_gaps = self.open_gaps(table)
        if open_gaps:
            self._pinned.add(table)
        held = held_lower(lower, open_gaps, lookback)
        if held != lower:
            logger.warning(
                "lower bound held at a pinned window no manifest covers yet",
                extra={
                    "table": table,
                    "lower": None if held is None else iso(held),
                    "gaps": [[None if lo is None else iso(lo), iso(hi)] for lo, hi in open_gaps],
                },
            )
        return held

    def open_gaps(self, table: str) -> list[Window]:
        """What the table's pins still guard: their windows minus every manifested window. A pin
        without gaps is deleted (best effort: gaps are recomputed from the evidence every time)."""
        pins, unreadable = read_pins(self._store, table)
        if unreadable:  # its window is unknown: no incremental bound is safe
            raise TerminalError(unreadable[0])
        if not pins:
            return []
        # A manifest lies under its run's start hour, which may precede its pin's by minutes.
        since = min(p.created_at for p in pins) - timedelta(hours=1)
        manifests, invalid = read_manifests(self._store, table, since, self._clock())
        for error in invalid:  # proves nothing; the reconciler's manifests check reports it
            logger.warning("manifest ignored as evidence for publish pins", extra={"error": error})
        covered = [m.doc.window() for m in manifests if m.doc.covers_window]
        found: list[Window] = []
        for pin in pins:
            left = gaps(pin.window, covered)
            if left:
                found.extend(left)
            else:
                self.drop(pin, "manifests cover its window")
        return found

    def manifested(self, table: str, pin: PublishPin | None) -> None:
        """After a manifest of `table` is written: drop the export's own pin (its window is the
        manifest's), and re-check the pins that were open when this invocation began the table."""
        if pin is not None:
            self.drop(pin, "its export's manifest is written")
        if table not in self._pinned:
            return
        self._pinned.discard(table)
        try:
            self.open_gaps(table)
        except SyncError as exc:  # the export is done; the next run re-checks its pins
            logger.warning("publish pins not re-checked", extra={"table": table, "error": str(exc)})

    def drop(self, pin: PublishPin, why: str) -> None:
        """Best effort: a pin that stays is re-checked, and dropped, by the next run."""
        try:
            self._store.delete([pin.key])
        except SyncError as exc:
            logger.warning(
                "publish pin could not be deleted; its window is re-checked next run",
                extra={"table": pin.table, "pin": pin.key, "error": str(exc)},
            )
            return
        logger.info("publish pin cleared", extra={"table": pin.table, "pin": pin.key, "reason": why})
