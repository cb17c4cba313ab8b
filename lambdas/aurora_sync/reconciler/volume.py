"""The `volume` check: a table that suddenly exports far fewer rows than usual (the sync guide:
"Unexpectedly low row counts should trigger investigation"). Pure, like reconciler/checks.py; the
manifests are read by table_checks.py.

The rule, per table with `low_volume` in tables.json (off without it):
- Measure rows per hour of watermark window, not per run: each manifest's rows are spread over its
  (lower, upper], and where windows overlap only the narrowest counts. A backfill, a split or a
  manual re-export repeats hours already exported, hourly windows overlap by lookback_seconds, and a
  catch-up after an outage spans many hours: counted per run, each would distort the baseline.
  A full refresh (no lower bound) and windows wider than a week (a table's first export starts at
  the epoch) say nothing about any hour and are left out.
- Compare the last `hours` whole hours (N hourly runs' windows, summed so one slow hour is no
  signal) with the same hours of the week in each of the past `weeks` weeks, each taken at its
  smallest of that span and the span an hour earlier or later (daylight saving time moves a local
  business day by an hour in UTC). A plain trailing median of hourly counts would page every night
  for a business-hours table, and a median of daily sums every weekend; the same time of week has
  the same rhythm.
- A problem (P3, chat only) when the sum is below `below_fraction` of the weeks' median. Off
  (pending) while fewer than `min_weeks` of those weeks are covered by windows, and not judged when
  the median is under `min_rows` (a table with no traffic at that time of week, or too little for
  a drop to be told from chance).
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aurora_sync.alerts import Severity
from aurora_sync.manifest import ReadManifest
from aurora_sync.reconciler.checks import CheckResult, Status
from aurora_sync.tables import LowVolume
from aurora_sync.timeutil import iso

CHECK = "volume"
HOUR = timedelta(hours=1)
WEEK = timedelta(weeks=1)
SHIFT = HOUR  # a past week's span is also taken an hour earlier and later: daylight saving time
MAX_WINDOW = WEEK  # a wider window (the first export, from the epoch) says nothing about an hour
COVERED = 0.99  # share of a span that windows must cover for its rows to count


@dataclass(frozen=True)
class Window:
    """(lower, upper] of one export and the rows it found there."""

    lower: datetime
    upper: datetime
    rows: int

    @property
    def width(self) -> timedelta:
        return self.upper - self.lower


def windows(manifests: Iterable[ReadManifest]) -> list[Window]:
    """The manifests' windows that tell how many rows an hour holds (see the module docstring)."""
    found: list[Window] = []
    for manifest in manifests:
        lower, upper = manifest.doc.window()
        if manifest.doc.full_refresh or lower is None or not lower < upper <= lower + MAX_WINDOW:
            continue
        found.append(Window(lower, upper, manifest.doc.rows))
    return found


def newest_hour(found: list[Window]) -> datetime | None:
    """End of the hours compared: the newest whole hour an export reached. Taken from the data, not
    the clock, so a reconciler running before this hour's export compares the hours before it."""
    if not found:
        return None
    return max(w.upper for w in found).replace(minute=0, second=0, microsecond=0)


def spans(
    end: datetime, config: LowVolume
) -> tuple[tuple[datetime, datetime], list[tuple[datetime, datetime]]]:
    """The hours compared, [start, end), and per past week those hours widened by SHIFT each side."""
    length = timedelta(hours=config.hours)
    weeks = [(end - length - k * WEEK - SHIFT, end - k * WEEK + SHIFT) for k in range(1, config.weeks + 1)]
    return (end - length, end), weeks


def hours_to_read(end: datetime, config: LowVolume) -> list[datetime]:
    """Run hours whose manifests hold the windows of the spans: an hourly run writes the window that
    ends at its start under that start's hour, so each span's hours and the hour after it, plus one
    for a run that started late. `hours` + 4 hours a week, `hours` + 2 for the current span."""
    current, weeks = spans(end, config)
    hours: set[datetime] = set()
    for start, stop in (current, *weeks):
        hour = start.replace(minute=0, second=0, microsecond=0)
        while hour <= stop + HOUR:
            hours.add(hour)
            hour += HOUR
    return sorted(hours)


