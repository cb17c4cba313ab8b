"""The three invocation shapes the exporter accepts (DESIGN.md §4), turned into export windows.

Everything here is checked before any SQL runs: a typo in a hand-written payload at 3 a.m. must
come back as an error naming the field, not as a silently different export.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from aurora_sync.errors import PayloadError
from aurora_sync.tables import TablesConfig
from aurora_sync.timeutil import iso, parse_instant
from aurora_sync.validation import describe

MAX_CHUNKS = 1000
# Items one state machine execution carries (every table's chunks together): the plan, and each
# chunk's outcome, must fit in Step Functions' 256 KiB of state (docs/deploy.md, "At scale").
MAX_PLAN_ITEMS = 1000
MAX_SPLIT_PARTS = 16
ACTIONS = ("plan", "split")
# A refresh's id: the UTC second its plan was made (exporter/refresh.py), so ids sort by age.
REFRESH_ID_PATTERN = r"^[0-9]{8}T[0-9]{6}Z$"


class RangeRef(BaseModel):
    """Which key range of which full refresh a Step Functions item exports (exporter/refresh.py).

    The boundaries are not in the item: they are read from the refresh's persisted plan, so an item
    stays a few dozen bytes whatever the key (1,000 items fit Step Functions' 256 KiB of state) and
    every attempt, resume and re-run exports exactly the range the plan fixed.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=REFRESH_ID_PATTERN)
    index: int = Field(ge=0)
    of: int = Field(ge=1, le=MAX_PLAN_ITEMS)

    @model_validator(mode="after")
    def _inside(self) -> RangeRef:
        if self.index >= self.of:
            raise ValueError(f"index {self.index} is not below of {self.of}")
        return self


@dataclass(frozen=True)
class ExportWindow:
    """One unit of export work. start/end None means: derive from the FINAL watermark / safe bound.

    `split` marks a part the exporter cut from a window it resolved or validated itself (the
    state machine's `split` action): such a part is exempt from the maximum range, which guards
    hand-written payloads. A first incremental run exports from the epoch, so a quarter of its
    window can span years.
    """

    table: str
    start: datetime | None = None
    end: datetime | None = None
    split: bool = False
    refresh: RangeRef | None = None  # one key range of a full refresh: every row in it, no watermark range

    @property
    def is_manual(self) -> bool:
        return self.start is not None

    @property
    def leased(self) -> bool:
        """Only an incremental window takes the table's lease: a manual window or a refresh range
        skipped for it would lose exactly the rows its caller asked for, and a refresh's ranges run
        side by side by design."""
        return self.start is None and self.refresh is None

    def payload(self) -> dict[str, Any]:
        """The payload that re-runs exactly this window (reported when time runs out)."""
        if self.refresh is not None:
            return self.item()
        if self.start is None or self.end is None:
            return {"tables": [self.table]}
        if self.split:  # a manual payload this wide would be refused: re-run the part as an item
            return self.item()
        return {"tables": [self.table], "start": iso(self.start), "end": iso(self.end)}

    def item(self) -> dict[str, Any]:
        """The Step Functions item for this window (one Map iteration exports exactly it)."""
        if self.refresh is not None:
            return {"table": self.table, "refresh": self.refresh.model_dump()}
        if self.start is None or self.end is None:
            return {"table": self.table}
        item: dict[str, Any] = {"table": self.table, "start": iso(self.start), "end": iso(self.end)}
        if self.split:
            item["split"] = True
        return item


