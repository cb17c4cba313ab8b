"""The Aurora adapter's decisions that need no server: how a cancelled statement is classified, when
statement_timeout is re-set, and what a CA bundle must look like."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pg8000.exceptions import DatabaseError

from aurora_sync.adapters.postgres import StatementBudget, classify_pg
from aurora_sync.adapters.postgres_transport import tls_context
from aurora_sync.errors import ConfigError, StatementTimeoutError, TerminalError, TransientError
from aurora_sync.exporter.payloads import parse_event, smaller_rerun
from aurora_sync.tables import parse_tables
from aurora_sync.timeutil import iso

TABLES = parse_tables(
    '[{"table_name": "public.orders", "watermark_col": "updated_at", "primary_keys": ["id"],'
    ' "columns": [{"name": "id", "type": "NUMBER(38,0)"},'
    ' {"name": "updated_at", "type": "TIMESTAMP_TZ(6)"}]}]',
    "test",
)


def cancelled(message: str) -> DatabaseError:
    return DatabaseError({"S": "ERROR", "C": "57014", "M": message})


def test_a_cancel_at_the_statement_timeout_is_a_statement_timeout() -> None:
    # GIVEN PostgreSQL cancelled a statement that ran as long as its statement_timeout
    error = classify_pg(cancelled("canceling statement due to statement timeout"), "COPY", 2000, 2004)
    # THEN it is reported as a statement timeout, terminal for this window, naming the limit
    assert isinstance(error, StatementTimeoutError)
    assert not error.transient
    assert "statement timeout" in str(error) and "2000 ms" in str(error)


def test_the_timeout_is_recognised_whatever_the_server_language() -> None:
    error = classify_pg(cancelled("Anweisung wegen Statement-Timeout abgebrochen"), "COPY", 2000, 2100)
    assert isinstance(error, StatementTimeoutError)


def test_another_cancel_before_the_timeout_stays_transient() -> None:
    # GIVEN a DBA cancelled the statement (pg_cancel_backend) long before its timeout
    error = classify_pg(cancelled("canceling statement due to user request"), "COPY", 60_000, 1_000)
    assert isinstance(error, TransientError)


def test_a_socket_timeout_is_a_connection_problem_not_a_statement_timeout() -> None:
    error = classify_pg(TimeoutError("timed out"), "COPY", 60_000, 61_000)
    assert isinstance(error, TransientError) and "connection problem" in str(error)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_statement_timeout_follows_the_remaining_time_and_is_refreshed_sparingly() -> None:
    # GIVEN 60 s of Lambda time left and a 15 s margin
    clock, remaining = Clock(), [60_000]
    budget = StatementBudget(lambda: remaining[0], 15_000, clock)
    # WHEN the first statement runs THEN statement_timeout is the remaining time less the margin
    assert budget.due() == 45_000
    budget.applied(45_000)
    # AND within the refresh interval it is not set again (one round trip saved per statement)
    clock.now += 1
    remaining[0] = 59_000
    assert budget.due() is None
    # AND once the interval has passed it follows the remaining time down, never below 1 s
    clock.now += StatementBudget.REFRESH_S
    remaining[0] = 10_000
    assert budget.due() == StatementBudget.MIN_MS


def test_the_margin_must_exceed_the_refresh_interval() -> None:
    with pytest.raises(ValueError, match="margin"):
        StatementBudget(lambda: 60_000, 1_000)


def test_a_bundle_without_a_certificate_is_refused_naming_where_it_came_from() -> None:
    with pytest.raises(ConfigError) as caught:
        tls_context("hello", "DB_SSL_CA_BUNDLE_PARAMETER /x")
    assert "DB_SSL_CA_BUNDLE_PARAMETER /x" in str(caught.value) and "PEM" in str(caught.value)


def test_a_damaged_certificate_is_refused() -> None:
    pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    with pytest.raises(TerminalError, match="not a readable PEM CA bundle"):
        tls_context(pem, "DB_SSL_CA_BUNDLE_PARAMETER /x")


def test_the_smaller_rerun_is_accepted_and_covers_the_window_in_four_chunks() -> None:
    # GIVEN a window that timed out
    lower = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    upper = lower + timedelta(hours=3, minutes=10)
    # WHEN its re-run payload is built
    rerun = smaller_rerun("public.orders", lower, upper)
    # THEN the exporter accepts it and its chunks cover exactly (lower, upper]
    windows = parse_event(rerun, TABLES, timedelta(hours=168))
    assert len(windows) == 4
    assert (windows[0].start, windows[-1].end) == (lower, upper)
    assert rerun["start"] == iso(lower)


def test_a_full_refresh_has_no_window_to_cut() -> None:
    assert smaller_rerun("public.orders", None, datetime(2026, 11, 20, tzinfo=UTC)) == {
        "tables": ["public.orders"]
    }
