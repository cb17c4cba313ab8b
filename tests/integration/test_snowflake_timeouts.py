"""The Snowflake adapter's statement timeouts against the local fakesnow server: what fakesnow does
with them (docs/architecture.md, "Snowflake statement timeouts"). It accepts the session's
STATEMENT_TIMEOUT_IN_SECONDS at login and each query's client-side timeout, and enforces neither:
the cancel itself (Snowflake's errors 000630 / 000604) is shown only by the unit tests with the
connector's error classes, and must be checked on a real account."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aurora_sync.adapters.snowflake import Snowflake
from aurora_sync.runtime import STATEMENT_TIMEOUT_MARGIN_MS


def test_a_session_with_a_remaining_time_budget_runs_its_statements_on_fakesnow(fakesnow_server: Any) -> None:
    # GIVEN a table in FINAL, and the adapter as the Lambdas open it: a budget from the time left
    conn = fakesnow_server.connect("TIMEOUTS", "FINAL")
    try:
        cur = conn.cursor()
        cur.execute('CREATE TABLE "TIMEOUTS"."FINAL"."T" ("ID" NUMBER(38,0), "W" TIMESTAMP_TZ(6))')
        cur.execute("""INSERT INTO "TIMEOUTS"."FINAL"."T" VALUES (1, '2026-12-01 10:00:00+00:00')""")
    finally:
        conn.close()
    remaining = [600_000]
    kwargs = {
        **fakesnow_server.connect_kwargs,
        "database": "TIMEOUTS",
        "network_timeout": 120,
        "session_parameters": {"TIMEZONE": "UTC", "QUERY_TAG": "aurora-snowflake-sync:test:1"},
    }
    sf = Snowflake(kwargs, lambda: remaining[0], STATEMENT_TIMEOUT_MARGIN_MS)
    try:
        # WHEN statements run with 600 s, then 20 s left
        budgets = [sf.statement_seconds()]
        first = sf.max_watermark("FINAL", "T", "W")
        remaining[0] = 20_000
        budgets.append(sf.statement_seconds())
        second = sf.query('SELECT COUNT(*) FROM "TIMEOUTS"."FINAL"."T"', "count")
    finally:
        sf.close()
    # THEN both answer (the session parameter and the per-statement timeouts do not break the
    # local stack), with budgets of 120 s (the network_timeout bound) and 5 s
    assert first == datetime(2026, 12, 1, 10, tzinfo=UTC) and second == [(1,)]
    assert budgets == [120, 5]
