"""The low-volume rule (reconciler/volume.py) as a pure function of manifests: off without config or
history, silent through nights, weekends and daylight saving time, P3 on a real drop, and not
misled by backfills, overlapping windows or a full refresh."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from aurora_sync.alerts import Severity
from aurora_sync.manifest import ReadManifest, parse_manifest
from aurora_sync.reconciler.checks import CheckResult, Status
from aurora_sync.reconciler.volume import (
    check_volume,
    hours_to_read,
    newest_hour,
    rows_between,
    windows,
)
from aurora_sync.tables import LowVolume
from aurora_sync.timeutil import iso

TABLE = "public.orders"
HOUR = timedelta(hours=1)
WEEK = timedelta(weeks=1)
END = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)  # a Tuesday, 14:00 UTC
CONFIG = LowVolume()  # 6 hours, below 20 % of the median of 3 weeks, 2 needed, 100 rows at least


def manifest(
    lower: datetime | None, upper: datetime, rows: int, *, full_refresh: bool = False
) -> ReadManifest:
    doc = {
        "run_id": "r",
        "table": TABLE,
        "files": [],
        "rows": rows,
        "lower": None if lower is None else iso(lower),
        "upper": iso(upper),
        "finished_at": iso(upper + timedelta(seconds=5)),
        "full_refresh": full_refresh,
    }
    key = f"_manifests/{TABLE}/{upper:%Y/%m/%d/%H}/run-{upper.timestamp()}-{rows}.json"
    return parse_manifest(key, json.dumps(doc).encode(), TABLE)


def hourly(
    start: datetime, end: datetime, rate: Callable[[datetime], int], overlap: int = 360
) -> list[ReadManifest]:
    """One incremental run per hour from `start` to `end`: the window (h - lookback, h + 1 h], as the
    exporter writes them (FINAL's watermark less lookback_seconds), with `rate(h)` rows an hour: the
    overlap's rows are exported again."""
    found = []
    at = start
    while at < end:
        lower = at - timedelta(seconds=overlap)
        found.append(manifest(lower, at + HOUR, round(rate(at) * ((at + HOUR - lower) / HOUR))))
        at += HOUR
    return found


def business(at: datetime) -> int:
    """1,000 rows an hour 09:00-17:00 UTC on weekdays, none at night or at the weekend."""
    return 1000 if at.weekday() < 5 and 9 <= at.hour < 17 else 0


def steady(at: datetime) -> int:
    return 1000


def judge(found: list[ReadManifest], end: datetime = END, config: LowVolume | None = CONFIG) -> CheckResult:
    return check_volume(TABLE, config, windows(found), end)


def test_off_without_config() -> None:
    # GIVEN a table without low_volume WHEN checked THEN skipped, whatever its manifests say
    result = judge(hourly(END - 4 * WEEK, END, lambda at: 0), config=None)
    assert (result.status, result.summary) == (Status.SKIPPED, "off: no low_volume in tables.json")


def test_off_without_history_saying_how_much_there_is() -> None:
    # GIVEN a table exported for 8 days only, now exporting nothing
    found = hourly(END - 8 * 24 * HOUR, END - 6 * HOUR, steady) + hourly(END - 6 * HOUR, END, lambda at: 0)
    # WHEN checked (2 of 3 weeks needed)
    result = judge(found)
    # THEN pending: one week of history, not a problem
    assert result.status == Status.PENDING and result.severity is None
    assert result.summary == "off: 1 of 2 weeks of history for these hours (3 looked at)"
    assert [w["rows"] for w in result.details["weeks"]] == [6000, None, None]


def test_a_tables_first_export_from_the_epoch_is_no_history() -> None:
    # GIVEN the first export (from the epoch, all rows) four weeks ago, then hourly runs for 10 days
    first = manifest(datetime(1970, 1, 1, tzinfo=UTC), END - 4 * WEEK, 5_000_000)
    found = [first, *hourly(END - 10 * 24 * HOUR, END, steady)]
    # WHEN checked THEN the epoch window counts as no week's history
    result = judge(found)
    assert result.status == Status.PENDING and "1 of 2 weeks" in result.summary


@pytest.mark.parametrize("shift", [timedelta(0), -HOUR, HOUR], ids=["same", "dst-earlier", "dst-later"])
def test_nights_weekends_and_daylight_saving_never_page_a_business_hours_table(shift: timedelta) -> None:
    # GIVEN a business-hours table's three past weeks, and this week the same rhythm (or an hour
    # earlier or later in UTC: a daylight saving change of the business's time zone)
    week_start = datetime(2026, 11, 23, tzinfo=UTC)  # Monday
    found = hourly(week_start - 3 * WEEK - 2 * HOUR, week_start, business)
    found += hourly(week_start, week_start + WEEK + HOUR, lambda at: business(at + shift))
    # WHEN the check runs at every hour of this week
    results = [judge(found, end=week_start + h * HOUR) for h in range(1, 24 * 7 + 1)]
    # THEN it never finds a problem, and it did judge the busy hours (not just stay pending)
    assert [r.summary for r in results if r.status == Status.PROBLEM] == []
    assert {r.status for r in results} == {Status.OK}
    assert sum("median" in r.details and r.details["median"] >= 100 for r in results) > 5 * 8


def test_a_real_drop_is_a_p3_for_chat_with_the_numbers() -> None:
    # GIVEN a table exporting 1,000 rows an hour for four weeks, then 50 an hour for the last 6 hours
    found = hourly(END - 4 * WEEK, END - 6 * HOUR, steady) + hourly(END - 6 * HOUR, END, lambda at: 50)
    # WHEN checked
    result = judge(found)
    # THEN a P3 (chat, never the pager) naming the hours, the rows and the median, with its runbook
    assert (result.status, result.severity, result.runbook_anchor) == (
        Status.PROBLEM,
        Severity.P3,
        "low-volume",
    )
    assert result.summary == (
        "300 rows exported for 2026-11-24T08:00:00.000000Z..2026-11-24T14:00:00.000000Z (6 h): 5% of the "
        "median 6,000 of the same hours over the past 3 weeks (alert below 20%)"
    )
    assert result.details["rows"] == 300 and result.details["median"] == 6000
    assert [w["from"] for w in result.details["weeks"]] == [iso(END - 6 * HOUR - k * WEEK) for k in (1, 2, 3)]


def test_a_drop_above_the_fraction_is_ok() -> None:
    # GIVEN the last 6 hours at 300 an hour (30 % of usual, above 20 %) WHEN checked THEN ok
    found = hourly(END - 4 * WEEK, END - 6 * HOUR, steady) + hourly(END - 6 * HOUR, END, lambda at: 300)
    result = judge(found)
    assert result.status == Status.OK and result.summary.startswith("1,800 rows for ")


def test_a_table_with_no_traffic_is_not_judged() -> None:
    # GIVEN a table with a handful of rows a day (median under min_rows) that exported none lately
    found = hourly(END - 4 * WEEK, END - 6 * HOUR, lambda at: 1 if at.hour == 10 else 0)
    found += hourly(END - 6 * HOUR, END, lambda at: 0)
    # WHEN checked THEN ok, saying why it was not judged
    result = judge(found)
    assert result.status == Status.OK and result.summary.startswith(
        "not judged: the same hours held a median of 1 "
    )


def test_a_backfill_in_the_history_counts_its_hours_once() -> None:
    # GIVEN steady hourly runs, and in each past week on-call re-exported the compared hours as a
    # backfill (hourly chunks, the same rows) and once more within a 2-day manual window (whose
    # other day was quiet: 1,000 rows an hour on average would hide the difference)
    found = hourly(END - 4 * WEEK, END, steady, overlap=0)
    for k in (1, 2, 3):
        start = END - k * WEEK - 8 * HOUR
        found += hourly(start, start + 10 * HOUR, steady, overlap=0)
        found.append(manifest(start - 24 * HOUR, start + 24 * HOUR, 30_000))
    # WHEN checked
    result = judge(found)
    # THEN each past week counts its 6 hours' 6,000 rows once, not twice or more
    assert [w["rows"] for w in result.details["weeks"]] == [6000, 6000, 6000]
    assert result.status == Status.OK and result.details["rows"] == 6000


def test_rows_are_per_hour_of_window_not_per_run() -> None:
    # GIVEN an outage: no run for 5 hours, then one catch-up window of 6 hours with 6,000 rows
    found = hourly(END - 4 * WEEK, END - 6 * HOUR, steady, overlap=0)
    found.append(manifest(END - 6 * HOUR, END, 6000))
    # WHEN checked THEN its rows spread over its hours: 6,000 for the last 6, as usual
    result = judge(found)
    assert result.status == Status.OK and result.details["rows"] == 6000
    # AND any one hour of it holds 1,000
    assert rows_between(windows(found), END - HOUR, END) == (1000.0, HOUR)


def test_a_full_refresh_leaves_its_hours_unjudged_instead_of_paging() -> None:
    # GIVEN four weeks of steady runs where the last hours' run was a full refresh (no lower bound)
    found = hourly(END - 4 * WEEK, END - 2 * HOUR, steady)
    found += [manifest(None, END - HOUR, 9_000_000, full_refresh=True), manifest(END - HOUR, END, 1000)]
    # WHEN checked THEN pending: the hour the full refresh replaced is not covered by an hourly window
    result = judge(found)
    assert result.status == Status.PENDING
    assert result.summary.startswith("off: exports cover 83% of 2026-11-24T08:00:00.000000Z..")


def test_the_hours_compared_end_at_the_newest_exported_hour_and_the_reads_are_bounded() -> None:
    # GIVEN the newest export reached 14:00:03 WHEN the span's end is taken THEN 14:00
    assert newest_hour(windows([manifest(END - HOUR, END + timedelta(seconds=3), 5)])) == END
    # AND the run hours to read: 8 for the current 6 hours, 10 for each of the 3 past weeks
    hours = hours_to_read(END, CONFIG)
    assert len(hours) == 8 + 3 * 10
    assert [h for h in hours if h >= END - 6 * HOUR] == [END - 6 * HOUR + i * HOUR for i in range(8)]
