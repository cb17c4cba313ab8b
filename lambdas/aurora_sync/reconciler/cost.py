"""The `cost` check (issue 14 §3, P4): each table's Snowflake credits of a day, always reported, and a
P4 (chat only) when a table with `daily_credit_budget` in tables.json spent more. Pure, like
reconciler/checks.py; the figures are read once per run for every table (reconciler/evidence.py).

What a table's day costs, and where it comes from (docs/decisions.md, "Per-table credits"):
- Snowpipe: SNOWFLAKE.ACCOUNT_USAGE.PIPE_USAGE_HISTORY, CREDITS_USED of the table's pipe. Exact:
  what Snowflake bills. Latency up to 3 hours.
- MERGE: SNOWFLAKE.ACCOUNT_USAGE.QUERY_ATTRIBUTION_HISTORY, CREDITS_ATTRIBUTED_COMPUTE of the queries
  tagged with the table's MERGE task QUERY_TAG (Terraform sets it per table). Exact for what it
  covers: Snowflake shares the warehouse's metered credits among the queries that ran on it, so
  tasks running side by side are not counted twice. Latency up to 6 hours (8 in earlier versions of
  Snowflake's page).
- The day is the newest UTC day that ended at least SETTLE (8 hours) ago: both views are complete
  for it, so the figure is exact and the same all day long; an alert never flips between an
  estimate and the bill. The price: a day's overspend is reported from 08:00 UTC the next day.
- Not in the figure (said in every result's `details.excludes`): the warehouse's idle time (the
  60 s auto-suspend after each burst of tasks, and the one-minute minimum of each resume), cloud
  services, and queries of ~100 ms or less, which Snowflake does not attribute. The warehouse's
  whole bill is the resource monitor's (runbook cost-over-budget).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aurora_sync.adapters.snowflake_history import MergeCredits, PipeCredits
from aurora_sync.alerts import Severity
from aurora_sync.reconciler.checks import CheckResult, Status

CHECK = "cost"
RUNBOOK_ANCHOR = "table-over-budget"
SETTLE = timedelta(hours=8)
SOURCE = "exact: SNOWFLAKE.ACCOUNT_USAGE PIPE_USAGE_HISTORY (Snowpipe) + QUERY_ATTRIBUTION_HISTORY (MERGE)"
EXCLUDES = "warehouse idle time (auto-suspend, resume minimum), cloud services, queries of ~100 ms or less"


def cost_day(now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the UTC day judged at `now`: the newest that ended at least SETTLE ago."""
    end = (now - SETTLE).replace(hour=0, minute=0, second=0, microsecond=0)
    return end - timedelta(days=1), end


@dataclass(frozen=True)
class DailyCredits:
    """One table's credits of the day starting at `day`."""

    day: datetime
    snowpipe: float
    merge: float
    merge_queries: int
    bytes_loaded: int

    @property
    def total(self) -> float:
        return self.snowpipe + self.merge

    def as_details(self) -> dict[str, Any]:
        return {
            "day": self.day.date().isoformat(),
            "credits": _significant(self.total),
            "snowpipe_credits": _significant(self.snowpipe),
            "merge_credits": _significant(self.merge),
            "merge_queries": self.merge_queries,
            "bytes_loaded": self.bytes_loaded,
            "source": SOURCE,
            "excludes": EXCLUDES,
        }


def _significant(value: float) -> float:
    """Six significant digits: a small table's Snowpipe day is millionths of a credit."""
    return float(f"{value:.6g}")


def daily_credits(day: datetime, pipe: PipeCredits | None, merge: MergeCredits | None) -> DailyCredits:
    """The table's day from its pipe's and its MERGE tag's rows; absent rows are a day of nothing."""
    return DailyCredits(
        day=day,
        snowpipe=0.0 if pipe is None else pipe.credits,
        merge=0.0 if merge is None else merge.credits,
        merge_queries=0 if merge is None else merge.queries,
        bytes_loaded=0 if pipe is None else pipe.bytes_inserted,
    )


def credits_text(value: float) -> str:
    """Credits as people read them: 3 decimals, or two significant digits below a thousandth."""
    return f"{value:,.3f}" if value == 0 or value >= 0.001 else f"{value:.1e}"


def check_cost(table: str, budget: float | None, found: DailyCredits) -> CheckResult:
    """Skipped (reported, never alerted) without a budget; a P4 over it; ok within it."""
    details = found.as_details()
    day = details["day"]
    split = (
        f"Snowpipe {credits_text(found.snowpipe)}, MERGE {credits_text(found.merge)} "
        f"in {found.merge_queries} queries"
    )
    spent = f"{credits_text(found.total)} credits on {day} ({split})"
    if budget is None:
        return CheckResult(
            CHECK, table, Status.SKIPPED, f"{spent}; no daily_credit_budget: not judged", details=details
        )
    details["budget"] = budget
    if found.total > budget:
        summary = f"{spent}: over its daily_credit_budget of {budget:g}"
        return CheckResult(CHECK, table, Status.PROBLEM, summary, Severity.P4, details, RUNBOOK_ANCHOR)
    return CheckResult(
        CHECK, table, Status.OK, f"{spent}: within its daily_credit_budget of {budget:g}", details=details
    )
