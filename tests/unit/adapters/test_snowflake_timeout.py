"""Snowflake statements are bounded by the Lambda's remaining time (Snowflake.statement_timeout_s), as
Aurora's are by statement_timeout: a long digest or key stream is cancelled by the connector before
the Lambda is killed, and reported as a failed pass instead of a timed-out invocation."""

from __future__ import annotations

import pytest

from aurora_sync.adapters.snowflake import Snowflake

KWARGS = {"account": "a", "user": "u", "database": "D", "network_timeout": 120}


@pytest.mark.parametrize(
    ("remaining_ms", "timeout_s"),
    [
        (900_000, 120),  # plenty of time: the connector's own bound (network_timeout) stays
        (75_000, 60),  # less than that left: the remaining time less the 15 s margin
        (15_500, 1),  # within the margin: 1 s, never 0 (the connector would take 0 as "none")
        (0, 1),
    ],
)
def test_a_statement_gets_the_lambdas_remaining_time_less_the_margin(
    remaining_ms: int, timeout_s: int
) -> None:
    # GIVEN an adapter with the Lambda's clock and a 15 s margin
    adapter = Snowflake(dict(KWARGS), remaining_ms=lambda: remaining_ms, margin_ms=15_000)
    # WHEN a statement is about to run THEN its timeout is the smaller of the two bounds
    assert adapter.statement_timeout_s() == timeout_s


def test_without_a_lambda_clock_the_connectors_default_applies() -> None:
    # GIVEN an adapter built without a clock (the CLI, tests) THEN execute gets no timeout of ours
    assert Snowflake(dict(KWARGS)).statement_timeout_s() is None
    # AND without network_timeout the remaining time alone bounds it
    no_network = {k: v for k, v in KWARGS.items() if k != "network_timeout"}
    assert Snowflake(no_network, remaining_ms=lambda: 600_000, margin_ms=15_000).statement_timeout_s() == 585
