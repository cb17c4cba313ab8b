"""Aurora statements are bounded by statement_timeout, not by the connect timeout.

In production `aws_s3.query_export_to_s3` sends nothing back until the whole window is in S3, and a
COPY or a reconciler query may wait on a lock or on I/O. The connect timeout must bound connecting
only; a statement that outlives the Lambda's remaining time is cancelled by the server and reported
as a statement timeout with a smaller window to re-run, never as a connection problem.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aurora_sync.exporter.payloads import parse_event
from aurora_sync.exporter.run import ExportRunTimedOut
from aurora_sync.reconciler.service import STOP_BEFORE_TIMEOUT_MS
from aurora_sync.runtime import STATEMENT_TIMEOUT_MARGIN_MS
from aurora_sync.tables import parse_tables
from aurora_sync.timeutil import iso
from tests.support.aws_s3_fake import grant_export, install_aws_s3_fake
from tests.support.lambda_context import LambdaContext
from tests.support.pipeline import Pipeline

CONNECT_TIMEOUT = {"DB_CONNECT_TIMEOUT_SECONDS": "1", "MIN_REMAINING_SECONDS": "0"}
LOCK_SECONDS = 3.0  # three times the connect timeout


@pytest.fixture(params=["copy_stream", "aurora_s3"])
def pipeline(request: Any, pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any) -> Pipeline:
    p = Pipeline(pg_server, moto, bao, fakesnow_server, export_mode=request.param)
    admin = p.admin()
    try:
        if request.param == "aurora_s3":
            install_aws_s3_fake(admin, endpoint_url=moto.endpoint_url)
            grant_export(admin, p.db_user)
        admin.run(
            "INSERT INTO public.orders (id, status, amount, updated_at) "
            "SELECT g, 'new', g, now() - interval '1 hour' + g * interval '1 second' "
            "FROM generate_series(1, 50) g"
        )
    finally:
        admin.close()
    return p


@contextmanager
def table_locked(p: Pipeline, relation: str, seconds: float) -> Iterator[None]:
    """An ACCESS EXCLUSIVE lock on `relation`, released by another thread after `seconds`."""
    holder = p.admin()
    holder.run("BEGIN")
    holder.run(f"LOCK TABLE {relation} IN ACCESS EXCLUSIVE MODE")
    release = threading.Timer(seconds, lambda: holder.run("COMMIT"))
    release.start()
    try:
        yield
    finally:
        release.join()
        holder.close()


def with_statement_timeout(seconds: float) -> LambdaContext:
    """A Lambda context whose remaining time leaves statements about `seconds` before the margin."""
    return LambdaContext(timeout_ms=STATEMENT_TIMEOUT_MARGIN_MS + int(seconds * 1000))


def test_export_waiting_on_a_lock_longer_than_the_connect_timeout_succeeds(pipeline: Pipeline) -> None:
    # GIVEN a 1 s connect timeout and a table locked for 3 s
    with table_locked(pipeline, "public.orders", LOCK_SECONDS):
        started = time.monotonic()
        # WHEN the exporter exports it (its COPY / query_export_to_s3 waits behind the lock)
        result = pipeline.run({"tables": ["public.orders"]}, **CONNECT_TIMEOUT)
        waited = time.monotonic() - started
    # THEN the export waited for the lock and succeeded
    [table] = result["tables"]
    assert table["status"] == "exported", table
    assert table["rows"] == 50
    assert waited >= LOCK_SECONDS - 0.5


def test_export_waiting_past_the_statement_timeout_fails_naming_it_with_a_smaller_rerun(
    pipeline: Pipeline,
) -> None:
    # GIVEN a table locked for longer than the statement timeout the Lambda's remaining time allows
    start, end = iso(datetime.now(UTC) - timedelta(hours=2)), iso(datetime.now(UTC) - timedelta(minutes=1))
    # WHEN on-call re-exports a 2-hour window with about 2 s left for statements
    with table_locked(pipeline, "public.orders", 6.0), pytest.raises(ExportRunTimedOut) as caught:
        pipeline.run(
            {"tables": ["public.orders"], "start": start, "end": end},
            context=with_statement_timeout(2.0),
            **CONNECT_TIMEOUT,
        )
    # THEN the table failed on the statement timeout, not as a connection problem
    [table] = json.loads(str(caught.value))["tables"]
    assert table["status"] == "failed"
    assert "statement timeout" in table["error"]
    assert "connection problem" not in table["error"]
    assert (table["retryable"], table["timed_out"]) == (False, True)
    # AND the re-run payload is that window in 4 chunks, and the exporter accepts it
    rerun = table["rerun"]
    assert (rerun["tables"], rerun["start"], rerun["end"]) == (["public.orders"], start, end)
    assert rerun["chunk_minutes"] == 30
    tables = parse_tables(json.dumps(pipeline.tables), "test")
    assert len(parse_event(rerun, tables, max_range=timedelta(days=7))) == 4
    # AND nothing was published for it
    assert pipeline.object_keys("public.orders/") == []
    assert pipeline.manifests("public.orders") == []


@pytest.fixture
def synced(pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any) -> Pipeline:
    """GIVEN orders exported, loaded and merged once, so the reconciler has something to compare."""
    p = Pipeline(pg_server, moto, bao, fakesnow_server)
    admin = p.admin()
    admin.run(
        "INSERT INTO public.orders (id, status, amount, updated_at) "
        "SELECT g, 'new', g, now() - interval '1 hour' + g * interval '1 second' "
        "FROM generate_series(1, 50) g"
    )
    admin.close()
    p.run({"tables": ["public.orders"]})
    p.loader().cycle()
    return p


def freshness(result: dict[str, Any]) -> dict[str, Any]:
    [check] = [c for c in result["checks"] if c["check"] == "freshness" and c["table"] == "public.orders"]
    return dict(check)


def test_reconciler_query_waiting_on_a_lock_longer_than_the_connect_timeout_succeeds(
    synced: Pipeline,
) -> None:
    # GIVEN a 1 s connect timeout and orders locked for 3 s
    with table_locked(synced, "public.orders", LOCK_SECONDS):
        # WHEN the reconciler reads Aurora's MAX(watermark) behind the lock
        result = synced.reconcile({"tables": ["public.orders"]}, **CONNECT_TIMEOUT)
    # THEN the freshness check waited and came to a verdict
    assert freshness(result)["status"] == "ok", freshness(result)


class LateContext(LambdaContext):
    """Enough time left when the reconciler starts the table (it starts none in its last
    STOP_BEFORE_TIMEOUT_MS), then, from the next reading on, as if most of it had been spent on the
    table's other checks: statements get about `statement_s` seconds."""

    def __init__(self, statement_s: float) -> None:
        super().__init__(timeout_ms=STOP_BEFORE_TIMEOUT_MS + 1_000)
        self._late_ms = STATEMENT_TIMEOUT_MARGIN_MS + int(statement_s * 1000)
        self._readings = 0

    def get_remaining_time_in_millis(self) -> int:
        self._readings += 1
        return super().get_remaining_time_in_millis() if self._readings == 1 else self._late_ms


def test_reconciler_query_past_the_statement_timeout_is_unknown_naming_it(synced: Pipeline) -> None:
    # GIVEN orders locked for longer than the reconciler's statements may run
    with table_locked(synced, "public.orders", 6.0):
        # WHEN the reconciler reaches Aurora with about 2 s left for statements
        result = synced.reconcile({"tables": ["public.orders"]}, context=LateContext(2.0), **CONNECT_TIMEOUT)
    # THEN freshness is unknown, and the evidence says statement timeout, not connection problem
    check = freshness(result)
    assert check["status"] == "unknown"
    assert "statement timeout" in json.dumps(check)
    assert "connection problem" not in json.dumps(check)
