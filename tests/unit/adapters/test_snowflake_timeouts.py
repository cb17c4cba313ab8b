"""Snowflake statement timeouts tied to the invocation's remaining time (adapters/snowflake.py):
the budget, what the session and each statement are given, and how a cancel is reported. The
connector's own error classes; no socket (the connector's connect is replaced by a recorder)."""

from __future__ import annotations

from typing import Any

import pytest
from snowflake.connector import errors as sf_errors

from aurora_sync.adapters.snowflake import (
    Snowflake,
    SnowflakeQueryError,
    SnowflakeStatementTimeout,
    classify_snowflake,
)

MARGIN_MS = 15_000


class RecordingCursor:
    def __init__(self, calls: list[dict[str, Any]]) -> None:
        self._calls = calls

    def __enter__(self) -> RecordingCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def execute(self, sql: str, params: Any = None, **kwargs: Any) -> None:
        self._calls.append({"sql": sql, **kwargs})

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [(1,)]


class RecordingConnection:
    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.kwargs = kwargs
        self.calls: list[dict[str, Any]] = []

    def cursor(self) -> RecordingCursor:
        return RecordingCursor(self.calls)

    def close(self) -> None:
        return None


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[RecordingConnection]:
    import snowflake.connector

    made: list[RecordingConnection] = []

    def connect(**kwargs: Any) -> RecordingConnection:
        made.append(RecordingConnection(kwargs))
        return made[-1]

    monkeypatch.setattr(snowflake.connector, "connect", connect)
    return made


def adapter(remaining: list[int], network_timeout: int = 3600) -> Snowflake:
    kwargs = {
        "account": "a",
        "database": "DB",
        "network_timeout": network_timeout,
        "session_parameters": {"TIMEZONE": "UTC", "QUERY_TAG": "aurora-snowflake-sync:exporter:r1"},
    }
    return Snowflake(kwargs, lambda: remaining[0], MARGIN_MS)


def test_the_session_and_each_statement_get_the_remaining_time_less_the_margin(
    connections: list[RecordingConnection],
) -> None:
    # GIVEN an invocation with 600 s left
    remaining = [600_000]
    sf = adapter(remaining)
    # WHEN a statement runs, and another once only 100 s are left
    sf.query("SELECT 1", "first")
    remaining[0] = 100_000
    sf.query("SELECT 2", "second")
    # THEN the session was opened with Snowflake's own timeout at 585 s (its other parameters kept),
    # and each statement's client-side timeout is what was left less the margin when it started
    (conn,) = connections
    assert conn.kwargs["session_parameters"] == {
        "TIMEZONE": "UTC",
        "QUERY_TAG": "aurora-snowflake-sync:exporter:r1",
        "STATEMENT_TIMEOUT_IN_SECONDS": 585,
    }
    assert [c["timeout"] for c in conn.calls] == [585, 85]


@pytest.mark.parametrize(
    ("remaining_ms", "network_timeout", "seconds"),
    [(600_000, 3600, 585), (600_000, 120, 120), (15_500, 3600, 1), (1_000, 3600, 1)],
)
def test_the_budget_is_at_least_a_second_and_at_most_the_network_timeout(
    remaining_ms: int, network_timeout: int, seconds: int
) -> None:
    # GIVEN the time left and the connector's network_timeout (the statements' bound until now)
    # WHEN the statement budget is computed THEN it is the time left less the margin, within both
    assert adapter([remaining_ms], network_timeout).statement_seconds() == seconds


def test_without_a_remaining_time_nothing_changes(connections: list[RecordingConnection]) -> None:
    # GIVEN an adapter with no invocation budget (tests, tools)
    sf = Snowflake({"account": "a", "database": "DB", "session_parameters": {"TIMEZONE": "UTC"}})
    # WHEN a statement runs THEN no timeout parameter is set: the connector's defaults apply
    sf.query("SELECT 1", "q")
    (conn,) = connections
    assert conn.kwargs["session_parameters"] == {"TIMEZONE": "UTC"}
    assert conn.calls[0]["timeout"] is None


def test_a_statement_timeout_is_reported_as_such_with_what_to_do() -> None:
    # GIVEN Snowflake's error for a statement cancelled at STATEMENT_TIMEOUT_IN_SECONDS
    exc = sf_errors.ProgrammingError(
        msg="Statement reached its statement or warehouse timeout of 85 second(s) and was canceled.",
        errno=630,
        sqlstate="57014",
    )
    # WHEN it is classified THEN it is a terminal statement timeout naming the action, the
    # timeout, why it is that long and what to change
    error = classify_snowflake(exc, "hash the keys of FINAL.ORDERS", 85, 85.2)
    assert isinstance(error, SnowflakeStatementTimeout) and error.transient
    assert error.timeout_s == 85
    text = str(error)
    assert text.startswith("hash the keys of FINAL.ORDERS: Snowflake cancelled it after 85.2 s at 85 s")
    assert "remaining Lambda time less a margin" in text and "SNOWFLAKE_WAREHOUSE" in text


@pytest.mark.parametrize(("elapsed", "timed_out"), [(85.0, True), (3.0, False)])
def test_a_cancel_is_a_timeout_only_once_the_statements_time_is_up(elapsed: float, timed_out: bool) -> None:
    # GIVEN "SQL execution canceled" (what the connector's timer's cancel returns, and any other
    # cancel, e.g. SYSTEM$CANCEL_QUERY by a person)
    exc = sf_errors.ProgrammingError(msg="SQL execution canceled", errno=604, sqlstate="57014")
    # WHEN classified after `elapsed` seconds of an 85 s budget
    error = classify_snowflake(exc, "read MAX(updated_at)", 85, elapsed)
    # THEN only a cancel at the budget's end is the statement timeout; another is the plain error
    assert isinstance(error, SnowflakeStatementTimeout) is timed_out
    assert isinstance(error, SnowflakeQueryError) is not timed_out
