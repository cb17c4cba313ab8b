"""A full refresh in primary-key ranges (issue 15 §2): its plan, its checkpoints, its resume.

The override's full refresh is one window of the whole table: it must finish inside one Lambda, the
state machine cannot split it (no watermark range: it also takes NULL watermarks) and a failure
starts it over. Here the table is cut into key ranges instead, each one Step Functions item:

- Plan (`{"action": "plan", "refresh": "<schema.table>"}`): the boundaries come from the key's
  distribution, a TABLESAMPLE SYSTEM sample of the keys sorted as PostgreSQL sorts them, every k-th
  a boundary (`choose_boundaries`), so each range holds about `rows_per_range` rows. The plan, with
  the commit-safe bound every range exports up to, is written to S3 before the first range runs and
  reused by every resume: the ranges stay the same whatever happens to the table meanwhile.
- Range (`{"table", "refresh": {"id", "index", "of"}}`): every row with `after < key <= upto`
  (exporter/query.build_range_query), its manifest, then a checkpoint, the manifest copied under the
  refresh (`_refresh/<table>/<id>/done/`). A range exported twice is harmless: the MERGE is
  idempotent and keeps the newest watermark.
- One refresh at a time: a new refresh is claimed by a conditional write of the table's pointer
  (`_refresh/<table>/current.json`: If-None-Match "*" when there is none, If-Match its ETag when it
  names an ended refresh). Two plans at the same moment both write their own plan, one claim wins,
  and the other planner abandons its own and joins the winner's, returning its ranges.
- Resume: a plan request for a table with an unfinished refresh returns only the ranges without a
  checkpoint. When the last range's checkpoint is written the refresh is complete
  (`complete.json`, what `aurora-sync resync` and `status` read). Keys FINAL holds that Aurora no
  longer has are not the refresh's business: a table with delete detection has them removed or
  marked by its hourly pass (exporter/deletes.py), refresh or not; without it FINAL keeps them.

FINAL is never truncated: each range MERGEs, so readers see every row throughout.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aurora_sync.errors import TerminalError
from aurora_sync.exporter.payloads import MAX_PLAN_ITEMS, ExportWindow, RangeRef
from aurora_sync.layout import (
    refresh_done_key,
    refresh_end_key,
    refresh_plan_key,
    refresh_pointer_key,
    refresh_prefix,
)
from aurora_sync.pins import PinStore

# Sampled keys per planned range: quantiles of 32 keys put a range within about a fifth of its
# target size; at most 32,000 keys for 1,000 ranges, so the plan's one statement stays small.
SAMPLES_PER_RANGE = 32
# TABLESAMPLE SYSTEM picks whole pages: a table of a few pages sampled at p % often yields no page at
# all (4 pages at 32 %: 21 %), and so one range. Up to this many rows every key is read instead (a
# 100 % sample: well under a second, a few MiB), so only tables of thousands of pages are sampled.
FULL_SAMPLE_ROWS = 100_000
ID_FORMAT = "%Y%m%dT%H%M%SZ"
# What one plan's items may take of Step Functions' 256 KiB of state: half, so the Plan's answer and
# the state that holds the items stay far inside it whatever the table's name (an item is about 85
# bytes for public.orders, about 200 for a 127-character schema.table: 1,000 of those would be 78 %).
MAX_ITEMS_BYTES = 128 * 1024


@dataclass(frozen=True)
class Sizing:
    """How many ranges a table of `estimate` rows is cut into, and what share of its pages to sample."""

    ranges: int
    percent: float


def max_ranges(table: str) -> int:
    """The most ranges whose items fit MAX_ITEMS_BYTES, and never more than MAX_PLAN_ITEMS."""
    widest = ExportWindow(table, refresh=RangeRef(id="20000101T000000Z", index=999, of=1000)).item()
    return min(MAX_PLAN_ITEMS, MAX_ITEMS_BYTES // (len(json.dumps(widest)) + 2))


def sizing(estimate: int, rows_per_range: int, limit: int = MAX_PLAN_ITEMS) -> Sizing:
    """At least one range, at most `limit` (one execution's items, max_ranges); a table with one range
    needs no sample. A larger table than limit x rows_per_range gets larger ranges, not more."""
    ranges = max(1, min(limit, -(-max(estimate, 0) // rows_per_range)))
    if ranges == 1:
        return Sizing(1, 0.0)
    if estimate <= FULL_SAMPLE_ROWS:
        return Sizing(ranges, 100.0)
    return Sizing(ranges, min(100.0, 100.0 * ranges * SAMPLES_PER_RANGE / estimate))


def choose_boundaries(sample: Sequence[tuple[str, ...]], ranges: int) -> list[tuple[str, ...]]:
    """The upper key of every range but the last: the i/ranges quantiles of the sorted sample.

    Range 0 is `key <= b[0]`, range i is `b[i-1] < key <= b[i]`, the last `key > b[-1]`, so the
    ranges cover every key exactly once whatever the sample missed. A sample smaller than `ranges`
    gives fewer ranges (a key is never a boundary twice); an empty one gives one range.
    """
    size = len(sample)
    if ranges <= 1 or size == 0:
        return []
    # The last sampled key is never a boundary: the last range would hold only keys past the sample.
    picks = sorted({min(size - 2, -(-i * size // ranges) - 1) for i in range(1, ranges)})
    chosen: list[tuple[str, ...]] = []
    for pick in picks:
        if pick >= 0 and (not chosen or sample[pick] != chosen[-1]):
            chosen.append(tuple(sample[pick]))
    return chosen


class PlanDoc(BaseModel):
    """A persisted plan as read back: every field checked, so a damaged plan fails by name."""

    model_config = ConfigDict(extra="ignore")

    refresh_id: str
    table: str
    keys: list[str] = Field(min_length=1)
    boundaries: list[list[str]] = Field(max_length=MAX_PLAN_ITEMS - 1)
    upper: str
    created_at: str
    rows_estimate: int = Field(ge=0)
    rows_per_range: int = Field(ge=1)
    sampled: int = Field(ge=0)


@dataclass(frozen=True)
class RefreshPlan:
    refresh_id: str
    table: str
    keys: list[str]
    boundaries: list[list[str]]
    upper: str  # the commit-safe bound when planned: every range exports watermarks up to it
    created_at: str
    rows_estimate: int
    rows_per_range: int
    sampled: int

    @property
    def ranges(self) -> int:
        return len(self.boundaries) + 1

    def bounds(self, index: int) -> tuple[list[str] | None, list[str] | None]:
        """(after, upto) of range `index`; None is an open end."""
        if not 0 <= index < self.ranges:
            raise TerminalError(f"refresh {self.refresh_id} of {self.table} has no range {index}")
        after = self.boundaries[index - 1] if index > 0 else None
        upto = self.boundaries[index] if index < len(self.boundaries) else None
        return after, upto

    def window(self, index: int) -> ExportWindow:
        return ExportWindow(self.table, refresh=RangeRef(id=self.refresh_id, index=index, of=self.ranges))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, key: str, body: bytes) -> RefreshPlan:
        try:
            doc = PlanDoc.model_validate_json(body)
        except ValidationError as exc:
            raise TerminalError(f"refresh plan {key} cannot be read: {exc.errors()[0]['msg']}") from None
        return cls(**doc.model_dump())


class RefreshStore(PinStore, Protocol):
    """The bucket as the ledger needs it: PinStore plus S3's conditional writes."""

    def put_json_if(self, key: str, body: str, *, etag: str | None) -> bool: ...

    def read_with_etag(self, key: str) -> tuple[bytes, str] | None: ...


class PlanGone(TerminalError):
    """A refresh's plan.json is missing: objects under `_refresh/` expire (the bucket's lifecycle
    rule `expire-refresh`, 30 days by default) and a refresh untouched that long lost its plan. Its
    ranges cannot be exported again without their boundaries; planning the table starts anew."""


@dataclass(frozen=True)
class Progress:
    """What is known of one refresh from its folder alone (one listing)."""

    refresh_id: str
    done: set[int] = field(default_factory=set)
    ended: str | None = None  # "complete" or "abandoned"

    def left(self, ranges: int) -> list[int]:
        """The indexes of the ranges without a checkpoint, in order."""
        return [i for i in range(ranges) if i not in self.done]


class RefreshLedger:
    """The refreshes' objects under `_refresh/<table>/` (layout.refresh_*): plans, checkpoints, ends."""

    def __init__(self, store: RefreshStore) -> None:
        self._store = store

    def progress(self, table: str, refresh_id: str | None = None) -> list[Progress]:
        """Every refresh of the table, oldest first, from one listing of its folder (or of one
        refresh's folder only: what each range reads after its checkpoint). Objects beside the
        refreshes' folders (the pointer) are no refresh."""
        prefix = refresh_prefix(table)
        found: dict[str, Progress] = {}
        for key in self._store.sizes(refresh_prefix(table, refresh_id)):
            refresh_id, slash, rest = key[len(prefix) :].partition("/")
            if not slash:
                continue
            entry = found.setdefault(refresh_id, Progress(refresh_id))
            if rest.startswith("done/range-") and rest.endswith(".json"):
                entry.done.add(int(rest.removeprefix("done/range-").removesuffix(".json")))
            elif rest in {"complete.json", "abandoned.json"}:
                found[refresh_id] = Progress(refresh_id, entry.done, rest.removesuffix(".json"))
        return [found[k] for k in sorted(found)]

    def one(self, table: str, refresh_id: str) -> Progress:
        return next(iter(self.progress(table, refresh_id)), Progress(refresh_id))

    def unfinished(self, table: str) -> Progress | None:
        """The table's newest refresh that has neither completed nor been abandoned."""
        return next((p for p in reversed(self.progress(table)) if p.ended is None), None)

    def plan(self, table: str, refresh_id: str) -> RefreshPlan:
        key = refresh_plan_key(table, refresh_id)
        body = self._store.read_if_exists(key)
        if body is None:
            raise PlanGone(
                f"refresh {refresh_id} of {table} has no plan at {key}: a refresh untouched for the "
                "bucket's expire-refresh days (30 by default) loses its objects, so its ranges cannot be "
                f"resumed; plan the table again (`aurora-sync resync {table}`), which abandons it and "
                "starts a new refresh"
            )
        plan = RefreshPlan.from_json(key, body)
        if plan.table != table or plan.refresh_id != refresh_id:
            raise TerminalError(f"refresh plan {key} is of {plan.table} {plan.refresh_id}")
        return plan

    def create(self, plan: RefreshPlan) -> bool:
        """Writes a new plan unless one with its id exists (two plans within one second): False."""
        key = refresh_plan_key(plan.table, plan.refresh_id)
        return self._store.put_json_if(key, plan.to_json(), etag=None)

    def save(self, plan: RefreshPlan) -> None:
        self._store.put_json(refresh_plan_key(plan.table, plan.refresh_id), plan.to_json())

    def pointer(self, table: str) -> tuple[str, str] | None:
        """(refresh id, ETag) of the table's claimed refresh, None before the first claim (or once
        the pointer expired with the rest of `_refresh/`)."""
        found = self._store.read_with_etag(refresh_pointer_key(table))
        if found is None:
            return None
        body, etag = found
        try:
            refresh_id = str(json.loads(body)["refresh_id"])
        except (ValueError, KeyError, TypeError):
            raise TerminalError(f"{refresh_pointer_key(table)} is not a refresh pointer") from None
        return refresh_id, etag

    def claim(self, plan: RefreshPlan, replacing: str | None) -> bool:
        """Points the table at `plan` if the pointer is still as read: absent (`replacing` None) or
        that ETag. False: another planner claimed first."""
        body = json.dumps({"refresh_id": plan.refresh_id, "table": plan.table, "claimed_at": plan.created_at})
        return self._store.put_json_if(refresh_pointer_key(plan.table), body, etag=replacing)

    def checkpoint(self, plan: RefreshPlan, index: int, manifest_key: str, manifest: str) -> None:
        body = json.dumps({"manifest_key": manifest_key, "manifest": json.loads(manifest)}, sort_keys=True)
        self._store.put_json(refresh_done_key(plan.table, plan.refresh_id, index), body)

    def end(self, plan: RefreshPlan, how: str, detail: dict[str, object]) -> None:
        self.end_by_id(plan.table, plan.refresh_id, how, detail)

    def end_by_id(self, table: str, refresh_id: str, how: str, detail: dict[str, object]) -> None:
        """The end marker alone: also for a refresh whose plan is gone (PlanGone)."""
        body = json.dumps({"refresh_id": refresh_id, "table": table, how: True, **detail})
        self._store.put_json(refresh_end_key(table, refresh_id, how), body)