def rows_between(found: list[Window], start: datetime, end: datetime) -> tuple[float, timedelta]:
    """Rows with watermarks in [start, end), and how much of it windows cover. Each window's rows are
    spread evenly over it; on each stretch only the narrowest window covering it counts, so rows
    exported twice (overlaps, re-exports, backfills) are counted once."""
    relevant = [w for w in found if w.lower < end and w.upper > start]
    cuts = sorted({start, end, *(t for w in relevant for t in (w.lower, w.upper) if start < t < end)})
    rows, covered = 0.0, timedelta(0)
    for left, right in itertools.pairwise(cuts):
        over = [w for w in relevant if w.lower <= left and w.upper >= right]
        if over:
            best = min(over, key=lambda w: w.width)
            rows += best.rows * ((right - left) / best.width)
            covered += right - left
    return rows, covered


def _week_rows(found: list[Window], start: datetime, stop: datetime, length: timedelta) -> float | None:
    """A past week's rows: the smallest sum of `length` in [start, stop) at SHIFT steps; None unless
    windows cover all of it (the table was not exported then, or its manifests have expired)."""
    _, covered = rows_between(found, start, stop)
    if covered < (stop - start) * COVERED:
        return None
    sums = []
    at = start
    while at + length <= stop:
        sums.append(rows_between(found, at, at + length)[0])
        at += SHIFT
    return min(sums)


def check_volume(
    table: str, config: LowVolume | None, found: list[Window], end: datetime | None
) -> CheckResult:
    """`found`: the windows of the look-back's manifests and of the past weeks' hours (hours_to_read
    of `end`); `end`: newest_hour of the look-back's windows."""
    if config is None:
        return CheckResult(CHECK, table, Status.SKIPPED, "off: no low_volume in tables.json")
    if end is None:
        return CheckResult(CHECK, table, Status.PENDING, "off: no hourly export window in the look-back yet")
    (start, _), weeks = spans(end, config)
    length = end - start
    rows, covered = rows_between(found, start, end)
    details: dict[str, Any] = {
        "window": [iso(start), iso(end)],
        "hours": config.hours,
        "rows": round(rows),
        "below_fraction": config.below_fraction,
        "min_rows": config.min_rows,
    }
    if covered < length * COVERED:
        share = covered / length
        summary = (
            f"off: exports cover {share:.0%} of {iso(start)}..{iso(end)} (a full refresh or runs "
            "missing); judged again once hourly windows cover it"
        )
        return CheckResult(CHECK, table, Status.PENDING, summary, details=details)
    history = [(s, e, _week_rows(found, s, e, length)) for s, e in weeks]
    sums = [r for _, _, r in history if r is not None]
    details["weeks"] = [
        {"from": iso(s + SHIFT), "to": iso(e - SHIFT), "rows": None if r is None else round(r)}
        for s, e, r in history
    ]
    if len(sums) < config.min_weeks:
        summary = (
            f"off: {len(sums)} of {config.min_weeks} weeks of history for these hours "
            f"({config.weeks} looked at)"
        )
        return CheckResult(CHECK, table, Status.PENDING, summary, details=details)
    return _judged(table, config, rows, sums, details)


def _judged(
    table: str, config: LowVolume, rows: float, sums: list[float], details: dict[str, Any]
) -> CheckResult:
    """The rule itself, once there is enough history: the rows against the past weeks' median."""
    span = f"{details['window'][0]}..{details['window'][1]} ({config.hours} h)"
    median = statistics.median(sums)
    details["median"] = round(median)
    if median < config.min_rows:
        summary = (
            f"not judged: the same hours held a median of {round(median):,} rows over {len(sums)} "
            f"weeks, under min_rows {config.min_rows:,}"
        )
        return CheckResult(CHECK, table, Status.OK, summary, details=details)
    if rows < config.below_fraction * median:
        summary = (
            f"{round(rows):,} rows exported for {span}: {rows / median:.0%} of the median "
            f"{round(median):,} of the same hours over the past {len(sums)} weeks "
            f"(alert below {config.below_fraction:.0%})"
        )
        return CheckResult(CHECK, table, Status.PROBLEM, summary, Severity.P3, details, "low-volume")
    summary = (
        f"{round(rows):,} rows for {span}; the same hours' median over {len(sums)} weeks: {round(median):,}"
    )
    return CheckResult(CHECK, table, Status.OK, summary, details=details)