class _Range(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: str | None = None
    end: str | None = None

    @field_validator("start", "end", mode="before")
    @classmethod
    def _time(cls, value: object, info: Any) -> str | None:
        if value is None:
            return None
        parse_instant(value, info.field_name)  # raises ValueError naming the field
        return str(value)


class ManualPayload(_Range):
    tables: list[str] | None = Field(default=None, min_length=1)
    chunk_minutes: int | None = Field(default=None, gt=0)


class ItemPayload(_Range):
    table: str
    split: bool = False
    refresh: RangeRef | None = None


class RefreshPayload(BaseModel):
    """`{"refresh": "<schema.table>"}`: plan (or resume) the table's full refresh in key ranges."""

    model_config = ConfigDict(extra="forbid")

    refresh: str
    rows_per_range: int | None = Field(default=None, ge=10, le=100_000_000)
    restart: bool = False  # abandon the table's unfinished refresh and plan a new one


class Attempt(BaseModel):
    """Which attempt of a state machine Export step this invocation is, and what the state machine
    does when it fails: retry it (`retry` < `max_retries`, a transient failure: the retrier's
    MaxAttempts) or split it (`split_on_timeout`, a statement timeout in the Export step; its parts
    are not split again)."""

    model_config = ConfigDict(extra="forbid")

    retry: int = Field(ge=0)  # $$.State.RetryCount: 0 on the first attempt
    max_retries: int = Field(ge=0)
    split_on_timeout: bool = False

    @property
    def retries_left(self) -> bool:
        return self.retry < self.max_retries


class SplitParts(BaseModel):
    model_config = ConfigDict(extra="ignore")

    parts: int = Field(ge=2, le=MAX_SPLIT_PARTS)


def split_action(event: object) -> tuple[str | None, object]:
    """Separate the state machine's `action` ("plan" or "split") from the payload it applies to.

    Plain export payloads carry no action; the state machine sends `plan` before its Map and
    `split` for a chunk whose Lambda timed out.
    """
    if not isinstance(event, dict) or "action" not in event:
        return None, event
    action = event["action"]
    if action not in ACTIONS:
        raise PayloadError("action", f"must be one of {', '.join(ACTIONS)}, got {action!r}")
    return str(action), {k: v for k, v in event.items() if k != "action"}


def unwrap_attempt(event: object) -> tuple[object, Attempt | None]:
    """The state machine's export steps send `{"item": <Step Functions item>, "attempt": {...}}`;
    every other payload (a hand-run item included) has no attempt and is its own last attempt."""
    if not isinstance(event, dict) or "attempt" not in event:
        return event, None
    extra = sorted(set(event) - {"item", "attempt"})
    if extra:
        raise PayloadError(extra[0], "an attempt wraps one item: {item, attempt} and nothing else")
    item = event.get("item")
    if not isinstance(item, dict) or "table" not in item:
        raise PayloadError("item", "must be one Step Functions item {table, start?, end?}")
    try:
        attempt = Attempt.model_validate(event["attempt"])
    except ValidationError as exc:
        field, problems = describe(exc, prefix="attempt")
        raise PayloadError(field, problems) from None
    return item, attempt


def item_table(event: object) -> str | None:
    """The table of a Step Functions item (bare or wrapped with its attempt) or split request
    (`{"table": ...}`), else None: such an invocation needs that one table's configuration only
    (ParameterStore.load_tables(only=...))."""
    if isinstance(event, dict) and "attempt" in event and isinstance(event.get("item"), dict):
        event = event["item"]
    if isinstance(event, dict) and isinstance(event.get("table"), str):
        return str(event["table"])
    return None


@dataclass(frozen=True)
class Request:
    """A parsed invocation: export `windows`, or (state machine) plan them or split the one window;
    or plan a full refresh's key ranges (`refresh`)."""

    action: str | None
    windows: list[ExportWindow]
    parts: int = 0
    attempt: Attempt | None = None
    refresh: RefreshPayload | None = None


def parse_refresh(payload: object, tables: TablesConfig) -> RefreshPayload:
    """A refresh request: the table must be configured; it is planned by the `plan` action only."""
    try:
        request = RefreshPayload.model_validate(payload)
    except ValidationError as exc:
        field, problems = describe(exc)
        raise PayloadError(field, problems) from None
    if tables.get(request.refresh) is None:
        raise PayloadError(
            "refresh", f"unknown table {request.refresh!r}; configured: {', '.join(tables.names)}"
        )
    return request


def parse_request(event: object, tables: TablesConfig, max_range: timedelta) -> Request:
    """Every payload the exporter accepts, validated before anything else happens."""
    item, attempt = unwrap_attempt(event)
    if attempt is not None:
        return Request(None, parse_event(item, tables, max_range), attempt=attempt)
    action, payload = split_action(event)
    if isinstance(payload, dict) and "refresh" in payload and "table" not in payload:
        if action != "plan":
            raise PayloadError("action", 'a refresh request is planned first: send it with "action": "plan"')
        return Request(action, [], refresh=parse_refresh(payload, tables))
    if action == "split":
        window, parts = parse_split(payload, tables, max_range)
        return Request(action, [window], parts)
    windows = parse_event(payload, tables, max_range)
    if action == "plan" and len(windows) > MAX_PLAN_ITEMS:
        field = "chunk_minutes" if isinstance(payload, dict) and "chunk_minutes" in payload else "tables"
        raise PayloadError(
            field,
            f"{len(windows)} chunks in all is more than the {MAX_PLAN_ITEMS} one execution carries; "
            "use larger chunks, fewer tables, or one execution per range",
        )
    return Request(action, windows)


def parse_split(event: object, tables: TablesConfig, max_range: timedelta) -> tuple[ExportWindow, int]:
    """A split request is one Step Functions item plus `parts`; anything else is rejected."""
    if not isinstance(event, dict) or "table" not in event:
        raise PayloadError("table", "split needs one Step Functions item: {table, start?, end?, parts}")
    try:
        parts = SplitParts.model_validate(event).parts
    except ValidationError as exc:
        field, problems = describe(exc)
        raise PayloadError(field, problems) from None
    (window,) = parse_event({k: v for k, v in event.items() if k != "parts"}, tables, max_range)
    return window, parts


def split_window(table: str, start: datetime, end: datetime, parts: int) -> list[ExportWindow]:
    """`parts` contiguous (start, end] windows covering the range exactly (microsecond arithmetic)."""
    span = end - start
    if span < timedelta(microseconds=parts):
        raise PayloadError("parts", f"window {iso(start)}..{iso(end)} is too short for {parts} parts")
    edges = [start + span * i // parts for i in range(parts)] + [end]
    return [ExportWindow(table, a, b, split=True) for a, b in itertools.pairwise(edges)]


def _is_scheduled(event: dict[str, Any]) -> bool:
    return (
        event.get("detail-type") == "Scheduled Event"
        or event.get("source") in {"aws.events", "aws.scheduler"}
        or event == {}
    )


def parse_event(event: object, tables: TablesConfig, max_range: timedelta) -> list[ExportWindow]:
    """Return the windows to export, in order; raise PayloadError on anything malformed."""
    if not isinstance(event, dict):
        raise PayloadError("(event)", f"expected a JSON object, got {type(event).__name__}")
    if _is_scheduled(event):
        return [ExportWindow(t) for t in tables.names]
    names, chunk, rng = _validate(event, tables)
    if isinstance(rng, ItemPayload) and rng.refresh is not None:
        if rng.start or rng.end or rng.split:
            raise PayloadError(
                "refresh", "a refresh range takes no start, end or split: its keys are the range"
            )
        return [ExportWindow(rng.table, refresh=rng.refresh)]
    split = isinstance(rng, ItemPayload) and rng.split
    if rng.start is None and rng.end is None:
        if chunk is not None:
            raise PayloadError("chunk_minutes", "only applies to a start/end range")
        return [ExportWindow(n) for n in names]
    if rng.start is None or rng.end is None:
        raise PayloadError("end" if rng.end is None else "start", "start and end must be given together")
    start, end = parse_instant(rng.start, "start"), parse_instant(rng.end, "end")
    if start >= end:
        raise PayloadError("start", f"start {iso(start)} must be before end {iso(end)}")
    if end - start > max_range and not split:
        hours = max_range.total_seconds() / 3600
        raise PayloadError("end", f"range {end - start} is wider than the maximum of {hours:g} hours")
    return [ExportWindow(n, s, e, split) for n in names for s, e in split_range(start, end, chunk)]


def _validate(event: dict[str, Any], tables: TablesConfig) -> tuple[list[str], int | None, _Range]:
    """Shape-check a manual or Step Functions payload and resolve its table names."""
    rng: _Range
    try:
        if "table" in event:
            item = ItemPayload.model_validate(event)
            names, chunk, rng = [item.table], None, item
        else:
            manual = ManualPayload.model_validate(event)
            names, chunk, rng = manual.tables or tables.names, manual.chunk_minutes, manual
    except ValidationError as exc:
        field, problems = describe(exc)
        raise PayloadError(field, problems) from None
    for i, name in enumerate(names):
        if tables.get(name) is None:
            where = "table" if "table" in event else f"tables[{i}]"
            raise PayloadError(where, f"unknown table {name!r}; configured: {', '.join(tables.names)}")
    if len(set(names)) != len(names):
        raise PayloadError("tables", "a table is listed twice")
    return names, chunk, rng


def split_range(start: datetime, end: datetime, chunk_minutes: int | None) -> list[tuple[datetime, datetime]]:
    """Contiguous (start, end] chunks covering the range exactly: no gap, no overlap."""
    if chunk_minutes is None:
        return [(start, end)]
    step = timedelta(minutes=chunk_minutes)
    count = -(-(end - start) // step)
    if count > MAX_CHUNKS:
        raise PayloadError("chunk_minutes", f"{count} chunks is more than {MAX_CHUNKS}; use larger chunks")
    return [(start + i * step, min(start + (i + 1) * step, end)) for i in range(count)]


# A window whose statement timed out is re-run in this many chunks: each then needs about a quarter
# of the time, whatever made the whole one slow (its rows, a lock, a cold cache).
TIMEOUT_RERUN_CHUNKS = 4


def can_cut(lower: datetime | None, upper: datetime, max_range: timedelta) -> bool:
    """Whether a manual payload in chunks can re-run (lower, upper]: not a full refresh (no lower
    bound), nor a window wider than the exporter accepts by hand (a first run from the epoch, a
    split part), which re-run as they were and which the state machine splits."""
    return lower is not None and upper - lower <= max_range


def smaller_rerun(table: str, lower: datetime | None, upper: datetime) -> dict[str, Any]:
    """The manual payload that re-exports (lower, upper] in smaller chunks. A full refresh (no lower
    bound) has no watermark range to cut: its re-run is the refresh itself."""
    if lower is None:
        return ExportWindow(table).payload()
    minutes = max(1, -(-int((upper - lower).total_seconds()) // (60 * TIMEOUT_RERUN_CHUNKS)))
    return {**ExportWindow(table, lower, upper).payload(), "chunk_minutes": minutes}


def smaller_windows_advice(table: str, lower: datetime | None, upper: datetime, max_range: timedelta) -> str:
    """What on-call runs after a statement timeout, for the error message."""
    if lower is None:
        return (
            f"{table} is a full refresh, which cannot be cut into watermark windows: give the exporter "
            "a longer timeout, or export manual ranges and then the NULL-watermark rows"
        )
    if not can_cut(lower, upper, max_range):
        hours = max_range.total_seconds() / 3600
        return (
            f"the window {iso(lower)}..{iso(upper)} is wider than a manual payload may be: the state "
            f"machine splits it; by hand, export it in ranges of at most {hours:g} hours with chunk_minutes"
        )
    payload = json.dumps(smaller_rerun(table, lower, upper))
    return f"re-export the window in smaller chunks by invoking the exporter with {payload}"
