"""The `cost` check's rule (reconciler/cost.py): which day is judged, what it is judged against, and
what every result tells on-call. Pure: the figures are given as the views return them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aurora_sync.adapters.snowflake_history import MergeCredits, PipeCredits
from aurora_sync.reconciler.checks import Status
from aurora_sync.reconciler.cost import (
    EXCLUDES,
    DailyCredits,
    check_cost,
    cost_day,
    credits_text,
    daily_credits,
)

DAY = datetime(2026, 11, 21, tzinfo=UTC)
ORDERS = "public.orders"


def spent(snowpipe: float, merge: float, queries: int = 40) -> DailyCredits:
    return DailyCredits(DAY, snowpipe, merge, queries, 2_000_000_000)


@pytest.mark.parametrize(
    ("now", "day"),
    [
        # from 08:00 UTC on, yesterday: both views' latency (3 h, 6 to 8 h) has passed
        (datetime(2026, 11, 22, 8, 0, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC)),
        (datetime(2026, 11, 22, 23, 59, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC)),
        # before it, the day before: yesterday's figures may still be arriving
        (datetime(2026, 11, 22, 7, 59, 59, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)),
        (datetime(2026, 11, 22, 0, 0, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)),
    ],
)
def test_the_day_judged_is_the_newest_that_ended_eight_hours_ago(now: datetime, day: datetime) -> None:
    # GIVEN the reconciler's clock WHEN the day is picked THEN it is a whole UTC day, [00:00, 24:00)
    assert cost_day(now) == (day, day + timedelta(days=1))


def test_a_day_is_its_pipe_and_its_merge_task_and_a_missing_row_is_nothing_spent() -> None:
    # GIVEN the pipe's row and the MERGE tag's row WHEN combined THEN they add up
    found = daily_credits(DAY, PipeCredits(0.25, 10**9), MergeCredits(1.5, 40))
    assert (found.total, found.merge_queries, found.bytes_loaded) == (1.75, 40, 10**9)
    # GIVEN a table whose pipe loaded nothing and whose task never ran THEN the day cost nothing
    assert daily_credits(DAY, None, None) == DailyCredits(DAY, 0.0, 0.0, 0, 0)


def test_without_a_budget_the_credits_are_reported_and_never_judged() -> None:
    # GIVEN no daily_credit_budget WHEN checked, however much was spent
    result = check_cost(ORDERS, None, spent(5.0, 500.0))
    # THEN skipped: no alert raised (routing resolves any left open), the figures in the result
    assert (result.status, result.severity) == (Status.SKIPPED, None)
    assert result.summary == (
        "505.000 credits on 2026-11-21 (Snowpipe 5.000, MERGE 500.000 in 40 queries); "
        "no daily_credit_budget: not judged"
    )
    assert result.details["credits"] == 505.0 and "budget" not in result.details


def test_over_the_budget_is_a_p4_with_its_figures_and_runbook_section() -> None:
    # GIVEN a budget of 1.5 credits and 1.75 spent WHEN checked
    result = check_cost(ORDERS, 1.5, spent(0.25, 1.5))
    # THEN a P4 (chat only) saying how much, where, and the budget; its runbook section
    assert (result.status, result.severity, result.runbook_anchor) == (
        Status.PROBLEM,
        "P4",
        "table-over-budget",
    )
    assert result.summary == (
        "1.750 credits on 2026-11-21 (Snowpipe 0.250, MERGE 1.500 in 40 queries): over its "
        "daily_credit_budget of 1.5"
    )
    # AND the details say the figure is exact, where it comes from, and what it leaves out
    assert result.details == {
        "day": "2026-11-21",
        "credits": 1.75,
        "snowpipe_credits": 0.25,
        "merge_credits": 1.5,
        "merge_queries": 40,
        "bytes_loaded": 2_000_000_000,
        "source": (
            "exact: SNOWFLAKE.ACCOUNT_USAGE PIPE_USAGE_HISTORY (Snowpipe) + QUERY_ATTRIBUTION_HISTORY (MERGE)"
        ),
        "excludes": EXCLUDES,
        "budget": 1.5,
    }
    assert "idle time" in EXCLUDES and "cloud services" in EXCLUDES


@pytest.mark.parametrize("total", [1.5, 0.0])
def test_at_or_under_the_budget_is_ok(total: float) -> None:
    # GIVEN a budget of 1.5 and exactly that, or nothing, spent WHEN checked THEN ok (resolves)
    result = check_cost(ORDERS, 1.5, spent(0.0, total))
    assert (result.status, result.severity) == (Status.OK, None)
    assert result.summary.endswith(": within its daily_credit_budget of 1.5")


@pytest.mark.parametrize(
    ("value", "text"), [(0.0, "0.000"), (1234.5678, "1,234.568"), (0.001, "0.001"), (0.0000123, "1.2e-05")]
)
def test_credits_read_as_people_read_them(value: float, text: str) -> None:
    # GIVEN a figure WHEN written in a summary THEN three decimals, or two digits below a thousandth
    assert credits_text(value) == text
