"""Publish pins: the exporter's write-ahead record of a split export being made visible part by part.

Why they exist: an `aurora_s3` export that Aurora split into parts is published by one server-side
copy per part, and Snowpipe may load part 1 (and the task MERGE it) before part 2 is copied. If the
publish stops there (a copy fails, the Lambda times out), FINAL's `MAX(watermark)` can already be
past rows that only the unpublished parts hold, because parts are not in watermark order. The
lower bound comes from FINAL, so the next run would skip those rows for good.

So before the first copy the exporter writes a pin holding the window, and every incremental run
starts no higher than the oldest pin's lower bound. A pin is removed only after an export whose
manifest covers its window, or narrowed when an export covers its lower end. Nothing here talks
to S3: the exporter stores pins as small JSON objects under `_pending/<schema.table>/`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime

from aurora_sync.errors import TerminalError
from aurora_sync.timeutil import iso, parse_instant


@dataclass(frozen=True)
class PublishPin:
    table: str
    export_id: str
    run_id: str
    lower: datetime | None  # None: a full refresh, which also holds rows whose watermark is NULL
    upper: datetime
    updated_at: datetime  # written, or last narrowed: how long the window has made no progress

    def to_json(self) -> str:
        return json.dumps(
            {
                "table": self.table,
                "export_id": self.export_id,
                "run_id": self.run_id,
                "lower": None if self.lower is None else iso(self.lower),
                "upper": iso(self.upper),
                "updated_at": iso(self.updated_at),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, body: bytes, key: str) -> PublishPin:
        """A pin that cannot be read must stop the table's export: its window is unknown."""
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
                updated_at=parse_instant(raw.get("updated_at"), "updated_at"),
            )
        except ValueError as exc:
            raise TerminalError(f"publish pin {key}: {exc}; inspect and delete it") from None


def held_lower(lower: datetime | None, pins: list[PublishPin]) -> datetime | None:
    """The lowest of `lower` and every pin's lower bound; None (no bound) wins."""
    bounds = [lower, *(p.lower for p in pins)]
    if any(b is None for b in bounds):
        return None
    return min(b for b in bounds if b is not None)


def remaining(pin: PublishPin, lower: datetime | None, upper: datetime, at: datetime) -> PublishPin | None:
    """What is still unproven of `pin` after an export of (lower, upper] was manifested at `at`.

    None when the export covered the pin's window; a pin starting at `upper` (updated `at`) when it
    covered only the pin's lower end; the pin unchanged otherwise (an export starting above the
    pin's lower bound proves nothing about the rows just above it).
    """
    covers_lower_end = lower is None or (pin.lower is not None and lower <= pin.lower)
    if not covers_lower_end:
        return pin
    if upper >= pin.upper:
        return None
    if pin.lower is not None and upper <= pin.lower:
        return pin  # entirely below the pin
    return replace(pin, lower=upper, updated_at=at)
